//! `POST /portal/v1/dossiers`: the portal's push of an online dossier.
//!
//! Checks run cheapest first: rate (429), content type (415), size (413), signature over the
//! raw bytes (401), then intake parses (400), validates (422), and stores (201 / 200 / 409).

use super::body::read_body;
use super::error::{json_response, ApiError};
use super::record::{recorded, Inbound};
use super::AppState;
use crate::portal::intake::{BodyFormat, IntakeError, IntakeOutcome};
use crate::signing::{verify, SignatureError, SignatureHeaders};
use crate::store::SubmissionRaw;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use std::net::SocketAddr;

/// Largest body the portal may send.
pub const MAX_BODY: usize = 1024 * 1024;
/// How far the signature timestamp may be from the gateway's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// Reads the body format from `Content-Type`; only UTF-8 XML or JSON are accepted.
fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = value.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    for param in parts {
        if let Some((k, v)) = param.split_once('=') {
            let v = v.trim().trim_matches('"');
            if k.trim().eq_ignore_ascii_case("charset") && !v.eq_ignore_ascii_case("utf-8") {
                return None;
            }
        }
    }
    match essence.as_str() {
        "application/xml" | "text/xml" => Some(BodyFormat::Xml),
        "application/json" => Some(BodyFormat::Json),
        _ => None,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The handler: the refusals that need no body, then the body is read, recorded in the
/// message log, and only then checked and taken in.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let admitted = async {
        if let Err(refused) = state.limiters.check_portal() {
            state.metrics.rate_limited("portal");
            return Err(refused);
        }
        let format = body_format(&headers).ok_or_else(|| {
            ApiError::bare(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
        })?;
        Ok((format, read_body(&headers, body, MAX_BODY).await?))
    };
    let (format, bytes) = match admitted.await {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let inbound = Inbound {
        partner: "portal",
        peer,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &bytes,
    };
    recorded(&state, inbound, || {
        take_in(&state, &headers, &bytes, format)
    })
    .await
}

/// Checks the signature of a recorded submission and takes it in.
async fn take_in(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
    format: BodyFormat,
) -> Result<Response, ApiError> {
    let sig = SignatureHeaders {
        id: header_str(headers, "webhook-id"),
        timestamp: header_str(headers, "webhook-timestamp"),
        signature: header_str(headers, "webhook-signature"),
    };
    let now = chrono::Utc::now();
    verify(
        &state.inbound_secrets(),
        sig,
        bytes,
        now.timestamp(),
        TIMESTAMP_TOLERANCE_SECS,
    )
    .map_err(|e| {
        let code = match e {
            SignatureError::Invalid => "SIGNATURE_INVALID",
            SignatureError::TimestampOutOfRange => "TIMESTAMP_OUT_OF_RANGE",
        };
        tracing::warn!(
            webhook.id = sig.id.unwrap_or("-"),
            reason = code,
            "portal request refused"
        );
        ApiError::bare(StatusCode::UNAUTHORIZED, code)
    })?;

    let raw = SubmissionRaw {
        content_type: header_str(headers, "content-type")
            .unwrap_or_default()
            .to_owned(),
        body: bytes.to_vec(),
        webhook_id: sig.id.unwrap_or_default().to_owned(),
        webhook_timestamp: sig.timestamp.unwrap_or_default().to_owned(),
        webhook_signature: sig.signature.unwrap_or_default().to_owned(),
    };
    match state.intake.submit(format, raw, now).await {
        Ok(IntakeOutcome::Created { code, answer }) => {
            tracing::info!(dossier.code = %code, webhook.id = sig.id.unwrap_or("-"), "dossier received");
            Ok(json_response(StatusCode::CREATED, answer))
        }
        Ok(IntakeOutcome::Replayed { code, answer }) => {
            tracing::info!(dossier.code = %code, webhook.id = sig.id.unwrap_or("-"), "dossier replayed");
            Ok(json_response(StatusCode::OK, answer))
        }
        Err(IntakeError::Malformed(message)) => Err(ApiError::malformed(message)),
        Err(IntakeError::Invalid(errors)) => Err(ApiError::validation(&errors)),
        Err(IntakeError::Conflict(code)) => {
            tracing::warn!(dossier.code = %code, "portal id reused with different content");
            Err(ApiError::conflict(&code))
        }
        Err(IntakeError::Store(e)) => Err(ApiError::internal(&e)),
    }
}
