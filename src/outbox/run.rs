//! The delivery loop of `serve`: one loop owns the store side of delivery, each cycle
//! recording the outcomes that came back and claiming as many messages as there are free
//! places; each claimed message is sent by a task of its own.

use super::attempt::Attempt;
use super::{Worker, MAX_IDLE};
use crate::store::lane::{spawn_on, Lane};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Worker {
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
                    let held = recorded.iter().filter(|r| **r).count() as u64;
                    for (a, recorded) in done.drain(..).zip(recorded) {
                        self.finish(&a, recorded);
                    }
                    self.progress.send_modify(|p| p.recorded += held);
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
                    self.progress.send_modify(|p| p.store_errors += 1);
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
}
