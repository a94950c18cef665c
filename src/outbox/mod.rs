//! The delivery worker: claims due messages under a lease, many per cycle, signs and sends
//! each, and records every outcome — delivered, rescheduled with growing delays and jitter, or
//! dead.
//!
//! Order per dossier and destination is kept by the claim itself (only the first pending or
//! dead message of a dossier is claimable); different dossiers proceed in parallel, up to
//! `concurrency` at once, and each destination has its own rate limit and concurrency cap so a
//! receiver back from an outage gets a steady stream.
//!
//! Here the worker and its cycle (`store::DeliveryCycle` driven step by step); one attempt —
//! prepare, send, judge — is `attempt`; the loop of `serve` is `run`.

mod attempt;
mod run;
pub mod schedule;

use crate::audit::log::partner_client;
use crate::config::{Config, HttpUrl, OutboxConfig};
use crate::domain::time::{parse_bound, Edge};
use crate::dossiers::status_cache::StatusCache;
use crate::metrics::Metrics;
use crate::portal::sync::{ONESTOP, PORTAL};
use crate::signing::WebhookSecret;
use crate::store::{AttemptOutcome, ClaimFor, Claimed, OutboxSelector, Store, StoreError};
use attempt::{Attempt, Prepared, Ready};
use governor::{DefaultDirectRateLimiter, Quota};
use rand::Rng;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

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
    destinations: HashMap<String, Destination>,
    http: reqwest::Client,
    id: String,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    /// Status reads kept in memory: a delivery or a dead message changes a dossier's `sync`.
    status_cache: Arc<StatusCache>,
    /// What the serve loop has done so far, for whoever waits on it (tools and tests).
    progress: tokio::sync::watch::Sender<LoopProgress>,
}

/// What the serve loop ([`Worker::run`]) has done so far: watched through
/// [`Worker::progress`], so that a caller waits for an event instead of polling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopProgress {
    /// Cycles whose store transaction failed (their outcomes kept for the next).
    pub store_errors: u64,
    /// Outcomes recorded (their claims held).
    pub recorded: u64,
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
            PORTAL.to_owned(),
            destination(
                &config.portal.base_url,
                "/dossiers/sync",
                &config.portal.outbound_secret,
            ),
        );
        if let (Some(url), Some(secret)) = (&config.onestop.base_url, &config.onestop.secret) {
            destinations.insert(ONESTOP.to_owned(), destination(url, "/dossiers", secret));
        }
        // Each agency a step is forwarded to (contract section 9), signed with its own secret.
        for a in &config.agencies {
            destinations.insert(
                crate::lienthong::destination(a.code.as_str()),
                destination(&a.base_url, crate::lienthong::FORWARD_PATH, &a.secret),
            );
        }
        let http = partner_client(config.outbox.timeout.0, slots)?;
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
            progress: tokio::sync::watch::Sender::new(LoopProgress::default()),
        })
    }

    /// What the serve loop has done so far, and every change after.
    pub fn progress(&self) -> tokio::sync::watch::Receiver<LoopProgress> {
        self.progress.subscribe()
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

    /// When a failed message is tried again: the schedule's next delay (jittered), or later if
    /// the receiver asked (`hint`, its `Retry-After`) — but never past the message's window
    /// (`give_up_after` from queueing): one answer asking for a long wait does not make a
    /// message dead; only the schedule running out of the window does.
    fn reschedule(&self, claimed: &Claimed, now: i64, hint: Option<Duration>) -> AttemptOutcome {
        match schedule::next_attempt(
            &self.config.retry_schedule,
            self.config.give_up_after.0,
            claimed.attempts,
            claimed.created_at,
            now,
            hint,
        ) {
            Some(next_attempt_at) => AttemptOutcome::Retry { next_attempt_at },
            None => AttemptOutcome::Dead,
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

/// Why an operator's selection of dead messages was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// `since` is neither a day nor a moment.
    #[error("since: yyyyMMddHHmmss or yyyyMMdd (Vietnam time)")]
    Since,
    /// No condition, and not `all`.
    #[error("say which dead messages: id, destination, dossier, since, or all")]
    Unsaid,
}

/// An operator's selection of dead messages (HTTP and the command line alike): every condition
/// given applies; `all` is needed when none is, so that no empty form replays everything.
pub fn selection(
    id: Option<i64>,
    destination: Option<String>,
    dossier: Option<String>,
    since: Option<&str>,
    all: bool,
) -> Result<OutboxSelector, SelectionError> {
    let since = since
        .map(|t| parse_bound(t, Edge::Start).ok_or(SelectionError::Since))
        .transpose()?
        .map(|at| at.timestamp_millis());
    if id.is_none() && destination.is_none() && dossier.is_none() && since.is_none() && !all {
        return Err(SelectionError::Unsaid);
    }
    Ok(OutboxSelector {
        id,
        destination,
        dossier_code: dossier,
        since,
    })
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
