//! How the officers' pages answer: a rendered template, or a short page saying why not
//! (the form was forged, the dossier is missing, the store failed).

use super::lang::Lang;
use crate::http::answer::Answer;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A rendered template with `status`; a template that fails to render is logged and answered 500.
pub fn page(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(html) => Answer::page(status, html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "an officers' page did not render");
            Answer::page(StatusCode::INTERNAL_SERVER_ERROR, "Lỗi hệ thống").into_response()
        }
    }
}

/// 500 for a store that failed, logged once here.
pub fn failed(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the officers' page could not read the store");
    Answer::page(StatusCode::INTERNAL_SERVER_ERROR, "Lỗi hệ thống").into_response()
}

/// A short page: `status` and one sentence.
pub fn short(status: StatusCode, sentence: &'static str) -> Response {
    Answer::page(status, sentence).into_response()
}

/// A form that changes nothing but is guarded all the same: its CSRF token.
#[derive(Deserialize)]
pub struct Guarded {
    /// The session's CSRF token.
    pub csrf: String,
}

/// 403: a changing form without its session's CSRF token.
pub fn forged(t: Lang) -> Response {
    short(
        StatusCode::FORBIDDEN,
        t.w(
            "Yêu cầu không hợp lệ: biểu mẫu đã cũ hoặc không phải từ trang này. Vui lòng tải lại trang.",
            "Refused: the form is stale or not from this page. Reload the page.",
        ),
    )
}

/// 403: a change asked for by an officer who may only look (`dossiers:read`).
pub fn looks_only(t: Lang) -> Response {
    short(
        StatusCode::FORBIDDEN,
        t.w(
            "Tài khoản này chỉ được xem hồ sơ, không được xử lý (cần quyền admin).",
            "This account may look at dossiers, not act on them (scope admin is needed).",
        ),
    )
}

/// 404: no dossier with this code.
pub fn not_found(t: Lang) -> Response {
    short(
        StatusCode::NOT_FOUND,
        t.w("Không tìm thấy hồ sơ này.", "No dossier with this code."),
    )
}

/// 303 to `location` after a change (post, redirect, get).
pub fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
