//! Inter-agency processing at the edge (contract section 9): an agency's answer to a forwarded
//! step (`POST /lienthong/v1/steps/{ref}`), the forwarded documents it fetches
//! (`GET /lienthong/v1/steps/{ref}/documents/{id}`), and the department's list of open and
//! late steps (`GET /api/v1/lienthong`).
//!
//! An agency signs as the portal does (`webhook-*`), with its own secret. The forwarding's
//! `ref` names the one agency whose secret is tried: a request signed by another agency, or
//! not signed, is 401 and is kept only cut in the message log; an unknown `ref` is 404 to a
//! configured agency and 401 to anyone else. An agency's rate is spent only by its signed
//! requests, and its answers are kept by `webhook-id`: the same id again is answered as the
//! first time, and does nothing more.

use super::actions::{key_reused, request_key};
use super::auth::Caller;
use super::body::read_body;
use super::documents::{document_response, NotServed};
use super::error::{json_response, ApiError};
use super::portal::TIMESTAMP_TOLERANCE_SECS;
use super::record::{recorded, Inbound, Trust};
use super::AppState;
use crate::config::Scope;
use crate::domain::time::format_wire_millis;
use crate::dossiers::plan::{rules_of, LifecycleError};
use crate::dossiers::steps::is_late;
use crate::lienthong::answer::{parse, AnswerError};
use crate::lienthong::{answer_client, step_documents, Agency};
use crate::signing::{verify, SignatureError, SignatureHeaders};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

/// Largest answer an agency may send (its documents travel as links).
pub const MAX_BODY: usize = 256 * 1024;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Who signed a request about the forwarding `reference`, if anyone may: `Ok((agency,
/// dossier code))` when the forwarding's own agency did; `Err` with the refusal otherwise.
async fn signer(
    state: &AppState,
    reference: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Agency, String), ApiError> {
    let sig = SignatureHeaders {
        id: header_str(headers, "webhook-id"),
        timestamp: header_str(headers, "webhook-timestamp"),
        signature: header_str(headers, "webhook-signature"),
    };
    let now = chrono::Utc::now().timestamp();
    let agencies = state.lifecycle.agencies();
    let owner = state
        .store
        .step_owner(reference)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let refused = |e: SignatureError| {
        let code = match e {
            SignatureError::Invalid => "SIGNATURE_INVALID",
            SignatureError::TimestampOutOfRange => "TIMESTAMP_OUT_OF_RANGE",
        };
        tracing::warn!(
            step.reference = ?reference,
            reason = code,
            "agency request refused"
        );
        ApiError::bare(StatusCode::UNAUTHORIZED, code)
    };
    let Some((code, agency)) = owner.and_then(|(code, a)| Some((code, agencies.get(&a)?))) else {
        // No such forwarding: whether any agency signed decides between 404 and 401.
        let secrets: Vec<_> = agencies.all().iter().map(|a| a.secret.clone()).collect();
        verify(&secrets, sig, body, now, TIMESTAMP_TOLERANCE_SECS).map_err(refused)?;
        return Err(ApiError::not_found("forwarded step"));
    };
    verify(
        std::slice::from_ref(&agency.secret),
        sig,
        body,
        now,
        TIMESTAMP_TOLERANCE_SECS,
    )
    .map_err(refused)?;
    if let Err(limited) = state.limiters.check_agency(&agency.code) {
        state.metrics.rate_limited("agency");
        return Err(limited);
    }
    Ok((agency.clone(), code))
}

/// `POST /lienthong/v1/steps/{ref}`: an agency's answer.
pub async fn answer(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(reference): Path<String>,
    body: Body,
) -> Response {
    let json = header_str(&headers, "content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return ApiError::bare(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            .into_response();
    }
    let bytes = match read_body(&headers, body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused.into_response(),
    };
    let signed = signer(&state, &reference, &headers, &bytes).await;
    let trust = Trust::of(!matches!(&signed, Err(e) if e.status() == StatusCode::UNAUTHORIZED));
    let (st, hs, body_bytes, r) = (state.clone(), &headers, &bytes, &reference);
    let inbound = Inbound {
        partner: "agency",
        peer,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &bytes,
    };
    recorded(&state, inbound, trust, move || async move {
        let (state, headers, bytes, reference) = (st, hs, body_bytes, r);
        let (agency, code) = signed?;
        let answer = match parse(bytes) {
            Ok(answer) => answer,
            Err(AnswerError::Malformed(m)) => return Err(ApiError::malformed(m)),
            Err(AnswerError::Invalid(errors)) => return Err(ApiError::validation(&errors)),
        };
        let webhook_id = header_str(headers, "webhook-id").unwrap_or_default();
        let key = request_key(
            &answer_client(&agency.code),
            webhook_id,
            &format!("POST /lienthong/v1/steps/{reference}"),
            bytes,
        );
        let body = json!({"error_code": "0", "ref": reference, "TrangThai": answer.state})
            .to_string();
        let render = Box::new(move |_: &crate::store::StoredDossier| body.clone());
        let done = state
            .lifecycle
            .answer_step((&code, reference), &agency, &answer, &key, render, chrono::Utc::now())
            .await;
        match done {
            Ok(body) => {
                tracing::info!(step.reference = ?reference, agency = %agency.code, state = %answer.state, "agency answered");
                Ok(json_response(StatusCode::OK, body))
            }
            Err(e) => Err(lifecycle_refusal(e)),
        }
    })
    .await
}

