//! Liveness and readiness for the operators' probes.

use super::error::json_response;
use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, r#"{"status":"ok"}"#)
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => json_response(StatusCode::OK, r#"{"status":"ready"}"#),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unavailable"}"#,
            )
        }
    }
}
