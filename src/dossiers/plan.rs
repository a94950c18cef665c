//! Planning one action on a stored dossier, pure: whether the lifecycle allows it from the
//! dossier's status, the dates it sets in working time, the rules it must keep (one extension,
//! one supplement, fees paid before the result is returned) and the progress record it writes.
//! `lifecycle` applies the plan in a transaction and re-plans a stale one.

use super::fees::{self, CounterReceipt, FeeRefusal};
use crate::domain::calendar::{Calendar, CalendarMissing};
use crate::domain::codes::ProcedureCode;
use crate::domain::dossier::Progress;
use crate::domain::lifecycle::{transition, Action, Timeliness};
use crate::domain::money::Vnd;
use crate::domain::status::Status;
use crate::domain::time::{from_millis, to_vn, vn_date, vn_offset};
use crate::domain::validation::FieldError;
use crate::domain::working_hours::WorkingHours;
use crate::lienthong::Agencies;
use crate::mapping::{Mappings, Procedure, ProcedureKind};
use crate::store::{DossierUpdate, NewOutboxMessage, StepOp, StoreError, StoredDossier};
use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// Working hours: the department's default and any office's own.
#[derive(Debug, Clone)]
pub struct OfficeHours {
    /// Hours of offices not listed.
    pub default: WorkingHours,
    /// Hours by handling unit.
    pub offices: HashMap<String, WorkingHours>,
}

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
    /// `record_payment`: what was paid at the counter.
    pub counter: Option<CounterReceipt>,
    /// `accept`: the procedure's variant whose processing time applies.
    pub variant: Option<String>,
    /// `forward`: the step forwarded.
    pub step: Option<String>,
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
    /// A due date would fall in a year without a calendar file (409 `CALENDAR_MISSING`).
    #[error(transparent)]
    CalendarMissing(#[from] CalendarMissing),
    /// An inter-agency step forbids it (409 with `code`: `STEP_OPEN`, `STEP_NOT_READY`,
    /// `STEPS_OPEN`, `STEP_FINAL`).
    #[error("{message}")]
    StepConflict {
        /// The contract's error code.
        code: &'static str,
        /// Why.
        message: String,
    },
    /// The result cannot be returned: the fees due are not paid (409 `FEES_UNPAID`).
    #[error("the fees due, {0} đồng, are not paid")]
    FeesUnpaid(Vnd),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FeeRefusal> for LifecycleError {
    fn from(refused: FeeRefusal) -> Self {
        match refused {
            FeeRefusal::Unpaid(due) => LifecycleError::FeesUnpaid(due),
            FeeRefusal::Invalid(errors) => LifecycleError::Validation(errors),
        }
    }
}

/// What planning reads besides the dossier: the procedures' mappings, the calendar, and the
/// working hours of the dossier's office.
pub struct Rules<'a> {
    /// The procedures' mappings.
    pub mappings: &'a Mappings,
    /// The working calendar.
    pub calendar: &'a Calendar,
    /// The hours of the office handling the dossier.
    pub hours: &'a WorkingHours,
    /// Every office's hours (an agency may keep one's).
    pub offices: &'a OfficeHours,
    /// The agencies steps are forwarded to.
    pub agencies: &'a Agencies,
    /// The gateway's address as agencies reach it (links to forwarded documents).
    pub public_url: &'a str,
}

/// A planned change: the dossier's new columns, its progress record, and for a step its
/// operation and the agency's message.
pub struct Planned {
    /// New column values.
    pub update: DossierUpdate,
    /// The progress record.
    pub progress: Progress,
    /// The step operation, if any.
    pub step: Option<StepOp>,
    /// Messages besides the portal's status sync.
    pub messages: Vec<NewOutboxMessage>,
    /// A payment operation committed with it.
    pub payment: Option<crate::store::PaymentOp>,
}

pub(super) fn local(ms: i64) -> NaiveDateTime {
    to_vn(DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()).naive_local()
}

pub(super) fn utc_ms(local: NaiveDateTime) -> i64 {
    vn_offset()
        .from_local_datetime(&local)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

/// The rules a stored dossier is judged by for its whole life: the version of its procedure
/// that was in force the day it arrived, as it recorded it (contract section 5).
pub fn rules_of<'m>(mappings: &'m Mappings, d: &StoredDossier) -> Option<&'m Arc<Procedure>> {
    let code = ProcedureCode::parse(&d.procedure_code).ok()?;
    let received = vn_date(from_millis(d.received_at)?);
    mappings.judged_by(&code, &d.mapping_version, received)
}

