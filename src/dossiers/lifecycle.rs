//! The department's actions on a dossier: check the lifecycle, compute the dates in working
//! time, and write the change with its progress record and its status sync to the portal in
//! one transaction. Concurrent changes are serialised by the dossier's version: a stale change
//! is read again and re-planned.

use crate::domain::calendar::{Calendar, WorkingHours};
use crate::domain::codes::ProcedureCode;
use crate::domain::dossier::Progress;
use crate::domain::lifecycle::{transition, Action, Timeliness};
use crate::domain::status::Status;
use crate::domain::time::{to_vn, vn_date, vn_offset};
use crate::domain::validation::FieldError;
use crate::dossiers::status_cache::StatusCache;
use crate::dossiers::view::dossier_view;
use crate::mapping::Mappings;
use crate::portal::sync::{status_sync, SyncDates, PORTAL};
use crate::store::group_commit::GroupCommit;
use crate::store::{
    ApplyOutcome, Change, DossierUpdate, IdempotencyKey, NewOutboxMessage, PaymentOp, Store,
    StoreError, StoredDossier,
};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// Who took the action (a line of the control slip).
#[derive(Debug, Clone)]
pub struct Officer {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Unit.
    pub unit: String,
}

/// One action as requested.
#[derive(Debug, Clone)]
pub struct ActionInput {
    /// The action.
    pub action: Action,
    /// Who.
    pub officer: Officer,
    /// Reason, list of what is needed, apology…
    pub note: Option<String>,
    /// `extend`: the new due moment.
    pub new_due: Option<DateTime<Utc>>,
}

/// Why an action was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No dossier with that code.
    #[error("dossier not found")]
    NotFound,
    /// The lifecycle forbids it (409).
    #[error("{0}")]
    InvalidTransition(String),
    /// The request is invalid (422).
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    /// The idempotency key was used with another request.
    #[error("the Idempotency-Key was used for a different request")]
    KeyReused,
    /// The payment to settle was settled by a concurrent confirmation.
    #[error("the payment is no longer pending")]
    PaymentNotPending,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Working hours: the department's default and any office's own.
#[derive(Debug, Clone)]
pub struct OfficeHours {
    /// Hours of offices not listed.
    pub default: WorkingHours,
    /// Hours by handling unit.
    pub offices: HashMap<String, WorkingHours>,
}

