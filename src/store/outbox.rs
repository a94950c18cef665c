//! The outbox's messages as the store takes and gives them. Messages are written by the
//! transactions that make the changes they report (`intake_batch` and `intake_pg` a batch at a
//! time, `lifecycle` and `documents` one at a time through `insert_outbox!` here; where each
//! backend keeps a payload is `OutboxPayloads`); they are claimed under a lease with a fencing
//! token and their outcomes recorded by the delivery cycle (`delivery_cycle`), and operators
//! list, replay and discard them (`outbox_ops`).

use super::{with_pool, Store, StoreError};
use crate::chain::NewMessage;

/// An outbox message to write in the same transaction as the change it reports. Its payload
/// is text, or (intake, before the dossier's code is drawn) a `CodeTemplate` the store completes.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<P = String> {
    /// `portal`, `onestop` or `agency:<code>`.
    pub destination: String,
    /// What it reports, e.g. `status`.
    pub kind: String,
    /// The JSON body to deliver.
    pub payload: P,
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

/// Where a backend keeps an outbox message's payload: in a table of its own (SQLite, migration
/// 0021: the claim and the outcome then rewrite only the narrow row) or in the row (PostgreSQL,
/// where the table cost intake more than it gave deliveries).
pub(crate) trait OutboxPayloads {
    /// Whether payloads live in `outbox_payloads`.
    const APART: bool;
}

impl OutboxPayloads for sqlx::SqliteConnection {
    const APART: bool = true;
}

impl OutboxPayloads for sqlx::PgConnection {
    const APART: bool = false;
}

/// Whether `conn`'s backend keeps payloads apart ([`OutboxPayloads`]).
pub(crate) fn payloads_apart<C: OutboxPayloads>(_conn: &C) -> bool {
    C::APART
}

/// Queues an outbox message about dossier `$id` through `$exec` (a transaction's connection),
/// due `$now`: its row, and its payload where the backend keeps it ([`OutboxPayloads`]).
macro_rules! insert_outbox {
    ($exec:expr, $id:expr, $m:expr, $now:expr) => {
        async {
            let exec = $exec;
            if !$crate::store::payloads_apart(&*exec) {
                return sqlx::query(
                    "INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, \
                     next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&$m.destination)
                .bind($id)
                .bind(&$m.kind)
                .bind(&$m.payload)
                .bind($now)
                .bind($now)
                .execute(&mut *exec)
                .await;
            }
            let message: i64 = sqlx::query_scalar(
                "INSERT INTO outbox (destination, dossier_id, kind, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&$m.destination)
            .bind($id)
            .bind(&$m.kind)
            .bind($now)
            .bind($now)
            .fetch_one(&mut *exec)
            .await?;
            sqlx::query("INSERT INTO outbox_payloads (message_id, payload) VALUES ($1, $2)")
                .bind(message)
                .bind(&$m.payload)
                .execute(&mut *exec)
                .await
        }
    };
}
pub(crate) use insert_outbox;

impl Store {
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
}
