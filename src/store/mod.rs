//! Every SQL statement of the gateway, behind one [`Store`] over SQLite and PostgreSQL.
//!
//! Statements are written once, with `$N` placeholders that both drivers accept, and run on
//! whichever pool the store holds (the [`with_pool!`] macro expands a body once per backend).
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction is on disk
//! before the caller answers; its writes go through one connection, which queues writers in
//! the process instead of making them spin on the file lock.
//!
//! The store is handed plain data and never calls into the services above it: intake hands it
//! items whose code-naming texts are templates (`intake`, written by `intake_batch`), the
//! delivery worker drives a cycle's transaction step by step (`delivery_cycle`). The writers
//! run on threads of their own (`lane`) and commit many callers' writes together
//! (`group_commit`). Unique-key violations are classified here, once
//! ([`StoreError::Duplicate`]).

mod bulk;
mod checkpoint;
mod connect;
mod delivery_cycle;
mod documents;
mod dossier_rows;
mod dossiers;
pub mod group_commit;
mod indicators;
mod intake;
mod intake_batch;
mod intake_decide;
mod intake_pg;
mod intake_plan;
mod intake_sqlite;
pub mod lane;
mod lifecycle;
mod listing;
pub mod log_body;
mod message_log;
mod names;
mod notify;
mod outbox;
mod outbox_ops;
mod payments;
mod rule_versions;
mod steps;

pub use delivery_cycle::DeliveryCycle;
pub use documents::{DocumentFile, DocumentOutcome, DueDocument};
pub use dossier_rows::{DocumentRow, DossierFilter, DossierSummary, OutboxSummary, StoredDossier};
pub use intake::{ArrivalRows, InsertOutcome, IntakeItem, IntakeReplies};
pub use lifecycle::{ApplyOutcome, Change, DossierUpdate, IdempotencyKey, StoredAnswer};
pub use listing::{OverdueFirst, Part, GATHERED, RUNNING};
pub use notify::Listener;
pub(crate) use outbox::{insert_outbox, payloads_apart};
pub use outbox::{AttemptOutcome, AttemptRecord, Attempted, ClaimFor, Claimed, NewOutboxMessage};
pub use outbox_ops::{AttemptItem, OutboxItem, OutboxSelector, QueueStats};
pub use payments::{NewPayment, PaymentEvent, PaymentMessage, PaymentOp, PaymentRow};
pub use rule_versions::RuleVersion;
pub use steps::{OpenStep, ResultDocument, StepCounts, StepOp, StepRow, OPEN_STATES};

use sqlx::{PgPool, SqlitePool};
use std::sync::Arc;
use std::time::Duration;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// A unique key already holds the value written: another request (or gateway) wrote the
    /// same thing first. Classified here, at the store's edge, so services match this variant
    /// instead of reading the driver's errors.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error("database.url must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    /// The database server could not be reached or refused us, with the cause.
    #[error("{0}")]
    Unreachable(String),
    /// A stored value does not decode (a bug or a hand-edited row).
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    /// A value could not be encoded for storage.
    #[error("a value could not be encoded: {0}")]
    Encode(String),
    /// The writer has stopped (the process is shutting down): nothing was committed.
    #[error("the store's writer has stopped")]
    Stopped,
    /// SQLite said no to the intake's own connection (`intake_sqlite`).
    #[error("database: {0}")]
    Embedded(rusqlite::Error),
}

impl StoreError {
    /// Whether the database gave this transaction up because of another one running at the same
    /// time — PostgreSQL's deadlock (`40P01`) or serialization failure (`40001`): nothing of it
    /// was written, and the same work read afresh and done again can succeed.
    pub fn is_conflict(&self) -> bool {
        self.database_code()
            .is_some_and(|code| code == "40P01" || code == "40001")
    }

    /// The database's own error code (SQLSTATE on PostgreSQL), where the database gave one.
    pub fn database_code(&self) -> Option<String> {
        match self {
            StoreError::Database(e) => e
                .as_database_error()
                .and_then(|d| d.code())
                .map(|code| code.into_owned()),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => {
                StoreError::Duplicate(db.constraint().unwrap_or(db.message()).to_owned())
            }
            _ => StoreError::Database(err),
        }
    }
}

impl From<group_commit::Stopped> for StoreError {
    fn from(_: group_commit::Stopped) -> Self {
        StoreError::Stopped
    }
}

