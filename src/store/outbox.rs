//! Outbox statements. Messages are written by the transactions that make the changes they
//! report (`dossiers.rs`, `lifecycle.rs`); here they are claimed under a lease with a fencing
//! token, their outcomes recorded (only while the claim holds), and operated on.
//! No transaction here stays open across a delivery: claiming and recording are separate.

use super::message_log::append_log;
use super::{with_pool, BeginWrite, Store, StoreError};
use crate::chain::{Exchange, NewMessage};
use serde::Serialize;
use sqlx::Row;
use std::borrow::Borrow;

/// An outbox message to write in the same transaction as the change it reports. Its payload
/// is text, or (intake, before the dossier's code is drawn) a `CodeTemplate` the store completes.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<P = String> {
    /// `portal` or `onestop`.
    pub destination: String,
    /// What it reports, e.g. `status`.
    pub kind: String,
    /// The JSON body to deliver.
    pub payload: P,
}

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

/// A message claimed for delivery, with the fencing token of the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Message id.
    pub id: i64,
    /// Fencing token: an outcome is recorded only while the row still carries it.
    pub fence: i64,
    /// Destination name.
    pub destination: String,
    /// The dossier it reports on.
    pub dossier_id: i64,
    /// Body to deliver.
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i64,
    /// When it was queued (ms).
    pub created_at: i64,
}

/// How an attempt ended, as the worker decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver confirmed.
    Delivered,
    /// Try again at this time (ms).
    Retry {
        /// Next attempt.
        next_attempt_at: i64,
    },
    /// Given up: a permanent error, or the schedule ran out.
    Dead,
}

impl AttemptOutcome {
    /// The word stored in the attempt log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry { .. } => "retry",
            Self::Dead => "dead",
        }
    }
}

/// One attempt's facts, for the attempt log.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The worker that made it.
    pub worker: String,
    /// When it started (ms).
    pub started_at: i64,
    /// How long it took.
    pub latency_ms: i64,
    /// The HTTP status, if an answer came.
    pub http_status: Option<i64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// What a delivery cycle claims: up to `limit` messages for `worker`, each leased for
/// `lease_ms`.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFor<'a> {
    /// The claiming worker's id.
    pub worker: &'a str,
    /// How long each claim holds (ms).
    pub lease_ms: i64,
    /// Most messages to claim; 0 claims none.
    pub limit: i64,
}

impl ClaimFor<'_> {
    /// Claim nothing (record only).
    pub const NONE: ClaimFor<'static> = ClaimFor {
        worker: "",
        lease_ms: 0,
        limit: 0,
    };
}

/// One attempt to record: the claim it was made under, its outcome, its attempt-log entry, and
/// the partner's answer as the message log keeps it.
#[derive(Debug, Clone)]
pub struct Attempted {
    /// The message.
    pub id: i64,
    /// The fencing token of the claim it was made under.
    pub fence: i64,
    /// Attempts before this one.
    pub attempts: i64,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The attempt-log entry.
    pub record: AttemptRecord,
    /// The answer's message-log record (`reply_to` set), if the request was recorded; kept
    /// whether or not the claim still holds, since the partner did answer.
    pub answer: Option<NewMessage>,
}

