//! Recording a partner's request and the gateway's answer in the message log.
//!
//! A partner route reads the body (after the cheap refusals that need no body: the address's
//! rate 429, content type 415, size 413 — counted in metrics, not recorded), then hands it to
//! one of two
//! wrappers. Both keep the same promises: nothing a request causes is committed unless the
//! request is in the log, and no answer is sent that is not in the log (or, if only the answer
//! cannot be recorded, whose effect is already committed).
//!
//! - [`recorded`] (payment callbacks): the request is committed to the log before anything
//!   acts on it (a request that cannot be recorded gets 503 and is not processed), and the
//!   answer is recorded before it is sent. If only the answer cannot be recorded, the answer is
//!   still sent — what it reports is already committed — and the failure is logged.
//! - [`recorded_in_effect`] (portal intake): the handler puts the request and its answer in
//!   its own transaction, beside the effect, so that one commit holds all three; an answer
//!   given without storing anything (a refusal, a store failure) is recorded with its request in
//!   one commit before it is sent, and if that fails the caller gets 503. A request the process
//!   dies on before either commit is not in the log, and was not answered: the partner sends it
//!   again.
//!
//! A request that failed its signature check is recorded as [`Trust::Unauthenticated`]: its
//! headers, its body's length and SHA-256 and at most its first KiB (contract section 8,
//! [`unauthenticated`]), so that strangers cannot fill the log.

use super::answer::Answer;
use super::error::ApiError;
use super::AppState;
use crate::audit::log::headers_text;
use crate::chain::{sha256_hex, Direction, NewMessage};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;

/// The partner and peer of a request, to make the log records of its answers.
#[derive(Debug, Clone)]
pub struct Replier {
    partner: String,
    peer: String,
}

impl Replier {
    /// The record of `answer` (its `reply_to` is set where it is placed in the chain).
    pub fn record(&self, answer: &Answer) -> NewMessage {
        answer_message(
            &self.partner,
            &self.peer,
            None,
            answer.status,
            &answer.headers,
            &answer.body,
        )
    }
}

/// What a handler run by [`recorded_in_effect`] did.
#[derive(Debug)]
pub enum Handled {
    /// Its effect was committed with the request and this answer in the log.
    Recorded(Answer),
    /// Nothing was committed: the request and this answer are yet to be recorded.
    NothingStored(Answer),
    /// The request failed its signature check: it is recorded cut (see [`Trust`]) with this
    /// answer.
    Unauthenticated(Answer),
}

/// Whether a request proved who sent it: what the message log keeps of it depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Its signature held: kept whole.
    Authenticated,
    /// It failed its signature check: kept cut ([`unauthenticated`]).
    Unauthenticated,
}

impl Trust {
    /// [`Trust::Authenticated`] when `verified`.
    pub fn of(verified: bool) -> Self {
        if verified {
            Trust::Authenticated
        } else {
            Trust::Unauthenticated
        }
    }
}

/// How much of an unauthenticated request's body the log keeps (contract section 8).
pub const UNAUTHENTICATED_BODY_KEPT: usize = 1024;
/// How much of an unauthenticated request's header text the log keeps: the contract keeps its
/// headers, and this bound stops a stranger from filling the log through them instead (a
/// server accepts a few hundred KiB of headers).
pub const UNAUTHENTICATED_HEADERS_KEPT: usize = 8 * 1024;

/// `request` as the log keeps it when it failed its signature or token check: its
/// headers (up to [`UNAUTHENTICATED_HEADERS_KEPT`]), the first
/// [`UNAUTHENTICATED_BODY_KEPT`] bytes of its body, and in the verdict the length and
/// SHA-256 of the whole body, so that a stranger can neither fill the store nor leave a
/// request the log cannot identify.
pub fn unauthenticated(mut request: NewMessage) -> NewMessage {
    let length = request.body.len();
    let digest = sha256_hex(&request.body);
    request.body.truncate(UNAUTHENTICATED_BODY_KEPT);
    if request.headers.len() > UNAUTHENTICATED_HEADERS_KEPT {
        let mut end = UNAUTHENTICATED_HEADERS_KEPT;
        while !request.headers.is_char_boundary(end) {
            end -= 1;
        }
        request.headers.truncate(end);
        request.headers.push_str("\n[headers cut]\n");
    }
    request.verdict = format!(
        "unauthenticated: body {length} bytes, sha256 {digest}, first {} kept",
        request.body.len()
    );
    request
}

