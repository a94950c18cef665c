//! What a statement's trip to sqlx's SQLite thread costs, apart from the statement: the same
//! transaction — `BEGIN IMMEDIATE`, twelve one-row updates, `COMMIT` — run three ways on a
//! WAL file, each a thousand times, three rounds: through a pool of one connection (as the
//! store's writers take the write connection: acquired, and pinged when given back), on a
//! connection held throughout, each statement awaited in turn (one trip to the connection's
//! thread each), and as one script sent in one trip. Prints µs a transaction.
//!
//! `cargo run --release --example sqlite_handoff` (`SYNC=off` for no fsync at the commit).
//! Issue 23's fifth slice in docs/PERFORMANCE.md quotes it.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Executor};
use std::time::Instant;

/// Statements between `BEGIN IMMEDIATE` and `COMMIT`.
const STATEMENTS: usize = 12;
/// Transactions a round, each way.
const TRANSACTIONS: u32 = 1000;

/// The update the transaction repeats.
const UPDATE: &str = "UPDATE t SET v = v + 1 WHERE k = 1";

/// The transaction's updates, each sent and awaited on its own, then its commit.
async fn one_by_one(mut tx: sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<(), sqlx::Error> {
    for _ in 0..STATEMENTS {
        sqlx::query(UPDATE).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// µs a transaction since `t`.
fn micros_each(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / f64::from(TRANSACTIONS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("handoff-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sync = if std::env::var("SYNC").as_deref() == Ok("off") {
        SqliteSynchronous::Off
    } else {
        SqliteSynchronous::Full
    };
    let opts = SqliteConnectOptions::new()
        .filename(dir.join("h.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sync);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(opts.clone())
        .await?;
    pool.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
        .await?;
    pool.execute("INSERT INTO t VALUES (1, 0)").await?;
    let mut held = sqlx::SqliteConnection::connect_with(&opts).await?;
    let script = format!(
        "BEGIN IMMEDIATE; {} COMMIT;",
        format!("{UPDATE}; ").repeat(STATEMENTS)
    );
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..TRANSACTIONS {
            one_by_one(pool.begin_with("BEGIN IMMEDIATE").await?).await?;
        }
        let a = micros_each(t);
        let t = Instant::now();
        for _ in 0..TRANSACTIONS {
            one_by_one(held.begin_with("BEGIN IMMEDIATE").await?).await?;
        }
        let c = micros_each(t);
        let t = Instant::now();
        for _ in 0..TRANSACTIONS {
            let mut conn = pool.acquire().await?;
            sqlx::raw_sql(&script).execute(&mut *conn).await?;
        }
        let b = micros_each(t);
        println!("round {round}: pool, a statement each {a:.0} µs; held connection {c:.0} µs; one script {b:.0} µs (BEGIN IMMEDIATE, {STATEMENTS} updates, COMMIT)");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
