//! The department's internal read API: one dossier by code or by portal id, and the paged list.

use super::auth::Caller;
use super::error::{json_response, ApiError};
use super::AppState;
use crate::config::Scope;
use crate::domain::codes::{DossierCode, ProcedureCode};
use crate::domain::status::Status;
use crate::domain::time::{format_wire_millis, parse_bound, Edge};
use crate::dossiers::view::{clock_runs, dossier_view, status_name};
use crate::store::{DossierFilter, StoredDossier};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::{Deserialize, Serialize};

fn found(state: &AppState, d: Option<StoredDossier>) -> Result<Response, ApiError> {
    let d = d.ok_or_else(|| ApiError::not_found("dossier"))?;
    Ok(json_response(
        StatusCode::OK,
        dossier_view(&state.mappings, &d).to_string(),
    ))
}

/// Whether the request asks for a fresh answer (`Cache-Control: no-cache` or `no-store`).
fn wants_fresh(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| {
            matches!(
                d.trim().to_ascii_lowercase().as_str(),
                "no-cache" | "no-store"
            )
        })
}

/// `GET /api/v1/dossiers/{MaHoSo}`: from the status cache when it holds a fresh answer and the
/// caller did not ask for a fresh one (`Cache-Control: no-cache`).
#[utoipa::path(
    get,
    path = "/api/v1/dossiers/{MaHoSo}",
    operation_id = "get_dossier",
    tag = "dossiers",
    summary = "One dossier by the department's code",
    description = "The dossier whole: dates, status, applicant, mapped form, documents, fees, payments, \
progress and sync state. `Cache-Control: no-cache` asks for an answer read from the store now.",
    params(("MaHoSo" = String, Path, description = "The department's dossier code")),
    responses(
        (status = 200, description = "The dossier", body = super::openapi::schema::Dossier),
        (status = 404, description = "`NOT_FOUND`: no dossier with this code", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn get_by_code(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    if DossierCode::parse(&code).is_err() {
        return Err(ApiError::not_found("dossier"));
    }
    if !wants_fresh(&headers) {
        if let Some(body) = state.status_cache.get(&code) {
            return Ok(json_response(StatusCode::OK, body));
        }
    }
    let ticket = state.status_cache.ticket();
    let d = state
        .store
        .dossier_by_code(&code)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("dossier"))?;
    let body = Bytes::from(dossier_view(&state.mappings, &d).to_string());
    // A running dossier's `overdue` turns true at its due moment: not kept past it.
    let until = d.due_at.filter(|_| clock_runs(d.status)).map(|due| {
        let left = due - chrono::Utc::now().timestamp_millis();
        std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0))
    });
    state
        .status_cache
        .put(ticket, &d.code, d.id, body.clone(), until);
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /api/v1/dossiers/by-portal-id/{MaHoSoQG}`.
#[utoipa::path(
    get,
    path = "/api/v1/dossiers/by-portal-id/{MaHoSoQG}",
    operation_id = "get_dossier_by_portal_id",
    tag = "dossiers",
    summary = "One dossier by the portal's id",
    description = "The same answer as by the department's code.",
    params(("MaHoSoQG" = String, Path, description = "The portal's dossier id")),
    responses(
        (status = 200, description = "The dossier", body = super::openapi::schema::Dossier),
        (status = 404, description = "`NOT_FOUND`: no dossier with this id", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn get_by_portal_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let d = state
        .store
        .dossier_by_portal_id(&id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    found(&state, d)
}

/// Query of the paged list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only dossiers in this status (`TrangThaiHoSo`, 1–10).
    status: Option<String>,
    /// Only dossiers of this procedure (`MaTTHC`, either form).
    procedure: Option<String>,
    /// Received at or after (`yyyyMMdd` or `yyyyMMddHHmmss`, Vietnam time).
    from: Option<String>,
    /// Received at or before (`yyyyMMdd` or `yyyyMMddHHmmss`, Vietnam time).
    to: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<String>,
}

/// Default and largest page sizes.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

/// A bound of `from`/`to` (`domain::time::parse_bound`: a whole day or second at either end).
fn bound(text: &str, edge: Edge, key: &str) -> Result<i64, ApiError> {
    parse_bound(text, edge)
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| ApiError::invalid_query(format!("{key}: yyyyMMdd or yyyyMMddHHmmss")))
}

/// `GET /api/v1/dossiers`: from the status cache when it holds a fresh page for the same query
/// and the caller did not ask for a fresh one (`Cache-Control: no-cache`).
#[utoipa::path(
    get,
    path = "/api/v1/dossiers",
    operation_id = "list_dossiers",
    tag = "dossiers",
    summary = "Dossiers, newest first, a page at a time",
    description = "Filtered by status, procedure and the day received; follow `next_cursor` until it is null.",
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = Page),
        (status = 400, description = "`INVALID_QUERY`: a parameter is not understood", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .and_then(Status::from_code)
                .ok_or_else(|| ApiError::invalid_query("status: 1 to 10"))
        })
        .transpose()?
        .map(Status::code);
    let procedure = q
        .procedure
        .as_deref()
        .map(|p| {
            ProcedureCode::parse(p).map_err(|e| ApiError::invalid_query(format!("procedure: {e}")))
        })
        .transpose()?
        .map(|p| p.as_str().to_owned());
    let from = q
        .from
        .as_deref()
        .map(|t| bound(t, Edge::Start, "from"))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| bound(t, Edge::End, "to"))
            .transpose()?;
    let before_id = q
        .cursor
        .as_deref()
        .map(|c| {
            B64URL
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::invalid_query("cursor: not a cursor this API gave"))
        })
        .transpose()?;
    let limit = q
        .limit
        .as_deref()
        .map(|l| {
            l.parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::invalid_query(format!("limit: 1 to {MAX_LIMIT}")))
        })
        .transpose()?
        .unwrap_or(DEFAULT_LIMIT);
    let filter = DossierFilter {
        status,
        procedure,
        from,
        to,
        before_id,
        limit,
        ..DossierFilter::default()
    };
    // The query as understood, so that `?limit=50&status=1` and `?status=1&limit=50` share a page.
    let key = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        filter.status, filter.procedure, filter.from, filter.to, filter.before_id, filter.limit
    );
    if !wants_fresh(&headers) {
        if let Some(body) = state.status_cache.get_page(&key) {
            return Ok(json_response(StatusCode::OK, body));
        }
    }
    let ticket = state.status_cache.ticket();
    let rows = state
        .store
        .list_dossiers(&filter)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| B64URL.encode(r.id.to_string())))
        .flatten();
    let page = Page {
        items: rows
            .iter()
            .map(|r| ListItem {
                code: &r.code,
                portal_id: &r.portal_id,
                procedure_code: &r.procedure_code,
                status: r.status,
                status_name: status_name(r.status),
                received_at: format_wire_millis(r.received_at),
                due_at: r.due_at.map(format_wire_millis),
            })
            .collect(),
        next_cursor,
    };
    let body = Bytes::from(serde_json::to_string(&page).map_err(|e| ApiError::internal(&e))?);
    state.status_cache.put_page(ticket, &key, body.clone());
    Ok(json_response(StatusCode::OK, body))
}

/// One dossier of the paged list.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DossierListItem)]
pub struct ListItem<'a> {
    #[serde(rename = "MaHoSo")]
    code: &'a str,
    #[serde(rename = "MaHoSoQG")]
    portal_id: &'a str,
    #[serde(rename = "MaTTHC")]
    procedure_code: &'a str,
    #[serde(rename = "TrangThaiHoSo")]
    status: i64,
    #[serde(rename = "TenTrangThaiHoSo")]
    status_name: &'static str,
    #[serde(rename = "NgayNhan")]
    received_at: String,
    #[serde(rename = "NgayHenTra")]
    due_at: Option<String>,
}

/// A page of dossiers.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DossierPage)]
pub struct Page<'a> {
    items: Vec<ListItem<'a>>,
    next_cursor: Option<String>,
}
