//! The officers' page, `/admin` (contract section 7): server-rendered pages in Vietnamese,
//! signed in with a client token (`session`), with no script and nothing fetched from
//! elsewhere: sign-in and sign-out here; the dossiers' list and a dossier's page with its
//! receipt and control slip (`list`, `dossiers`), an officer's action on it (`act`), dead messages and
//! payments awaiting reconciliation (`queues`), the month's indicators with a chart
//! (`indicators`, `chart`); the language's switch here, its words in `lang`, the cookies read
//! in `cookies`.

pub mod act;
pub mod chart;
pub mod cookies;
pub mod dossiers;
pub mod indicators;
pub mod lang;
pub mod list;
pub mod queues;
pub mod reply;
pub mod session;
pub mod steps;
pub mod views;

use crate::http::AppState;
use askama::Template;
use axum::extract::{DefaultBodyLimit, Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reply::{forged, page, Guarded};
use serde::Deserialize;
use session::{clear_cookie, may_look, set_cookie, to_login, Officer};

/// The officers' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(list::dossiers))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/lang/{code}", get(choose_lang))
        .route("/admin/logout", post(logout))
        .route("/admin/dossiers/{code}", get(dossiers::dossier))
        .route("/admin/dossiers/{code}/act", post(act::act))
        .route("/admin/dossiers/{code}/receipt", get(dossiers::papers))
        .route(
            "/admin/dossiers/{code}/documents/{id}",
            get(dossiers::document),
        )
        .route("/admin/outbox", get(queues::dead))
        .route("/admin/outbox/{id}/replay", post(queues::replay))
        .route("/admin/outbox/{id}/discard", post(queues::discard))
        .route("/admin/payments", get(queues::awaiting))
        .route("/admin/indicators", get(indicators::indicators))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

async fn login_page(State(state): State<AppState>, t: lang::Lang) -> Response {
    let view = views::Login {
        t,
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

async fn login(
    State(state): State<AppState>,
    t: lang::Lang,
    Form(form): Form<LoginForm>,
) -> Response {
    let client = state
        .clients
        .by_token(form.token.trim())
        .filter(|c| may_look(c));
    let Some(client) = client else {
        let view = views::Login {
            t,
            agency: &state.config.agency.name,
            problem: Some(t.w(
                "Mã truy cập không đúng, hoặc không có quyền xem hồ sơ.",
                "Wrong token, or a token that may not look at dossiers.",
            )),
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

async fn logout(
    State(state): State<AppState>,
    officer: Officer,
    Form(form): Form<Guarded>,
) -> Response {
    if !officer.session.csrf_ok(&form.csrf) {
        return forged(officer.lang);
    }
    let mut res = to_login();
    if let Ok(cookie) = HeaderValue::from_str(&clear_cookie(state.config.admin.secure_cookie)) {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res
}

/// `GET /admin/lang/{vi|en}`: remembers the choice for a year and goes back to the page it was
/// made on, as the browser's `Referer` names it (a path under `/admin` of this host only;
/// anything else goes to `/admin`).
async fn choose_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .filter(|u| {
            u.host_str()
                .zip(host)
                .is_some_and(|(h, host)| host.split(':').next() == Some(h))
        })
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .filter(|p| p.starts_with("/admin") && !p.starts_with("/admin/lang/"))
        .unwrap_or_else(|| "/admin".to_owned());
    let mut res = reply::see_other(&back);
    if let Some(lang) = lang::Lang::parse(&code) {
        let cookie = format!(
            "{}={}; Path=/admin; Max-Age=31536000; HttpOnly; SameSite=Strict",
            lang::COOKIE,
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}
