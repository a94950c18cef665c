//! The `motcua` command line: serve, migrate, check mappings, operate the outbox, make client
//! tokens.

use crate::app::Application;
use crate::config::{token_hash, Config};
use crate::dossiers::check;
use crate::store::Store;
use anyhow::Context;
use clap::{Parser, Subcommand};
use rand::Rng;
use std::io::Write;
use std::path::PathBuf;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// motcua-gateway: the Department of Culture and Sports' integration gateway.
#[derive(Debug, Parser)]
#[command(name = "motcua", version, about)]
pub struct Cli {
    /// A TOML file layered over the shipped defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (HTTP server and workers) until SIGTERM or SIGINT.
    Serve,
    /// Apply the database schema.
    Migrate,
    /// Procedure mappings.
    Mappings {
        /// What to do with them.
        #[command(subcommand)]
        command: MappingsCommand,
    },
    /// The delivery outbox: list messages, replay or discard dead ones.
    Outbox {
        /// What to do.
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The tamper-evident partner message log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The load harness: start a gateway on a fresh database and measure it (release build).
    Bench(crate::bench::BenchArgs),
    /// Internal API client tokens.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// `motcua mappings …`.
#[derive(Debug, Subcommand)]
pub enum MappingsCommand {
    /// Load every mapping and run every fixture through it; name each problem.
    Check {
        /// Folder of mappings (default: `mappings.dir` of the configuration).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Folder holding valid/ and invalid/ fixtures.
        #[arg(long, default_value = "fixtures/portal")]
        fixtures: PathBuf,
    },
}

/// Which dead messages an operator's decision covers; every given condition applies.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// One message, by id.
    #[arg(long)]
    pub id: Option<i64>,
    /// Messages to one destination (`portal`, `onestop`).
    #[arg(long)]
    pub destination: Option<String>,
    /// Messages of one dossier (its MaHoSo).
    #[arg(long)]
    pub dossier: Option<String>,
    /// Messages queued since this time (`yyyyMMddHHmmss` or `yyyyMMdd`, Vietnam time).
    #[arg(long)]
    pub since: Option<String>,
    /// Every dead message (needed when no other condition is given).
    #[arg(long)]
    pub all: bool,
}

/// `motcua outbox …`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages of one state with their attempts (JSON lines).
    List {
        /// `pending`, `dead`, `delivered` or `discarded`.
        #[arg(long, default_value = "dead")]
        state: String,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Send dead messages again, next in line for their dossiers.
    Replay(Selection),
    /// Set dead messages aside for good, releasing their dossiers' later messages.
    Discard(Selection),
}

fn selector(sel: &Selection) -> anyhow::Result<crate::store::OutboxSelector> {
    let since = match sel.since.as_deref() {
        None => None,
        Some(t) => {
            let at = crate::domain::time::parse_day_or_moment(t)
                .ok_or_else(|| anyhow::anyhow!("--since: yyyyMMddHHmmss or yyyyMMdd"))?;
            Some(at.timestamp_millis())
        }
    };
    let any =
        sel.id.is_some() || sel.destination.is_some() || sel.dossier.is_some() || since.is_some();
    if !any && !sel.all {
        anyhow::bail!("say which dead messages: --id, --destination, --dossier, --since, or --all");
    }
    Ok(crate::store::OutboxSelector {
        id: sel.id,
        destination: sel.destination.clone(),
        dossier_code: sel.dossier.clone(),
        since,
    })
}

/// `motcua audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain; name every record edited, removed or out of place (exit 1).
    Verify,
    /// Print the records of a time range as JSON lines, raw bodies in base64.
    Export {
        /// From this time: `yyyyMMdd` (the start of that Vietnam day), `yyyyMMddHHmmss`
        /// (Vietnam time) or RFC 3339.
        #[arg(long)]
        from: String,
        /// Up to this time: a day means through its end; a moment is excluded.
        #[arg(long)]
        to: String,
    },
}

/// Reads `--from`/`--to`: a day, a Vietnam moment or RFC 3339; `end` makes a day run through
/// its last millisecond.
fn audit_time(text: &str, end: bool) -> anyhow::Result<i64> {
    let day = text.len() == 8 || (text.len() == 10 && text.as_bytes().get(4) == Some(&b'-'));
    let at = if text.len() == 10 {
        crate::domain::time::parse_day_or_moment(&text.replace('-', ""))
    } else {
        crate::domain::time::parse_day_or_moment(text).or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.to_utc())
        })
    }
    .ok_or_else(|| anyhow::anyhow!("{text:?}: yyyyMMdd, yyyy-MM-dd, yyyyMMddHHmmss or RFC 3339"))?;
    let next_day = if day && end {
        chrono::Duration::days(1)
    } else {
        chrono::Duration::zero()
    };
    Ok((at + next_day).timestamp_millis())
}

