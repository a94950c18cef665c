//! The text of every version of a procedure's rules the gateway has loaded (`rule_versions`),
//! kept so that a dossier's rules outlive the mapping file they came from: written at start for
//! every version the files hold, read back for those they no longer hold. Also the dossiers'
//! `notice` mark, brought in line with the procedures' kinds at the same start.

use super::{with_pool, Store, StoreError};

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
    /// mappings'), for dossiers stored before the column or under a mapping that changed its
    /// kind; how many it changed. Run at start, before serving.
    pub async fn mark_notices(&self, notices: &[String]) -> Result<u64, StoreError> {
        let mut changed = 0;
        for (from, to) in [(0, 1), (1, 0)] {
            changed += with_pool!(self, pool => {
                let mut q = sqlx::QueryBuilder::new(format!(
                    "UPDATE dossiers SET notice = {to} WHERE notice = {from} AND "
                ));
                // A notice now: marked; marked but no longer a notice: unmarked.
                q.push(if to == 1 { "(" } else { "NOT (" });
                if notices.is_empty() {
                    q.push("1 = 0");
                } else {
                    q.push("procedure_code IN (");
                    let mut list = q.separated(", ");
                    for n in notices {
                        list.push_bind(n.as_str());
                    }
                    q.push(")");
                }
                q.push(")");
                q.build().execute(pool).await?.rows_affected()
            });
        }
        Ok(changed)
    }
}
