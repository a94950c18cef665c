//! A dossier's inter-agency steps on its page (contract section 9): each step with its agency
//! (as the configuration names it), its time, the steps it waits for, where its latest
//! forwarding stands, its `HanXuLy` (marked when late) and the agency's result; and the steps
//! an officer may forward now, for the action form.

use super::lang::Lang;
use crate::domain::time::format_people_millis;
use crate::dossiers::steps::{forwardable, is_late, latest};
use crate::lienthong::Agencies;
use crate::mapping::Procedure;
use crate::store::StoredDossier;

/// One step's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    /// What the agency does.
    pub name: String,
    /// The agency, by name.
    pub agency: String,
    /// Its working days.
    pub days: u32,
    /// The steps it waits for, by name.
    pub after: String,
    /// Where it stands, in words.
    pub state: &'static str,
    /// `HanXuLy`, as people read it (empty before it is forwarded).
    pub due: String,
    /// Whether it is late.
    pub late: bool,
    /// The agency's result number and last words.
    pub result: String,
}

/// A step's state in the page's language.
fn state_words(state: &str, t: Lang) -> &'static str {
    match state {
        "forwarded" => t.w("Đã chuyển, chờ tiếp nhận", "Forwarded, not yet received"),
        "received" => t.w("Đã tiếp nhận", "Received"),
        "processing" => t.w("Đang xử lý", "Being processed"),
        "done" => t.w("Đã có kết quả", "Done"),
        "refused" => t.w("Từ chối", "Refused"),
        _ => t.w("Chưa chuyển", "Not forwarded"),
    }
}

/// The lines of `d`'s steps under `rules`.
pub fn step_lines(
    rules: Option<&Procedure>,
    agencies: &Agencies,
    d: &StoredDossier,
    now_ms: i64,
    t: Lang,
) -> Vec<StepLine> {
    let Some(p) = rules else {
        return Vec::new();
    };
    let name_of = |id: &str| {
        p.steps
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_owned(), |s| s.name.clone())
    };
    p.steps
        .iter()
        .map(|s| {
            let last = latest(d, &s.id);
            let after: Vec<String> = s.after.iter().map(|a| name_of(a)).collect();
            let result = last
                .map(|r| {
                    [r.result_no.as_deref(), r.note.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" — ")
                })
                .unwrap_or_default();
            StepLine {
                name: s.name.clone(),
                agency: agencies.name_of(&s.agency).to_owned(),
                days: s.working_days,
                after: after.join("; "),
                state: state_words(last.map_or("pending", |r| r.state.as_str()), t),
                due: last
                    .map(|r| format_people_millis(r.due_at))
                    .unwrap_or_default(),
                late: last.is_some_and(|r| is_late(r, now_ms)),
                result,
            }
        })
        .collect()
}

/// The steps that may be forwarded now, `(id, name)`, for the action form.
pub fn forward_choices(rules: Option<&Procedure>, d: &StoredDossier) -> Vec<(String, String)> {
    rules
        .map(|p| {
            forwardable(p, d)
                .into_iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}
