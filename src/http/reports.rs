//! `GET /api/v1/reports/indicators?month=YYYY-MM` (contract section 7, scope `dossiers:read`):
//! the city's monthly indicators per procedure and in total (`dossiers::report`).

use super::auth::Caller;
use super::error::{json_response, ApiError};
use super::AppState;
use crate::config::Scope;
use crate::domain::indicators::Month;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IndicatorQuery {
    /// The month, `YYYY-MM` (Vietnam time); the month under way is counted up to now.
    month: Option<String>,
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/v1/reports/indicators",
    operation_id = "indicators",
    tag = "reports",
    summary = "The city's monthly indicators, per procedure and in total",
    description = "Received by channel; finished early, on time and late; notices deemed consented; \
open and overdue at the month's end; and the shares synced to the portal, paid online and with \
every document stored, each with its count and what it is counted of. Definitions: \
docs/DOMAIN-RULES.md, \"The city's monthly indicators\".",
    params(IndicatorQuery),
    responses(
        (status = 200, description = "The month's figures", body = crate::dossiers::report::Report),
        (status = 400, description = "`INVALID_QUERY`: `month` is missing or not `YYYY-MM`", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn indicators(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<IndicatorQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let month = q
        .month
        .as_deref()
        .and_then(Month::parse)
        .ok_or_else(|| ApiError::invalid_query("month: YYYY-MM"))?;
    let report = crate::dossiers::report::indicators(
        &state.store,
        &state.mappings,
        state.lifecycle.agencies(),
        month,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let body = serde_json::to_string(&report).map_err(|e| ApiError::internal(&e))?;
    Ok(json_response(StatusCode::OK, body))
}
