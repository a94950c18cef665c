//! Where a long-lived task of the store runs: on the shared Tokio runtime, or on an OS thread
//! of its own driving a single-threaded runtime. The store's writers and the SQLite
//! checkpointer run on threads of their own, so that a writer resumes after each statement
//! without queueing behind the request handlers, and on PostgreSQL drives a connection of its
//! own (docs/ARCHITECTURE.md, "Decisions").

use std::future::Future;
use tokio::sync::oneshot;

/// Where a writer task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// On the shared Tokio runtime, beside the request handlers.
    Shared,
    /// On an OS thread of its own, driving a single-threaded runtime.
    Dedicated,
}

/// Runs `work` on `lane`: on the shared runtime, or on an OS thread named `name` that drives a
/// single-threaded runtime of its own (the shared runtime if that thread cannot be made). The
/// returned future resolves when `work` has finished, or at once if it could not start.
pub fn spawn_on<F>(lane: Lane, name: &str, work: F) -> impl Future<Output = ()> + Send + 'static
where
    F: Future<Output = ()> + Send + 'static,
{
    let (finished, done) = oneshot::channel::<()>();
    let work = async move {
        work.await;
        let _ = finished.send(());
    };
    let shared = if lane == Lane::Dedicated {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let spawned = std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || runtime.block_on(work));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, task = name, "the task's thread could not start");
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, task = name, "no runtime for a thread of its own; the task shares the main one");
                Some(work)
            }
        }
    } else {
        Some(work)
    };
    if let Some(work) = shared {
        tokio::spawn(work);
    }
    async move {
        let _ = done.await;
    }
}
