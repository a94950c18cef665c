//! Lifecycle statements: one dossier change — the new column values, its progress record, its
//! outbox messages, its inter-agency step (a forwarding, or an agency's answer) and (when the
//! caller sent one) its idempotency key — in one transaction, guarded by the dossier's version
//! so that two concurrent changes cannot both apply.

use super::dossier_rows::StoredDossier;
use super::dossiers::load_dossier;
use super::payments::apply_payment_op;
use super::steps::apply_step_op;
use super::{
    insert_outbox, insert_progress, with_pool, BeginWrite, NewOutboxMessage, Store, StoreError,
};
use super::{PaymentOp, StepOp};
use crate::domain::dossier::Progress;
use sqlx::Row;

/// The dossier's mutable columns after a change.
#[derive(Debug, Clone)]
pub struct DossierUpdate {
    /// New status.
    pub status: i64,
    /// `NgayTiepNhan` (ms).
    pub accepted_at: Option<i64>,
    /// `NgayHenTra` (ms).
    pub due_at: Option<i64>,
    /// `NgayKetThucXuLy` (ms).
    pub finished_at: Option<i64>,
    /// `NgayTra` (ms).
    pub returned_at: Option<i64>,
    /// `truoc_han` / `dung_han` / `qua_han`.
    pub timeliness: Option<String>,
    /// Status to return to once paid.
    pub status_before_payment: Option<i64>,
    /// Whether the one extension was used.
    pub extended: bool,
    /// When the supplement was requested (ms).
    pub supplement_requested_at: Option<i64>,
}

impl DossierUpdate {
    /// The current values of a stored dossier, to modify.
    pub fn from_stored(d: &StoredDossier) -> Self {
        Self {
            status: d.status,
            accepted_at: d.accepted_at,
            due_at: d.due_at,
            finished_at: d.finished_at,
            returned_at: d.returned_at,
            timeliness: d.timeliness.clone(),
            status_before_payment: d.status_before_payment,
            extended: d.extended,
            supplement_requested_at: d.supplement_requested_at,
        }
    }
}

/// An idempotency key to record with the change.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The client that sent it (keys are per client).
    pub client: String,
    /// The key.
    pub key: String,
    /// SHA-256 of the request (method, path, body).
    pub request_hash: String,
}

/// A stored answer of an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The request's hash.
    pub request_hash: String,
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: String,
}

/// What applying a change did.
#[derive(Debug, Clone)]
pub enum ApplyOutcome {
    /// Applied; the dossier as rendered inside the transaction.
    Applied(String),
    /// The dossier changed since it was read: read it again and retry.
    Stale,
    /// The idempotency key was recorded by a concurrent request first.
    KeyTaken(StoredAnswer),
    /// The payment to settle is no longer pending (settled concurrently): nothing was written.
    PaymentNotPending,
    /// The forwarding answered is no longer open (`done` or `refused`): nothing was written.
    StepClosed,
}

/// One change of a dossier: its new column values with the progress record, messages,
/// idempotency key and payment operation written in the same transaction. Owned, so that it can
/// wait for the group-commit writer.
pub struct Change {
    /// The dossier's row id.
    pub dossier_id: i64,
    /// The version it was read at (the update applies only if it still holds).
    pub version: i64,
    /// The new column values.
    pub update: DossierUpdate,
    /// The progress record.
    pub progress: Progress,
    /// Messages to queue.
    pub outbox: Vec<NewOutboxMessage>,
    /// The caller's idempotency key.
    pub idempotency: Option<IdempotencyKey>,
    /// A payment written with the change (a request, or the settlement that causes it).
    pub payment: Option<PaymentOp>,
    /// What it does to the dossier's inter-agency steps.
    pub step: Option<StepOp>,
    /// When (ms).
    pub now: i64,
    /// Turns the changed dossier (read inside the transaction) into the answer, which is also
    /// what the idempotency key stores.
    pub render: Box<dyn Fn(&StoredDossier) -> String + Send + Sync>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("dossier_id", &self.dossier_id)
            .field("status", &self.update.status)
            .finish_non_exhaustive()
    }
}