fn lifecycle_refusal(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::NotFound => ApiError::not_found("forwarded step"),
        LifecycleError::StepConflict { code, message } => {
            ApiError::new(StatusCode::CONFLICT, code, message)
        }
        LifecycleError::KeyReused => key_reused(),
        LifecycleError::Validation(errors) => ApiError::validation(&errors),
        LifecycleError::Store(e) => ApiError::internal(&e),
        other => ApiError::new(
            StatusCode::CONFLICT,
            "INVALID_TRANSITION",
            other.to_string(),
        ),
    }
}

/// `GET /lienthong/v1/steps/{ref}/documents/{id}`: a document forwarded with the step, to the
/// step's agency only (signed as its answers are, over an empty body), and only one of the
/// components its step receives.
pub async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((reference, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, code) = signer(&state, &reference, &headers, b"").await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("document"))?;
    let d = state
        .store
        .dossier_by_code(&code)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("document"))?;
    let step = d
        .steps
        .iter()
        .find(|r| r.reference == reference)
        .and_then(|r| {
            rules_of(&state.mappings, &d)?
                .steps
                .iter()
                .find(|s| s.id == r.step)
        });
    let forwarded = step.is_some_and(|s| step_documents(&d, s).iter().any(|doc| doc.id == id));
    if !forwarded {
        return Err(ApiError::not_found("document"));
    }
    match document_response(&state, &code, id, &headers).await {
        Ok(res) => Ok(res),
        Err(NotServed::Missing) => Err(ApiError::not_found("document")),
        Err(NotServed::NotStored(s)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "NOT_STORED",
            format!("the document is {s}"),
        )),
        Err(NotServed::Failed(e)) => Err(ApiError::internal(&e)),
    }
}

/// `GET /api/v1/lienthong` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StepQuery {
    /// `open` (default): every open step of dossiers being handled; `late`: those past
    /// their `HanXuLy`.
    pub state: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

fn bad_query(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
}

/// `GET /api/v1/lienthong?state=open|late`.
#[utoipa::path(
    get,
    path = "/api/v1/lienthong",
    operation_id = "list_steps",
    tag = "dossiers",
    summary = "Open inter-agency steps of all dossiers, soonest due first",
    description = "Each forwarding still with its agency (forwarded, received, processing) of a \
dossier being handled: its dossier, step, agency, `ref`, `HanXuLy`, whether it is late, and whether \
it runs past the dossier's `NgayHenTra`. `state=late`: only those past their `HanXuLy`.",
    params(StepQuery),
    responses(
        (status = 200, description = "`{\"items\":[…],\"next_cursor\":…}`", body = Object),
        (status = 400, description = "`INVALID_QUERY`: an unknown `state`, a bad `cursor` or `limit`", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StepQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let now = chrono::Utc::now().timestamp_millis();
    let late_at = match q.state.as_deref() {
        None | Some("open") => None,
        Some("late") => Some(now),
        Some(_) => return Err(bad_query("state: open or late")),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad_query("limit: 1 to 200"));
    }
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(due, id)| Some((due.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| bad_query("cursor: as next_cursor gave it"))?,
        ),
    };
    let rows = state
        .store
        .open_steps(late_at, after, limit + 1)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let page = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(0))];
    let agencies = state.lifecycle.agencies();
    let items: Vec<_> = page
        .iter()
        .map(|s| {
            json!({
                "MaHoSo": s.dossier_code,
                "MaTTHC": s.procedure_code,
                "step": s.row.step,
                "agency": s.row.agency,
                "agency_name": agencies.name_of(&s.row.agency),
                "ref": s.row.reference,
                "state": s.row.state,
                "forwarded_at": format_wire_millis(s.row.forwarded_at),
                "HanXuLy": format_wire_millis(s.row.due_at),
                "late": is_late(&s.row, now),
                "NgayHenTra": s.dossier_due_at.map(format_wire_millis),
                "beyond_due": s.dossier_due_at.is_some_and(|due| s.row.due_at.max(now) > due),
            })
        })
        .collect();
    let next = more
        .then(|| page.last().map(|s| format!("{}.{}", s.row.due_at, s.id)))
        .flatten();
    let mut res = json_response(
        StatusCode::OK,
        json!({"items": items, "next_cursor": next}).to_string(),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