/// The lifecycle service.
#[derive(Clone)]
pub struct Lifecycle {
    store: Store,
    mappings: Arc<Mappings>,
    calendar: Arc<Calendar>,
    hours: Arc<OfficeHours>,
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

fn local(ms: i64) -> NaiveDateTime {
    to_vn(DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()).naive_local()
}

fn utc_ms(local: NaiveDateTime) -> i64 {
    vn_offset()
        .from_local_datetime(&local)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

impl Lifecycle {
    /// A service over the store, with the calendar and office hours for due dates; `outbox_wake`
    /// is notified after every change so the worker delivers without waiting for its next poll.
    pub fn new(
        store: Store,
        mappings: Arc<Mappings>,
        calendar: Arc<Calendar>,
        hours: Arc<OfficeHours>,
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
            mappings,
            calendar,
            hours,
            outbox_wake,
            status_cache,
            writer,
        }
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
        ProcedureCode::parse(&d.procedure_code)
            .ok()
            .and_then(|c| self.mappings.get(&c))
            .and_then(|p| self.hours.offices.get(&p.handling_unit))
            .unwrap_or(&self.hours.default)
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
        // Whole seconds: the wire shows seconds, and due dates computed from the shown
        // acceptance time must be the ones stored.
        let now = DateTime::<Utc>::from_timestamp(now.timestamp(), 0).unwrap_or(now);
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
            let (update, progress) = match self.plan(&d, input, now) {
                Ok(planned) => planned,
                // The dossier may have been changed by this very key's first request between
                // the key check above and the read.
                Err(refused) => return self.keyed_answer(key).await?.unwrap_or(Err(refused)),
            };
            let sync = status_sync(
                &d.code,
                &d.portal_id,
                &d.procedure_code,
                update.status,
                SyncDates {
                    accepted_at: update.accepted_at,
                    due_at: update.due_at,
                    finished_at: update.finished_at,
                    returned_at: update.returned_at,
                },
                &progress,
            );
            let status = update.status;
            let mappings = self.mappings.clone();
            let change = Change {
                dossier_id: d.id,
                version: d.version,
                update,
                progress,
                outbox: vec![NewOutboxMessage {
                    destination: PORTAL.into(),
                    kind: "status".into(),
                    payload: sync,
                }],
                idempotency: key.cloned(),
                payment: payment.cloned(),
                now: now.timestamp_millis(),
                render: Box::new(move |d: &StoredDossier| dossier_view(&mappings, d).to_string()),
            };
            let outcome = self
                .writer
                .submit(change)
                .await
                .map_err(StoreError::from)??;
            match outcome {
                ApplyOutcome::Applied(body) => {
                    tracing::info!(dossier.code = %d.code, action = input.action.name(), status, "dossier changed");
                    self.outbox_wake.notify_one();
                    return Ok(body);
                }
                ApplyOutcome::Stale => continue,
                ApplyOutcome::PaymentNotPending => return Err(LifecycleError::PaymentNotPending),
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

    /// The new column values and progress record of an action, or why it is refused.
    fn plan(
        &self,
        d: &StoredDossier,
        input: &ActionInput,
        now: DateTime<Utc>,
    ) -> Result<(DossierUpdate, Progress), LifecycleError> {
        let action = input.action;
        let from = Status::from_code(d.status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {}", d.status)))?;
        let before_payment = d.status_before_payment.and_then(Status::from_code);
        let to = transition(action, from, before_payment).ok_or_else(|| {
            LifecycleError::InvalidTransition(format!(
                "{} is not allowed in status {} ({})",
                action.name(),
                from.code(),
                from.name_vi()
            ))
        })?;
        let now_ms = now.timestamp_millis();
        let hours = self.hours_for(d);
        let mut u = DossierUpdate::from_stored(d);
        u.status = to.code();
        match action {
            Action::Accept => {
                let days = ProcedureCode::parse(&d.procedure_code)
                    .ok()
                    .and_then(|c| self.mappings.get(&c))
                    .map(|p| p.processing_days)
                    .ok_or_else(|| {
                        LifecycleError::InvalidTransition(format!(
                            "procedure {} is no longer mapped",
                            d.procedure_code
                        ))
                    })?;
                u.accepted_at = Some(now_ms);
                u.due_at = Some(utc_ms(self.calendar.due(hours, local(now_ms), days)));
            }
            Action::RequestSupplement => {
                // Once, listing everything needed (DOMAIN.md, status 5).
                let asked = Action::RequestSupplement.name();
                if d.progress.iter().any(|p| p.action == asked) {
                    return Err(LifecycleError::InvalidTransition(
                        "a supplement is requested once only, listing everything needed".into(),
                    ));
                }
                u.supplement_requested_at = Some(now_ms);
            }
            Action::ReceiveSupplement => {
                let since = d.supplement_requested_at.unwrap_or(now_ms);
                let spent = self
                    .calendar
                    .working_time_between(hours, local(since), local(now_ms));
                u.due_at = d
                    .due_at
                    .map(|due| utc_ms(self.calendar.add_working_time(hours, local(due), spent)));
                u.supplement_requested_at = None;
            }
            Action::RequestPayment => u.status_before_payment = Some(from.code()),
            Action::ConfirmPayment => u.status_before_payment = None,
            Action::Extend => {
                if d.extended {
                    return Err(LifecycleError::InvalidTransition(
                        "a dossier is extended once only".into(),
                    ));
                }
                let due = d.due_at.ok_or_else(|| {
                    LifecycleError::InvalidTransition("the dossier has no due date".into())
                })?;
                if now_ms >= due {
                    return Err(LifecycleError::InvalidTransition(
                        "the apology and new date must be issued before the due date passes".into(),
                    ));
                }
                let new_due = input.new_due.map(|t| t.timestamp_millis()).unwrap_or(0);
                if new_due <= due {
                    return Err(LifecycleError::Validation(vec![FieldError::new(
                        "new_due",
                        "out_of_range",
                        "the new due date must be later than NgayHenTra",
                    )]));
                }
                u.due_at = Some(new_due);
                u.extended = true;
            }
            Action::Complete => {
                u.finished_at = Some(now_ms);
                u.timeliness = d
                    .due_at
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .map(|due| {
                        Timeliness::of(vn_date(now), vn_date(due))
                            .as_str()
                            .to_owned()
                    });
            }
            Action::ReturnResult => u.returned_at = Some(now_ms),
            Action::Reject | Action::StartProcessing | Action::Withdraw | Action::Stop => {}
        }
        let progress = Progress {
            action: action.name().into(),
            status: to.code(),
            officer_name: input.officer.name.clone(),
            officer_title: input.officer.title.clone(),
            officer_unit: input.officer.unit.clone(),
            note: Some(
                input
                    .note
                    .clone()
                    .unwrap_or_else(|| action.default_note().to_owned()),
            ),
            at: now_ms,
        };
        Ok((u, progress))
    }
}
