//! Opening the store: SQLite's three pools (the one writer, the checkpointer, the readers) and
//! the intake's own connection (`intake_sqlite`), in WAL mode with full sync, or a PostgreSQL
//! pool after one quick first connection, so that a database that cannot be reached is
//! reported with its cause at once.

use super::intake_sqlite::IntakeConnection;
use super::{checkpoint, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long the first connection to PostgreSQL may take before the start gives up.
const FIRST_CONNECTION: Duration = Duration::from_secs(5);

/// The cause of a failed connection, as an operator needs it.
fn unreachable(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                format!("connection refused (is PostgreSQL running and listening there?): {io}")
            }
            _ => format!("cannot connect: {io}"),
        },
        sqlx::Error::Database(db) => format!("the server refused: {}", db.message()),
        sqlx::Error::Tls(t) => format!("TLS failed: {t}"),
        other => format!("cannot connect: {other}"),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH`, the file and its folder created if missing, or
    /// `postgres://…`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory");
            // No ping before each acquire (`test_before_acquire`): a connection to a local file
            // cannot drop, and on SQLite the ping is one more hand-off to the connection's
            // worker thread, which doubled the cost of every statement.
            let pool = |size: u32| {
                SqlitePoolOptions::new()
                    .max_connections(size)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
            };
            // Checkpoints are mostly the checkpointer's; the writer only finishes one when the
            // WAL has grown to `WRITER_PAGES`, so that it starts over (see `checkpoint`).
            let write = pool(1)
                .min_connections(1)
                .connect_with(
                    options
                        .clone()
                        .pragma("wal_autocheckpoint", checkpoint::WRITER_PAGES)
                        .pragma("journal_size_limit", checkpoint::WAL_KEPT_BYTES),
                )
                .await?;
            let checkpointer = pool(1)
                .min_connections(1)
                .connect_with(options.clone())
                .await?;
            let intake = IntakeConnection::open(options.get_filename())?;
            let read = pool(max_connections.max(2))
                .connect_with(options.read_only(true))
                .await?;
            Ok(Store::Sqlite {
                read,
                write,
                checkpointer: Arc::new(checkpoint::Checkpointer::start(checkpointer)),
                intake: Arc::new(intake),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            // One connection first, briefly, so that the cause reaches the operator at once
            // (refused, unknown host, bad password, no such database) instead of a pool's
            // timeout half a minute later.
            let first =
                tokio::time::timeout(FIRST_CONNECTION, sqlx::ConnectOptions::connect(&options))
                    .await;
            match first {
                Ok(Ok(conn)) => drop(sqlx::Connection::close(conn).await),
                Ok(Err(e)) => return Err(StoreError::Unreachable(unreachable(&e))),
                Err(_) => {
                    return Err(StoreError::Unreachable(format!(
                        "no answer within {} s",
                        FIRST_CONNECTION.as_secs()
                    )))
                }
            }
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}
