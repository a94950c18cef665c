//! One delivery cycle of the outbox, in one transaction that the worker drives step by step:
//!
//! 1. [`DeliveryCycle::record`] — the outcomes of the attempts that came back, each only if its
//!    claim still holds (`fence` unchanged), all in one `UPDATE … FROM (VALUES …)`; those that
//!    held get their attempt-log rows. Every answer is kept for the message log, held or not,
//!    since the partner did answer. Recording first releases the dossiers' next messages to the
//!    claim below.
//! 2. [`DeliveryCycle::claim`] — up to a limit of due messages, each the oldest undelivered one
//!    of its dossier for its destination (so per-dossier order holds), leased until
//!    `now + lease_ms` under a new fencing token, in due order, each with its payload (on
//!    SQLite kept in a table of its own, so that the claim and the outcome rewrite only the
//!    narrow row: migration 0021). On PostgreSQL, rows another worker is claiming at the same
//!    moment are skipped rather than waited for.
//! 3. [`DeliveryCycle::commit`] — the answers, then the requests the worker made of the claimed
//!    messages, appended to the message log; then the commit. So a request is in the log before
//!    it leaves, at no extra commit, and a claim whose requests cannot be logged is not made.
//!
//! Dropped before `commit` (a step failed), the transaction rolls back: no outcome recorded, no
//! lease taken. No transaction here stays open across a delivery.

use super::message_log::append_log;
use super::outbox::{AttemptOutcome, Attempted, ClaimFor, Claimed};
use super::{push_in_list, with_tx, Store, StoreError, WriteTx};
use crate::chain::{Exchange, NewMessage};
use sqlx::Row;
use std::borrow::Borrow;
use std::collections::HashMap;

/// A delivery cycle's open transaction and the answers it will log.
pub struct DeliveryCycle {
    tx: WriteTx,
    log: Vec<Exchange>,
}

/// The oldest due message of each dossier and destination, not leased, in due order, as a
/// query with the given placeholders for the time and the limit.
fn candidates(now: &str, limit: &str) -> String {
    format!(
        "SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= {now} \
         AND (o.lease_until IS NULL OR o.lease_until < {now}) \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.dossier_id = o.dossier_id \
             AND p.destination = o.destination AND p.id < o.id AND p.state IN ('pending', 'dead')) \
         ORDER BY o.next_attempt_at, o.id LIMIT {limit}"
    )
}

/// What one claimed row holds, in the order both claims read it.
type ClaimedRow = (i64, i64, String, i64, String, i64, i64, i64);

fn in_due_order(rows: Vec<ClaimedRow>) -> Vec<Claimed> {
    let mut claimed: Vec<(i64, Claimed)> = rows
        .into_iter()
        .map(
            |(id, fence, destination, dossier_id, payload, attempts, created_at, due)| {
                let c = Claimed {
                    id,
                    fence,
                    destination,
                    dossier_id,
                    payload,
                    attempts,
                    created_at,
                };
                (due, c)
            },
        )
        .collect();
    claimed.sort_by_key(|(due, c)| (*due, c.id));
    claimed.into_iter().map(|(_, c)| c).collect()
}

impl Store {
    /// Begins a delivery cycle.
    pub async fn begin_delivery_cycle(&self) -> Result<DeliveryCycle, StoreError> {
        Ok(DeliveryCycle {
            tx: self.begin_tx().await?,
            log: Vec::new(),
        })
    }
}

