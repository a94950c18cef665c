//! The officers' pages as templates (`templates/admin/`, compiled in and escaped by askama)
//! and what they show: dates `dd/MM/yyyy HH:mm` Vietnam time, money as `1.000.000 đồng`, each
//! state by its name in the page's language (`lang`).

use super::lang::Lang;
use crate::domain::dossier::FeeLine;
use crate::domain::lifecycle::Action;
use crate::domain::money::dong;
use crate::domain::status::Status;
use crate::domain::time::format_people_millis as when;
use crate::dossiers::view::overdue;
use crate::mapping::Procedure;
use crate::store::{DossierSummary, OutboxItem, PaymentMessage, StoredDossier};
use askama::Template;

/// The sign-in page.
#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct Login<'a> {
    /// The page's language.
    pub t: Lang,
    /// The department's name.
    pub agency: &'a str,
    /// Why the last attempt failed.
    pub problem: Option<&'a str>,
}

/// A procedure as the pages name it: its code and, where its rules are known, its name.
fn procedure_label(code: &str, rules: Option<&Procedure>) -> String {
    rules.map_or_else(|| code.to_owned(), |p| format!("{code} · {}", p.name))
}

/// One line of the dossiers' list.
pub struct Row {
    /// `MaHoSo`.
    pub code: String,
    /// The procedure's code and name.
    pub procedure: String,
    /// The status's name.
    pub status: String,
    /// When received.
    pub received: String,
    /// When due.
    pub due: String,
    /// Past due with the clock running (never a notice).
    pub overdue: bool,
    /// The applicant's name.
    pub applicant: String,
}

impl Row {
    /// The line of `d`, judged by `rules`.
    pub fn new(d: &DossierSummary, rules: Option<&Procedure>, now: i64, t: Lang) -> Self {
        Self {
            code: d.code.clone(),
            procedure: procedure_label(&d.procedure_code, rules),
            status: t.status(d.status).to_owned(),
            received: when(d.received_at),
            due: d.due_at.map(when).unwrap_or_default(),
            overdue: overdue(d.status, d.due_at, rules, now),
            applicant: d.applicant.clone(),
        }
    }
}

/// The dossiers' list.
#[derive(Template)]
#[template(path = "admin/dossiers.html")]
pub struct Dossiers<'a> {
    /// The page's language.
    pub t: Lang,
    /// The department's name.
    pub agency: &'a str,
    /// Who is signed in.
    pub officer: &'a str,
    /// Whether they may act (scope `admin`).
    pub acts: bool,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Each status: code, name, chosen.
    pub statuses: Vec<(i64, &'static str, bool)>,
    /// Each procedure: code, name, chosen.
    pub procedures: Vec<(String, String, bool)>,
    /// Received from (`YYYY-MM-DD`), as asked.
    pub from: String,
    /// Received up to, as asked.
    pub to: String,
    /// The search, as typed.
    pub q: String,
    /// The page's lines.
    pub rows: Vec<Row>,
    /// The next page's link.
    pub next: Option<String>,
}

/// One dossier's facts, in words.
pub struct Facts {
    /// `MaHoSo`.
    pub code: String,
    /// `MaHoSoQG`.
    pub portal_id: String,
    /// The procedure.
    pub procedure: String,
    /// The status's name.
    pub status: String,
    /// Past due with the clock running.
    pub overdue: bool,
    /// The applicant's name.
    pub applicant: String,
    /// When received.
    pub received: String,
    /// When accepted.
    pub accepted: String,
    /// Whether it was.
    pub accepted_yet: bool,
    /// When due.
    pub due: String,
    /// The fees due, and whether they are paid.
    pub fees: String,
}

/// A document's line: its name, its file, its state, its id, whether it is stored (and so
/// can be downloaded).
pub type DocumentLine = (String, String, &'static str, i64, bool);
/// A progress record's line: time, officer, note, status.
pub type ProgressLine = (String, String, String, &'static str);
pub use super::steps::StepLine;

/// A payment's line: reference, provider, amount, state, time, and its provider messages.
pub type PaymentLine = (
    String,
    String,
    String,
    &'static str,
    String,
    Vec<ProviderLine>,
);

/// A dossier's page.
#[derive(Template)]
#[template(path = "admin/dossier.html")]
pub struct Dossier<'a> {
    /// The page's language.
    pub t: Lang,
    /// The department's name.
    pub agency: &'a str,
    /// Who is signed in.
    pub officer: &'a str,
    /// Whether they may act.
    pub acts: bool,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// The facts.
    pub d: Facts,
    /// Documents.
    pub documents: Vec<DocumentLine>,
    /// Progress records.
    pub progress: Vec<ProgressLine>,
    /// Payments.
    pub payments: Vec<PaymentLine>,
    /// Its procedure's inter-agency steps.
    pub steps: Vec<StepLine>,
    /// An open step runs past `NgayHenTra` and the one extension is unused.
    pub extend_advised: bool,
    /// Where its status sync stands.
    pub sync: String,
    /// Every message sent about it and every attempt.
    pub messages: Vec<MessageLine>,
    /// What the officer may do from its status.
    pub actions: ActionChoice,
    /// Why the last action was refused.
    pub problems: Vec<String>,
    /// The action form's idempotency key: the same form sent twice acts once.
    pub form_key: String,
    /// What the officer typed in a form just refused, given back.
    pub typed: Typed,
    /// How long each field may be: the portal's progress record's limits, the API's own.
    pub limits: crate::portal::sync::TienDoLimits,
}

/// What an officer typed in the action form, given back with its problems when refused.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    /// Their name.
    pub officer_name: String,
    /// Their title.
    pub officer_title: String,
    /// Their unit.
    pub officer_unit: String,
    /// The note.
    pub note: String,
}

