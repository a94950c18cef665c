//! What waits on an officer: dead outbox messages, to replay or discard (`admin` only, each
//! form with the session's CSRF token), and payments still pending after
//! `payments.reconcile_after`, which reconciliation is asking the providers about.

use super::lang::Lang;
use super::reply::{failed, page, see_other, short, Guarded};
use super::session::{acts, Officer};
use super::views::cut;
use crate::domain::money::dong;
use crate::domain::time::format_people_millis as when;
use crate::http::outbox::decide_one;
use crate::http::AppState;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Messages or payments on one page.
const PAGE: i64 = 50;

/// One dead message.
pub struct DeadLine {
    /// Its id.
    pub id: i64,
    /// The dossier it is about.
    pub dossier: Option<String>,
    /// Where it goes.
    pub destination: String,
    /// What it reports.
    pub kind: String,
    /// Its state, in words.
    pub state: &'static str,
    /// Attempts made.
    pub attempts: i64,
    /// When queued.
    pub queued: String,
    /// The last attempt's error.
    pub last_error: String,
}

/// The dead messages' page.
#[derive(Template)]
#[template(path = "admin/outbox.html")]
pub struct DeadMessages<'a> {
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
    /// The messages.
    pub rows: Vec<DeadLine>,
    /// The next page's link.
    pub next: Option<String>,
}

/// A payment awaiting reconciliation: reference, dossier, provider, amount, requested.
pub type AwaitingLine = (String, String, String, String, String);

/// The page of payments awaiting reconciliation.
#[derive(Template)]
#[template(path = "admin/payments.html")]
pub struct AwaitingPayments<'a> {
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
    /// The payments.
    pub rows: Vec<AwaitingLine>,
}

/// The dead messages' page: after which id.
#[derive(Deserialize)]
pub struct After {
    after: Option<i64>,
}

/// `GET /admin/outbox`: dead messages, oldest first.
pub async fn dead(
    State(state): State<AppState>,
    officer: Officer,
    Query(q): Query<After>,
) -> Response {
    let items = match state
        .store
        .outbox_page("dead", q.after.unwrap_or(0), PAGE)
        .await
    {
        Ok(items) => items,
        Err(e) => return failed(&e),
    };
    let next = (items.len() as i64 == PAGE)
        .then(|| {
            items
                .last()
                .map(|m| format!("/admin/outbox?after={}", m.id))
        })
        .flatten();
    let view = DeadMessages {
        t: officer.lang,
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        rows: items
            .iter()
            .map(|m| DeadLine {
                id: m.id,
                dossier: m.dossier.clone(),
                destination: m.destination.clone(),
                kind: m.kind.clone(),
                state: officer.lang.message_state(&m.state),
                attempts: m.attempts,
                queued: when(m.created_at),
                last_error: m
                    .last_error
                    .as_deref()
                    .map(|e| cut(e, 200))
                    .unwrap_or_default(),
            })
            .collect(),
        next,
    };
    page(StatusCode::OK, view.render())
}

async fn decide(
    state: &AppState,
    officer: &Officer,
    id: i64,
    form: &Guarded,
    replay: bool,
) -> Response {
    let t = officer.lang;
    if let Some(refused) = officer.refusal(&form.csrf) {
        return refused;
    }
    match decide_one(state, id, replay, &officer.client.name).await {
        Ok(true) => see_other("/admin/outbox"),
        Ok(false) => short(
            StatusCode::CONFLICT,
            t.w(
                "Tin này không còn ở trạng thái gửi không được (có thể đã được xử lý ở nơi khác).",
                "This message is no longer dead (it may have just been decided elsewhere).",
            ),
        ),
        Err(e) => failed(&e),
    }
}

/// `POST /admin/outbox/{id}/replay`.
pub async fn replay(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<i64>,
    Form(form): Form<Guarded>,
) -> Response {
    decide(&state, &officer, id, &form, true).await
}

/// `POST /admin/outbox/{id}/discard`.
pub async fn discard(
    State(state): State<AppState>,
    officer: Officer,
    Path(id): Path<i64>,
    Form(form): Form<Guarded>,
) -> Response {
    decide(&state, &officer, id, &form, false).await
}

/// `GET /admin/payments`: payments pending longer than `payments.reconcile_after`, oldest first.
pub async fn awaiting(State(state): State<AppState>, officer: Officer) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    let after =
        i64::try_from(state.config.payments.reconcile_after.0.as_millis()).unwrap_or(i64::MAX);
    let rows = match state
        .store
        .payments_to_reconcile(now.saturating_sub(after), i64::MAX, 200)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return failed(&e),
    };
    let view = AwaitingPayments {
        t: officer.lang,
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        rows: rows
            .iter()
            .map(|p| {
                (
                    p.reference.clone(),
                    p.dossier.clone(),
                    p.provider.clone(),
                    dong(p.amount.get()),
                    when(p.created_at),
                )
            })
            .collect(),
    };
    page(StatusCode::OK, view.render())
}
