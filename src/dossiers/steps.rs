//! Planning inter-agency steps (contract section 9), pure like `plan`: a `forward` — which
//! step, whether it may go (its `after` steps done, not already open), its `HanXuLy` on the
//! calendar in the agency's hours, the message that carries the agency's part — an agency's
//! answer to an open forwarding, and the rule that a dossier is not completed while a
//! forwarded step is not done.
//!
//! The citizen's `NgayHenTra` is never moved by a step: the department answers for the whole.
//! Where a step's time runs past it, the dossier says so (`extend_advised`) and the officer
//! decides on the one `extend`.

use super::plan::{local, rules_of, utc_ms, ActionInput, LifecycleError, Planned, Rules};
use crate::domain::dossier::Progress;
use crate::domain::lifecycle::Action;
use crate::domain::time::{format_people_millis, from_millis, vn_date, wire_or_null as wire};
use crate::lienthong::answer::StepAnswer;
use crate::lienthong::{self, Agency};
use crate::mapping::steps::Step;
use crate::mapping::Procedure;
use crate::store::{NewOutboxMessage, StepOp, StepRow, StoredDossier};
use serde_json::{json, Value};

/// The latest forwarding of each step, by step id.
pub fn latest<'d>(d: &'d StoredDossier, step: &str) -> Option<&'d StepRow> {
    d.steps.iter().rev().find(|r| r.step == step)
}

/// What a forward adds to the change: the step's new row, the agency's message, and the
/// progress record's words.
pub struct Forwarding {
    /// The new open forwarding.
    pub op: StepOp,
    /// `POST {agency}/lienthong/v1/dossiers`.
    pub message: NewOutboxMessage,
    /// "Chuyển liên thông đến …".
    pub note: String,
}

fn conflict(code: &'static str, message: String) -> LifecycleError {
    LifecycleError::StepConflict { code, message }
}

/// The steps' part of an action planned by `plan`: a `forward` gets its step, its message and
/// its progress record's words; a `complete` is refused while a forwarded step is not done.
pub fn plan_steps(
    rules: &Rules<'_>,
    d: &StoredDossier,
    input: &ActionInput,
    mut planned: Planned,
) -> Result<Planned, LifecycleError> {
    match input.action {
        Action::Forward => {
            let procedure = rules_of(rules.mappings, d).ok_or_else(|| {
                LifecycleError::InvalidTransition(format!(
                    "procedure {} is no longer mapped",
                    d.procedure_code
                ))
            })?;
            let step = input.step.as_deref().unwrap_or_default();
            let f = plan_forward(rules, procedure, d, step, planned.progress.at)?;
            planned.progress.note = Some(match &input.note {
                Some(said) => format!("{} — {said}", f.note),
                None => f.note,
            });
            planned.step = Some(f.op);
            planned.messages.push(f.message);
        }
        Action::Complete => all_forwarded_done(d)?,
        _ => {}
    }
    Ok(planned)
}

/// Plans `forward` of `step_id` on `d` at `now_ms`.
fn plan_forward(
    rules: &Rules<'_>,
    procedure: &Procedure,
    d: &StoredDossier,
    step_id: &str,
    now_ms: i64,
) -> Result<Forwarding, LifecycleError> {
    let step = find_step(procedure, step_id)?;
    let agency = rules.agencies.get(&step.agency).ok_or_else(|| {
        LifecycleError::InvalidTransition(format!(
            "the agency {} of step {} is not configured",
            step.agency, step.id
        ))
    })?;
    if let Some(open) = latest(d, &step.id) {
        if open.is_open() {
            return Err(conflict(
                "STEP_OPEN",
                format!(
                    "step {} is open at {} (ref {})",
                    step.id, agency.name, open.reference
                ),
            ));
        }
        if open.state == "done" {
            return Err(LifecycleError::InvalidTransition(format!(
                "step {} is done",
                step.id
            )));
        }
    }
    let waiting: Vec<&str> = step
        .after
        .iter()
        .filter(|a| latest(d, a).is_none_or(|r| r.state != "done"))
        .map(String::as_str)
        .collect();
    if !waiting.is_empty() {
        return Err(conflict(
            "STEP_NOT_READY",
            format!(
                "step {} waits for {} to be done",
                step.id,
                waiting.join(", ")
            ),
        ));
    }
    let hours = agency
        .office
        .as_ref()
        .and_then(|o| rules.offices.offices.get(o))
        .unwrap_or(&rules.offices.default);
    let due_at = utc_ms(
        rules
            .calendar
            .due(hours, local(now_ms), step.working_days)?,
    );
    let reference = lienthong::new_reference(&d.code, &step.id);
    let message = NewOutboxMessage {
        destination: lienthong::destination(&agency.code),
        kind: "forward".into(),
        payload: lienthong::forward_body(d, step, &reference, due_at, rules.public_url),
    };
    Ok(Forwarding {
        op: StepOp::Forward {
            step: step.id.clone(),
            agency: agency.code.clone(),
            reference,
            due_at,
        },
        message,
        note: format!(
            "Chuyển liên thông đến {}: {}; hạn xử lý {}",
            agency.name,
            step.name,
            format_people_millis(due_at)
        ),
    })
}

fn find_step<'p>(procedure: &'p Procedure, id: &str) -> Result<&'p Step, LifecycleError> {
    procedure.steps.iter().find(|s| s.id == id).ok_or_else(|| {
        let known: Vec<&str> = procedure.steps.iter().map(|s| s.id.as_str()).collect();
        LifecycleError::Validation(vec![crate::domain::validation::FieldError::new(
            "step",
            "not_allowed",
            if known.is_empty() {
                "this procedure has no inter-agency steps".to_owned()
            } else {
                format!("one of {}", known.join(", "))
            },
        )])
    })
}

