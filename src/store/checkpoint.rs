//! SQLite's WAL checkpoints, mostly off the writer's path. By default SQLite checkpoints inside
//! the commit that takes the WAL past 1,000 pages: that commit copies every page of the WAL
//! into the database file and syncs it before its callers are answered — a large share of the
//! write connection's time under intake, and the slowest batches' whole delay
//! (docs/PERFORMANCE.md).
//!
//! Here a connection of this module's, on a thread of its own, runs a `PASSIVE` checkpoint
//! every [`EVERY`]: it copies what it can without blocking the writer or readers. That alone
//! does not bound the WAL: SQLite starts the WAL file over only when a write transaction
//! begins with every frame already copied, and under a steady stream of commits the
//! checkpointer is always a few frames behind, and the WAL grows without bound. So the write connection keeps an automatic checkpoint, at [`WRITER_PAGES`] pages
//! instead of 1,000: by then the checkpointer has copied all but the last few milliseconds'
//! frames, the writer copies the rest, and its next transaction starts the WAL over. The WAL
//! stays about [`WRITER_PAGES`] pages long, and its pages stay in the OS's cache instead of
//! each commit writing into new blocks of a growing file. Durability does not change: a
//! commit is on disk when its WAL frames are synced, which the writer still does at every
//! commit.

use crate::store::lane::{spawn_on, Lane};
use sqlx::SqlitePool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the checkpointer runs.
pub const EVERY: Duration = Duration::from_millis(25);

/// The WAL's length, in pages, at which the writer copies what the checkpointer has not yet
/// copied, so that the WAL starts over (the write connection's `wal_autocheckpoint`).
pub const WRITER_PAGES: &str = "4096";

/// The size the WAL file is cut back to after a checkpoint lets it restart (the write
/// connection's `journal_size_limit`), in bytes.
pub const WAL_KEPT_BYTES: &str = "67108864";

/// The checkpointer of one store: it stops when the store is closed or its last clone dropped.
#[derive(Debug)]
pub struct Checkpointer {
    pool: SqlitePool,
    stop: CancellationToken,
}

impl Checkpointer {
    /// Starts checkpoints through `pool`, a read-write connection of its own.
    pub fn start(pool: SqlitePool) -> Self {
        let stop = CancellationToken::new();
        let (p, s) = (pool.clone(), stop.clone());
        drop(spawn_on(Lane::Dedicated, "motcua-checkpointer", run(p, s)));
        Checkpointer { pool, stop }
    }

    /// Stops it and closes its connection.
    pub async fn close(&self) {
        self.stop.cancel();
        self.pool.close().await;
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn run(pool: SqlitePool, stop: CancellationToken) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(EVERY) => {}
        }
        let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await;
        match done {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints work again");
            }
            Ok(_) => {}
            Err(_) if stop.is_cancelled() || pool.is_closed() => break,
            Err(e) => {
                // Said once per failing spell, not every EVERY.
                if !failing {
                    tracing::error!(error = %e, "a WAL checkpoint failed; until one works, the writer copies the whole WAL each time it reaches its threshold");
                }
                failing = true;
            }
        }
    }
    pool.close().await;
}

#[cfg(test)]
mod tests {
    use crate::chain::{Direction, Exchange, NewMessage};
    use crate::store::Store;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// A migrated SQLite store in a new folder, and its file.
    async fn store_in(dir: &Path) -> (Store, PathBuf) {
        let file = dir.join("gateway.db");
        let Ok(store) = Store::connect(&format!("sqlite://{}", file.display()), 2).await else {
            panic!("the store opens");
        };
        let Ok(()) = store.migrate().await else {
            panic!("migrations run");
        };
        (store, file)
    }

    /// `n` message-log records of 4 KB each, committed together.
    async fn append_records(store: &Store, n: usize) {
        let message = |n: usize| NewMessage {
            at: 0,
            direction: Direction::In,
            partner: "portal".into(),
            peer: "127.0.0.1".into(),
            reply_to: None,
            target: format!("POST /{n}"),
            headers: String::new(),
            // Incompressible: each record takes its 4 KB on disk.
            body: crate::store::log_body::noise(n as u64, 4096),
            verdict: "received".into(),
        };
        let exchanges = (0..n).map(|n| Exchange::one(message(n))).collect();
        let Ok(seqs) = store.append_exchanges(exchanges).await else {
            panic!("the records are committed");
        };
        assert_eq!(seqs.len(), n);
    }

    fn size(file: &Path) -> u64 {
        std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
    }

    #[tokio::test]
    async fn the_wal_is_copied_into_the_database_by_the_checkpointer_not_by_the_writer() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("a temporary folder");
        };
        let (store, file) = store_in(dir.path()).await;
        let Store::Sqlite { write, .. } = &store else {
            panic!("a SQLite store");
        };
        let automatic: Result<i64, _> = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(write)
            .await;
        assert_eq!(
            automatic.ok(),
            super::WRITER_PAGES.parse().ok(),
            "the writer checkpoints only a long WAL"
        );

        // 300 records of 4 KB, far fewer pages than the writer's threshold, reach the database
        // file only through the checkpointer.
        let before = size(&file);
        append_records(&store, 300).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while size(&file) < before + 300 * 4096 {
            assert!(
                Instant::now() < deadline,
                "no checkpoint within 10 s: {} bytes, {before} before",
                size(&file)
            );
            tokio::time::sleep(super::EVERY).await;
        }
        store.close().await;
    }

    #[tokio::test]
    async fn under_a_steady_stream_of_commits_the_wal_starts_over_instead_of_growing() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("a temporary folder");
        };
        let (store, file) = store_in(dir.path()).await;
        let wal = dir.path().join("gateway.db-wal");
        let Ok(threshold) = super::WRITER_PAGES.parse::<u64>() else {
            panic!("a number of pages");
        };
        // Commits back to back, about three times the threshold's bytes in all.
        let (batches, per_batch) = (60, 300);
        let mut longest = 0;
        for _ in 0..batches {
            append_records(&store, per_batch).await;
            longest = longest.max(size(&wal));
        }
        let written = u64::try_from(batches * per_batch * 4096).unwrap_or(u64::MAX);
        assert!(written > 3 * threshold * 4096, "{written} bytes written");
        // The threshold and a batch (600 pages: a record spans two), or a few batches when a
        // restart finds the checkpointer in the WAL and waits for the next commit: well under
        // twice the threshold, in frames of a page and a 24-byte header. Without the writer's
        // checkpoint the WAL grows past what was written.
        let bound = 2 * threshold * (4096 + 24);
        assert!(
            longest <= bound,
            "the WAL grew to {longest} bytes (bound {bound}) for {written} bytes written"
        );
        // What the WAL no longer holds was copied into the database file.
        assert!(
            size(&file) + longest >= written,
            "{} bytes in the database file, {longest} in the WAL at most, {written} written",
            size(&file)
        );
        store.close().await;
    }
}
