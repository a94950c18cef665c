//! The dossier's documents as the fetcher and the read API need them (contract section 6):
//! claiming those due for a fetch, recording each attempt's outcome, reading one for download,
//! and counting them by state. A claim is a lease: the document's next attempt is moved to the
//! lease's end, so a gateway that dies mid-fetch leaves it to be fetched again after that.

use super::{insert_outbox, with_pool, BeginWrite, NewOutboxMessage, Store, StoreError};
use sqlx::Row;

/// A document due for a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDocument {
    /// Row id.
    pub id: i64,
    /// The dossier's row id.
    pub dossier_id: i64,
    /// The dossier's code.
    pub dossier_code: String,
    /// `MaThanhPhanHoSo`.
    pub component: String,
    /// `TenTepDinhKem`.
    pub file_name: String,
    /// When the dossier arrived, or for an agency's result when its answer did (ms): retries
    /// give up `outbox.give_up_after` later.
    pub received_at: i64,
    /// `DuongDanTaiTepTin`.
    pub url: String,
    /// `MaHash`, lower case.
    pub sha256: String,
    /// `KichThuoc`.
    pub size: i64,
    /// Attempts made.
    pub attempts: i64,
    /// For a result an agency sent back: that agency's code (its host is the only one allowed).
    pub agency: Option<String>,
}

/// How one fetch ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentOutcome {
    /// Settled: `stored`, `hash_mismatch`, `too_large`, `host_not_allowed` or `failed`, with
    /// the reason when not stored.
    Settled {
        /// The state.
        state: &'static str,
        /// Why, for operators.
        reason: Option<String>,
    },
    /// Tried again at `next_attempt_at`.
    Retry {
        /// When.
        next_attempt_at: i64,
        /// Why this attempt failed.
        reason: String,
    },
}

/// One document as its download needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFile {
    /// `TenTepDinhKem`.
    pub file_name: String,
    /// `MaHash`, lower case.
    pub sha256: String,
    /// `KichThuoc`.
    pub size: i64,
    /// Its state.
    pub state: String,
}

impl Store {
    /// Leases up to `limit` documents due at `now` until `lease_until`, oldest due first;
    /// several gateways never lease the same one.
    pub async fn claim_documents(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DueDocument>, StoreError> {
        let lock = match self {
            Store::Sqlite { .. } => "",
            Store::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let choose = format!(
            "SELECT id FROM dossier_documents WHERE state = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2{lock}"
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ids: Vec<i64> = sqlx::query_scalar(&choose)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            let mut due = Vec::with_capacity(ids.len());
            for id in ids {
                sqlx::query("UPDATE dossier_documents SET next_attempt_at = $1 WHERE id = $2")
                    .bind(lease_until)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query(
                    "SELECT dd.id, dd.dossier_id, d.code, dd.component, dd.file_name, \
                     COALESCE(s.answered_at, d.received_at) AS received_at, \
                     dd.url, dd.sha256, dd.size, dd.attempts, s.agency \
                     FROM dossier_documents dd JOIN dossiers d ON d.id = dd.dossier_id \
                     LEFT JOIN dossier_steps s ON s.ref = dd.step_ref WHERE dd.id = $1",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                due.push(DueDocument {
                    id: row.try_get("id")?,
                    dossier_id: row.try_get("dossier_id")?,
                    dossier_code: row.try_get("code")?,
                    component: row.try_get("component")?,
                    file_name: row.try_get("file_name")?,
                    received_at: row.try_get("received_at")?,
                    url: row.try_get("url")?,
                    sha256: row.try_get::<String, _>("sha256")?.to_ascii_lowercase(),
                    size: row.try_get("size")?,
                    attempts: row.try_get("attempts")?,
                    agency: row.try_get("agency")?,
                });
            }
            tx.commit().await?;
            Ok(due)
        })
    }

    /// Records how a fetch of `doc` ended, with `push` (the one-stop software's message about
    /// it) queued in the same commit when it settles; a document already settled (by another
    /// gateway whose lease had run out) is left as it is. Whether this call changed it.
    pub async fn record_document(
        &self,
        doc: &DueDocument,
        outcome: &DocumentOutcome,
        push: Option<&NewOutboxMessage>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (state, next, reason) = match outcome {
            DocumentOutcome::Settled { state, reason } => (*state, None, reason.as_deref()),
            DocumentOutcome::Retry {
                next_attempt_at,
                reason,
            } => ("pending", Some(*next_attempt_at), Some(reason.as_str())),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE dossier_documents SET state = $1, attempts = attempts + 1, \
                 next_attempt_at = COALESCE($2, next_attempt_at), last_error = $3 \
                 WHERE id = $4 AND state = 'pending'",
            )
            .bind(state)
            .bind(next)
            .bind(reason)
            .bind(doc.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if let (true, Some(m), None) = (done, push, next) {
                insert_outbox!(&mut *tx, doc.dossier_id, m, now).await?;
            }
            tx.commit().await?;
            Ok(done)
        })
    }

    /// Document `id` of the dossier `dossier_code`.
    pub async fn document_file(
        &self,
        dossier_code: &str,
        id: i64,
    ) -> Result<Option<DocumentFile>, StoreError> {
        with_pool!(read self, pool => {
            let row = sqlx::query(
                "SELECT dd.file_name, dd.sha256, dd.size, dd.state FROM dossier_documents dd \
                 JOIN dossiers d ON d.id = dd.dossier_id WHERE d.code = $1 AND dd.id = $2",
            )
            .bind(dossier_code)
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(DocumentFile {
                    file_name: r.try_get("file_name")?,
                    sha256: r.try_get::<String, _>("sha256")?.to_ascii_lowercase(),
                    size: r.try_get("size")?,
                    state: r.try_get("state")?,
                })
            })
            .transpose()
        })
    }

    /// How many documents are in each state.
    pub async fn document_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(read self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT state, COUNT(*) FROM dossier_documents GROUP BY state ORDER BY state",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every stored file once, `(sha256, size)`, for `motcua files verify`.
    pub async fn stored_files(&self) -> Result<Vec<(String, i64)>, StoreError> {
        with_pool!(read self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT DISTINCT LOWER(sha256), size FROM dossier_documents WHERE state = 'stored' \
                 ORDER BY 1",
            )
            .fetch_all(pool)
            .await?)
        })
    }
}
