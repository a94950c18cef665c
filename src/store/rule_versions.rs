//! The text of every version of a procedure's rules the gateway has loaded (`rule_versions`),
//! kept so that a dossier's rules outlive the mapping file they came from: written at start for
//! every version the files hold, read back for those they no longer hold. Also the dossiers'
//! `notice` mark, brought in line with the procedures' kinds at the same start (only where a
//! kind changed since the last start: `notice_procedures`).

use super::{push_in_list, with_pool, Store, StoreError};

/// One version of a procedure's rules, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    /// SHA-256 of `rules`, hex: what dossiers record as `mapping_version`.
    pub id: String,
    /// The procedure's code stem.
    pub procedure_code: String,
    /// Its first day in force, `YYYY-MM-DD`.
    pub effective_from: String,
    /// The canonical text.
    pub rules: String,
}

impl Store {
    /// Keeps every version given that is not kept yet (a version is never rewritten: its id is
    /// its text's hash). Several gateways may do this at once.
    pub async fn keep_rule_versions(
        &self,
        versions: &[RuleVersion],
        now: i64,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO rule_versions (id, procedure_code, effective_from, rules, first_loaded) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for v in versions {
                sqlx::query(SQL)
                    .bind(&v.id)
                    .bind(&v.procedure_code)
                    .bind(&v.effective_from)
                    .bind(&v.rules)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every version kept, oldest first.
    pub async fn kept_rule_versions(&self) -> Result<Vec<RuleVersion>, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT id, procedure_code, effective_from, rules FROM rule_versions \
                 ORDER BY first_loaded, id",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, procedure_code, effective_from, rules)| RuleVersion {
                    id,
                    procedure_code,
                    effective_from,
                    rules,
                })
                .collect())
        })
    }

    /// Brings each dossier's `notice` in line with the procedures that are notices now (the
    /// mappings'); how many it changed. Run at start, before serving. Marks the dossiers of the
    /// procedures that are notices and were not when the marks were last brought in line
    /// (`notice_procedures`, empty before the first start after migration 0022), so that a start
    /// whose mappings name the same notices reads no dossier of theirs; unmarks every marked
    /// dossier whose procedure is no longer a notice (a read of the notices' own index); then
    /// records the set, all in one transaction. Several gateways may do this at once.
    pub async fn mark_notices(&self, notices: &[String]) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let recorded: Vec<String> =
                sqlx::query_scalar("SELECT procedure_code FROM notice_procedures")
                    .fetch_all(&mut *tx)
                    .await?;
            let added: Vec<&str> = notices
                .iter()
                .filter(|n| !recorded.contains(n))
                .map(String::as_str)
                .collect();
            let mut changed = 0;
            if !added.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "UPDATE dossiers SET notice = 1 WHERE notice = 0 AND procedure_code IN (",
                );
                push_in_list(&mut q, added.iter().copied());
                changed += q.build().execute(&mut *tx).await?.rows_affected();
            }
            let all: Vec<&str> = notices.iter().map(String::as_str).collect();
            let mut q = sqlx::QueryBuilder::new("UPDATE dossiers SET notice = 0 WHERE notice = 1");
            let mut gone = sqlx::QueryBuilder::new("DELETE FROM notice_procedures");
            if !all.is_empty() {
                q.push(" AND NOT procedure_code IN (");
                push_in_list(&mut q, all.iter().copied());
                gone.push(" WHERE NOT procedure_code IN (");
                push_in_list(&mut gone, all.iter().copied());
            }
            changed += q.build().execute(&mut *tx).await?.rows_affected();
            gone.build().execute(&mut *tx).await?;
            if !added.is_empty() {
                // Another gateway starting at once may record the same codes first.
                let mut keep =
                    sqlx::QueryBuilder::new("INSERT INTO notice_procedures (procedure_code) ");
                keep.push_values(&added, |mut row, code| {
                    row.push_bind(*code);
                });
                keep.push(" ON CONFLICT (procedure_code) DO NOTHING");
                keep.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }
}
