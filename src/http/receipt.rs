//! `GET /api/v1/dossiers/{MaHoSo}/receipt` (contract section 5, scope `dossiers:read`): the
//! receipt and appointment slip to print, or with `?slip=control` the control slip
//! (`dossiers::receipt`).

use super::answer::Answer;
use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::config::Scope;
use crate::dossiers::receipt::{paper, Paper};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlipQuery {
    /// `control` for the control slip; the receipt otherwise.
    slip: Option<String>,
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/v1/dossiers/{MaHoSo}/receipt",
    operation_id = "dossier_receipt",
    tag = "dossiers",
    summary = "The receipt and appointment slip, or the control slip, to print",
    description = "Printable HTML in Vietnamese (A4): the Giấy tiếp nhận hồ sơ và hẹn trả kết quả \
with the documents received, the fees, `NgayHenTra` and a QR code of the dossier's lookup link \
(`agency.lookup_url`); with `?slip=control` the Phiếu kiểm soát quá trình giải quyết hồ sơ listing \
every progress record.",
    params(
        ("MaHoSo" = String, Path, description = "The department's dossier code"),
        SlipQuery,
    ),
    responses(
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "`INVALID_QUERY`: `slip` is neither absent nor `control`", body = super::openapi::schema::ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no dossier with this code", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`NOT_ACCEPTED`: the dossier was never accepted, so there is no appointment to give (the control slip is available)", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn slip(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<SlipQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let which = Paper::asked(q.slip.as_deref())
        .ok_or_else(|| ApiError::invalid_query("slip: control, or none for the receipt"))?;
    let d = state
        .store
        .dossier_by_code(&code)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("dossier"))?;
    let html = paper(&d, &state.mappings, &state.config.agency, which).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "NOT_ACCEPTED",
            "the dossier was never accepted: there is no appointment to give",
        )
    })?;
    Ok(Answer::page(StatusCode::OK, html).into_response())
}