impl Attempted {
    /// An attempt made under `claimed`, without a message-log record.
    pub fn of(claimed: &Claimed, outcome: AttemptOutcome, record: AttemptRecord) -> Self {
        Attempted {
            id: claimed.id,
            fence: claimed.fence,
            attempts: claimed.attempts,
            outcome,
            record,
            answer: None,
        }
    }
}

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
    /// Claims the next due message (see [`Store::claim_due`]).
    pub async fn claim_next(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Claimed>, StoreError> {
        Ok(self.claim_due(worker, now, lease_ms, 1).await?.pop())
    }

    /// Claims up to `limit` due messages (see [`Store::outbox_cycle`]), without logging.
    pub async fn claim_due(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let claim = ClaimFor {
            worker,
            lease_ms,
            limit,
        };
        let (_, claimed) = self
            .outbox_cycle(&[] as &[Attempted], now, claim, |_| ((), None))
            .await?;
        Ok(claimed.into_iter().map(|(c, (), _)| c).collect())
    }

    /// Records an attempt's outcome, only if the claim still holds (`fence` unchanged); returns
    /// whether it did. The attempt is logged in the same transaction.
    pub async fn record_attempt(
        &self,
        claimed: &Claimed,
        outcome: &AttemptOutcome,
        attempt: &AttemptRecord,
        now: i64,
    ) -> Result<bool, StoreError> {
        let item = Attempted::of(claimed, outcome.clone(), attempt.clone());
        let (done, _) = self
            .outbox_cycle(std::slice::from_ref(&item), now, ClaimFor::NONE, |_| {
                ((), None)
            })
            .await?;
        Ok(done.first().copied().unwrap_or(false))
    }

    /// One delivery cycle in one transaction: records `outcomes`, then claims more.
    ///
    /// - **Outcomes.** Each is recorded only if its claim still holds (`fence` unchanged), all
    ///   in one `UPDATE … FROM (VALUES …)`; those that held get their attempt-log rows. Every
    ///   answer goes to the message log, held or not, since the partner did answer. Recording
    ///   first releases the dossiers' next messages to the claim below.
    /// - **Claim.** Up to `claim.limit` due messages, each the oldest undelivered one of its
    ///   dossier for its destination (so per-dossier order holds), get a lease until
    ///   `now + claim.lease_ms` and a new fencing token, in one statement. On PostgreSQL, rows
    ///   another worker is claiming at the same moment are skipped rather than waited for.
    ///   `prepare` is called on each claimed message, in due order: it returns what the caller
    ///   will send and, optionally, the request's message-log record, appended here so that a
    ///   request is in the log before it leaves, at no extra commit.
    ///
    /// Returns whether each outcome was recorded, and each claimed message with what `prepare`
    /// made and its request's seq.
    #[allow(clippy::type_complexity)]
    pub async fn outbox_cycle<T, A: Borrow<Attempted>>(
        &self,
        outcomes: &[A],
        now: i64,
        claim: ClaimFor<'_>,
        mut prepare: impl FnMut(&Claimed) -> (T, Option<NewMessage>),
    ) -> Result<(Vec<bool>, Vec<(Claimed, T, Option<i64>)>), StoreError> {
        let candidates = |now: &str, limit: &str| {
            format!(
                "SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= {now} \
                 AND (o.lease_until IS NULL OR o.lease_until < {now}) \
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.dossier_id = o.dossier_id \
                     AND p.destination = o.destination AND p.id < o.id AND p.state IN ('pending', 'dead')) \
                 ORDER BY o.next_attempt_at, o.id LIMIT {limit}"
            )
        };
        let sqlite = matches!(self, Store::Sqlite { .. });
        let sqlite_choose = format!(
            "SELECT json_group_array(json_array(id, fence + 1, destination, dossier_id, payload, attempts, \
             created_at, next_attempt_at)) FROM outbox WHERE id IN ({})",
            candidates("$1", "$2")
        );
        let candidates = candidates("$3", "$4");
        let set = "lease_owner = $1, lease_until = $2, fence = fence + 1";
        let returning = "RETURNING outbox.id, outbox.fence, outbox.destination, outbox.dossier_id, outbox.payload, \
             outbox.attempts, outbox.created_at, outbox.next_attempt_at";
        // PostgreSQL: the job-queue form, candidates locked in a CTE, rows other claims hold
        // skipped. (`IN (… FOR UPDATE SKIP LOCKED)` re-evaluates the subquery on every
        // conflict.) SQLite chooses and leases in two statements below, both by rowid: an outer
        // condition on `state` once made its planner walk every pending message's index entry
        // to find the few chosen (docs/PERFORMANCE.md has the figures).
        let claim_sql = format!(
            "WITH c AS ({candidates} FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET {set} FROM c WHERE outbox.id = c.id {returning}"
        );
        let mut exchanges: Vec<Exchange> = outcomes
            .iter()
            .filter_map(|item| item.borrow().answer.clone().map(Exchange::one))
            .collect();
        let answers = exchanges.len();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut recorded = Vec::with_capacity(outcomes.len());
            if !outcomes.is_empty() {
                let mut update = sqlx::QueryBuilder::new(
                    "WITH v (id, fence, state, next_attempt_at, delivered_at, dead_at, last_error) AS (",
                );
                update.push_values(outcomes, |mut b, item| {
                    let item: &Attempted = item.borrow();
                    let (state, next, delivered_at, dead_at) = match item.outcome {
                        AttemptOutcome::Delivered => ("delivered", now, Some(now), None),
                        AttemptOutcome::Retry { next_attempt_at } => ("pending", next_attempt_at, None, None),
                        AttemptOutcome::Dead => ("dead", now, None, Some(now)),
                    };
                    b.push_bind(item.id)
                        .push_bind(item.fence)
                        .push_bind(state)
                        .push_bind(next)
                        .push_bind(delivered_at)
                        .push_bind(dead_at)
                        .push_bind(item.record.error.as_deref());
                });
                update.push(
                    ") UPDATE outbox SET state = v.state, attempts = outbox.attempts + 1, \
                     next_attempt_at = v.next_attempt_at, delivered_at = v.delivered_at, dead_at = v.dead_at, \
                     last_error = v.last_error, lease_owner = NULL, lease_until = NULL \
                     FROM v WHERE outbox.id = v.id AND outbox.fence = v.fence",
                );
                // No rows come back: sqlx's SQLite driver hands every row across threads. When
                // fewer rows changed than were sent (a lease lost), the fences tell which held:
                // a recorded row keeps its claim's fence, a taken-over one has a newer fence.
                let changed = update.build().execute(&mut *tx).await?.rows_affected();
                if usize::try_from(changed).is_ok_and(|n| n == outcomes.len()) {
                    recorded.resize(outcomes.len(), true);
                } else {
                    let mut q = sqlx::QueryBuilder::new("SELECT id, fence FROM outbox WHERE id IN (");
                    let mut ids = q.separated(", ");
                    for item in outcomes {
                        ids.push_bind(item.borrow().id);
                    }
                    q.push(")");
                    let fences = q
                        .build()
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
                        .collect::<Result<std::collections::HashMap<i64, i64>, StoreError>>()?;
                    recorded.extend(outcomes.iter().map(|item| {
                        let item: &Attempted = item.borrow();
                        fences.get(&item.id) == Some(&item.fence)
                    }));
                }
                let kept: Vec<&Attempted> = outcomes
                    .iter()
                    .zip(&recorded)
                    .filter_map(|(item, ok)| ok.then_some(item.borrow()))
                    .collect();
                if !kept.is_empty() {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO outbox_attempts (message_id, attempt, worker, started_at, latency_ms, \
                         http_status, outcome, error) ",
                    );
                    q.push_values(&kept, |mut b, item| {
                        b.push_bind(item.id)
                            .push_bind(item.attempts + 1)
                            .push_bind(item.record.worker.as_str())
                            .push_bind(item.record.started_at)
                            .push_bind(item.record.latency_ms)
                            .push_bind(item.record.http_status)
                            .push_bind(item.outcome.as_str())
                            .push_bind(item.record.error.as_deref());
                    });
                    q.build().execute(&mut *tx).await?;
                }
            }
            let mut claimed = Vec::new();
            if claim.limit > 0 && sqlite {
                // On SQLite (one writer, the transaction holds the write lock): the chosen
                // messages come back as one row of JSON, then are leased by id. A `RETURNING`
                // would send each row across the driver's threads.
                let chosen: String = sqlx::query_scalar(&sqlite_choose)
                    .bind(now)
                    .bind(claim.limit)
                    .fetch_one(&mut *tx)
                    .await?;
                let chosen: Vec<(i64, i64, String, i64, String, i64, i64, i64)> =
                    serde_json::from_str(&chosen).map_err(|e| StoreError::Corrupt(format!("claimed messages: {e}")))?;
                let ids = serde_json::to_string(&chosen.iter().map(|c| c.0).collect::<Vec<_>>())
                    .map_err(|e| StoreError::Corrupt(format!("claimed ids: {e}")))?;
                let leased = sqlx::query(
                    "UPDATE outbox SET lease_owner = $1, lease_until = $2, fence = fence + 1 \
                     WHERE id IN (SELECT value FROM json_each($3))",
                )
                .bind(claim.worker)
                .bind(now + claim.lease_ms)
                .bind(ids)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if usize::try_from(leased).ok() != Some(chosen.len()) {
                    return Err(StoreError::Corrupt(format!(
                        "{} messages chosen, {leased} leased",
                        chosen.len()
                    )));
                }
                claimed = chosen
                    .into_iter()
                    .map(|(id, fence, destination, dossier_id, payload, attempts, created_at, due)| {
                        let c = Claimed { id, fence, destination, dossier_id, payload, attempts, created_at };
                        (due, c)
                    })
                    .collect();
                claimed.sort_by_key(|(due, c): &(i64, Claimed)| (*due, c.id));
            } else if claim.limit > 0 {
                let rows = sqlx::query(&claim_sql)
                    .bind(claim.worker)
                    .bind(now + claim.lease_ms)
                    .bind(now)
                    .bind(claim.limit)
                    .fetch_all(&mut *tx)
                    .await?;
                claimed = rows
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<i64, _>("next_attempt_at")?,
                            Claimed {
                                id: r.try_get("id")?,
                                fence: r.try_get("fence")?,
                                destination: r.try_get("destination")?,
                                dossier_id: r.try_get("dossier_id")?,
                                payload: r.try_get("payload")?,
                                attempts: r.try_get("attempts")?,
                                created_at: r.try_get("created_at")?,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                claimed.sort_by_key(|(due, c): &(i64, Claimed)| (*due, c.id));
            }
            let mut made = Vec::with_capacity(claimed.len());
            for (_, c) in claimed {
                let (thing, request) = prepare(&c);
                let logged = request.map(|r| exchanges.push(Exchange::one(r)));
                made.push((c, thing, logged));
            }
            let seqs = append_log!(tx, exchanges).await?;
            tx.commit().await?;
            let mut seqs = seqs.into_iter().skip(answers);
            let made = made
                .into_iter()
                .map(|(c, thing, logged)| (c, thing, logged.and_then(|()| seqs.next())))
                .collect();
            Ok((recorded, made))
        })
    }

    /// The earliest time a pending message becomes due or its lease runs out (ms).
    pub async fn next_outbox_due(&self) -> Result<Option<i64>, StoreError> {
        with_pool!(read self, pool => {
            let due: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at \
                 THEN lease_until ELSE next_attempt_at END) FROM outbox WHERE state = 'pending'",
            )
            .fetch_one(pool)
            .await?;
            Ok(due)
        })
    }

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
        with_pool!(read self, pool => {
            let rows = sqlx::query(
                "SELECT o.id, o.destination, d.code, o.kind, o.state, o.attempts, o.created_at, o.next_attempt_at, \
                 o.delivered_at, o.last_error FROM outbox o LEFT JOIN dossiers d ON d.id = o.dossier_id \
                 WHERE o.state = $1 AND o.id > $2 ORDER BY o.id LIMIT $3",
            )
            .bind(state)
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