/// Runs one change through `$tx` (a transaction or savepoint): payment operation, guarded
/// update, progress, messages, the changed dossier rendered, the idempotency key.
macro_rules! apply_in {
    ($tx:expr, $c:expr, $select:expr) => {
        async {
            let c: &Change = $c;
            let u = &c.update;
            if let Some(op) = &c.payment {
                if !apply_payment_op!(&mut *$tx, c.dossier_id, op, c.now).await? {
                    return Ok(ApplyOutcome::PaymentNotPending);
                }
            }
            let updated = sqlx::query(
                "UPDATE dossiers SET status = $1, accepted_at = $2, due_at = $3, finished_at = $4, returned_at = $5, \
                 timeliness = $6, status_before_payment = $7, extended = $8, supplement_requested_at = $9, \
                 version = version + 1 WHERE id = $10 AND version = $11",
            )
            .bind(u.status)
            .bind(u.accepted_at)
            .bind(u.due_at)
            .bind(u.finished_at)
            .bind(u.returned_at)
            .bind(u.timeliness.as_deref())
            .bind(u.status_before_payment)
            .bind(i64::from(u.extended))
            .bind(u.supplement_requested_at)
            .bind(c.dossier_id)
            .bind(c.version)
            .execute(&mut *$tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Ok(ApplyOutcome::Stale);
            }
            if let Some(op) = &c.step {
                if !apply_step_op!(&mut *$tx, c.dossier_id, op, c.now).await? {
                    return Ok(ApplyOutcome::StepClosed);
                }
            }
            insert_progress!(&mut *$tx, c.dossier_id, c.progress, u.due_at).await?;
            for m in &c.outbox {
                insert_outbox!(&mut *$tx, c.dossier_id, m, c.now).await?;
            }
            let changed = load_dossier!(&mut *$tx, $select, c.dossier_id).await?
                .ok_or_else(|| StoreError::Corrupt("a changed dossier vanished".into()))?;
            let body = (c.render)(&changed);
            if let Some(k) = &c.idempotency {
                sqlx::query(
                    "INSERT INTO idempotency_keys (client, key, request_hash, status, body, created_at) \
                     VALUES ($1, $2, $3, 200, $4, $5)",
                )
                .bind(&k.client)
                .bind(&k.key)
                .bind(&k.request_hash)
                .bind(&body)
                .bind(c.now)
                .execute(&mut *$tx)
                .await?;
            }
            Ok::<ApplyOutcome, StoreError>(ApplyOutcome::Applied(body))
        }
    };
}

