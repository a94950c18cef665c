//! The one error type at the HTTP edge: a status, a stable `error_code`, the contract's body,
//! and (for 429) a `Retry-After`. Internal errors are logged once here and answered opaquely.

use super::answer::Answer;
use crate::domain::validation::FieldError;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An answer that is not a success.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    /// Headers beyond the content type (`Retry-After`, `WWW-Authenticate`).
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// `{"error_code":…,"message":…}`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error_code": code, "message": message.into() }),
            headers: Vec::new(),
        }
    }

    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `{"error_code":…}` alone, as the portal's signature and size answers are.
    pub fn bare(status: StatusCode, code: &str) -> Self {
        Self {
            status,
            body: json!({ "error_code": code }),
            headers: Vec::new(),
        }
    }

    /// 400 `INVALID_QUERY`: a query parameter (or an operator's selection) is not understood.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
    }

    /// 400 `MALFORMED`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MALFORMED", message)
    }

    /// 422 `VALIDATION` listing every problem.
    pub fn validation(errors: &[FieldError]) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "error_code": "VALIDATION", "errors": errors }),
            headers: Vec::new(),
        }
    }

    /// 409 `CONFLICT` naming the dossier already stored.
    pub fn conflict(code: &str) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            body: json!({ "error_code": "CONFLICT", "MaHoSo": code }),
            headers: Vec::new(),
        }
    }

    /// 429 `RATE_LIMITED` with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({ "error_code": "RATE_LIMITED" }),
            headers: vec![(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            )],
        }
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    /// 500, logged once; the caller learns nothing of the cause.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )
    }
}

/// A JSON answer with the contract's content type.
pub fn json_response(status: StatusCode, body: impl Into<axum::body::Bytes>) -> Response {
    Answer::json(status, body).into_response()
}

impl ApiError {
    /// The same answer with one more header (`WWW-Authenticate` on a 401, say).
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The answer in full.
    pub fn answer(self) -> Answer {
        let mut answer = Answer::json(self.status, self.body.to_string());
        for (name, value) in self.headers {
            answer.headers.insert(name, value);
        }
        answer
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.answer().into_response()
    }
}
