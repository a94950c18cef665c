//! Appending to the message log with group commit, and recording outbound calls.
//!
//! Callers hand a message (or a request with its answer) to [`MessageLog::record`] or
//! [`MessageLog::record_exchange`] and wait; one writer task takes everything waiting (up to
//! [`MAX_BATCH`]), appends it in one transaction, and answers each caller with its seq only
//! after the commit. Under load many requests share one commit; alone, a request waits for its
//! own. A caller that gets an error must not act on the message. (Intake records its exchanges
//! in its own transaction instead, beside the dossiers they brought: `store::intake_batch`.)

use crate::chain::{Direction, Exchange, NewMessage};
use crate::store::group_commit::GroupCommit;
use crate::store::Store;
use axum::http::HeaderMap;

/// Most exchanges appended in one transaction.
pub const MAX_BATCH: usize = 128;

/// The message could not be recorded (the database refused or the writer stopped).
#[derive(Debug, thiserror::Error)]
#[error("the message log could not record the message: {0}")]
pub struct Unrecorded(String);

/// The appender; cheap to clone. The writer task stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct MessageLog {
    writer: GroupCommit<Exchange, Result<i64, Unrecorded>>,
}

impl MessageLog {
    /// Starts the writer over `store` (inside a Tokio runtime).
    pub fn start(store: Store) -> Self {
        let writer = store.start_writer(
            "motcua-log-writer",
            MAX_BATCH,
            move |store, exchanges: Vec<Exchange>| {
                async move {
                    let n = exchanges.len();
                    match store.append_exchanges(exchanges).await {
                        Ok(seqs) => seqs.into_iter().map(Ok).collect(),
                        Err(e) => {
                            tracing::error!(error = %e, "the message log could not append; callers refused");
                            (0..n).map(|_| Err(Unrecorded(e.to_string()))).collect()
                        }
                    }
                }
            },
        );
        MessageLog { writer }
    }

    /// Records `message`; returns its seq once it is committed.
    pub async fn record(&self, message: NewMessage) -> Result<i64, Unrecorded> {
        self.append(Exchange::one(message)).await
    }

    /// Records `request` and, right after it, its `answer`, in one commit; returns the
    /// request's seq.
    pub async fn record_exchange(
        &self,
        request: NewMessage,
        answer: NewMessage,
    ) -> Result<i64, Unrecorded> {
        self.append(Exchange::pair(request, answer)).await
    }

    async fn append(&self, exchange: Exchange) -> Result<i64, Unrecorded> {
        self.writer
            .submit(exchange)
            .await
            .map_err(|stopped| Unrecorded(stopped.to_string()))?
    }

    /// Sends `request` with `http`, recording the request before it leaves and the answer (or
    /// why none came) when it arrives. A request that cannot be recorded is not sent.
    pub async fn send(
        &self,
        http: &reqwest::Client,
        partner: &str,
        request: reqwest::Request,
    ) -> Result<Answer, SendError> {
        let call = Outbound::of(partner, &request);
        let seq = self.record(call.request.clone()).await?;
        let answer = call_partner(http, request).await;
        self.record(call.answer_record(seq, &answer)).await?;
        match answer {
            Ok(a) if a.cut => Err(SendError::TooLarge),
            Ok(a) => Ok(a),
            Err(e) => Err(SendError::Transport(e)),
        }
    }
}

/// An outbound call as the log sees it: its request record, and what its answer record needs.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The request, to be recorded before it leaves.
    pub request: NewMessage,
}

impl Outbound {
    /// The record of `request` to `partner`.
    pub fn of(partner: &str, request: &reqwest::Request) -> Self {
        let url = request.url();
        let peer = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        let body = request
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Outbound {
            request: NewMessage {
                at: chrono::Utc::now().timestamp_millis(),
                direction: Direction::Out,
                partner: partner.to_owned(),
                peer,
                reply_to: None,
                target: format!("{} {url}", request.method()),
                headers: headers_text(request.headers()),
                body,
                verdict: "sent".into(),
            },
        }
    }

    /// The record of the answer to the request recorded as `seq` (or of why none came).
    pub fn answer_record(&self, seq: i64, answer: &Result<Answer, reqwest::Error>) -> NewMessage {
        let (target, headers, body, verdict) = match answer {
            Ok(a) => (
                a.status.as_u16().to_string(),
                headers_text(&a.headers),
                a.body.to_vec(),
                if a.cut {
                    "answered past 1 MiB: cut, not acted on".to_owned()
                } else {
                    "answered".to_owned()
                },
            ),
            Err(e) => (
                String::new(),
                String::new(),
                Vec::new(),
                format!(
                    "no answer: {}",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "connection or protocol error"
                    }
                ),
            ),
        };
        NewMessage {
            at: chrono::Utc::now().timestamp_millis(),
            direction: Direction::In,
            partner: self.request.partner.clone(),
            peer: self.request.peer.clone(),
            reply_to: Some(seq),
            target,
            headers,
            body,
            verdict,
        }
    }
}

/// The most of a partner's answer the gateway reads (contract section 8); the rest is not read.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// The HTTP client for calls to partners: no redirect is followed (a redirect would re-send a
/// signed request to wherever the answer points), every call is bounded by `timeout`.
pub fn partner_client(
    timeout: std::time::Duration,
    idle_per_host: usize,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(idle_per_host)
        .build()
}

/// Sends `request` and reads its answer, at most [`MAX_ANSWER`] bytes of it.
pub async fn call_partner(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<Answer, reqwest::Error> {
    let mut res = http.execute(request).await?;
    let status = res.status();
    let headers = res.headers().clone();
    let mut body = Vec::new();
    let mut cut = false;
    while let Some(chunk) = res.chunk().await? {
        let room = MAX_ANSWER - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: body.into(),
        cut,
    })
}

/// A partner's answer to a call.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: reqwest::StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, at most [`MAX_ANSWER`] bytes of it.
    pub body: axum::body::Bytes,
    /// Whether the answer was longer and cut at [`MAX_ANSWER`] (not to be acted on).
    pub cut: bool,
}

/// Why a recorded call gave no answer to act on.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request or its answer could not be recorded.
    #[error(transparent)]
    Unrecorded(#[from] Unrecorded),
    /// The partner did not answer (connection, timeout, unreadable body).
    #[error("{0}")]
    Transport(reqwest::Error),
    /// The answer was longer than [`MAX_ANSWER`]: not read to its end, not acted on.
    #[error("an answer over 1 MiB")]
    TooLarge,
}

/// Headers as `name: value` lines, in order, without credentials (`authorization`, `cookie`,
/// `proxy-authorization`, `set-cookie`).
pub fn headers_text(headers: &HeaderMap) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        if matches!(
            name.as_str(),
            "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
        ) {
            continue;
        }
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        out.push('\n');
    }
    out
}
