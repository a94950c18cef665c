//! `motcua serve`: the gateway until SIGTERM or SIGINT, its configuration reloaded on SIGHUP
//! and (with `server.watch_config`) when its file changes.

use crate::app::Application;
use crate::config::Config;
use std::io::Write;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Serves until a stop signal.
pub(super) async fn serve(config: Config, file: Option<PathBuf>) -> anyhow::Result<()> {
    crate::telemetry::init(&config.log);
    let app = Application::build(config).await?;
    let state = app.state().clone();
    // Every handler is installed before the gateway says it listens: a signal that arrives
    // before its handler meets the default action, which for these three ends the process.
    let stop = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let hup_state = state.clone();
    let hup_file = file.clone();
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    reload(hup_file.as_deref(), &hup_state, "SIGHUP");
                }
            });
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; secrets reload only on restart");
        }
    }
    let every = state.config.server.watch_config.0;
    if let (Some(file), false) = (file, every.is_zero()) {
        tokio::spawn(async move {
            let mut seen = std::fs::read(&file).ok();
            loop {
                tokio::time::sleep(every).await;
                let now = std::fs::read(&file).ok();
                if now.is_some() && now != seen {
                    seen = now;
                    reload(Some(&file), &state, "file changed");
                }
            }
        });
    }
    let addr = app.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    let shutdown = CancellationToken::new();
    let signals = shutdown.clone();
    tokio::spawn(async move {
        let reason = match stop {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot install signal handlers; stop with SIGKILL");
                std::future::pending().await
            }
        };
        tracing::info!(signal = reason, "shutting down");
        signals.cancel();
    });
    app.run(shutdown).await
}

/// Loads the configuration again from the same sources as at start (defaults, the --config
/// file, the environment) and applies what can change without a restart.
fn reload(file: Option<&std::path::Path>, state: &crate::http::AppState, trigger: &str) {
    match Config::load(file) {
        Ok(fresh) => {
            let n = state.reload(&fresh);
            tracing::info!(
                secrets = n,
                trigger,
                "configuration reloaded: portal inbound secrets replaced"
            );
            // For the operator (and tests) watching stdout; a closed stdout is not an error.
            let _ = writeln!(std::io::stdout().lock(), "configuration reloaded");
        }
        Err(e) => {
            tracing::error!(error = %e, trigger, "configuration not reloaded; the previous one stays in force")
        }
    }
}
