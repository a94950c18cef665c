//! The load harness's bulk path: filling a store with many dossiers in a few statements, each
//! a copy of one real dossier under its own code and portal id, so that the harness can show
//! how costs grow with the store's size without taking a million dossiers in one by one.

use super::{with_pool, Store, StoreError};
use sqlx::Row;

/// Rows per statement (and per transaction).
const CHUNK: i64 = 50_000;

impl Store {
    /// Adds `n` copies of dossier `template` (its row only: no documents, progress or outbox),
    /// numbered from `first`: code `{agency}-{yyMMdd}-{NNNN}` on days from 1 January 2000, 9,999 a
    /// day, portal id `BULK-{i}`, received in 2000 so that they sort before real dossiers.
    /// Returns how many were added.
    pub async fn bulk_copy_dossiers(
        &self,
        template: i64,
        agency: &str,
        first: i64,
        n: i64,
    ) -> Result<u64, StoreError> {
        let columns = "code, portal_id, procedure_code, status, channel, submitted_at, \
            received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer, \
            submission_seq";
        // The copies name the template's submission record: a harness's dossiers, never replayed.
        let copied = "t.procedure_code, t.status, t.channel, t.submitted_at, 946684800000 + i, \
            t.applicant, t.form, t.fees, t.summary, t.mapping_version, 'bulk-' || i, t.first_answer, \
            t.submission_seq";
        let sql = match self {
            Store::Sqlite { .. } => format!(
                "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
                 INSERT INTO dossiers ({columns}) \
                 SELECT $3 || '-' || substr(strftime('%Y%m%d', 946684800 + (i / 9999) * 86400, 'unixepoch'), 3) \
                        || '-' || printf('%04d', i % 9999 + 1), 'BULK-' || i, {copied} \
                 FROM n, (SELECT * FROM dossiers WHERE id = $4) t"
            ),
            Store::Postgres(_) => format!(
                "INSERT INTO dossiers ({columns}) \
                 SELECT $3::text || '-' || to_char(date '2000-01-01' + (i / 9999)::int, 'YYMMDD') \
                        || '-' || lpad((i % 9999 + 1)::text, 4, '0'), 'BULK-' || i, {copied} \
                 FROM generate_series($1::bigint, $2::bigint) AS i, \
                      (SELECT * FROM dossiers WHERE id = $4) t"
            ),
        };
        let mut added = 0;
        let mut start = first;
        while start < first + n {
            let end = (start + CHUNK).min(first + n) - 1;
            added += with_pool!(self, pool => {
                sqlx::query(&sql)
                    .bind(start)
                    .bind(end)
                    .bind(agency)
                    .bind(template)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            start = end + 1;
        }
        Ok(added)
    }

    /// Gives the bulk copies (portal id `BULK-…`) what the officers' list meets in a real
    /// store: the words of varied applicant names (Vietnamese surnames weighted as they occur,
    /// a middle name, a given name: chosen by the row id, so that "nguyen" matches about a
    /// third of the copies and a full name a few hundred of a million) and a status mix, one
    /// in fifty open in processing and past due, one in fifty a notice of procedure `notice`
    /// past its deemed-consent date that nobody closed (never overdue: the list must pass it
    /// by), the rest returned. The copies' applicant JSON keeps the template's name: only the
    /// search words vary. Returns the dossiers named.
    pub async fn bulk_officers_mix(&self, now: i64, notice: &str) -> Result<u64, StoreError> {
        const SURNAMES: &[&str] = &[
            "nguyen", "nguyen", "nguyen", "nguyen", "nguyen", "nguyen", "nguyen", "nguyen", "tran",
            "tran", "tran", "le", "le", "pham", "pham", "hoang", "huynh", "phan", "vu", "vo",
            "dang", "bui", "do",
        ];
        const MIDDLE: &[&str] = &[
            "van", "thi", "minh", "ngoc", "duc", "thanh", "hoang", "quoc", "thu", "anh", "huu",
        ];
        const GIVEN: &[&str] = &[
            "an", "binh", "chau", "cuong", "dung", "giang", "ha", "hai", "hanh", "hieu", "hoa",
            "hung", "huong", "khanh", "khoa", "lan", "linh", "long", "mai", "minh", "nam", "nga",
            "nhung", "phong", "phuong", "quan", "quang", "son", "tam", "thao", "thang", "thuy",
            "tien", "trang", "trung", "tuan", "tung", "uyen", "viet", "vinh", "yen",
        ];
        // The k-th word of a list, for row `id` salted: `(ARRAY[...])[k + 1]` on PostgreSQL,
        // a CASE on SQLite (which has no arrays).
        let pick = |list: &[&str], salt: i64| -> String {
            let n = list.len();
            match self {
                Store::Sqlite { .. } => {
                    let arms: Vec<String> = list
                        .iter()
                        .enumerate()
                        .map(|(k, w)| format!("WHEN {k} THEN '{w}'"))
                        .collect();
                    format!("CASE (id + {salt}) % {n} {} END", arms.join(" "))
                }
                Store::Postgres(_) => {
                    let words: Vec<String> = list.iter().map(|w| format!("'{w}'")).collect();
                    format!("(ARRAY[{}])[(id + {salt}) % {n} + 1]", words.join(", "))
                }
            }
        };
        let name = format!(
            "{} || ' ' || {} || ' ' || {}",
            pick(SURNAMES, 0),
            pick(MIDDLE, 7),
            pick(GIVEN, 13)
        );
        let written = with_pool!(self, pool => {
            sqlx::query(&format!(
                "UPDATE dossiers SET name_words = {name} WHERE portal_id LIKE 'BULK-%'"
            ))
            .execute(pool)
            .await?
            .rows_affected()
        });
        let terms: Vec<String> = [SURNAMES, MIDDLE, GIVEN]
            .concat()
            .iter()
            .map(|w| format!("('{w}')"))
            .collect();
        with_pool!(self, pool => {
            if let Store::Sqlite { .. } = self {
                sqlx::query(
                    "INSERT INTO dossier_names (rowid, words) \
                     SELECT id, name_words FROM dossiers WHERE portal_id LIKE 'BULK-%'",
                )
                .execute(pool)
                .await?;
            }
            sqlx::query(&format!(
                "INSERT INTO name_terms (word) VALUES {} ON CONFLICT DO NOTHING",
                terms.join(", ")
            ))
            .execute(pool)
            .await?;
        });
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE dossiers SET status = CASE id % 50 WHEN 0 THEN 4 WHEN 25 THEN 2 ELSE 10 END, \
                 due_at = CASE WHEN id % 50 IN (0, 25) THEN $1 - id ELSE NULL END, \
                 notice = CASE id % 50 WHEN 25 THEN 1 ELSE 0 END, \
                 procedure_code = CASE id % 50 WHEN 25 THEN $2 ELSE procedure_code END \
                 WHERE portal_id LIKE 'BULK-%'",
            )
            .bind(now)
            .bind(notice)
            .execute(pool)
            .await?;
        });
        Ok(written)
    }

    /// The newest dossier that is not a notice: what the fill copies, so that the copies have
    /// deadlines as most dossiers do.
    pub async fn bulk_template(&self) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(read self, pool => {
            sqlx::query_scalar("SELECT id FROM dossiers WHERE notice = 0 ORDER BY id DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Up to `limit` dossier codes and row ids, newest first.
    pub async fn dossier_codes(&self, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query("SELECT id, code FROM dossiers ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("code")?)))
                .collect()
        })
    }

    /// Cleans up after a fill and brings the planner's statistics up to date, as PostgreSQL's autovacuum
    /// would within its next minute: a backlog queued faster than that is otherwise planned
    /// from a new table's defaults (the outbox claim then sorted every pending message at
    /// every claim).
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        // SQLite's plans here come from the shape of the indexes (no `ANALYZE` is ever run
        // on it), so only PostgreSQL has statistics to bring up to date.
        // VACUUM too: a fill that rewrote its rows (the officers' mix) leaves as many dead
        // ones, which autovacuum would otherwise clean up in the middle of the measurements.
        if let Store::Postgres(pool) = self {
            sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// How many outbox messages are still to deliver.
    pub async fn outbox_pending(&self) -> Result<i64, StoreError> {
        with_pool!(read self, pool => {
            let r = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
                .fetch_one(pool)
                .await?;
            Ok(r.try_get("n")?)
        })
    }
}
