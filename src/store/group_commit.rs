//! Group commit: callers hand items to one writer task and wait; the writer takes every item
//! waiting (up to a batch size), commits them together, and answers each caller only after the
//! commit. Alone, a caller waits for its own commit; under load, many callers share one — the
//! durable-write cost (a transaction, an fsync, the driver's per-statement hand-off) is paid per
//! batch instead of per request.
//!
//! Each writer counts the size of every batch it commits ([`GroupCommit::batch_sizes`], served
//! at `/metrics` for the intake and lifecycle writers): how many callers a commit is shared by
//! is what the durable-write cost per request comes down to (docs/PERFORMANCE.md).
//!
//! Where the writer runs is [`Lane`]'s job (`lane.rs`): the store's writers run on threads of
//! their own (`Store::start_writer`).

use super::lane::{spawn_on, Lane};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::future::Future;
use tokio::sync::{mpsc, oneshot};

/// A writer task and the queue in front of it; cheap to clone. The task ends when the last
/// clone is dropped.
pub struct GroupCommit<T, R> {
    queue: mpsc::Sender<(T, oneshot::Sender<R>)>,
    sizes: Histogram,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
            sizes: self.sizes.clone(),
        }
    }
}

/// Buckets for batch sizes: 1, 2, 4, … 128.
fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 8))
}

impl<T, R> std::fmt::Debug for GroupCommit<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// The writer stopped (the process is shutting down): nothing was committed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the writer has stopped")]
pub struct Stopped;

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer named `name` (from inside a Tokio runtime) on `lane`. `commit` gets
    /// each batch in arrival order and must return one answer per item, in the same order.
    pub fn start<F, Fut>(name: &str, lane: Lane, max_batch: usize, mut commit: F) -> Self
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let max_batch = max_batch.max(1);
        let (queue, mut rx) = mpsc::channel::<(T, oneshot::Sender<R>)>(4 * max_batch);
        let sizes = batch_histogram();
        let observed = sizes.clone();
        let work = async move {
            let mut batch = Vec::with_capacity(max_batch);
            while rx.recv_many(&mut batch, max_batch).await > 0 {
                let (items, waiters): (Vec<T>, Vec<oneshot::Sender<R>>) = batch.drain(..).unzip();
                observed.observe(items.len() as f64);
                let answers = commit(items).await;
                debug_assert_eq!(answers.len(), waiters.len());
                for (waiter, answer) in waiters.into_iter().zip(answers) {
                    // A caller that gave up (its request timed out) is not an error here.
                    let _ = waiter.send(answer);
                }
            }
        };
        // The work holds the queue's receiver: if it cannot start, every caller is told the
        // writer stopped.
        drop(spawn_on(lane, name, work));
        GroupCommit { queue, sizes }
    }

    /// The sizes of the batches committed so far (a handle on the writer's own histogram).
    pub fn batch_sizes(&self) -> Histogram {
        self.sizes.clone()
    }

    /// Hands `item` to the writer; its answer once the batch holding it is committed.
    pub async fn submit(&self, item: T) -> Result<R, Stopped> {
        let (done, answer) = oneshot::channel();
        self.queue.send((item, done)).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn every_caller_gets_its_own_answer_and_waiting_callers_share_a_batch() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (seen, took) = (batches.clone(), taken.clone());
        let (release, gate) = tokio::sync::watch::channel(false);
        let writer = GroupCommit::start("test-writer", Lane::Shared, 64, move |items: Vec<u32>| {
            let (seen, mut gate) = (seen.clone(), gate.clone());
            took.fetch_add(items.len(), std::sync::atomic::Ordering::SeqCst);
            async move {
                // The first batch waits until every caller has queued behind it.
                let _ = gate.wait_for(|open| *open).await;
                seen.lock().map(|mut b| b.push(items.len())).ok();
                items.into_iter().map(|i| i * 10).collect::<Vec<_>>()
            }
        });
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..20u32 {
            let w = writer.clone();
            calls.spawn(async move { (i, w.submit(i).await) });
        }
        // Every call is either in the first batch (held at the gate) or queued behind it.
        let queued = |w: &GroupCommit<u32, u32>| 4 * 64 - w.queue.capacity();
        while taken.load(std::sync::atomic::Ordering::SeqCst) + queued(&writer) < 20 {
            tokio::task::yield_now().await;
        }
        release.send(true).ok();
        while let Some(Ok((i, answer))) = calls.join_next().await {
            assert_eq!(answer.ok(), Some(i * 10));
        }
        let sizes = batches.lock().map(|b| b.clone()).unwrap_or_default();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(
            sizes.len() <= 2,
            "callers waiting together were batched: {sizes:?}"
        );
        // The histogram saw each batch once, at its size.
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("sizes", "", writer.batch_sizes());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).ok();
        assert!(text.contains("\nsizes_sum 20.0\n"), "{text}");
        assert!(
            text.contains(&format!("\nsizes_count {}\n", sizes.len())),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dedicated_writer_runs_on_its_own_named_thread_and_answers_every_caller() {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = threads.clone();
        let writer = GroupCommit::start(
            "test-dedicated",
            Lane::Dedicated,
            8,
            move |items: Vec<u32>| {
                let name = std::thread::current().name().map(str::to_owned);
                seen.lock().map(|mut t| t.push(name)).ok();
                async move {
                    tokio::task::yield_now().await;
                    items.into_iter().map(|i| i + 1).collect::<Vec<_>>()
                }
            },
        );
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..50u32 {
            let w = writer.clone();
            calls.spawn(async move { (i, w.submit(i).await) });
        }
        let mut answered = 0;
        while let Some(Ok((i, answer))) = calls.join_next().await {
            assert_eq!(answer.ok(), Some(i + 1));
            answered += 1;
        }
        assert_eq!(answered, 50);
        let names = threads.lock().map(|t| t.clone()).unwrap_or_default();
        assert!(!names.is_empty());
        assert!(
            names.iter().all(|n| n.as_deref() == Some("test-dedicated")),
            "{names:?}"
        );
    }
}
