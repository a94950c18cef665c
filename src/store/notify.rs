//! PostgreSQL's `NOTIFY` and `LISTEN`, for what instances sharing one database tell one another
//! (`dossiers::cache_peers`). On SQLite there is one instance: nothing is sent, nothing heard.

use super::{Store, StoreError};

/// A connection listening on one channel (PostgreSQL only).
pub struct Listener(sqlx::postgres::PgListener);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Listener {
    /// The next notice's payload; `None` when the connection was lost (whatever was sent
    /// meanwhile is lost with it: the next call connects again).
    pub async fn next(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}

impl Store {
    /// Sends `payload` on `channel` to every listener (PostgreSQL; nothing on SQLite).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        if let Store::Postgres(pool) = self {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A connection of its own listening on `channel` (PostgreSQL; `None` on SQLite).
    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>, StoreError> {
        let Store::Postgres(pool) = self else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(channel).await?;
        Ok(Some(Listener(listener)))
    }
}
