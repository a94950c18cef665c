//! One dossier's page with everything the gateway holds of it, and its receipt and control
//! slip to print.

use super::lang::Lang;
use super::reply::{failed, not_found, page, short};
use super::session::{acts, Officer};
use super::views;
use crate::dossiers::plan::rules_of;
use crate::dossiers::receipt::{paper, Paper};
use crate::http::answer::Answer;
use crate::http::documents::{document_response, NotServed};
use crate::http::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The dossier `code`, or the page that says why not.
pub async fn found(
    state: &AppState,
    code: &str,
    t: Lang,
) -> Result<crate::store::StoredDossier, Response> {
    match state.store.dossier_by_code(code).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(not_found(t)),
        Err(e) => Err(failed(&e)),
    }
}

/// A dossier's page.
pub async fn dossier(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
) -> Response {
    match found(&state, &code, officer.lang).await {
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
    let t = officer.lang;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (documents, progress, mut payments) = views::lists(d, rules, t);
    for (line, p) in payments.iter_mut().zip(&d.payments) {
        match state.store.payment_events(&p.reference).await {
            Ok(events) => line.5 = views::provider_lines(&events, t),
            Err(e) => return failed(&e),
        }
    }
    let messages = match state.store.outbox_of_dossier(d.id).await {
        Ok(items) => items
            .iter()
            .map(|m| views::MessageLine::new(m, t))
            .collect(),
        Err(e) => return failed(&e),
    };
    let view = views::Dossier {
        t,
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        d: views::Facts::new(d, rules, now_ms, t),
        documents,
        progress,
        payments,
        steps: super::steps::step_lines(rules, state.lifecycle.agencies(), d, now_ms, t),
        extend_advised: crate::dossiers::steps::steps_view(rules, d, now_ms).1,
        sync: t.sync(&d.sync),
        messages,
        actions: views::ActionChoice::from_status(
            d.status,
            super::steps::forward_choices(rules, d),
            t,
        ),
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

/// `GET /admin/dossiers/{MaHoSo}/documents/{id}`: a stored document, as the API serves it
/// (`http::documents`), for a signed-in officer.
pub async fn document(
    State(state): State<AppState>,
    officer: Officer,
    headers: axum::http::HeaderMap,
    Path((code, id)): Path<(String, i64)>,
) -> Response {
    let t = officer.lang;
    match document_response(&state, &code, id, &headers).await {
        Ok(res) => res,
        Err(NotServed::Missing) => short(
            StatusCode::NOT_FOUND,
            t.w("Không tìm thấy giấy tờ này.", "No such document."),
        ),
        Err(NotServed::NotStored(_)) => short(
            StatusCode::CONFLICT,
            t.w(
                "Giấy tờ này chưa được lưu (đang chờ tải về, hoặc bị từ chối).",
                "This document is not stored (waiting to be fetched, or refused).",
            ),
        ),
        Err(NotServed::Failed(e)) => failed(&e),
    }
}

/// `GET /admin/dossiers/{MaHoSo}/receipt`: the receipt, or `?slip=control` the control slip.
pub async fn papers(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
    Query(q): Query<PaperQuery>,
) -> Response {
    let t = officer.lang;
    let Some(which) = Paper::asked(q.slip.as_deref()) else {
        return short(
            StatusCode::BAD_REQUEST,
            t.w("Không có loại giấy này.", "No such paper."),
        );
    };
    let d = match found(&state, &code, t).await {
        Ok(d) => d,
        Err(res) => return res,
    };
    let html = paper(&d, &state.mappings, &state.config.agency, which);
    match html {
        Some(html) => Answer::page(StatusCode::OK, html).into_response(),
        None => short(
            StatusCode::CONFLICT,
            t.w(
                "Hồ sơ chưa được tiếp nhận nên chưa có giấy hẹn trả kết quả.",
                "The dossier is not accepted yet: it has no appointment slip.",
            ),
        ),
    }
}
