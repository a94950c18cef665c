//! The officers' page, `/admin` (contract section 7): server-rendered pages in Vietnamese,
//! signed in with a client token (`session`), with no script and nothing fetched from
//! elsewhere. This slice: sign-in and sign-out, the dossiers' list with its filters, a
//! dossier's page (its facts, documents, timeline, payments and sync), and its receipt and
//! control slip to print.

pub mod session;
pub mod views;

use crate::config::Scope;
use crate::domain::codes::ProcedureCode;
use crate::domain::status::Status;
use crate::dossiers::plan::rules_of;
use crate::dossiers::receipt::{paper, Paper};
use crate::http::answer::Answer;
use crate::http::auth::Client;
use crate::http::AppState;
use crate::store::DossierFilter;
use askama::Template;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use session::{clear_cookie, set_cookie, to_login, Officer};

/// Dossiers on one page of the list.
const PAGE: i64 = 50;

/// Whether a client may open the page: it looks with `dossiers:read`, acts with `admin`.
pub fn may_look(client: &Client) -> bool {
    client
        .scopes
        .iter()
        .any(|s| matches!(s, Scope::DossiersRead | Scope::Admin))
}

fn acts(client: &Client) -> bool {
    client.scopes.contains(&Scope::Admin)
}

/// The officers' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dossiers))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/dossiers/{code}", get(dossier))
        .route("/admin/dossiers/{code}/receipt", get(papers))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

fn page(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(html) => Answer::page(status, html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "an officers' page did not render");
            Answer::page(StatusCode::INTERNAL_SERVER_ERROR, "Lỗi hệ thống").into_response()
        }
    }
}

async fn login_page(State(state): State<AppState>) -> Response {
    let view = views::Login {
        agency: &state.config.agency.name,
        problem: None,
    };
    page(StatusCode::OK, view.render())
}

/// The sign-in form.
#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let client = state
        .clients
        .by_token(form.token.trim())
        .filter(|c| may_look(c));
    let Some(client) = client else {
        let view = views::Login {
            agency: &state.config.agency.name,
            problem: Some("Mã truy cập không đúng, hoặc không có quyền xem hồ sơ."),
        };
        return page(StatusCode::UNAUTHORIZED, view.render());
    };
    let ttl = i64::try_from(state.config.admin.session_ttl.0.as_secs()).unwrap_or(i64::MAX);
    let expiry = chrono::Utc::now().timestamp().saturating_add(ttl);
    let value = state.admin_key.issue(&client.name, expiry);
    tracing::info!(officer = %client.name, "signed in to the officers' page");
    let mut res = StatusCode::SEE_OTHER.into_response();
    let headers = res.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/admin"));
    if let Ok(cookie) =
        HeaderValue::from_str(&set_cookie(&value, ttl, state.config.admin.secure_cookie))
    {
        headers.insert(header::SET_COOKIE, cookie);
    }
    res
}

/// A form that changes something: its CSRF token.
#[derive(Deserialize)]
struct Guarded {
    csrf: String,
}

/// 403: a changing form without its session's CSRF token.
fn forged() -> Response {
    Answer::page(
        StatusCode::FORBIDDEN,
        "Yêu cầu không hợp lệ: biểu mẫu đã cũ hoặc không phải từ trang này. Vui lòng tải lại trang.",
    )
    .into_response()
}

async fn logout(
    State(state): State<AppState>,
    officer: Officer,
    Form(form): Form<Guarded>,
) -> Response {
    if !officer.session.csrf_ok(&form.csrf) {
        return forged();
    }
    let mut res = to_login();
    if let Ok(cookie) = HeaderValue::from_str(&clear_cookie(state.config.admin.secure_cookie)) {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res
}

/// The list's filters.
#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    procedure: Option<String>,
    before: Option<i64>,
}

async fn dossiers(
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
        Err(e) => {
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Err(askama::Error::custom(e)),
            )
        }
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

async fn found(state: &AppState, code: &str) -> Result<crate::store::StoredDossier, Response> {
    match state.store.dossier_by_code(code).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            Err(Answer::page(StatusCode::NOT_FOUND, "Không tìm thấy hồ sơ này.").into_response())
        }
        Err(e) => Err(page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Err(askama::Error::custom(e)),
        )),
    }
}

async fn dossier(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
) -> Response {
    let d = match found(&state, &code).await {
        Ok(d) => d,
        Err(res) => return res,
    };
    let rules = rules_of(&state.mappings, &d).map(AsRef::as_ref);
    let (documents, progress, payments) = views::lists(&d, rules);
    let view = views::Dossier {
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        d: views::Facts::new(&d, rules, chrono::Utc::now().timestamp_millis()),
        documents,
        progress,
        payments,
        sync: views::sync_words(&d),
    };
    page(StatusCode::OK, view.render())
}

/// Which paper.
#[derive(Deserialize)]
struct PaperQuery {
    slip: Option<String>,
}

async fn papers(
    State(state): State<AppState>,
    _officer: Officer,
    Path(code): Path<String>,
    Query(q): Query<PaperQuery>,
) -> Response {
    let Some(which) = Paper::asked(q.slip.as_deref()) else {
        return Answer::page(StatusCode::BAD_REQUEST, "Không có loại giấy này.").into_response();
    };
    let d = match found(&state, &code).await {
        Ok(d) => d,
        Err(res) => return res,
    };
    let html = paper(&d, &state.mappings, &state.config.agency, which);
    match html {
        Some(html) => Answer::page(StatusCode::OK, html).into_response(),
        None => Answer::page(
            StatusCode::CONFLICT,
            "Hồ sơ chưa được tiếp nhận nên chưa có giấy hẹn trả kết quả.",
        )
        .into_response(),
    }
}
