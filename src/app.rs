//! Start-up and shutdown: connect and migrate the store, load the mappings, bind the listener
//! (port 0 picks a free one), then serve until the cancellation token fires.

use crate::config::Config;
use crate::http::{router, AppState};
use crate::mapping::Mappings;
use crate::outbox::Worker;
use crate::store::{RuleVersion, Store};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A gateway ready to serve: store open, mappings loaded, listener bound.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Builds everything that can fail before serving.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        let mut mappings = Mappings::load_dir(&config.mappings.dir).map_err(|problems| {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "the procedure mappings do not load:\n  {}",
                list.join("\n  ")
            )
        })?;
        let unknown = crate::mapping::steps::unknown_agencies(&mappings, &config.agency_codes());
        if !unknown.is_empty() {
            anyhow::bail!(
                "the procedure mappings name agencies the configuration does not have:\n  {}",
                unknown.join("\n  ")
            );
        }
        let calendar = config
            .calendar
            .load_years()
            .context("the working calendar does not load")?;
        let today = crate::domain::time::vn_date(chrono::Utc::now());
        let last = calendar.last_year().unwrap_or(0);
        let left = crate::metrics::calendar_days_left(last, today);
        if left < 0 {
            tracing::error!(
                last_year = last,
                "the working calendar has no file for this year: every due date is refused (409 CALENDAR_MISSING) until config/calendar/<year>.toml is added"
            );
        } else if left <= 60 {
            tracing::warn!(
                last_year = last,
                days_left = left,
                "the working calendar ends soon: add next year's file to config/calendar before due dates reach it"
            );
        }
        for (year, rules) in calendar.years() {
            if !rules.confirmed {
                tracing::warn!(
                    year,
                    "the calendar for this year is provisional; replace it when the notice is out"
                );
            }
        }
        let store = Store::connect(&config.database.url, config.database.max_connections)
            .await
            .context("cannot open the database (database.url)")?;
        if config.database.migrate_on_start {
            store
                .migrate()
                .await
                .context("cannot migrate the database")?;
        }
        keep_rules(&store, &mut mappings).await?;
        mark_notices(&store, &mappings).await?;
        let listener = TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| {
                format!("cannot listen on {} (server.listen)", config.server.listen)
            })?;
        if config.server.public_url.is_none() {
            let bound = listener.local_addr()?;
            if bound.ip().is_unspecified() && !config.agencies.is_empty() {
                tracing::warn!(
                    listen = %bound,
                    "server.public_url is unset while listening on every address: the links to forwarded documents name {bound}; set the address agencies reach"
                );
            }
            config.server.public_url =
                crate::config::HttpUrl::parse(&format!("http://{bound}")).ok();
        }
        for key in config.test_secrets_in_use() {
            tracing::warn!(
                key,
                "a published test secret is in use; replace it before production"
            );
        }
        if config.admin.session_key.is_none() {
            tracing::warn!(
                "admin.session_key is unset: the officers' sessions end when this process does and are not shared with other instances"
            );
        }
        tracing::info!(
            database = store.backend(),
            procedures = mappings.len(),
            agency = %config.agency.code,
            "gateway ready"
        );
        let log_store = match &store {
            Store::Sqlite { .. } => store.clone(),
            Store::Postgres(_) => Store::connect(&config.database.url, 2)
                .await
                .context("cannot open the message log's connections (database.url)")?,
        };
        let state = AppState::new(
            config,
            store,
            log_store,
            Arc::new(mappings),
            Arc::new(calendar),
        )?;
        Ok(Self { listener, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests reach the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A delivery worker over this application's store, configuration and metrics.
    pub fn outbox_worker(&self) -> anyhow::Result<Arc<Worker>> {
        let s = &self.state;
        Ok(Arc::new(Worker::new(
            &s.config,
            s.store.clone(),
            s.outbox_wake.clone(),
            s.metrics.clone(),
            s.status_cache.clone(),
        )?))
    }

    /// Serves until `shutdown` fires, then lets requests in flight finish (up to
    /// `server.shutdown_grace`) and closes the store.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let grace = self.state.config.server.shutdown_grace.0;
        // Other instances on the same PostgreSQL database hear of this one's cache drops, and
        // it of theirs, before anything is served.
        crate::dossiers::cache_peers::start(
            &self.state.store,
            self.state.status_cache.clone(),
            shutdown.clone(),
        )
        .await
        .context("cannot listen for other instances' status cache drops (database.url)")?;
        let worker = if self.state.config.outbox.worker {
            let w = self.outbox_worker()?;
            let concurrency = self.state.config.outbox.concurrency;
            tracing::info!(worker = w.id(), concurrency, "outbox worker started");
            Some(tokio::spawn(w.run(concurrency, shutdown.clone())))
        } else {
            None
        };
        let fetcher = self.state.config.storage.fetcher.then(|| {
            tracing::info!(storage = %self.state.files.location, "document fetcher started");
            tokio::spawn(self.state.fetcher.clone().run(shutdown.clone()))
        });
        let payments = &self.state.config.payments;
        let reconciler = tokio::spawn(self.state.payments.clone().run_reconciler(
            payments.reconcile_after.0,
            payments.expire_after.0,
            (payments.reconcile_after.0 / 2).clamp(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(60),
            ),
            shutdown.clone(),
        ));
        let store = self.state.store.clone();
        let pruner = tokio::spawn(prune_messages(
            store.clone(),
            self.state.config.audit.retention.0,
            self.state.config.audit.payment_retention.0,
            shutdown.clone(),
        ));
        tokio::spawn(name_stored(store.clone(), shutdown.clone()));
        let audit = self.state.config.audit.clone();
        let anchorer = tokio::spawn(crate::audit::anchor::run(
            store.clone(),
            audit.anchor_file.clone(),
            audit.anchor_key.expose().to_owned(),
            audit.anchor_every.0,
            shutdown.clone(),
        ));
        let limits = self.state.config.server.clone();
        let app = router(self.state, crate::admin::router());
        let closed_in_time =
            crate::http::server::serve(self.listener, app, &limits, shutdown.clone(), grace).await;
        if !closed_in_time {
            tracing::warn!("requests still in flight after the shutdown grace; stopping anyway");
        }
        if pruner.await.is_err() {
            tracing::error!("the message-log pruner panicked");
        }
        if anchorer.await.is_err() {
            tracing::error!("the message-log anchorer panicked");
        }
        // Every request answered is in the log now: its last head is anchored.
        match crate::audit::anchor::anchor_now(
            &store,
            &audit.anchor_file,
            audit.anchor_key.expose(),
        )
        .await
        {
            Ok(line) => tracing::info!(seq = line.seq, "the message log's head is anchored"),
            Err(e) => {
                tracing::error!(error = %e, file = %audit.anchor_file.display(), "the message log's head could not be anchored at shutdown")
            }
        }
        if reconciler.await.is_err() {
            tracing::error!("the payment reconciler panicked");
        }
        if let Some(w) = worker {
            if w.await.is_err() {
                tracing::error!("the outbox worker panicked");
            }
        }
        if let Some(f) = fetcher {
            if f.await.is_err() {
                tracing::error!("the document fetcher panicked");
            }
        }
        store.close().await;
        tracing::info!("gateway stopped");
        Ok(())
    }
}