async fn audit_command(store: &Store, command: AuditCommand) -> anyhow::Result<()> {
    const PAGE: i64 = 1000;
    match command {
        AuditCommand::Verify => {
            let anchor = store.message_log_anchor().await?;
            let first = anchor.seq + 1;
            let mut verifier = crate::audit::verify::Verifier::new(anchor);
            let mut after = 0;
            loop {
                let page = store.message_records(after, PAGE).await?;
                for record in &page {
                    verifier.check(record);
                }
                match page.last() {
                    Some(last) => after = last.seq,
                    None => break,
                }
            }
            let checked = verifier.checked;
            let head = store.message_log_head().await?;
            let problems = verifier.finish(&head);
            if problems.is_empty() {
                println!(
                    "message log intact: {checked} record(s), {first} to {}; head {}",
                    head.seq, head.hash
                );
                Ok(())
            } else {
                for p in &problems {
                    println!("{p}");
                }
                anyhow::bail!(
                    "the message log was tampered with: {} problem(s)",
                    problems.len()
                )
            }
        }
        AuditCommand::Export { from, to } => {
            let (from, to) = (audit_time(&from, false)?, audit_time(&to, true)?);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let page = store.message_records_between(from, to, after, PAGE).await?;
                for r in &page {
                    writeln!(out, "{}", export_line(r))?;
                }
                match page.last() {
                    Some(last) => after = last.seq,
                    None => break,
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// One record as a JSON line: its fields, the time in Vietnam time, the raw body in base64 and,
/// when it is UTF-8, as text too.
fn export_line(r: &crate::chain::Record) -> serde_json::Value {
    use base64::Engine;
    let mut line = serde_json::to_value(r).unwrap_or_default();
    let at = chrono::DateTime::from_timestamp_millis(r.message.at).map(|t| {
        crate::domain::time::to_vn(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    });
    line["time"] = serde_json::json!(at);
    line["body_base64"] =
        serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&r.message.body));
    line["body_text"] = serde_json::json!(std::str::from_utf8(&r.message.body).ok());
    line
}

/// `motcua token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a new random token and print it with the `[[clients]]` entry to configure.
    New {
        /// The client's name.
        name: String,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config, cli.config).await,
        Command::Migrate => {
            crate::telemetry::init(&config.log);
            let store = Store::connect(&config.database.url, 1)
                .await
                .context("cannot open the database")?;
            store.migrate().await?;
            store.close().await;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Mappings {
            command: MappingsCommand::Check { dir, fixtures },
        } => {
            let dir = dir.unwrap_or(config.mappings.dir);
            let report = check::check(&dir, &fixtures);
            for p in &report.problems {
                eprintln!("{p}");
            }
            if report.passed() {
                println!(
                    "mappings ok: {} procedures, {} valid fixtures accepted, {} invalid fixtures rejected",
                    report.procedures, report.valid_ok, report.invalid_ok
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "{} problem(s) in the mappings or fixtures",
                    report.problems.len()
                )
            }
        }
        Command::Outbox { command } => {
            let store = Store::connect(&config.database.url, 2)
                .await
                .context("cannot open the database")?;
            let result = outbox_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Audit { command } => {
            let store = Store::connect(&config.database.url, 2)
                .await
                .context("cannot open the database")?;
            let result = audit_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Token {
            command: TokenCommand::New { name },
        } => {
            let bytes: [u8; 32] = rand::rng().random();
            let token = format!("mct_{}", hex::encode(bytes));
            println!("token (give it to the client, it is not stored): {token}");
            println!("\n[[clients]]\nname = {name:?}\ntoken_sha256 = \"{}\"\nscopes = [\"dossiers:read\"]", token_hash(&token));
            Ok(())
        }
    }
}

async fn outbox_command(store: &Store, command: OutboxCommand) -> anyhow::Result<()> {
    match command {
        OutboxCommand::List { state, limit } => {
            for item in store.outbox_page(&state, 0, limit.clamp(1, 10_000)).await? {
                println!("{}", crate::http::outbox::item_view(&item));
            }
        }
        OutboxCommand::Replay(sel) => {
            let n = store
                .replay_outbox(&selector(&sel)?, chrono::Utc::now().timestamp_millis())
                .await?;
            println!("{n} message(s) replayed");
        }
        OutboxCommand::Discard(sel) => {
            let n = store.discard_outbox(&selector(&sel)?).await?;
            println!("{n} message(s) discarded");
        }
    }
    Ok(())
}

async fn serve(config: Config, file: Option<PathBuf>) -> anyhow::Result<()> {
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
