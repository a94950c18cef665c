//! The delivery worker: claims one message at a time under a lease, signs and sends it, and
//! records the outcome — delivered, rescheduled with growing delays and jitter, or dead.
//!
//! Order per dossier and destination is kept by the claim itself (only the first pending or
//! dead message of a dossier is claimable); different dossiers proceed in parallel, up to
//! `concurrency` at once, and each destination has its own rate limit and concurrency cap so a
//! receiver back from an outage gets a steady stream.

pub mod metrics;

use crate::audit::log::{MessageLog, SendError};
use crate::config::{Config, OutboxConfig};
use crate::portal::sync::{ONESTOP, PORTAL};
use crate::signing::{sign, WebhookSecret};
use crate::status_cache::StatusCache;
use crate::store::{AttemptOutcome, AttemptRecord, AttemptToRecord, Claimed, Store, StoreError};
use governor::{DefaultDirectRateLimiter, Quota};
use metrics::Metrics;
use rand::Rng;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

/// What one dispatch step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatched {
    /// A message was delivered.
    Delivered,
    /// A message failed and is due again later.
    Rescheduled,
    /// A message was given up on.
    Dead,
    /// The claim was taken over while sending; the outcome was not recorded.
    LeaseLost,
    /// Nothing is due.
    Idle,
}

/// A receiver of messages.
struct Destination {
    url: String,
    secret: WebhookSecret,
    limiter: DefaultDirectRateLimiter,
    slots: Semaphore,
}

/// Longest nap between polls: other instances' messages become due without waking this one.
const MAX_IDLE: Duration = Duration::from_secs(2);

/// The worker.
pub struct Worker {
    store: Store,
    config: OutboxConfig,
    destinations: HashMap<&'static str, Destination>,
    http: reqwest::Client,
    id: String,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    messages: MessageLog,
    /// Status reads kept in memory: a delivery or a dead message changes a dossier's `sync`.
    status_cache: Arc<StatusCache>,
}

/// The portal's (and the one-stop software's) idea of "done": 2xx with `error_code` "0".
fn confirmed(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error_code").cloned())
        .is_some_and(|c| c == "0" || c == 0)
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(86_400)))
}