/// The actions an officer may take from a dossier's status, and the fields they ask for.
pub struct ActionChoice {
    /// Each action's API name and label.
    pub actions: Vec<(&'static str, &'static str)>,
    /// Whether `extend` is among them (a new due date).
    pub extend: bool,
    /// Whether `record_payment` is (amount and receipt number).
    pub record_payment: bool,
    /// The steps `forward` may send now, `(id, name)`.
    pub steps: Vec<(String, String)>,
}

impl ActionChoice {
    /// The choice from status `code`, with the steps that may be forwarded now.
    pub fn from_status(code: i64, steps: Vec<(String, String)>, t: Lang) -> Self {
        let mut actions: Vec<Action> = Status::from_code(code)
            .map(|s| Action::available_from(s).collect())
            .unwrap_or_default();
        let forward = Status::from_code(code) == Some(Status::Processing) && !steps.is_empty();
        if forward {
            actions.push(Action::Forward);
        }
        Self {
            extend: actions.contains(&Action::Extend),
            record_payment: actions.contains(&Action::RecordPayment),
            actions: actions.iter().map(|a| (a.name(), t.action(*a))).collect(),
            steps: if forward { steps } else { Vec::new() },
        }
    }
}

/// One line of a dossier's messages: what was sent where, and each attempt's answer.
pub struct MessageLine {
    /// Message id and what it reports.
    pub what: String,
    /// Where to.
    pub destination: String,
    /// Its state, in words.
    pub state: &'static str,
    /// Each attempt: time, HTTP status, outcome and error.
    pub attempts: Vec<(String, String, String)>,
}

impl MessageLine {
    /// The line of `m`.
    pub fn new(m: &OutboxItem, t: Lang) -> Self {
        Self {
            what: format!("#{} · {}", m.id, m.kind),
            destination: m.destination.clone(),
            state: t.message_state(&m.state),
            attempts: m
                .attempt_log
                .iter()
                .map(|a| {
                    let status = a
                        .http_status
                        .map_or_else(|| "—".to_owned(), |s| s.to_string());
                    let error = a
                        .error
                        .as_deref()
                        .map(|e| format!(" · {}", cut(e, 200)))
                        .unwrap_or_default();
                    (
                        when(a.started_at),
                        format!("HTTP {status}"),
                        format!("{}{error}", a.outcome),
                    )
                })
                .collect(),
        }
    }
}

/// At most `max` characters of `s`, marked where cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// A provider message of a payment: time, kind, whether signed, verdict, an excerpt.
pub type ProviderLine = (String, String, &'static str, String, String);

/// The lines of a payment's provider messages.
pub fn provider_lines(events: &[PaymentMessage], t: Lang) -> Vec<ProviderLine> {
    events
        .iter()
        .map(|e| {
            (
                when(e.at),
                e.kind.clone(),
                if e.verified {
                    t.w("Chữ ký đúng", "Signature holds")
                } else {
                    t.w("Chữ ký sai", "Signature fails")
                },
                e.verdict.clone(),
                cut(&String::from_utf8_lossy(&e.raw), 300),
            )
        })
        .collect()
}

impl Facts {
    /// The facts of `d`, judged by `rules`, at `now`.
    pub fn new(d: &StoredDossier, rules: Option<&Procedure>, now: i64, t: Lang) -> Self {
        let total = FeeLine::total(&d.fees).map_or(0, |t| t.get());
        let paid = d.payments.iter().any(|p| p.state == "paid");
        Self {
            code: d.code.clone(),
            portal_id: d.portal_id.clone(),
            procedure: procedure_label(&d.procedure_code, rules),
            status: t.status(d.status).to_owned(),
            overdue: overdue(d.status, d.due_at, rules, now),
            applicant: d
                .applicant
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned(),
            received: when(d.received_at),
            accepted: d
                .accepted_at
                .map_or_else(|| t.w("chưa", "not yet").to_owned(), when),
            accepted_yet: d.accepted_at.is_some(),
            due: d
                .due_at
                .map_or_else(|| t.w("chưa có", "none yet").to_owned(), when),
            fees: if d.fees.is_empty() {
                t.w("không thu", "none").to_owned()
            } else {
                format!(
                    "{} ({})",
                    dong(total),
                    if paid {
                        t.w("đã nộp", "paid")
                    } else {
                        t.w("chưa nộp", "not paid")
                    }
                )
            },
        }
    }
}

/// The lists of a dossier's page.
pub fn lists(
    d: &StoredDossier,
    rules: Option<&Procedure>,
    t: Lang,
) -> (Vec<DocumentLine>, Vec<ProgressLine>, Vec<PaymentLine>) {
    let documents = d
        .documents
        .iter()
        .map(|doc| {
            let name = rules
                .and_then(|p| p.documents.iter().find(|c| c.code == doc.component))
                .map_or_else(|| doc.component.clone(), |c| c.name.clone());
            (
                name,
                doc.file_name.clone(),
                t.document_state(&doc.state),
                doc.id,
                doc.state == "stored",
            )
        })
        .collect();
    let progress = d
        .progress
        .iter()
        .map(|p| {
            (
                when(p.at),
                {
                    let role: Vec<&str> = [p.officer_title.as_str(), p.officer_unit.as_str()]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect();
                    format!("{} ({})", p.officer_name, role.join(", "))
                },
                p.note.clone().unwrap_or_default(),
                t.status(p.status),
            )
        })
        .collect();
    let payments = d
        .payments
        .iter()
        .map(|p| {
            (
                p.reference.clone(),
                p.provider.clone(),
                dong(p.amount.get()),
                t.payment_state(&p.state),
                when(p.created_at),
                Vec::new(),
            )
        })
        .collect();
    (documents, progress, payments)
}