impl DeliveryCycle {
    /// Records `outcomes` at `now` (step 1); whether each was recorded (its claim held).
    pub async fn record<A: Borrow<Attempted>>(
        &mut self,
        outcomes: &[A],
        now: i64,
    ) -> Result<Vec<bool>, StoreError> {
        self.log.extend(
            outcomes
                .iter()
                .filter_map(|item| item.borrow().answer.clone().map(Exchange::one)),
        );
        if outcomes.is_empty() {
            return Ok(Vec::new());
        }
        with_tx!(&mut self.tx, tx => {
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
            // fewer rows changed than were sent (a lease lost), the fences tell which held: a
            // recorded row keeps its claim's fence, a taken-over one has a newer fence.
            let changed = update.build().execute(&mut **tx).await?.rows_affected();
            let recorded: Vec<bool> = if usize::try_from(changed).is_ok_and(|n| n == outcomes.len()) {
                vec![true; outcomes.len()]
            } else {
                let mut q = sqlx::QueryBuilder::new("SELECT id, fence FROM outbox WHERE id IN (");
                push_in_list(&mut q, outcomes.iter().map(|item| item.borrow().id));
                let mut fences = HashMap::new();
                for r in q.build().fetch_all(&mut **tx).await? {
                    fences.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
                }
                outcomes
                    .iter()
                    .map(|item| fences.get(&item.borrow().id) == Some(&item.borrow().fence))
                    .collect()
            };
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
                q.build().execute(&mut **tx).await?;
            }
            Ok(recorded)
        })
    }

    /// Claims due messages at `now` (step 2), in due order.
    pub async fn claim(
        &mut self,
        now: i64,
        claim: ClaimFor<'_>,
    ) -> Result<Vec<Claimed>, StoreError> {
        if claim.limit <= 0 {
            return Ok(Vec::new());
        }
        let lease_until = now + claim.lease_ms;
        let rows: Vec<ClaimedRow> = match &mut self.tx {
            // SQLite (one writer; the transaction holds the write lock): the chosen messages
            // come back as one row of JSON, then are leased by id. A `RETURNING` would send
            // each row across the driver's threads, and an outer condition on `state` once
            // made its planner walk every pending message's index entry to find the few
            // chosen (docs/PERFORMANCE.md).
            WriteTx::Sqlite(tx) => {
                let chosen: String = sqlx::query_scalar(&format!(
                    "SELECT json_group_array(json_array(o.id, o.fence + 1, o.destination, o.dossier_id, \
                     p.payload, o.attempts, o.created_at, o.next_attempt_at)) \
                     FROM outbox o JOIN outbox_payloads p ON p.message_id = o.id WHERE o.id IN ({})",
                    candidates("$1", "$2")
                ))
                .bind(now)
                .bind(claim.limit)
                .fetch_one(&mut **tx)
                .await?;
                let chosen: Vec<ClaimedRow> = serde_json::from_str(&chosen)
                    .map_err(|e| StoreError::Corrupt(format!("claimed messages: {e}")))?;
                let ids = serde_json::to_string(&chosen.iter().map(|c| c.0).collect::<Vec<_>>())
                    .map_err(|e| StoreError::Encode(format!("claimed ids: {e}")))?;
                let leased = sqlx::query(
                    "UPDATE outbox SET lease_owner = $1, lease_until = $2, fence = fence + 1 \
                     WHERE id IN (SELECT value FROM json_each($3))",
                )
                .bind(claim.worker)
                .bind(lease_until)
                .bind(ids)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if usize::try_from(leased).ok() != Some(chosen.len()) {
                    return Err(StoreError::Corrupt(format!(
                        "{} messages chosen, {leased} leased",
                        chosen.len()
                    )));
                }
                chosen
            }
            // PostgreSQL: the job-queue form, candidates locked in a CTE, rows other claims
            // hold skipped. (`IN (… FOR UPDATE SKIP LOCKED)` re-evaluates the subquery on
            // every conflict.)
            WriteTx::Postgres(tx) => {
                let rows = sqlx::query(&format!(
                    "WITH c AS ({} FOR UPDATE SKIP LOCKED) \
                     UPDATE outbox SET lease_owner = $1, lease_until = $2, fence = fence + 1 \
                     FROM c WHERE outbox.id = c.id \
                     RETURNING outbox.id, outbox.fence, outbox.destination, outbox.dossier_id, \
                     outbox.payload, outbox.attempts, outbox.created_at, outbox.next_attempt_at",
                    candidates("$3", "$4")
                ))
                .bind(claim.worker)
                .bind(lease_until)
                .bind(now)
                .bind(claim.limit)
                .fetch_all(&mut **tx)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("fence")?,
                            r.try_get("destination")?,
                            r.try_get("dossier_id")?,
                            r.try_get("payload")?,
                            r.try_get("attempts")?,
                            r.try_get("created_at")?,
                            r.try_get("next_attempt_at")?,
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?
            }
        };
        Ok(in_due_order(rows))
    }

    /// Appends the answers recorded and `requests` — for each claimed message, its request's
    /// record, or none where it will not be sent — to the message log, and commits (step 3).
    /// Returns each request's seq.
    pub async fn commit(
        mut self,
        requests: Vec<Option<NewMessage>>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let answers = self.log.len();
        let logged: Vec<bool> = requests.iter().map(Option::is_some).collect();
        self.log
            .extend(requests.into_iter().flatten().map(Exchange::one));
        let seqs = with_tx!(&mut self.tx, tx => append_log!(*tx, self.log).await?);
        self.tx.commit().await?;
        let mut seqs = seqs.into_iter().skip(answers);
        Ok(logged
            .into_iter()
            .map(|logged| if logged { seqs.next() } else { None })
            .collect())
    }
}
