//! `POST /portal/v1/dossiers`: the portal's push of an online dossier.
//!
//! Checks run cheapest first: the address's rate (429, before the handler), content type (415),
//! size (413), signature over the raw bytes (401), the portal's own rate (429, spent only by
//! signed requests), then intake parses (400), validates (422), and stores (201 / 200 / 409).
//! The request and its answer go into the message log in the same commit as the dossier (see
//! `record::recorded_in_effect`); a request whose signature failed is kept cut (headers, the
//! body's digest and first KiB).

use super::answer::Answer;
use super::body::read_body;
use super::error::ApiError;
use super::record::{recorded_in_effect, Handled, Inbound, Replier};
use super::AppState;
use crate::chain::NewMessage;
use crate::domain::code_template::{CodeTemplate, Unstable};
use crate::dossiers::intake::{BodyFormat, IntakeError, Recording};
use crate::signing::{verify, SignatureError, SignatureHeaders};
use crate::store::{InsertOutcome, IntakeReplies};
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
/// message log, and only then checked and taken in. The portal's rate budget is spent only by
/// a request whose signature held (contract section 8): unsigned traffic from anywhere cannot
/// use up the portal's share; it meets the per-address limit instead.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let admitted = async {
        let format = body_format(&headers).ok_or_else(|| {
            ApiError::bare(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
        })?;
        Ok::<_, ApiError>((format, read_body(&headers, body, MAX_BODY).await?))
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
    recorded_in_effect(&state, inbound, |request, replier| async {
        take_in(&state, &headers, &bytes, format, request, replier)
            .await
            .unwrap_or_else(|refused| Handled::NothingStored(refused.answer()))
    })
    .await
}

/// The answer to an intake result. What came out of the store carries its body as the store
/// completed and recorded it; the rest is rendered here.
fn intake_answer(result: Result<InsertOutcome, IntakeError>) -> Answer {
    match result {
        Ok(InsertOutcome::Created { answer, .. }) => Answer::json(StatusCode::CREATED, answer),
        Ok(InsertOutcome::Replayed { answer, .. }) => Answer::json(StatusCode::OK, answer),
        Ok(InsertOutcome::Conflict { answer, .. }) => Answer::json(StatusCode::CONFLICT, answer),
        Err(IntakeError::Malformed(message)) => ApiError::malformed(message).answer(),
        Err(IntakeError::Invalid(errors)) => ApiError::validation(&errors).answer(),
        Err(IntakeError::Store(e)) => ApiError::internal(&e).answer(),
        Err(IntakeError::Render(e)) => ApiError::internal(&e).answer(),
    }
}

/// How the store records the answer to a submission, whatever it finds: the record of a JSON
/// answer to this request, the statuses of 201, 200 and 409, and the 409's body.
fn intake_replies(replier: &Replier) -> Result<IntakeReplies, Unstable> {
    Ok(IntakeReplies {
        record: replier.record(&Answer::json(StatusCode::OK, "")),
        created: StatusCode::CREATED.as_u16(),
        replayed: StatusCode::OK.as_u16(),
        conflict: StatusCode::CONFLICT.as_u16(),
        conflict_body: conflict_body()?,
    })
}

/// The body of a 409 to a submission, as a template of the code it names: the same for every
/// request, so made once (it was made twice a request; docs/PERFORMANCE.md).
fn conflict_body() -> Result<CodeTemplate, Unstable> {
    static BODY: std::sync::OnceLock<Result<CodeTemplate, Unstable>> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        CodeTemplate::render(|code| {
            String::from_utf8_lossy(&ApiError::conflict(code).answer().body).into_owned()
        })
    })
    .clone()
}

/// Checks the signature of a submission and takes it in.
async fn take_in(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
    format: BodyFormat,
    request: NewMessage,
    replier: Replier,
) -> Result<Handled, ApiError> {
    let sig = SignatureHeaders {
        id: header_str(headers, "webhook-id"),
        timestamp: header_str(headers, "webhook-timestamp"),
        signature: header_str(headers, "webhook-signature"),
    };
    let now = chrono::Utc::now();
    let checked = verify(
        &state.inbound_secrets(),
        sig,
        bytes,
        now.timestamp(),
        TIMESTAMP_TOLERANCE_SECS,
    );
    if let Err(e) = checked {
        let code = match e {
            SignatureError::Invalid => "SIGNATURE_INVALID",
            SignatureError::TimestampOutOfRange => "TIMESTAMP_OUT_OF_RANGE",
        };
        tracing::warn!(
            webhook.id = sig.id.unwrap_or("-"),
            reason = code,
            "portal request refused"
        );
        let refused = ApiError::bare(StatusCode::UNAUTHORIZED, code);
        return Ok(Handled::Unauthenticated(refused.answer()));
    }
    if let Err(refused) = state.limiters.check_portal() {
        state.metrics.rate_limited("portal");
        return Err(refused);
    }

    let recording = Recording {
        request,
        replies: intake_replies(&replier).map_err(|e| ApiError::internal(&e))?,
    };
    let result = state.intake.submit(format, bytes, now, recording).await;
    let webhook = sig.id.unwrap_or("-");
    match &result {
        Ok(InsertOutcome::Created { code, .. }) => {
            tracing::info!(dossier.code = %code, webhook.id = webhook, "dossier received");
        }
        Ok(InsertOutcome::Replayed { code, .. }) => {
            tracing::info!(dossier.code = %code, webhook.id = webhook, "dossier replayed");
        }
        Ok(InsertOutcome::Conflict { code, .. }) => {
            tracing::warn!(dossier.code = %code, "portal id reused with different content");
        }
        Err(_) => {}
    }
    // What came out of the store's transaction was recorded there with its exchange.
    let recorded = result.is_ok();
    let answer = intake_answer(result);
    Ok(if recorded {
        Handled::Recorded(answer)
    } else {
        Handled::NothingStored(answer)
    })
}