impl Worker {
    /// A worker for the configured destinations.
    pub fn new(
        config: &Config,
        store: Store,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
        messages: MessageLog,
        status_cache: Arc<StatusCache>,
    ) -> anyhow::Result<Self> {
        let rate = config.outbox.destination_rate;
        let quota = Quota::per_second(NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN));
        let slots = config.outbox.destination_concurrency;
        let destination = |base: &str, path: &str, secret: &WebhookSecret| Destination {
            url: format!("{}{path}", base.trim_end_matches('/')),
            secret: secret.clone(),
            limiter: DefaultDirectRateLimiter::direct(quota),
            slots: Semaphore::new(slots),
        };
        let mut destinations = HashMap::new();
        destinations.insert(
            PORTAL,
            destination(
                &config.portal.base_url,
                "/dossiers/sync",
                &config.portal.outbound_secret,
            ),
        );
        if let (Some(url), Some(secret)) = (&config.onestop.base_url, &config.onestop.secret) {
            destinations.insert(ONESTOP, destination(url, "/dossiers", secret));
        }
        let http = reqwest::Client::builder()
            .timeout(config.outbox.timeout.0)
            .connect_timeout(config.outbox.timeout.0)
            .pool_max_idle_per_host(slots)
            .build()?;
        let id = format!(
            "{}-{}-{:06x}",
            hostname(),
            std::process::id(),
            rand::rng().random::<u32>() & 0xff_ffff
        );
        Ok(Self {
            store,
            config: config.outbox.clone(),
            destinations,
            http,
            id,
            wake,
            metrics,
            messages,
            status_cache,
        })
    }

    /// This worker's id, as leases and the attempt log record it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease_ms(&self) -> i64 {
        // Long enough for one attempt at its timeout (waiting for a rate-limit slot included),
        // plus the time to record it; a crashed worker's messages are sent again after this.
        i64::try_from((self.config.timeout.0 * 2 + Duration::from_secs(2)).as_millis())
            .unwrap_or(i64::MAX)
    }

    /// Claims, sends and records one message.
    pub async fn dispatch_next(&self) -> Result<Dispatched, StoreError> {
        Ok(self
            .dispatch_batch(1)
            .await?
            .pop()
            .unwrap_or(Dispatched::Idle))
    }

    /// Claims up to `limit` due messages in one statement, sends them at once (each destination's
    /// concurrency and rate limits still apply), and records every outcome in one transaction.
    /// Empty when nothing is due.
    pub async fn dispatch_batch(&self, limit: usize) -> Result<Vec<Dispatched>, StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        let limit = i64::try_from(limit.max(1)).unwrap_or(1);
        let claimed = self
            .store
            .claim_due(&self.id, now, self.lease_ms(), limit)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let attempts =
            futures_util::future::join_all(claimed.iter().map(|c| self.attempt(c))).await;
        let now = chrono::Utc::now().timestamp_millis();
        let items: Vec<AttemptToRecord<'_>> = claimed
            .iter()
            .zip(&attempts)
            .map(|(claimed, (outcome, attempt, _))| AttemptToRecord {
                claimed,
                outcome,
                attempt,
            })
            .collect();
        let recorded = self.store.record_attempts(&items, now).await?;
        let mut results = Vec::with_capacity(claimed.len());
        for ((claimed, (outcome, attempt, latency)), recorded) in
            claimed.iter().zip(&attempts).zip(recorded)
        {
            self.metrics
                .attempt(&claimed.destination, outcome.as_str(), *latency);
            if recorded && !matches!(outcome, AttemptOutcome::Retry { .. }) {
                self.status_cache.forget(claimed.dossier_id);
            }
            let result = match (recorded, outcome) {
                (false, _) => Dispatched::LeaseLost,
                (true, AttemptOutcome::Delivered) => Dispatched::Delivered,
                (true, AttemptOutcome::Retry { .. }) => Dispatched::Rescheduled,
                (true, AttemptOutcome::Dead) => Dispatched::Dead,
            };
            let error = attempt.error.as_deref().unwrap_or("-");
            match result {
                Dispatched::Dead => tracing::warn!(
                    outbox.id = claimed.id, outbox.attempt = claimed.attempts + 1, destination = %claimed.destination,
                    error, "message dead; an operator must replay or discard it"),
                Dispatched::Rescheduled => tracing::info!(
                    outbox.id = claimed.id, outbox.attempt = claimed.attempts + 1, destination = %claimed.destination,
                    error, "delivery failed; will retry"),
                Dispatched::LeaseLost => tracing::warn!(
                    outbox.id = claimed.id,
                    "lease taken over; outcome not recorded"
                ),
                _ => {
                    tracing::debug!(outbox.id = claimed.id, destination = %claimed.destination, "delivered")
                }
            }
            results.push(result);
        }
        Ok(results)
    }

    /// Sends one claimed message: its outcome, log entry and latency.
    async fn attempt(&self, claimed: &Claimed) -> (AttemptOutcome, AttemptRecord, Duration) {
        let started = chrono::Utc::now().timestamp_millis();
        let clock = Instant::now();
        let (http_status, error, verdict) = self.send(claimed).await;
        let latency = clock.elapsed();
        let now = chrono::Utc::now().timestamp_millis();
        let outcome = match verdict {
            Verdict::Delivered => AttemptOutcome::Delivered,
            Verdict::Permanent => AttemptOutcome::Dead,
            Verdict::Transient(hint) => self.reschedule(claimed, now, hint),
        };
        let record = AttemptRecord {
            worker: self.id.clone(),
            started_at: started,
            latency_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX),
            http_status,
            error,
        };
        (outcome, record, latency)
    }

    fn reschedule(&self, claimed: &Claimed, now: i64, hint: Option<Duration>) -> AttemptOutcome {
        let schedule = &self.config.retry_schedule;
        let n = usize::try_from(claimed.attempts)
            .unwrap_or(usize::MAX)
            .min(schedule.len().saturating_sub(1));
        let base = schedule.get(n).map_or(Duration::from_secs(60), |d| d.0);
        let jitter = rand::rng().random_range(0.8..1.2);
        let delay = base.mul_f64(jitter).max(hint.unwrap_or_default());
        let next = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4);
        let give_up = claimed.created_at
            + i64::try_from(self.config.give_up_after.0.as_millis()).unwrap_or(i64::MAX / 4);
        if next > give_up {
            AttemptOutcome::Dead
        } else {
            AttemptOutcome::Retry {
                next_attempt_at: next,
            }
        }
    }

    async fn send(&self, m: &Claimed) -> (Option<i64>, Option<String>, Verdict) {
        let Some(dest) = self.destinations.get(m.destination.as_str()) else {
            return (
                None,
                Some(format!("no destination {:?} is configured", m.destination)),
                Verdict::Transient(None),
            );
        };
        let Ok(_slot) = dest.slots.acquire().await else {
            return (None, Some("shutting down".into()), Verdict::Transient(None));
        };
        dest.limiter.until_ready().await;
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
        let sent = match request {
            Ok(request) => {
                self.messages
                    .send(&self.http, &m.destination, request)
                    .await
            }
            Err(e) => Err(SendError::Transport(e)),
        };
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                let what = match &e {
                    SendError::Unrecorded(_) => "not sent",
                    _ if e.is_timeout() => "timeout",
                    _ => "connection error",
                };
                return (None, Some(format!("{what}: {e}")), Verdict::Transient(None));
            }
        };
        let status = res.status;
        let hint = retry_after(&res.headers);
        let body = res.body;
        let code = Some(i64::from(status.as_u16()));
        if status.is_success() {
            if confirmed(&body) {
                (code, None, Verdict::Delivered)
            } else {
                let excerpt = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
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
                Verdict::Transient(hint),
            )
        } else {
            (
                code,
                Some(format!("HTTP {status} (permanent)")),
                Verdict::Permanent,
            )
        }
    }

    /// Runs `concurrency` dispatch loops until `shutdown`; each loop sleeps only when nothing is
    /// due, until the next due time, a wake-up, or at most two seconds. On shutdown, attempts in
    /// flight finish and are recorded before this returns.
    pub async fn run(self: Arc<Self>, concurrency: usize, shutdown: CancellationToken) {
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let worker = self.clone();
            let stop = shutdown.clone();
            loops.spawn(async move { worker.dispatch_loop(stop).await });
        }
        while loops.join_next().await.is_some() {}
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }

    async fn dispatch_loop(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            // An attempt in flight is finished and recorded, not abandoned, when shutdown comes:
            // it is bounded by `outbox.timeout`.
            match self
                .dispatch_batch(self.config.destination_concurrency)
                .await
            {
                Ok(batch) if batch.is_empty() => {
                    let nap = match self.store.next_outbox_due().await {
                        Ok(Some(due)) => {
                            let wait = due - chrono::Utc::now().timestamp_millis();
                            Duration::from_millis(u64::try_from(wait.max(0)).unwrap_or(0))
                                .min(MAX_IDLE)
                        }
                        _ => MAX_IDLE,
                    };
                    tokio::select! {
                        () = tokio::time::sleep(nap) => {}
                        () = self.wake.notified() => {}
                        () = shutdown.cancelled() => return,
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "outbox store error; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(MAX_IDLE) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Dispatches until nothing is due now (tests and tools).
    pub async fn dispatch_all_pending(&self) -> Result<Vec<Dispatched>, StoreError> {
        let mut done = Vec::new();
        loop {
            let batch = self
                .dispatch_batch(self.config.destination_concurrency)
                .await?;
            if batch.is_empty() {
                return Ok(done);
            }
            done.extend(batch);
        }
    }
}

enum Verdict {
    Delivered,
    Transient(Option<Duration>),
    Permanent,
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "motcua".into())
}