impl Store {
    /// The answer stored under a client's idempotency key.
    pub async fn idempotent_answer(
        &self,
        client: &str,
        key: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        with_pool!(read self, pool => {
            let row = sqlx::query("SELECT request_hash, status, body FROM idempotency_keys WHERE client = $1 AND key = $2")
                .bind(client)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(r) => Ok(Some(StoredAnswer {
                    request_hash: r.try_get("request_hash")?,
                    status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(200),
                    body: r.try_get("body")?,
                })),
                None => Ok(None),
            }
        })
    }

    /// Reserves a key for a request made outside a change (a payment request), before the
    /// request does anything: `None` if this caller now holds it (status 0, no answer yet),
    /// or what the key already holds — a finished answer, or a reservation still in progress
    /// (status 0). A reservation older than `stale_before` (ms) was left by a request that
    /// died; it is taken over, which is safe because what that request may have done is
    /// guarded by the store itself (one pending payment per dossier).
    pub async fn reserve_idempotency_key(
        &self,
        key: &IdempotencyKey,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        let reserved = with_pool!(self, pool => {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (client, key, request_hash, status, body, created_at) \
                 VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (client, key) DO NOTHING",
            )
            .bind(&key.client)
            .bind(&key.key)
            .bind(&key.request_hash)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
            let taken_over = if inserted == 0 {
                sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $1 WHERE client = $2 AND key = $3 \
                     AND request_hash = $4 AND status = 0 AND created_at < $5",
                )
                .bind(now)
                .bind(&key.client)
                .bind(&key.key)
                .bind(&key.request_hash)
                .bind(stale_before)
                .execute(pool)
                .await?
                .rows_affected()
            } else {
                0
            };
            Ok::<bool, StoreError>(inserted + taken_over > 0)
        })?;
        if reserved {
            return Ok(None);
        }
        self.idempotent_answer(&key.client, &key.key).await
    }

    /// Completes a key reserved by [`Store::reserve_idempotency_key`] with its answer.
    pub async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, body = $2 \
                 WHERE client = $3 AND key = $4 AND status = 0",
            )
            .bind(i64::from(status))
            .bind(body)
            .bind(&key.client)
            .bind(&key.key)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Gives back a key reserved by [`Store::reserve_idempotency_key`] whose request did
    /// nothing (refused, or the provider unavailable): the same key may be tried again.
    pub async fn release_idempotency_key(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM idempotency_keys WHERE client = $1 AND key = $2 AND status = 0")
                .bind(&key.client)
                .bind(&key.key)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Applies one change in its own transaction.
    pub async fn apply_change(&self, change: &Change) -> Result<ApplyOutcome, StoreError> {
        let select = self.dossier_select("id");
        let result = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let outcome = apply_in!(tx, change, &select).await?;
            if matches!(outcome, ApplyOutcome::Applied(_)) {
                tx.commit().await?;
            }
            Ok::<ApplyOutcome, StoreError>(outcome)
        });
        self.settle_races(change, result).await
    }

    /// Applies many changes in one transaction (group commit), each inside a savepoint: a
    /// change that is stale, finds its payment no longer pending, or fails, is rolled back
    /// alone. If the transaction itself fails, each change is applied again on its own.
    /// One outcome per change, in the order given.
    ///
    /// The changes are applied in the order of their dossiers' row ids (changes of one dossier
    /// in the order given), so that the row locks a batch takes on PostgreSQL — each change
    /// locks only its own dossier's rows — come in one order on every instance: two instances'
    /// batches cannot wait for each other in a circle. Taken in arrival order, two batches
    /// holding the same two dossiers the other way round deadlocked: PostgreSQL cancelled one
    /// change after a second's wait, which for a payment's confirmation was an answer of 99.
    pub async fn apply_changes(&self, changes: &[Change]) -> Vec<Result<ApplyOutcome, StoreError>> {
        let select = self.dossier_select("id");
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by_key(|&i| changes[i].dossier_id);
        let batch: Result<Vec<Result<ApplyOutcome, StoreError>>, StoreError> = with_pool!(self, pool => {
            async {
                let mut tx = pool.begin_write().await?;
                let mut outcomes = Vec::with_capacity(changes.len());
                for &i in &order {
                    let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                    let outcome = apply_in!(savepoint, &changes[i], &select).await;
                    if matches!(outcome, Ok(ApplyOutcome::Applied(_))) {
                        savepoint.commit().await?;
                    } else {
                        savepoint.rollback().await?;
                    }
                    outcomes.push((i, outcome));
                }
                tx.commit().await?;
                // Back in the order given.
                outcomes.sort_by_key(|&(i, _)| i);
                Ok(outcomes.into_iter().map(|(_, outcome)| outcome).collect())
            }
            .await
        });
        let outcomes = match batch {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::debug!(error = %e, changes = changes.len(), "batch of changes failed; applying each on its own");
                let mut outcomes = Vec::with_capacity(changes.len());
                for change in changes {
                    outcomes.push(self.apply_change(change).await);
                }
                return outcomes;
            }
        };
        let mut settled = Vec::with_capacity(outcomes.len());
        for (change, outcome) in changes.iter().zip(outcomes) {
            settled.push(self.settle_races(change, outcome).await);
        }
        settled
    }

    /// Races with other writers, settled: a unique violation on the idempotency key means
    /// another request with the same key committed first, and its answer is the answer; a
    /// change PostgreSQL gave up for another transaction's sake (a deadlock, a serialization
    /// failure) wrote nothing, and is read again and retried like a stale one.
    async fn settle_races(
        &self,
        change: &Change,
        result: Result<ApplyOutcome, StoreError>,
    ) -> Result<ApplyOutcome, StoreError> {
        match (result, &change.idempotency) {
            (Err(e), _) if e.is_conflict() => {
                tracing::info!(error = %e, dossier.id = change.dossier_id, "a change gave way to a concurrent transaction; reading the dossier again");
                Ok(ApplyOutcome::Stale)
            }
            (Err(StoreError::Duplicate(what)), Some(k)) => {
                match self.idempotent_answer(&k.client, &k.key).await? {
                    Some(answer) => Ok(ApplyOutcome::KeyTaken(answer)),
                    None => Err(StoreError::Duplicate(what)),
                }
            }
            (other, _) => other,
        }
    }
}
