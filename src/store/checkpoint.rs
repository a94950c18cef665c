//! SQLite's WAL checkpoints, off the writer's path. By default SQLite checkpoints inside the
//! commit that takes the WAL past 1,000 pages: that commit copies the pages into the database
//! file and syncs it before its callers are answered — a sixth of the write connection's time
//! under intake, and the slowest batches' whole delay (docs/PERFORMANCE.md). The write
//! connection has automatic checkpoints off instead (`wal_autocheckpoint = 0`), and a
//! connection of this module's, on a thread of its own, runs a `PASSIVE` checkpoint every
//! [`EVERY`]: it copies what it can without blocking the writer or readers, so the WAL stays
//! a few batches long. Durability does not change: a commit is on disk when its WAL frames
//! are synced, which the writer still does at every commit.

use crate::group_commit::{spawn_on, Lane};
use sqlx::SqlitePool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the checkpointer runs.
pub const EVERY: Duration = Duration::from_millis(25);

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
                    tracing::error!(error = %e, "a WAL checkpoint failed; the WAL grows until one works");
                }
                failing = true;
            }
        }
    }
    pool.close().await;
}

#[cfg(test)]
mod tests {
    use crate::audit::{Direction, Exchange, NewMessage};
    use crate::store::Store;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn the_wal_is_copied_into_the_database_by_the_checkpointer_not_by_the_writer() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("a temporary folder");
        };
        let file = dir.path().join("gateway.db");
        let Ok(store) = Store::connect(&format!("sqlite://{}", file.display()), 2).await else {
            panic!("the store opens");
        };
        let Ok(()) = store.migrate().await else {
            panic!("migrations run");
        };
        let Store::Sqlite { write, .. } = &store else {
            panic!("a SQLite store");
        };
        let automatic: Result<i64, _> = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(write)
            .await;
        assert_eq!(automatic.ok(), Some(0), "the writer never checkpoints");

        let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let before = size();
        let message = |n: usize| NewMessage {
            at: 0,
            direction: Direction::In,
            partner: "portal".into(),
            peer: "127.0.0.1".into(),
            reply_to: None,
            target: format!("POST /{n}"),
            headers: String::new(),
            body: vec![b'x'; 4096],
            verdict: "received".into(),
        };
        let exchanges = (0..300).map(|n| Exchange::one(message(n))).collect();
        let Ok(seqs) = store.append_exchanges(exchanges).await else {
            panic!("the records are committed");
        };
        assert_eq!(seqs.len(), 300);

        // 300 records of 4 KB reach the database file only through a checkpoint.
        let deadline = Instant::now() + Duration::from_secs(10);
        while size() < before + 300 * 4096 {
            assert!(
                Instant::now() < deadline,
                "no checkpoint within 10 s: {} bytes, {before} before",
                size()
            );
            tokio::time::sleep(super::EVERY).await;
        }
        store.close().await;
    }
}
