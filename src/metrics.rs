//! The gateway's one Prometheus registry, served at `/metrics`: the outbox's delivery attempts,
//! latency and failed store cycles, requests refused by rate limits, the intake and lifecycle
//! writers' batch sizes, and the queue's depth and oldest pending message read from the store —
//! at most once a [`QUEUE_READ_EVERY`], however often `/metrics` is scraped, so that a flood of
//! scrapes costs the database nothing more.

use crate::store::Store;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;
use tokio::time::Instant;

/// The queue's figures are read from the store at most this often; scrapes between show the
/// last reading.
pub const QUEUE_READ_EVERY: Duration = Duration::from_secs(1);

/// Days from `today` to the end of `last_year` (the calendar's last file): negative once it is
/// past, and as if it ended the day before the epoch when there is no file at all.
pub fn calendar_days_left(last_year: i32, today: chrono::NaiveDate) -> i64 {
    let end = chrono::NaiveDate::from_ymd_opt(last_year, 12, 31).unwrap_or_default();
    (end - today).num_days()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    destination: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabels {
    caller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    attempts: Family<AttemptLabels, Counter>,
    deliveries: Family<DestinationLabels, Counter>,
    dead: Family<DestinationLabels, Counter>,
    latency: Family<DestinationLabels, Histogram, fn() -> Histogram>,
    queue: Family<StateLabels, Gauge>,
    oldest_pending: Gauge,
    rate_limited: Family<CallerLabels, Counter>,
    store_errors: Counter,
    queue_reads: Counter,
    documents: Family<StateLabels, Gauge>,
    calendar_days_left: Gauge,
    /// The last year the working calendar has a file for (0: none).
    calendar_last_year: std::sync::atomic::AtomicI32,
    /// When the queue was last read; held while it is read, so that scrapes at once read once.
    queue_read_at: tokio::sync::Mutex<Option<Instant>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("motcua");
        let attempts = Family::<AttemptLabels, Counter>::default();
        let deliveries = Family::<DestinationLabels, Counter>::default();
        let dead = Family::<DestinationLabels, Counter>::default();
        let latency =
            Family::<DestinationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let queue = Family::<StateLabels, Gauge>::default();
        let oldest_pending = Gauge::default();
        let rate_limited = Family::<CallerLabels, Counter>::default();
        let store_errors = Counter::default();
        let queue_reads = Counter::default();
        let calendar_days_left = Gauge::default();
        let documents = Family::<StateLabels, Gauge>::default();
        registry.register(
            "documents",
            "The dossiers' documents by state (pending, stored, hash_mismatch, too_large, host_not_allowed, failed), read with the outbox's queue",
            documents.clone(),
        );
        registry.register(
            "calendar_days_left",
            "Days from today to the end of the last year the working calendar has a file for (negative: due dates are being refused)",
            calendar_days_left.clone(),
        );
        registry.register(
            "outbox_queue_reads",
            "Times the outbox was counted for the queue gauges (at most once a second)",
            queue_reads.clone(),
        );
        registry.register(
            "outbox_store_errors",
            "Delivery cycles whose store transaction failed (outcomes kept for the next one)",
            store_errors.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit, by kind of caller",
            rate_limited.clone(),
        );
        registry.register(
            "outbox_attempts",
            "Delivery attempts by destination and outcome",
            attempts.clone(),
        );
        registry.register(
            "outbox_deliveries",
            "Messages delivered",
            deliveries.clone(),
        );
        registry.register("outbox_dead_letters", "Messages given up on", dead.clone());
        registry.register(
            "outbox_delivery_seconds",
            "Latency of one delivery attempt",
            latency.clone(),
        );
        registry.register(
            "outbox_messages",
            "Messages in the outbox by state",
            queue.clone(),
        );
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet delivered",
            oldest_pending.clone(),
        );
        Self {
            registry,
            attempts,
            deliveries,
            dead,
            latency,
            queue,
            oldest_pending,
            rate_limited,
            store_errors,
            queue_reads,
            documents,
            calendar_days_left,
            calendar_last_year: std::sync::atomic::AtomicI32::new(0),
            queue_read_at: tokio::sync::Mutex::new(None),
        }
    }

    /// Serves the batch sizes of the intake and lifecycle writers (group commit): how many
    /// dossiers, and how many changes, each of their transactions held.
    pub fn watch_writers(&mut self, intake: Histogram, lifecycle: Histogram) {
        self.registry.register(
            "intake_batch_size",
            "New dossiers and repeated pushes stored per intake transaction (group commit)",
            intake,
        );
        self.registry.register(
            "lifecycle_batch_size",
            "Dossier changes applied per lifecycle transaction (group commit)",
            lifecycle,
        );
    }

    /// Counts a delivery cycle whose store transaction failed.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// Counts one attempt.
    pub fn attempt(&self, destination: &str, outcome: &str, latency: Duration) {
        self.attempts
            .get_or_create(&AttemptLabels {
                destination: destination.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        let d = DestinationLabels {
            destination: destination.to_owned(),
        };
        self.latency
            .get_or_create(&d)
            .observe(latency.as_secs_f64());
        match outcome {
            "delivered" => {
                self.deliveries.get_or_create(&d).inc();
            }
            "dead" => {
                self.dead.get_or_create(&d).inc();
            }
            _ => {}
        }
    }

    /// Counts a request refused by a rate limit (`portal`, `payment`, `api`, `address`).
    pub fn rate_limited(&self, caller: &str) {
        self.rate_limited
            .get_or_create(&CallerLabels {
                caller: caller.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition, with the queue's figures read now if the last reading
    /// is older than [`QUEUE_READ_EVERY`].
    pub async fn render(&self, store: &Store) -> String {
        {
            let mut read_at = self.queue_read_at.lock().await;
            if read_at.is_none_or(|t| t.elapsed() >= QUEUE_READ_EVERY) {
                self.read_queue(store).await;
                *read_at = Some(Instant::now());
            }
        }
        let last = self
            .calendar_last_year
            .load(std::sync::atomic::Ordering::Relaxed);
        self.calendar_days_left.set(calendar_days_left(
            last,
            crate::domain::time::vn_date(chrono::Utc::now()),
        ));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics could not be encoded");
        }
        out
    }

    /// Records the last year the working calendar has a file for.
    pub fn set_calendar_last_year(&self, year: Option<i32>) {
        self.calendar_last_year
            .store(year.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the queue gauges from the store.
    async fn read_queue(&self, store: &Store) {
        self.queue_reads.inc();
        if let Ok(stats) = store.queue_stats().await {
            for state in ["pending", "delivered", "dead", "discarded"] {
                let n = stats
                    .by_state
                    .iter()
                    .find(|(s, _)| s == state)
                    .map_or(0, |(_, n)| *n);
                self.queue
                    .get_or_create(&StateLabels {
                        state: state.to_owned(),
                    })
                    .set(n);
            }
            let age = stats.oldest_pending.map_or(0, |t| {
                (chrono::Utc::now().timestamp_millis() - t).max(0) / 1000
            });
            self.oldest_pending.set(age);
        }
        if let Ok(counts) = store.document_counts().await {
            for state in crate::domain::dossier::DOCUMENT_STATES {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == state)
                    .map_or(0, |(_, n)| *n);
                self.documents
                    .get_or_create(&StateLabels {
                        state: (*state).to_owned(),
                    })
                    .set(n);
            }
        }
    }
}