fn request_message(inbound: &Inbound<'_>) -> NewMessage {
    NewMessage {
        at: chrono::Utc::now().timestamp_millis(),
        direction: Direction::In,
        partner: inbound.partner.to_owned(),
        peer: inbound.peer.ip().to_string(),
        reply_to: None,
        target: format!("{} {}", inbound.method, inbound.uri),
        headers: headers_text(inbound.headers),
        body: inbound.body.to_vec(),
        verdict: "received".into(),
    }
}

fn answer_message(
    partner: &str,
    peer: &str,
    reply_to: Option<i64>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> NewMessage {
    NewMessage {
        at: chrono::Utc::now().timestamp_millis(),
        direction: Direction::Out,
        partner: partner.to_owned(),
        peer: peer.to_owned(),
        reply_to,
        target: String::new(),
        headers: headers_text(headers),
        body: Vec::new(),
        verdict: String::new(),
    }
    .answered(status.as_u16(), body.to_vec())
}

fn unavailable() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
        "the gateway cannot record messages now; try again later",
    )
    .into_response()
}

/// Runs `handle` with the request's record and a [`Replier`], for it to record both in the
/// transaction of its effect; records them itself when the handler stored nothing.
pub async fn recorded_in_effect<Fut>(
    state: &AppState,
    inbound: Inbound<'_>,
    handle: impl FnOnce(NewMessage, Replier) -> Fut,
) -> Response
where
    Fut: Future<Output = Handled>,
{
    let request = request_message(&inbound);
    let replier = Replier {
        partner: inbound.partner.to_owned(),
        peer: request.peer.clone(),
    };
    let (request, answer) = match handle(request.clone(), replier.clone()).await {
        Handled::Recorded(answer) => return answer.into_response(),
        Handled::NothingStored(answer) => (request, answer),
        Handled::Unauthenticated(answer) => (unauthenticated(request), answer),
    };
    let record = replier.record(&answer);
    match state.messages.record_exchange(request, record).await {
        Ok(_) => answer.into_response(),
        Err(e) => {
            tracing::error!(error = %e, partner = inbound.partner, "a partner request was refused: it could not be recorded");
            unavailable()
        }
    }
}

/// The request as it arrived.
pub struct Inbound<'a> {
    /// `portal`, `paygov` or `vnpay`.
    pub partner: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// Method.
    pub method: &'a Method,
    /// Path and query, verbatim.
    pub uri: &'a Uri,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// The body, as read.
    pub body: &'a Bytes,
}

/// Records `inbound` (cut if it is [`Trust::Unauthenticated`]), runs `handle`, records its
/// answer, and returns the answer.
pub async fn recorded<Fut>(
    state: &AppState,
    inbound: Inbound<'_>,
    trust: Trust,
    handle: impl FnOnce() -> Fut,
) -> Response
where
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let request = match trust {
        Trust::Authenticated => request_message(&inbound),
        Trust::Unauthenticated => unauthenticated(request_message(&inbound)),
    };
    let peer = request.peer.clone();
    let seq = match state.messages.record(request).await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(error = %e, partner = inbound.partner, "a partner request was refused: it could not be recorded");
            return unavailable();
        }
    };
    let response = handle().await.into_response();
    let (parts, body) = response.into_parts();
    // The answer is the gateway's own, already in memory: read whole, so that the log holds
    // exactly what is sent. (A size limit here would have sent an empty body past it.)
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, partner = inbound.partner, request = seq, "an answer could not be read");
            return ApiError::internal(&e).into_response();
        }
    };
    let answer = answer_message(
        inbound.partner,
        &peer,
        Some(seq),
        parts.status,
        &parts.headers,
        &body,
    );
    if let Err(e) = state.messages.record(answer).await {
        tracing::error!(error = %e, partner = inbound.partner, request = seq, "an answer could not be recorded; it is sent all the same");
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::message;

    #[test]
    fn an_unauthenticated_request_keeps_a_kibibyte_and_the_whole_body_s_digest() {
        let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut m = message(1);
        m.body = body.clone();
        m.headers = "x-pad: ".to_owned() + &"é".repeat(5000);
        let kept = unauthenticated(m);
        assert_eq!(kept.body, body[..1024]);
        assert_eq!(
            kept.verdict,
            format!(
                "unauthenticated: body 3000 bytes, sha256 {}, first 1024 kept",
                crate::chain::sha256_hex(&body)
            )
        );
        assert!(kept.headers.ends_with("\n[headers cut]\n"));
        assert!(kept.headers.len() <= UNAUTHENTICATED_HEADERS_KEPT + 15);
        let mut small = message(2);
        small.body = b"{}".to_vec();
        let kept = unauthenticated(small.clone());
        assert_eq!((kept.body, kept.headers), (small.body, small.headers));
    }
}