/// Marks the dossiers of procedures that are notices now, and unmarks the others (dossiers
/// stored before migration 0017, or under a mapping whose kind changed), before serving: the
/// officers' overdue reading skips what is marked.
async fn mark_notices(store: &Store, mappings: &Mappings) -> anyhow::Result<()> {
    let changed = store
        .mark_notices(&mappings.notice_codes())
        .await
        .context("cannot mark the notices' dossiers")?;
    if changed > 0 {
        tracing::info!(
            dossiers = changed,
            "dossiers' notice marks brought in line with the mappings"
        );
    }
    Ok(())
}

/// Keeps the name words of dossiers stored before migration 0015 (the officers' search), a
/// thousand at a time, until none is left or `shutdown`; each batch is its own transaction, so
/// an interrupted run goes on at the next start. Dossiers not yet done are not found by name.
async fn name_stored(store: Store, shutdown: CancellationToken) {
    let mut done = 0u64;
    loop {
        match store.name_unnamed(1000).await {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => {
                tracing::error!(error = %e, "the names of stored dossiers could not be kept for the officers' search");
                return;
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
    }
    if done > 0 {
        tracing::info!(
            dossiers = done,
            "names of dossiers stored before the officers' search kept for it"
        );
    }
}

/// Prunes the message log of records older than `retention`, keeping payment evidence for
/// `payment_retention`, at start and hourly, until `shutdown`.
async fn prune_messages(
    store: Store,
    retention: std::time::Duration,
    payment_retention: std::time::Duration,
    shutdown: CancellationToken,
) {
    let ago = |d: std::time::Duration, now: chrono::DateTime<chrono::Utc>| {
        let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        now.checked_sub_signed(d).unwrap_or(now).timestamp_millis()
    };
    loop {
        let now = chrono::Utc::now();
        match store
            .prune_messages(
                ago(retention, now),
                ago(payment_retention, now),
                now.timestamp_millis(),
            )
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "message log pruned; a checkpoint was left"),
            Err(e) => tracing::error!(error = %e, "the message log could not be pruned"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}

/// Keeps the text of every version of the rules the files hold, then takes in the versions
/// kept earlier that the files no longer hold: a dossier judged by one keeps it.
async fn keep_rules(store: &Store, mappings: &mut Mappings) -> anyhow::Result<()> {
    let loaded: Vec<RuleVersion> = mappings
        .loaded_versions()
        .map(|p| RuleVersion {
            id: p.version.clone(),
            procedure_code: p.code.as_str().to_owned(),
            effective_from: p.effective_from.to_string(),
            rules: p.text.clone(),
        })
        .collect();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .keep_rule_versions(&loaded, now)
        .await
        .context("cannot keep the procedures' rule versions")?;
    let kept = store
        .kept_rule_versions()
        .await
        .context("cannot read the kept rule versions")?;
    let count = kept.len().saturating_sub(loaded.len());
    for problem in mappings.adopt(kept.into_iter().map(|v| (v.id, v.rules))) {
        tracing::error!(%problem, "a kept version of a procedure's rules does not compile: its dossiers are judged by the version in force the day they arrived");
    }
    tracing::info!(
        loaded = loaded.len(),
        kept_earlier = count,
        "procedure rule versions kept"
    );
    Ok(())
}
