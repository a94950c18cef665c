//! What operators do with the outbox: list messages by state with their attempt logs, replay
//! or discard dead ones by a selector, and read the queue's figures for metrics.

use super::{with_pool, Store, StoreError};
use serde::Serialize;
use sqlx::Row;

/// Which messages an operator's bulk decision covers (all given conditions apply).
#[derive(Debug, Clone, Default)]
pub struct OutboxSelector {
    /// One message.
    pub id: Option<i64>,
    /// Messages of one destination.
    pub destination: Option<String>,
    /// Messages of one dossier (by code).
    pub dossier_code: Option<String>,
    /// Messages queued at or after this time (ms).
    pub since: Option<i64>,
}

/// A page item of the operators' outbox listing.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxItem {
    /// Message id (also its `webhook-id`).
    pub id: i64,
    /// Destination.
    pub destination: String,
    /// The dossier's code.
    pub dossier: Option<String>,
    /// What it reports.
    pub kind: String,
    /// State.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Queued at (ms).
    pub created_at: i64,
    /// Next attempt (ms).
    pub next_attempt_at: i64,
    /// Delivered at (ms).
    pub delivered_at: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<AttemptItem>,
}

/// One attempt of a message.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptItem {
    /// Attempt number.
    pub attempt: i64,
    /// Worker.
    pub worker: String,
    /// Started (ms).
    pub started_at: i64,
    /// Latency.
    pub latency_ms: i64,
    /// HTTP status.
    pub http_status: Option<i64>,
    /// Outcome.
    pub outcome: String,
    /// Error.
    pub error: Option<String>,
}

/// Queue figures for metrics.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// Messages by state.
    pub by_state: Vec<(String, i64)>,
    /// Oldest pending message's queue time (ms).
    pub oldest_pending: Option<i64>,
}

fn selector_sql(sel: &OutboxSelector, state: &str) -> (String, Vec<SelArg>) {
    let mut conds = vec![format!("state = '{state}'")];
    let mut args = Vec::new();
    if let Some(id) = sel.id {
        args.push(SelArg::Int(id));
        conds.push(format!("id = ${}", args.len()));
    }
    if let Some(d) = &sel.destination {
        args.push(SelArg::Text(d.clone()));
        conds.push(format!("destination = ${}", args.len()));
    }
    if let Some(code) = &sel.dossier_code {
        args.push(SelArg::Text(code.clone()));
        conds.push(format!(
            "dossier_id = (SELECT id FROM dossiers WHERE code = ${})",
            args.len()
        ));
    }
    if let Some(since) = sel.since {
        args.push(SelArg::Int(since));
        conds.push(format!("created_at >= ${}", args.len()));
    }
    (conds.join(" AND "), args)
}

enum SelArg {
    Int(i64),
    Text(String),
}

impl Store {
    /// An operator's replay: dead messages matching `sel` become pending and due now, so each
    /// is the next one sent for its dossier. Returns how many.
    pub async fn replay_outbox(&self, sel: &OutboxSelector, now: i64) -> Result<u64, StoreError> {
        let (cond, args) = selector_sql(sel, "dead");
        let sql = format!(
            "UPDATE outbox SET state = 'pending', next_attempt_at = {now}, dead_at = NULL, lease_owner = NULL, \
             lease_until = NULL WHERE {cond}"
        );
        self.run_selector(&sql, args).await
    }

    /// An operator's discard: dead messages matching `sel` are set aside for good, which
    /// releases their dossiers' later messages. Returns how many.
    pub async fn discard_outbox(&self, sel: &OutboxSelector) -> Result<u64, StoreError> {
        let (cond, args) = selector_sql(sel, "dead");
        let sql = format!("UPDATE outbox SET state = 'discarded' WHERE {cond}");
        self.run_selector(&sql, args).await
    }

    async fn run_selector(&self, sql: &str, args: Vec<SelArg>) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let mut q = sqlx::query(sql);
            for a in &args {
                q = match a {
                    SelArg::Int(i) => q.bind(*i),
                    SelArg::Text(t) => q.bind(t.as_str()),
                };
            }
            Ok(q.execute(pool).await?.rows_affected())
        })
    }

    /// A page of messages in `state`, oldest first, after message id `after`, each with its
    /// attempt log.
    pub async fn outbox_page(
        &self,
        state: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_items(Some(state), None, after, limit).await
    }

    /// Every message of one dossier (by row id), oldest first, each with its attempt log.
    pub async fn outbox_of_dossier(&self, dossier_id: i64) -> Result<Vec<OutboxItem>, StoreError> {
        self.outbox_items(None, Some(dossier_id), 0, 1000).await
    }

    async fn outbox_items(
        &self,
        state: Option<&str>,
        dossier_id: Option<i64>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query(
                "SELECT o.id, o.destination, d.code, o.kind, o.state, o.attempts, o.created_at, o.next_attempt_at, \
                 o.delivered_at, o.last_error FROM outbox o LEFT JOIN dossiers d ON d.id = o.dossier_id \
                 WHERE ($1 IS NULL OR o.state = $1) AND ($2 IS NULL OR o.dossier_id = $2) AND o.id > $3 \
                 ORDER BY o.id LIMIT $4",
            )
            .bind(state)
            .bind(dossier_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            let mut items = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let log = sqlx::query(
                    "SELECT attempt, worker, started_at, latency_ms, http_status, outcome, error FROM outbox_attempts \
                     WHERE message_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(pool)
                .await?;
                let attempt_log = log
                    .iter()
                    .map(|a| {
                        Ok(AttemptItem {
                            attempt: a.try_get("attempt")?,
                            worker: a.try_get("worker")?,
                            started_at: a.try_get("started_at")?,
                            latency_ms: a.try_get("latency_ms")?,
                            http_status: a.try_get("http_status")?,
                            outcome: a.try_get("outcome")?,
                            error: a.try_get("error")?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                items.push(OutboxItem {
                    id,
                    destination: r.try_get("destination")?,
                    dossier: r.try_get("code")?,
                    kind: r.try_get("kind")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    delivered_at: r.try_get("delivered_at")?,
                    last_error: r.try_get("last_error")?,
                    attempt_log,
                });
            }
            Ok(items)
        })
    }

    /// Queue depth by state and the oldest pending message.
    pub async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
                .fetch_all(pool)
                .await?;
            let by_state = rows
                .iter()
                .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let oldest_pending: Option<i64> =
                sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'")
                    .fetch_one(pool)
                    .await?;
            Ok(QueueStats { by_state, oldest_pending })
        })
    }
}
