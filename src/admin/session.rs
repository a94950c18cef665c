//! The officers' sign-in: a client token (scope `admin` to act, `dossiers:read` to look) is
//! exchanged once at `POST /admin/login` for a session cookie, and the token is never kept.
//!
//! The cookie is signed, not stored (`http::session`: `name.expiry.nonce.mac`). It is
//! `HttpOnly`, `SameSite=Strict`, scoped
//! to `/admin`, and expires; every page checks it, and the client's scopes are read from the
//! configuration at each request, so removing a client ends its sessions. Every form that
//! changes something carries a CSRF token, the MAC of the session's nonce, checked in constant
//! time.

use super::cookies::cookie;
use crate::config::Scope;
use crate::http::auth::Client;
use crate::http::session::Session;
use crate::http::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

/// The cookie's name.
pub const COOKIE: &str = "motcua_admin";

/// The cookie that starts a session of `ttl_secs`.
pub fn set_cookie(value: &str, ttl_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/admin; Max-Age={ttl_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The cookie that ends it.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// Whether a client may open the page: it looks with `dossiers:read`, acts with `admin`.
pub fn may_look(client: &Client) -> bool {
    client
        .scopes
        .iter()
        .any(|s| matches!(s, Scope::DossiersRead | Scope::Admin))
}

/// Whether a client may change what it sees (scope `admin`).
pub fn acts(client: &Client) -> bool {
    client.scopes.contains(&Scope::Admin)
}

/// A signed-in officer: the session and the client it belongs to, as configured now, and the
/// language they read the page in.
#[derive(Debug, Clone)]
pub struct Officer {
    /// The session.
    pub session: Session,
    /// The client, with its current scopes.
    pub client: Client,
    /// The page's language.
    pub lang: super::lang::Lang,
}

impl Officer {
    /// The refusal of a change asked by a form carrying `csrf`, if it is refused: 403 without
    /// the session's token, and 403 for who only looks (no `admin` scope).
    pub fn refusal(&self, csrf: &str) -> Option<Response> {
        if !self.session.csrf_ok(csrf) {
            return Some(super::reply::forged(self.lang));
        }
        if !acts(&self.client) {
            return Some(super::reply::looks_only(self.lang));
        }
        None
    }
}

/// Where a request without a valid session is sent.
pub fn to_login() -> Response {
    super::reply::see_other("/admin/login")
}

impl FromRequestParts<AppState> for Officer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let now = chrono::Utc::now().timestamp();
        let session = cookie(parts, COOKIE)
            .and_then(|v| state.admin_key.open(v, now))
            .ok_or_else(to_login)?;
        let client = state
            .clients
            .by_name(&session.name)
            .filter(|c| may_look(c))
            .cloned()
            .ok_or_else(to_login)?;
        let lang = cookie(parts, super::lang::COOKIE)
            .and_then(super::lang::Lang::parse)
            .unwrap_or_default();
        Ok(Officer {
            session,
            client,
            lang,
        })
    }
}