/// The steps of `procedure` an officer may forward on `d` now (its status aside): not open,
/// not done, every `after` step done.
pub fn forwardable<'p>(procedure: &'p Procedure, d: &StoredDossier) -> Vec<&'p Step> {
    procedure
        .steps
        .iter()
        .filter(|s| {
            let free = latest(d, &s.id).is_none_or(|r| r.state == "refused");
            let ready = s
                .after
                .iter()
                .all(|a| latest(d, a).is_some_and(|r| r.state == "done"));
            free && ready
        })
        .collect()
}

/// `complete` waits for every forwarded step to be done (409 `STEPS_OPEN`).
pub fn all_forwarded_done(d: &StoredDossier) -> Result<(), LifecycleError> {
    let mut open: Vec<&str> = Vec::new();
    for row in &d.steps {
        let is_latest = latest(d, &row.step).is_some_and(|l| l.reference == row.reference);
        if is_latest && row.state != "done" {
            open.push(&row.step);
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(conflict(
            "STEPS_OPEN",
            format!("forwarded steps not done: {}", open.join(", ")),
        ))
    }
}

/// An agency's answer to the open forwarding `reference` of `d`: the step's new state and the
/// progress record that reports it (the dossier's status unchanged).
pub fn plan_answer(
    procedure: Option<&Procedure>,
    agency: &Agency,
    d: &StoredDossier,
    reference: &str,
    answer: &StepAnswer,
    now_ms: i64,
) -> Result<(StepOp, Progress), LifecycleError> {
    let row = d
        .steps
        .iter()
        .find(|r| r.reference == reference)
        .ok_or(LifecycleError::NotFound)?;
    if !row.is_open() {
        return Err(conflict(
            "STEP_FINAL",
            format!("this forwarding is {}: nothing follows it", row.state),
        ));
    }
    let step_name = procedure
        .and_then(|p| p.steps.iter().find(|s| s.id == row.step))
        .map_or(row.step.as_str(), |s| s.name.as_str());
    let mut note = format!("{step_name}: {}", answer.state_vi());
    if let Some(no) = &answer.result_no {
        note.push_str(&format!(" (số văn bản {no})"));
    }
    if let Some(said) = &answer.note {
        note.push_str(&format!(". {said}"));
    }
    let unit: String = agency.name.chars().take(250).collect();
    let progress = Progress {
        action: "lienthong".into(),
        status: d.status,
        officer_name: answer
            .handler
            .clone()
            .unwrap_or_else(|| agency.code.clone()),
        // What the person is in this record: the officer of the agency the step went to.
        officer_title: "Cán bộ cơ quan phối hợp".into(),
        officer_unit: unit,
        note: Some(note.chars().take(2000).collect()),
        at: now_ms,
    };
    let op = StepOp::Answer {
        reference: reference.to_owned(),
        state: answer.state.clone(),
        handler: answer.handler.clone(),
        note: answer.note.clone(),
        result_no: answer.result_no.clone(),
        documents: answer.documents.clone(),
    };
    Ok((op, progress))
}

/// Whether a forwarding is late: an open one once its `HanXuLy` has passed (as a dossier is
/// overdue), a finished one when it finished on a later day (as a dossier's `qua_han`).
pub fn is_late(row: &StepRow, now_ms: i64) -> bool {
    match row.finished_at {
        None => row.is_open() && row.due_at < now_ms,
        Some(finished) => match (from_millis(finished), from_millis(row.due_at)) {
            (Some(f), Some(due)) => vn_date(f) > vn_date(due),
            _ => false,
        },
    }
}

/// The dossier's steps as its JSON shows them: every step of its rules, from its arrival, with
/// its latest forwarding (`pending` before any), and the earlier forwardings of a step
/// forwarded again. `extend_advised`: an open step's time (its `HanXuLy`, or now if already
/// late) runs past the dossier's `NgayHenTra` and the one extension is unused.
pub fn steps_view(
    procedure: Option<&Procedure>,
    d: &StoredDossier,
    now_ms: i64,
) -> (Vec<Value>, bool) {
    let Some(p) = procedure else {
        return (Vec::new(), false);
    };
    let mut advised = false;
    let steps = p
        .steps
        .iter()
        .map(|s| {
            let rows: Vec<&StepRow> = d.steps.iter().filter(|r| r.step == s.id).collect();
            let last = rows.last().copied();
            let late = last.is_some_and(|r| is_late(r, now_ms));
            let beyond = last
                .filter(|r| r.is_open())
                .is_some_and(|r| d.due_at.is_some_and(|due| r.due_at.max(now_ms) > due));
            advised |= beyond && !d.extended;
            json!({
                "id": s.id,
                "agency": s.agency,
                "name": s.name,
                "working_days": s.working_days,
                "after": s.after,
                "state": last.map_or("pending", |r| r.state.as_str()),
                "ref": last.map(|r| r.reference.clone()),
                "forwarded_at": wire(last.map(|r| r.forwarded_at)),
                "HanXuLy": wire(last.map(|r| r.due_at)),
                "finished_at": wire(last.and_then(|r| r.finished_at)),
                "late": late,
                "beyond_due": beyond,
                "NguoiXuLy": last.and_then(|r| r.handler.clone()),
                "NoiDung": last.and_then(|r| r.note.clone()),
                "SoVanBan": last.and_then(|r| r.result_no.clone()),
                "earlier": rows.iter().rev().skip(1).map(|r| json!({
                    "ref": r.reference,
                    "state": r.state,
                    "forwarded_at": wire(Some(r.forwarded_at)),
                    "finished_at": wire(r.finished_at),
                    "NoiDung": r.note,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    (steps, advised)
}
