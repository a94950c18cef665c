//! The delivery worker: claims due messages under a lease, many per cycle, signs and sends
//! each, and records every outcome — delivered, rescheduled with growing delays and jitter, or
//! dead.
//!
//! Order per dossier and destination is kept by the claim itself (only the first pending or
//! dead message of a dossier is claimable); different dossiers proceed in parallel, up to
//! `concurrency` at once, and each destination has its own rate limit and concurrency cap so a
//! receiver back from an outage gets a steady stream.

use crate::audit::log::{call_partner, Answer, Outbound};
use crate::chain::NewMessage;
use crate::config::{Config, HttpUrl, OutboxConfig};
use crate::dossiers::status_cache::StatusCache;
use crate::metrics::Metrics;
use crate::portal::sync::{ONESTOP, PORTAL};
use crate::signing::{sign, WebhookSecret};
use crate::store::lane::{spawn_on, Lane};
use crate::store::{
    AttemptOutcome, AttemptRecord, Attempted, ClaimFor, Claimed, Store, StoreError,
};
use governor::{DefaultDirectRateLimiter, Quota};
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
        status_cache: Arc<StatusCache>,
    ) -> anyhow::Result<Self> {
        let rate = config.outbox.destination_rate;
        let quota = Quota::per_second(NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN));
        let slots = config.outbox.destination_concurrency;
        let destination = |base: &HttpUrl, path: &str, secret: &WebhookSecret| Destination {
            url: base.with_path(path),
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
            status_cache,
        })
    }

    /// This worker's id, as leases and the attempt log record it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(lease(&self.config).as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims up to `limit` due messages in one transaction (their requests logged in it),
    /// sends them at once (each destination's concurrency and rate limits still apply), and
    /// records every outcome in one transaction. Empty when nothing is due.
    pub async fn dispatch_batch(&self, limit: usize) -> Result<Vec<Dispatched>, StoreError> {
        let (_, claimed) = self.cycle(&self.store, &[], limit).await?;
        let attempts = futures_util::future::join_all(
            claimed
                .into_iter()
                .map(|(claimed, prepared, seq)| self.attempt(claimed, prepared, seq)),
        )
        .await;
        let (recorded, _) = self.cycle(&self.store, &attempts, 0).await?;
        Ok(attempts
            .iter()
            .zip(recorded)
            .map(|(a, recorded)| self.finish(a, recorded))
            .collect())
    }

    /// One delivery cycle (`store::DeliveryCycle`): records `done`, then claims up to `limit`
    /// due messages, each signed and its request logged in the same transaction. Returns
    /// whether each outcome was recorded, and each claimed message ready to send with its
    /// request's seq.
    async fn cycle(
        &self,
        store: &Store,
        done: &[Attempt],
        limit: usize,
    ) -> Result<(Vec<bool>, Vec<Ready>), StoreError> {
        let claim = ClaimFor {
            worker: &self.id,
            lease_ms: self.lease_ms(),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
        };
        let now = chrono::Utc::now().timestamp_millis();
        let mut cycle = store.begin_delivery_cycle().await?;
        let recorded = cycle.record(done, now).await?;
        let claimed = cycle.claim(now, claim).await?;
        let prepared: Vec<Prepared> = claimed.iter().map(|c| self.prepare(c)).collect();
        let seqs = cycle
            .commit(prepared.iter().map(Prepared::request_record).collect())
            .await?;
        let ready = claimed
            .into_iter()
            .zip(prepared)
            .zip(seqs)
            .map(|((claimed, prepared), seq)| (claimed, prepared, seq))
            .collect();
        Ok((recorded, ready))
    }

    /// The signed request for `m` (`webhook-id` = message id, the same on every retry).
    fn prepare(&self, m: &Claimed) -> Prepared {
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
    async fn attempt(&self, claimed: Claimed, prepared: Prepared, seq: Option<i64>) -> Attempt {
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

    /// Metrics, the status cache and the log line for one attempt whose outcome was
    /// (`recorded`) or was not (lease lost) recorded.
    fn finish(&self, a: &Attempt, recorded: bool) -> Dispatched {
        let Attempt {
            destination,
            dossier_id,
            attempted,
            latency,
        } = a;
        let outcome = &attempted.outcome;
        self.metrics
            .attempt(destination, outcome.as_str(), *latency);
        if recorded && !matches!(outcome, AttemptOutcome::Retry { .. }) {
            // A delivery or a dead message changes its dossier's `sync`.
            self.status_cache.forget(*dossier_id);
        }
        let result = match (recorded, outcome) {
            (false, _) => Dispatched::LeaseLost,
            (true, AttemptOutcome::Delivered) => Dispatched::Delivered,
            (true, AttemptOutcome::Retry { .. }) => Dispatched::Rescheduled,
            (true, AttemptOutcome::Dead) => Dispatched::Dead,
        };
        let error = attempted.record.error.as_deref().unwrap_or("-");
        let (id, n) = (attempted.id, attempted.attempts + 1);
        match result {
            Dispatched::Dead => tracing::warn!(
                outbox.id = id, outbox.attempt = n, destination = %destination,
                error, "message dead; an operator must replay or discard it"),
            Dispatched::Rescheduled => tracing::info!(
                outbox.id = id, outbox.attempt = n, destination = %destination,
                error, "delivery failed; will retry"),
            Dispatched::LeaseLost => {
                tracing::warn!(outbox.id = id, "lease taken over; outcome not recorded");
            }
            _ => tracing::debug!(outbox.id = id, destination = %destination, "delivered"),
        }
        result
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

    /// Delivers until `shutdown`, keeping up to `concurrency` messages claimed at once.
    ///
    /// One loop owns the store side: each cycle records every outcome that came back since the
    /// last one and claims as many due messages as there are free places, in one transaction
    /// ([`Worker::cycle`]). Each claimed message is sent by a task of its own, which hands its
    /// outcome back to the loop. A place is freed once its outcome is committed, which is also
    /// when the dossier's next message becomes claimable. Under load a cycle's commit covers
    /// the outcomes and claims of many messages; alone, a message costs two commits as before.
    /// The loop sleeps when nothing is due and nothing is in flight: until the next due time,
    /// a wake-up, or at most two seconds. On shutdown it stops claiming, and attempts in flight
    /// finish and are recorded before this returns.
    ///
    /// The loop runs on a thread of its own (`store::lane`), as the intake and log writers do:
    /// its statements' answers then wake it at once instead of queueing behind request
    /// handlers. The sends stay on the shared runtime.
    pub async fn run(self: Arc<Self>, concurrency: usize, shutdown: CancellationToken) {
        let shared = tokio::runtime::Handle::current();
        spawn_on(
            Lane::Dedicated,
            "motcua-outbox",
            self.cycles(concurrency, shutdown, shared),
        )
        .await;
    }

    async fn cycles(
        self: Arc<Self>,
        concurrency: usize,
        shutdown: CancellationToken,
        shared: tokio::runtime::Handle,
    ) {
        let concurrency = concurrency.max(1);
        // The cycles' own connection (on PostgreSQL), driven by this loop's thread.
        let own = tokio::sync::OnceCell::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Attempt>();
        let mut in_flight = 0usize;
        let mut done: Vec<Attempt> = Vec::new();
        let mut idle = false;
        let mut stopping = false;
        loop {
            while let Ok(a) = done_rx.try_recv() {
                done.push(a);
            }
            let can_claim = !stopping && !idle && in_flight < concurrency;
            if done.is_empty() && !can_claim {
                if stopping && in_flight == 0 {
                    break;
                }
                let nap = if idle && !stopping {
                    self.nap().await
                } else {
                    MAX_IDLE
                };
                tokio::select! {
                    Some(a) = done_rx.recv(), if in_flight > 0 => done.push(a),
                    () = self.wake.notified(), if !stopping => idle = false,
                    () = tokio::time::sleep(nap), if idle && !stopping => idle = false,
                    () = shutdown.cancelled(), if !stopping => stopping = true,
                }
                continue;
            }
            let limit = if stopping {
                0
            } else {
                concurrency - in_flight + done.len()
            };
            let store = self.store.own_writer(&own).await;
            match self.cycle(&store, &done, limit).await {
                Ok((recorded, claimed)) => {
                    in_flight -= done.len();
                    for (a, recorded) in done.drain(..).zip(recorded) {
                        self.finish(&a, recorded);
                    }
                    idle = claimed.len() < limit;
                    in_flight += claimed.len();
                    for (claimed, prepared, seq) in claimed {
                        let worker = self.clone();
                        let done_tx = done_tx.clone();
                        shared.spawn(async move {
                            let attempt = worker.attempt(claimed, prepared, seq).await;
                            // The loop holds a receiver until every attempt has come back.
                            let _ = done_tx.send(attempt);
                        });
                    }
                }
                Err(e) if stopping => {
                    tracing::error!(error = %e, outcomes = done.len(), "outbox outcomes not recorded at shutdown; the messages are sent again when their leases run out");
                    in_flight -= done.len();
                    done.clear();
                }
                Err(e) => {
                    // The outcomes are kept and recorded by the next cycle: their claims
                    // still hold unless this lasts longer than a lease.
                    tracing::error!(error = %e, outcomes = done.len(), "outbox store error; pausing");
                    self.metrics.store_error();
                    tokio::select! {
                        () = tokio::time::sleep(MAX_IDLE) => {}
                        () = shutdown.cancelled(), if !stopping => stopping = true,
                    }
                }
            }
        }
        tracing::info!(worker = %self.id, "outbox worker stopped");
    }

    /// How long to sleep when nothing is due: until the next due time, at most two seconds.
    async fn nap(&self) -> Duration {
        match self.store.next_outbox_due().await {
            Ok(Some(due)) => {
                let wait = due - chrono::Utc::now().timestamp_millis();
                Duration::from_millis(u64::try_from(wait.max(0)).unwrap_or(0)).min(MAX_IDLE)
            }
            _ => MAX_IDLE,
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

/// A claimed message, made ready to send, with its request's seq in the message log.
type Ready = (Claimed, Prepared, Option<i64>);

/// A claimed message made ready to send.
enum Prepared {
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
    fn request_record(&self) -> Option<NewMessage> {
        match self {
            Prepared::Ready { call, .. } => Some(call.request.clone()),
            Prepared::Unsendable(_) => None,
        }
    }
}

/// One attempt made: what to record, and what metrics and logs need.
struct Attempt {
    destination: String,
    dossier_id: i64,
    attempted: Attempted,
    latency: Duration,
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
            Verdict::Transient(retry_after(&res.headers)),
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

/// How long a claim holds. A claimed message may wait for its destination's slot behind the
/// others the worker holds (`concurrency` of them, `destination_concurrency` sent at once, each
/// up to `timeout`) and for its rate limit; the lease covers that wait, one attempt, and the
/// time to record it. A crashed worker's messages are sent again after it.
fn lease(config: &OutboxConfig) -> Duration {
    let rounds = config
        .concurrency
        .div_ceil(config.destination_concurrency.max(1));
    let rounds = u32::try_from(rounds).unwrap_or(u32::MAX).saturating_add(1);
    let rate = f64::from(config.destination_rate.per_second.max(1));
    let rate_wait = Duration::from_secs_f64(config.concurrency as f64 / rate);
    config.timeout.0.saturating_mul(rounds) + rate_wait + Duration::from_secs(2)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "motcua".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_covers_the_wait_behind_every_claimed_message_and_one_attempt() {
        let config = Config::load(None).map_or_else(|e| panic!("{e}"), |c| c.outbox);
        // The shipped settings: 64 held, 8 sent at once, 10 s each, 50 a second.
        assert_eq!(lease(&config), Duration::from_millis(93_280));
        let one_round = OutboxConfig {
            concurrency: 8,
            destination_rate: crate::config::Rate {
                per_second: 1_000,
                burst: 1_000,
            },
            ..config
        };
        assert_eq!(lease(&one_round), Duration::from_millis(22_008));
    }
}