/// The gateway's database.
#[derive(Clone, Debug)]
pub enum Store {
    /// The embedded default: reads on a pool, writes on a single connection.
    Sqlite {
        /// Readers.
        read: SqlitePool,
        /// The one writer.
        write: SqlitePool,
        /// Its WAL checkpoints, on a connection of their own.
        checkpointer: Arc<checkpoint::Checkpointer>,
        /// The intake's batches, on a connection of their own, written while the writer's is
        /// held (`intake_sqlite`).
        intake: Arc<intake_sqlite::IntakeConnection>,
    },
    /// PostgreSQL, for several instances sharing the load.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's write pool (or read pool with `read`).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { write: $pool, .. } => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
    (read $store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { read: $pool, .. } => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Starting a write transaction on either backend.
pub(crate) trait BeginWrite {
    /// The backend.
    type Db: sqlx::Database;
    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: it takes the
    /// file's write lock at once, waiting for it under `busy_timeout`. A deferred transaction
    /// that reads first and writes later fails at once with "database is locked" when another
    /// process (a second gateway on the same file) committed in between, whatever the timeout.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// A write transaction held open across a caller's steps (the delivery cycle), on either
/// backend; dropped without [`WriteTx::commit`], it rolls back.
pub(crate) enum WriteTx {
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Expands `$body` once per backend with `$tx` bound to the open transaction.
macro_rules! with_tx {
    ($wtx:expr, $tx:ident => $body:expr) => {
        match $wtx {
            $crate::store::WriteTx::Sqlite($tx) => $body,
            $crate::store::WriteTx::Postgres($tx) => $body,
        }
    };
}
pub(crate) use with_tx;

impl WriteTx {
    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// `values` bound as the rest of an `IN (` list, and the list closed: the one way the store's
/// statements name a set of rows by value, on both backends.
pub(crate) fn push_in_list<'a, DB, T>(
    q: &mut sqlx::QueryBuilder<'a, DB>,
    values: impl IntoIterator<Item = T>,
) where
    DB: sqlx::Database,
    T: 'a + sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut list = q.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    list.push_unseparated(")");
}

impl Store {
    /// Begins a write transaction that a caller drives step by step.
    pub(crate) async fn begin_tx(&self) -> Result<WriteTx, StoreError> {
        Ok(match self {
            Store::Sqlite { write, .. } => WriteTx::Sqlite(write.begin_write().await?),
            Store::Postgres(pool) => WriteTx::Postgres(pool.begin_write().await?),
        })
    }

    /// Starts a group-commit writer named `name` on a thread of its own, on both backends
    /// (see `lane`): `commit` gets the writer's own store ([`Store::own_writer`]) and each
    /// batch.
    pub fn start_writer<T, R, F, Fut>(
        &self,
        name: &str,
        max_batch: usize,
        commit: F,
    ) -> group_commit::GroupCommit<T, R>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Store, Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Vec<R>> + Send,
    {
        let shared = self.clone();
        let own = Arc::new(tokio::sync::OnceCell::<Store>::new());
        let commit = Arc::new(commit);
        group_commit::GroupCommit::start(name, lane::Lane::Dedicated, max_batch, move |items| {
            let (shared, own, commit) = (shared.clone(), own.clone(), commit.clone());
            async move {
                let store = shared.own_writer(&own).await;
                commit(store, items).await
            }
        })
    }

    /// The store a writer task uses, kept in `own`. On PostgreSQL, a connection of the writer's
    /// own, made on its first use from inside the writer's runtime, so that the writer's thread
    /// drives its socket: with the pool's connections the shared runtime's I/O driver had to
    /// wake the writer after every statement, which cost intake a quarter of its rate
    /// (docs/PERFORMANCE.md). Until it can be made, the shared pool. On SQLite, the one write
    /// connection, which is a thread of its own anyway.
    pub async fn own_writer(&self, own: &tokio::sync::OnceCell<Store>) -> Store {
        let Store::Postgres(pool) = self else {
            return self.clone();
        };
        let made = own
            .get_or_try_init(|| async {
                let options = (*pool.connect_options()).clone();
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                Ok::<_, StoreError>(Store::Postgres(pool))
            })
            .await;
        match made {
            Ok(store) => store.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "a writer's own connection could not be made; it shares the pool meanwhile");
                self.clone()
            }
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(read self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Which backend this is, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (at shutdown, and before a test reopens the same file).
    pub async fn close(&self) {
        match self {
            Store::Sqlite {
                read,
                write,
                checkpointer,
                intake,
            } => {
                intake.close();
                checkpointer.close().await;
                read.close().await;
                write.close().await;
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

/// Writes a progress record of dossier `$id` through `$exec` (a transaction), with the due
/// date in force after it (`$due`, ms).
macro_rules! insert_progress {
    ($exec:expr, $id:expr, $p:expr, $due:expr) => {
        sqlx::query(
            "INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, officer_unit, note, at, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($id)
        .bind(&$p.action)
        .bind($p.status)
        .bind(&$p.officer_name)
        .bind(&$p.officer_title)
        .bind(&$p.officer_unit)
        .bind($p.note.as_deref())
        .bind($p.at)
        .bind($due)
        .execute($exec)
    };
}
pub(crate) use insert_progress;
