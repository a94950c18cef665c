//! The dossiers' pages: the list (filters, search, overdue first), one dossier's page with
//! everything the gateway holds of it, and its receipt and control slip to print.

use super::reply::{failed, page, short};
use super::session::{acts, Officer};
use super::views;
use crate::domain::codes::ProcedureCode;
use crate::domain::status::Status;
use crate::dossiers::plan::rules_of;
use crate::dossiers::receipt::{paper, Paper};
use crate::http::answer::Answer;
use crate::http::AppState;
use crate::store::DossierFilter;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Dossiers on one page of the list.
const PAGE: i64 = 50;

/// The list's filters.
#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    procedure: Option<String>,
    before: Option<i64>,
}

/// `GET /admin`: the dossiers' list.
pub async fn dossiers(
    State(state): State<AppState>,
    officer: Officer,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = q.status.as_deref().and_then(|s| s.parse::<i64>().ok());
    let procedure = q
        .procedure
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(|p| ProcedureCode::parse(p).ok());
    let filter = DossierFilter {
        status,
        procedure: procedure.as_ref().map(|p| p.as_str().to_owned()),
        before_id: q.before,
        limit: PAGE,
        ..DossierFilter::default()
    };
    let rows = match state.store.list_dossiers(&filter).await {
        Ok(rows) => rows,
        Err(e) => return failed(&e),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let today = crate::domain::time::vn_date(chrono::Utc::now());
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|id| {
            let mut link = format!("/admin?before={id}");
            if let Some(s) = status {
                link.push_str(&format!("&status={s}"));
            }
            if let Some(p) = &procedure {
                link.push_str(&format!("&procedure={}", p.as_str()));
            }
            link
        });
    let view = views::Dossiers {
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        statuses: (1..=10)
            .filter_map(Status::from_code)
            .map(|s| {
                (
                    s.code(),
                    crate::dossiers::view::status_name(s.code()),
                    Some(s.code()) == status,
                )
            })
            .collect(),
        procedures: state
            .mappings
            .iter()
            .map(|(code, versions)| {
                let name = state
                    .mappings
                    .in_force(code, today)
                    .or(versions.last())
                    .map_or_else(String::new, |p| p.name.clone());
                (
                    code.as_str().to_owned(),
                    name,
                    procedure.as_ref() == Some(code),
                )
            })
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                let rules = ProcedureCode::parse(&r.procedure_code)
                    .ok()
                    .and_then(|c| state.mappings.versions(&c).last().cloned());
                views::Row::new(r, rules.as_deref(), now)
            })
            .collect(),
        next,
    };
    page(StatusCode::OK, view.render())
}

/// The dossier `code`, or the page that says why not.
pub async fn found(state: &AppState, code: &str) -> Result<crate::store::StoredDossier, Response> {
    match state.store.dossier_by_code(code).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(short(StatusCode::NOT_FOUND, "Không tìm thấy hồ sơ này.")),
        Err(e) => Err(failed(&e)),
    }
}

/// A dossier's page.
pub async fn dossier(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
) -> Response {
    match found(&state, &code).await {
        Ok(d) => {
            let nothing = (StatusCode::OK, Vec::new(), views::Typed::default());
            dossier_page(&state, &officer, &d, nothing).await
        }
        Err(res) => res,
    }
}

/// The page of `d` with a status, and the problems of an action just refused with what the
/// officer typed, if any.
pub async fn dossier_page(
    state: &AppState,
    officer: &Officer,
    d: &crate::store::StoredDossier,
    (status, problems, typed): (StatusCode, Vec<String>, views::Typed),
) -> Response {
    let rules = rules_of(&state.mappings, d).map(AsRef::as_ref);
    let (documents, progress, mut payments) = views::lists(d, rules);
    for (line, p) in payments.iter_mut().zip(&d.payments) {
        match state.store.payment_events(&p.reference).await {
            Ok(events) => line.5 = views::provider_lines(&events),
            Err(e) => return failed(&e),
        }
    }
    let messages = match state.store.outbox_of_dossier(d.id).await {
        Ok(items) => items.iter().map(views::MessageLine::new).collect(),
        Err(e) => return failed(&e),
    };
    let view = views::Dossier {
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        d: views::Facts::new(d, rules, chrono::Utc::now().timestamp_millis()),
        documents,
        progress,
        payments,
        sync: views::sync_words(d),
        messages,
        actions: views::ActionChoice::from_status(d.status),
        problems,
        form_key: crate::http::session::nonce(),
        typed,
        limits: crate::portal::sync::TIEN_DO_LIMITS,
    };
    page(status, view.render())
}

/// Which paper.
#[derive(Deserialize)]
pub struct PaperQuery {
    slip: Option<String>,
}

/// `GET /admin/dossiers/{MaHoSo}/receipt`: the receipt, or `?slip=control` the control slip.
pub async fn papers(
    State(state): State<AppState>,
    _officer: Officer,
    Path(code): Path<String>,
    Query(q): Query<PaperQuery>,
) -> Response {
    let Some(which) = Paper::asked(q.slip.as_deref()) else {
        return short(StatusCode::BAD_REQUEST, "Không có loại giấy này.");
    };
    let d = match found(&state, &code).await {
        Ok(d) => d,
        Err(res) => return res,
    };
    let html = paper(&d, &state.mappings, &state.config.agency, which);
    match html {
        Some(html) => Answer::page(StatusCode::OK, html).into_response(),
        None => short(
            StatusCode::CONFLICT,
            "Hồ sơ chưa được tiếp nhận nên chưa có giấy hẹn trả kết quả.",
        ),
    }
}
