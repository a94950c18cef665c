//! Outbox statements. Messages are written by the transactions that make the changes they
//! report (see `dossiers.rs`); this file reads them.

use super::{with_pool, Store, StoreError};
use sqlx::Row;

/// One outbox message as stored.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Message id (the `webhook-id` is derived from it).
    pub id: i64,
    /// `portal` or `onestop`.
    pub destination: String,
    /// The dossier it is about.
    pub dossier_id: Option<i64>,
    /// What it reports.
    pub kind: String,
    /// The JSON body.
    pub payload: String,
    /// `pending`, `delivered`, `dead`, `discarded`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it was queued (ms).
    pub created_at: i64,
}

impl Store {
    /// Outbox messages, oldest first, optionally of one state.
    pub async fn list_outbox(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query(
                "SELECT id, destination, dossier_id, kind, payload, state, attempts, created_at FROM outbox \
                 WHERE ($1 = '' OR state = $1) ORDER BY id LIMIT $2",
            )
            .bind(state.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OutboxRow {
                        id: r.try_get("id")?,
                        destination: r.try_get("destination")?,
                        dossier_id: r.try_get("dossier_id")?,
                        kind: r.try_get("kind")?,
                        payload: r.try_get("payload")?,
                        state: r.try_get("state")?,
                        attempts: r.try_get("attempts")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }
}
