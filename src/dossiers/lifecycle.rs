//! The department's actions on a dossier: check the lifecycle, compute the dates in working
//! time, and write the change with its progress record and its status sync to the portal in
//! one transaction. Concurrent changes are serialised by the dossier's version: a stale change
//! is read again and re-planned.

use super::fees;
pub use super::plan::OfficeHours;
use super::plan::{plan, rules_of, ActionInput, LifecycleError, Planned, Rules};
use super::steps::{plan_answer, plan_steps};
use crate::domain::calendar::Calendar;
use crate::domain::lifecycle::Action;
use crate::domain::working_hours::WorkingHours;
use crate::dossiers::status_cache::StatusCache;
use crate::dossiers::view::dossier_view;
use crate::lienthong::answer::StepAnswer;
use crate::lienthong::{Agencies, Agency};
use crate::mapping::Mappings;
use crate::portal::sync::{portal_procedure, status_sync, SyncDates, PORTAL};
use crate::store::group_commit::GroupCommit;
use crate::store::{
    ApplyOutcome, Change, DossierUpdate, IdempotencyKey, NewOutboxMessage, PaymentOp, Store,
    StoreError, StoredDossier,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;

/// What the lifecycle reads besides the store: the procedures' rules, the calendar and hours,
/// the agencies steps go to, and the gateway's address as they reach it.
#[derive(Clone)]
pub struct LifecycleRules {
    /// The procedures' mappings.
    pub mappings: Arc<Mappings>,
    /// The working calendar.
    pub calendar: Arc<Calendar>,
    /// The offices' hours.
    pub hours: Arc<OfficeHours>,
    /// `[[agencies]]`.
    pub agencies: Arc<Agencies>,
    /// `server.public_url`.
    pub public_url: Arc<str>,
}

/// Turns the changed dossier into the answer (and what an idempotency key keeps).
type Render = Box<dyn Fn(&StoredDossier) -> String + Send + Sync>;

/// The lifecycle service.
#[derive(Clone)]
pub struct Lifecycle {
    store: Store,
    rules: LifecycleRules,
    outbox_wake: Arc<Notify>,
    /// Status reads kept in memory; a committed change drops its dossier's.
    status_cache: Arc<StatusCache>,
    /// Changes waiting together are committed together (group commit).
    writer: GroupCommit<Change, Result<ApplyOutcome, StoreError>>,
}

/// Changes committed in one transaction at most.
pub const MAX_BATCH: usize = 64;

/// How many times a change is re-planned when the dossier changed under it.
const MAX_RETRIES: usize = 8;

impl Lifecycle {
    /// A service over the store, with the calendar and office hours for due dates; `outbox_wake`
    /// is notified after every change so the worker delivers without waiting for its next poll.
    pub fn new(
        store: Store,
        rules: LifecycleRules,
        outbox_wake: Arc<Notify>,
        status_cache: Arc<StatusCache>,
    ) -> Self {
        let batch_cache = status_cache.clone();
        let writer = store.start_writer(
            "motcua-lifecycle-writer",
            MAX_BATCH,
            move |store, changes: Vec<Change>| {
                let cache = batch_cache.clone();
                async move {
                    let outcomes = store.apply_changes(&changes).await;
                    // Committed: drop the kept reads before anyone is answered.
                    for (change, outcome) in changes.iter().zip(&outcomes) {
                        if matches!(outcome, Ok(ApplyOutcome::Applied(_))) {
                            cache.forget(change.dossier_id);
                        }
                    }
                    outcomes
                }
            },
        );
        Self {
            store,
            rules,
            outbox_wake,
            status_cache,
            writer,
        }
    }

    /// The sizes of the lifecycle writer's batches: changes applied per transaction.
    pub fn batch_sizes(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.writer.batch_sizes()
    }

    /// Drops the kept status read of a dossier changed outside [`Lifecycle`]'s own writer.
    pub fn forget(&self, dossier_id: i64) {
        self.status_cache.forget(dossier_id);
    }

    /// Drops every kept status read, after a change to many dossiers.
    pub fn forget_all(&self) {
        self.status_cache.forget_all();
    }

    fn hours_for(&self, d: &StoredDossier) -> &WorkingHours {
        let hours = &self.rules.hours;
        rules_of(&self.rules.mappings, d)
            .and_then(|p| hours.offices.get(&p.handling_unit))
            .unwrap_or(&hours.default)
    }

    /// The agencies steps are forwarded to.
    pub fn agencies(&self) -> &Agencies {
        &self.rules.agencies
    }

    fn rules_for<'a>(&'a self, d: &StoredDossier) -> Rules<'a> {
        Rules {
            mappings: &self.rules.mappings,
            calendar: &self.rules.calendar,
            hours: self.hours_for(d),
            offices: &self.rules.hours,
            agencies: &self.rules.agencies,
            public_url: &self.rules.public_url,
        }
    }

    /// Applies an action to the dossier `code`; answers the dossier as `GET` shows it, or the
    /// stored answer of an earlier request with the same idempotency key.
    pub async fn act(
        &self,
        code: &str,
        input: &ActionInput,
        key: Option<&IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<String, LifecycleError> {
        self.act_with_payment(code, input, key, None, now).await
    }

    /// [`Lifecycle::act`], writing a payment operation in the same transaction (a payment
    /// request with `request_payment`, a settlement with the confirmation of payment).
    pub async fn act_with_payment(
        &self,
        code: &str,
        input: &ActionInput,
        key: Option<&IdempotencyKey>,
        payment: Option<&PaymentOp>,
        now: DateTime<Utc>,
    ) -> Result<String, LifecycleError> {
        let mappings = self.rules.mappings.clone();
        let render: Render =
            Box::new(move |d: &StoredDossier| dossier_view(&mappings, d).to_string());
        let label = input.action.name();
        self.run(code, key, render, label, now, |d, rules, now| {
            let planned = plan(rules, d, input, now)?;
            let mut planned = plan_steps(rules, d, input, planned)?;
            planned.payment = match input.action {
                Action::RecordPayment => Some(fees::counter_payment(
                    d,
                    input.counter.as_ref(),
                    now.timestamp_millis(),
                )?),
                _ => payment.cloned(),
            };
            Ok(planned)
        })
        .await
    }

    /// An agency's answer to its forwarding `(dossier code, ref)` (already verified as that
    /// agency's): the step's new state and a progress record synced to the portal, in one
    /// commit, kept under the agency's `webhook-id` in `key`; `render` makes the agency's answer.
    pub async fn answer_step(
        &self,
        (code, reference): (&str, &str),
        agency: &Agency,
        answer: &StepAnswer,
        key: &IdempotencyKey,
        render: Render,
        now: DateTime<Utc>,
    ) -> Result<String, LifecycleError> {
        self.run(
            code,
            Some(key),
            render,
            "lienthong",
            now,
            |d, rules, now| {
                let procedure = rules_of(rules.mappings, d).map(AsRef::as_ref);
                let (op, progress) = plan_answer(
                    procedure,
                    agency,
                    d,
                    reference,
                    answer,
                    now.timestamp_millis(),
                )?;
                Ok(Planned {
                    update: DossierUpdate::from_stored(d),
                    progress,
                    step: Some(op),
                    messages: Vec::new(),
                    payment: None,
                })
            },
        )
        .await
    }

    /// Plans a change on the dossier with `planner`, commits it with its portal sync (and
    /// whatever else it carries), and answers; a plan made stale by a concurrent change is made
    /// again, and an idempotency key's earlier answer is the answer.
    async fn run(
        &self,
        code: &str,
        key: Option<&IdempotencyKey>,
        render: Render,
        label: &'static str,
        now: DateTime<Utc>,
        planner: impl Fn(&StoredDossier, &Rules<'_>, DateTime<Utc>) -> Result<Planned, LifecycleError>,
    ) -> Result<String, LifecycleError> {
        // Whole seconds: the wire shows seconds, and due dates computed from the shown
        // acceptance time must be the ones stored.
        let now = DateTime::<Utc>::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let render: Arc<Render> = Arc::new(render);
        for _ in 0..MAX_RETRIES {
            // Checked on every round: a request with the same key may have committed while
            // this one was planned against the dossier it changed.
            if let Some(answered) = self.keyed_answer(key).await? {
                return answered;
            }
            let d = self
                .store
                .dossier_by_code(code)
                .await?
                .ok_or(LifecycleError::NotFound)?;
            let planned = match planner(&d, &self.rules_for(&d), now) {
                Ok(planned) => planned,
                // The dossier may have been changed by this very key's first request between
                // the key check above and the read.
                Err(refused) => return self.keyed_answer(key).await?.unwrap_or(Err(refused)),
            };
            let Planned {
                update,
                progress,
                step,
                messages,
                payment,
            } = planned;
            let procedure = portal_procedure(&d.procedure_code, &d.code);
            let sync = status_sync(
                &d.code,
                &d.portal_id,
                &procedure,
                update.status,
                SyncDates {
                    accepted_at: update.accepted_at,
                    due_at: update.due_at,
                    finished_at: update.finished_at,
                    returned_at: update.returned_at,
                },
                &progress,
            );
            let sync = serde_json::to_string(&sync)
                .map_err(|e| LifecycleError::Store(StoreError::Encode(e.to_string())))?;
            let status = update.status;
            let mut outbox = vec![NewOutboxMessage {
                destination: PORTAL.into(),
                kind: "status".into(),
                payload: sync,
            }];
            outbox.extend(messages);
            let shared = render.clone();
            let change = Change {
                dossier_id: d.id,
                version: d.version,
                update,
                progress,
                outbox,
                idempotency: key.cloned(),
                payment,
                step,
                now: now.timestamp_millis(),
                render: Box::new(move |d: &StoredDossier| shared(d)),
            };
            let outcome = self
                .writer
                .submit(change)
                .await
                .map_err(StoreError::from)??;
            match outcome {
                ApplyOutcome::Applied(body) => {
                    tracing::info!(dossier.code = %d.code, action = label, status, "dossier changed");
                    self.outbox_wake.notify_one();
                    return Ok(body);
                }
                ApplyOutcome::Stale => continue,
                ApplyOutcome::PaymentNotPending => return Err(LifecycleError::PaymentNotPending),
                ApplyOutcome::StepClosed => {
                    return Err(LifecycleError::StepConflict {
                        code: "STEP_FINAL",
                        message: "this forwarding is closed: nothing follows it".into(),
                    })
                }
                ApplyOutcome::KeyTaken(answer) => {
                    let same = key.is_some_and(|k| k.request_hash == answer.request_hash);
                    return if same {
                        Ok(answer.body)
                    } else {
                        Err(LifecycleError::KeyReused)
                    };
                }
            }
        }
        Err(LifecycleError::InvalidTransition(
            "the dossier is being changed by others; try again".into(),
        ))
    }

    /// The answer already stored under `key`, if any: the first answer for the same request,
    /// or `KeyReused` for another.
    async fn keyed_answer(
        &self,
        key: Option<&IdempotencyKey>,
    ) -> Result<Option<Result<String, LifecycleError>>, LifecycleError> {
        let Some(k) = key else { return Ok(None) };
        Ok(self
            .store
            .idempotent_answer(&k.client, &k.key)
            .await?
            .map(|answer| {
                if answer.request_hash == k.request_hash {
                    Ok(answer.body)
                } else {
                    Err(LifecycleError::KeyReused)
                }
            }))
    }
}