/// The new column values and progress record of an action on `d` (and for `forward`, the
/// step and the agency's message), or why it is refused.
pub fn plan(
    rules: &Rules<'_>,
    d: &StoredDossier,
    input: &ActionInput,
    now: DateTime<Utc>,
) -> Result<Planned, LifecycleError> {
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
    let hours = rules.hours;
    let mut u = DossierUpdate::from_stored(d);
    let mut variant_note = None;
    u.status = to.code();
    match action {
        Action::Accept => {
            let procedure = rules_of(rules.mappings, d).ok_or_else(|| {
                LifecycleError::InvalidTransition(format!(
                    "procedure {} is no longer mapped",
                    d.procedure_code
                ))
            })?;
            // The procedure's own longer time for a case (ministries consulted, a council
            // convened), chosen by the officer: never `extend`, which is the apology.
            let days = match input.variant.as_deref() {
                None => procedure.processing_days,
                Some(code) => {
                    let v = procedure.variants.iter().find(|v| v.code == code);
                    let Some(v) = v else {
                        let known: Vec<&str> =
                            procedure.variants.iter().map(|v| v.code.as_str()).collect();
                        return Err(LifecycleError::Validation(vec![FieldError::new(
                            "variant",
                            "not_allowed",
                            if known.is_empty() {
                                "this procedure has no variants".to_owned()
                            } else {
                                format!("one of {}", known.join(", "))
                            },
                        )]));
                    };
                    variant_note = Some(format!(
                        "{} ({} ngày làm việc, {})",
                        v.name, v.processing_days, v.legal_basis
                    ));
                    v.processing_days
                }
            };
            u.accepted_at = Some(now_ms);
            u.due_at = Some(utc_ms(rules.calendar.due(hours, local(now_ms), days)?));
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
            let spent = rules
                .calendar
                .working_time_between(hours, local(since), local(now_ms))?;
            u.due_at = match d.due_at {
                Some(due) => Some(utc_ms(rules.calendar.add_working_time(
                    hours,
                    local(due),
                    spent,
                )?)),
                None => None,
            };
            u.supplement_requested_at = None;
        }
        Action::RequestPayment => u.status_before_payment = Some(from.code()),
        Action::ConfirmPayment | Action::RecordPayment => u.status_before_payment = None,
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
            // A date in a year the calendar does not know is refused as any other would be.
            let year = local(new_due).date();
            if !rules.calendar.covers(year) {
                return Err(CalendarMissing { year: year.year() }.into());
            }
            u.due_at = Some(new_due);
            u.extended = true;
        }
        Action::Complete => {
            // A notice's date is the deemed-consent date, not a deadline: never `qua_han`.
            let notice =
                rules_of(rules.mappings, d).is_some_and(|p| p.kind == ProcedureKind::Notice);
            u.finished_at = Some(now_ms);
            u.timeliness = d
                .due_at
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .map(|due| match Timeliness::of(vn_date(now), vn_date(due)) {
                    Timeliness::Late if notice => Timeliness::OnTime,
                    t => t,
                })
                .map(|t| t.as_str().to_owned());
        }
        Action::ReturnResult => {
            fees::settled(d)?;
            u.returned_at = Some(now_ms);
        }
        // The step itself is planned by `steps::plan_steps` over this plan.
        Action::Reject
        | Action::StartProcessing
        | Action::Withdraw
        | Action::Stop
        | Action::Forward => {}
    }
    let progress = Progress {
        action: action.name().into(),
        status: to.code(),
        officer_name: input.officer.name.clone(),
        officer_title: input.officer.title.clone(),
        officer_unit: input.officer.unit.clone(),
        note: Some({
            let note = input
                .note
                .clone()
                .unwrap_or_else(|| action.default_note().to_owned());
            match variant_note {
                Some(variant) => format!("{note} — {variant}"),
                None => note,
            }
        }),
        at: now_ms,
    };
    Ok(Planned {
        update: u,
        progress,
        step: None,
        messages: Vec::new(),
        payment: None,
    })
}
