//! One attempt at one claimed message: the signed request made ready (`webhook-id` = the
//! message id, the same on every retry), sent within its destination's slots and rate, and
//! the receiver's answer judged — delivered, transient (with the receiver's `Retry-After`),
//! or permanent.

use super::Worker;
use crate::audit::log::{call_partner, Answer, Outbound};
use crate::chain::NewMessage;
use crate::signing::sign;
use crate::store::{AttemptOutcome, AttemptRecord, Attempted, Claimed};
use std::time::{Duration, Instant};

/// A claimed message, made ready to send, with its request's seq in the message log.
pub(super) type Ready = (Claimed, Prepared, Option<i64>);

/// A claimed message made ready to send.
pub(super) enum Prepared {
    /// Signed, with its message-log record.
    Ready {
        request: Box<reqwest::Request>,
        call: Outbound,
    },
    /// Cannot be sent (no such destination configured, or the request could not be built).
    Unsendable(String),
}

impl Prepared {
    /// The message-log record of the request, if one will be sent.
    pub(super) fn request_record(&self) -> Option<NewMessage> {
        match self {
            Prepared::Ready { call, .. } => Some(call.request.clone()),
            Prepared::Unsendable(_) => None,
        }
    }
}

/// One attempt made: what to record, and what metrics and logs need.
pub(super) struct Attempt {
    pub(super) destination: String,
    pub(super) dossier_id: i64,
    pub(super) attempted: Attempted,
    pub(super) latency: Duration,
}

impl std::borrow::Borrow<Attempted> for Attempt {
    fn borrow(&self) -> &Attempted {
        &self.attempted
    }
}

/// The receiver's answer judged: its status, what went wrong, and what follows.
fn judge(answer: &Result<Answer, reqwest::Error>) -> (Option<i64>, Option<String>, Verdict) {
    let res = match answer {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "timeout"
            } else {
                "connection error"
            };
            return (None, Some(format!("{what}: {e}")), Verdict::Transient(None));
        }
    };
    let status = res.status;
    let code = Some(i64::from(status.as_u16()));
    if res.cut {
        // Not read to its end: not believed, whatever its first megabyte says.
        return (
            code,
            Some("answer over 1 MiB, not read".into()),
            Verdict::Transient(None),
        );
    }
    if status.is_success() {
        if confirmed(&res.body) {
            (code, None, Verdict::Delivered)
        } else {
            let excerpt =
                String::from_utf8_lossy(&res.body[..res.body.len().min(200)]).into_owned();
            (
                code,
                Some(format!("2xx without error_code \"0\": {excerpt}")),
                Verdict::Transient(None),
            )
        }
    } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        (
            code,
            Some(format!("HTTP {status}")),
            Verdict::Transient(retry_after(&res.headers, chrono::Utc::now())),
        )
    } else {
        (
            code,
            Some(format!("HTTP {status} (permanent)")),
            Verdict::Permanent,
        )
    }
}

enum Verdict {
    Delivered,
    Transient(Option<Duration>),
    Permanent,
}

/// The portal's (and the one-stop software's) idea of "done": 2xx with `error_code` "0".
fn confirmed(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error_code").cloned())
        .is_some_and(|c| c == "0" || c == 0)
}

/// The receiver's `Retry-After`: a number of seconds, or an HTTP date (IMF-fixdate, read as
/// RFC 2822) from which the wait is counted; a date already past asks for no wait. How much of
/// it is honoured is `Worker::reschedule`'s decision.
pub(super) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

impl Worker {
    /// The signed request for `m` (`webhook-id` = message id, the same on every retry).
    pub(super) fn prepare(&self, m: &Claimed) -> Prepared {
        let Some(dest) = self.destinations.get(m.destination.as_str()) else {
            return Prepared::Unsendable(format!(
                "no destination {:?} is configured",
                m.destination
            ));
        };
        let id = m.id.to_string();
        let ts = chrono::Utc::now().timestamp();
        let signature = sign(&dest.secret, &id, ts, m.payload.as_bytes());
        let request = self
            .http
            .post(&dest.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(m.payload.clone())
            .build();
        match request {
            Ok(request) => Prepared::Ready {
                call: Outbound::of(&m.destination, &request),
                request: Box::new(request),
            },
            Err(e) => Prepared::Unsendable(format!("not sent: {e}")),
        }
    }

    /// Sends one claimed message (its request recorded as `seq`) and judges the answer.
    pub(super) async fn attempt(
        &self,
        claimed: Claimed,
        prepared: Prepared,
        seq: Option<i64>,
    ) -> Attempt {
        let started = chrono::Utc::now().timestamp_millis();
        let clock = Instant::now();
        let (http_status, error, verdict, answer) = match (prepared, seq) {
            (Prepared::Ready { request, call }, Some(seq)) => {
                self.send(&claimed.destination, *request, &call, seq).await
            }
            // Not reached: a request made ready is logged with its claim.
            (Prepared::Ready { .. }, None) => (
                None,
                Some("not sent: the request was not recorded".into()),
                Verdict::Transient(None),
                None,
            ),
            (Prepared::Unsendable(why), _) => (None, Some(why), Verdict::Transient(None), None),
        };
        let latency = clock.elapsed();
        let now = chrono::Utc::now().timestamp_millis();
        let outcome = match verdict {
            Verdict::Delivered => AttemptOutcome::Delivered,
            Verdict::Permanent => AttemptOutcome::Dead,
            Verdict::Transient(hint) => self.reschedule(&claimed, now, hint),
        };
        let record = AttemptRecord {
            worker: self.id.clone(),
            started_at: started,
            latency_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX),
            http_status,
            error,
        };
        let mut attempted = Attempted::of(&claimed, outcome, record);
        attempted.answer = answer;
        Attempt {
            dossier_id: claimed.dossier_id,
            destination: claimed.destination,
            attempted,
            latency,
        }
    }

    /// Sends `request` (recorded as `seq`) within its destination's slots and rate, and judges
    /// the answer: status, error, verdict, and the answer's message-log record.
    async fn send(
        &self,
        destination: &str,
        request: reqwest::Request,
        call: &Outbound,
        seq: i64,
    ) -> (Option<i64>, Option<String>, Verdict, Option<NewMessage>) {
        let Some(dest) = self.destinations.get(destination) else {
            // Not reached: `prepare` found it, and the map does not change.
            return (
                None,
                Some("destination gone".into()),
                Verdict::Transient(None),
                None,
            );
        };
        let Ok(_slot) = dest.slots.acquire().await else {
            return (
                None,
                Some("shutting down".into()),
                Verdict::Transient(None),
                None,
            );
        };
        dest.limiter.until_ready().await;
        let answer = call_partner(&self.http, request).await;
        let (status, error, verdict) = judge(&answer);
        (
            status,
            error,
            verdict,
            Some(call.answer_record(seq, &answer)),
        )
    }
}
