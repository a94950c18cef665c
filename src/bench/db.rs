//! A fresh database for a harness run: a SQLite file in a temporary folder, or a new database
//! on the PostgreSQL server `--database` names, dropped after the run.

use anyhow::Context;

/// A fresh database for the run, removed after.
pub(crate) struct BenchDb {
    pub(crate) url: String,
    pub(crate) admin: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    pub(crate) async fn create(server: Option<&str>) -> anyhow::Result<Self> {
        use rand::Rng;
        let name = format!("motcua_bench_{:012x}", rand::rng().random::<u64>() >> 16);
        match server {
            None => {
                let dir = tempfile::tempdir()?;
                Ok(BenchDb {
                    url: format!("sqlite://{}/bench.db", dir.path().display()),
                    admin: None,
                    name,
                    _dir: Some(dir),
                })
            }
            Some(admin) => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(admin)
                    .await
                    .context("--database does not answer")?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await.ok();
                let mut url = url::Url::parse(admin)?;
                url.set_path(&format!("/{name}"));
                Ok(BenchDb {
                    url: url.to_string(),
                    admin: Some(admin.to_owned()),
                    name,
                    _dir: None,
                })
            }
        }
    }

    pub(crate) async fn drop_database(&self) {
        use sqlx::Connection;
        if let Some(admin) = &self.admin {
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut conn)
                .await;
            }
        }
    }
}

/// Runs one statement on the run's database behind the gateway's back (the harness's own
/// setup between phases, with the gateway stopped).
pub(crate) async fn execute(url: &str, sql: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
    }
    Ok(())
}
