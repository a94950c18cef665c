//! `motcua bench`: the project's load harness. It starts this binary as a gateway on a fresh
//! database, drives it with its own HTTP client, and reports each phase against a baseline
//! measured in the same run (`/healthz` for intake and reads, a bare client loop to the same
//! sink for the outbox), because the machines it runs on are shared and noisy: ratios travel,
//! absolute figures do not.
//!
//! Modes:
//! - `intake`: signed submissions, unique, across every mapped procedure, XML and JSON mixed;
//!   then the same kind of dossiers stored by the intake transaction alone, with no HTTP, the
//!   bound of the first phase (`store_alone`); with `--stored N`, again after the store holds
//!   N dossiers, and the ratio of the two;
//! - `read`: status reads by code over a pool of stored dossiers, and the paged list;
//! - `outbox`: N queued messages drained into a local sink.

pub mod client;
pub mod gateway;
mod store_alone;
mod workload;

use crate::store::Store;
use anyhow::Context;
use client::{Load, MakeRequest, Until};
use gateway::{Gateway, Usage};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to measure.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum Mode {
    /// Signed portal pushes against `/healthz`.
    Intake,
    /// Reads by code and the paged list against `/healthz`.
    Read,
    /// Outbox drain against a bare client loop.
    Outbox,
}

/// `motcua bench …`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: Mode,
    /// A PostgreSQL server to run on (`postgres://…`); a fresh database is made there and
    /// dropped after. Default: a fresh SQLite file in a temporary folder.
    #[arg(long)]
    pub database: Option<String>,
    /// Connections at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Length of each measured phase.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Fill the store with this many dossiers first (bulk path) and measure again.
    #[arg(long, default_value_t = 0)]
    pub stored: i64,
    /// Dossiers whose status is read (read mode).
    #[arg(long, default_value_t = 1000)]
    pub pool: u64,
    /// Messages drained (outbox mode).
    #[arg(long, default_value_t = 5000)]
    pub messages: u64,
    /// Deliveries in flight (outbox mode), for the gateway and the baseline alike.
    #[arg(long, default_value_t = 16)]
    pub outbox_concurrency: usize,
    /// The valid portal fixtures to build submissions from.
    #[arg(long, default_value = "fixtures/portal/valid")]
    pub fixtures: PathBuf,
    /// Where the JSON report goes (default: `target/bench/<mode>.json`).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// What was measured.
    pub name: String,
    /// Done per second.
    pub rate: f64,
    /// Latency quantiles, ms.
    pub p50_ms: f64,
    /// p90.
    pub p90_ms: f64,
    /// p99.
    pub p99_ms: f64,
    /// Max.
    pub max_ms: f64,
    /// Done.
    pub ok: u64,
    /// Failed.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// The gateway's CPU seconds during the phase.
    pub gateway_cpu_s: f64,
    /// This phase's rate over its baseline's.
    pub ratio: Option<f64>,
    /// Which phase is its baseline.
    pub baseline: Option<String>,
    /// This phase's rate over the same work's on a fresh store (`--stored`).
    pub vs_fresh: Option<f64>,
    /// Outbox drain: the rate over the signed sends of the worker's own HTTP client, no store.
    pub vs_client: Option<f64>,
    /// Intake: the rate over that of the intake transaction alone (no HTTP).
    pub vs_store: Option<f64>,
}

impl Phase {
    fn of(name: &str, load: &Load, cpu: f64) -> Self {
        Phase {
            name: name.to_owned(),
            rate: load.rate(),
            p50_ms: load.quantile_ms(0.5),
            p90_ms: load.quantile_ms(0.9),
            p99_ms: load.quantile_ms(0.99),
            max_ms: load.quantile_ms(1.0),
            ok: load.ok,
            errors: load.errors,
            first_error: load.first_error.clone(),
            gateway_cpu_s: cpu,
            ratio: None,
            baseline: None,
            vs_fresh: None,
            vs_client: None,
            vs_store: None,
        }
    }

    fn against(mut self, base: &Phase) -> Self {
        self.ratio = Some(self.rate / base.rate.max(1e-9));
        self.baseline = Some(base.name.clone());
        self
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Mode.
    pub mode: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Connections.
    pub concurrency: usize,
    /// Dossiers stored before the "stored" phases.
    pub stored: i64,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// The gateway's peak resident memory over the run, MB.
    pub gateway_peak_rss_mb: f64,
    /// From starting the gateway process to its first `/healthz` answer, ms.
    pub ready_ms: f64,
    /// The machine: CPUs as the OS counts them.
    pub cpus: usize,
}

/// A fresh database for the run, removed after.
struct BenchDb {
    url: String,
    admin: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    async fn create(server: Option<&str>) -> anyhow::Result<Self> {
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

    async fn drop_database(&self) {
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

/// Runs the harness.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures mean little (cargo run --release -- bench …)");
    }
    let db = BenchDb::create(args.database.as_deref()).await?;
    let result = run_on(&args, &db).await;
    db.drop_database().await;
    let report = result?;
    print_report(&report);
    let path = args
        .json
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench/{}.json", report.mode)));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("report written to {}", path.display());
    Ok(())
}

/// Measures one phase: the load and the gateway's CPU over it.
async fn phase(
    gw: &Gateway,
    name: &str,
    concurrency: usize,
    until: Until,
    expect: u16,
    make: MakeRequest,
) -> Phase {
    let before = gw.usage();
    let load = client::run(&gw.addr, concurrency, until, expect, make).await;
    let after = gw.usage();
    Phase::of(name, &load, after.cpu_s - before.cpu_s)
}

/// Takes `count` submissions in (to fill a read pool or queue outbox messages); all must be
/// accepted.
async fn submit_all(
    gw: &Gateway,
    work: &Arc<workload::Submissions>,
    prefix: &'static str,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let load = client::run(
        &gw.addr,
        concurrency,
        Until::Count(count),
        201,
        work.clone().maker(prefix),
    )
    .await;
    anyhow::ensure!(
        load.errors == 0,
        "submitting {count} dossiers failed: {:?}",
        load.first_error
    );
    Ok(())
}

fn healthz() -> MakeRequest {
    let request = client::get("/healthz", None);
    Arc::new(move |_, _| request.clone())
}

async fn start(
    db: &BenchDb,
    dir: &std::path::Path,
    sink: Option<&str>,
    args: &BenchArgs,
) -> anyhow::Result<Gateway> {
    let file = dir.join(if sink.is_some() {
        "drain.toml"
    } else {
        "gateway.toml"
    });
    std::fs::write(
        &file,
        gateway::config(&db.url, sink, args.outbox_concurrency),
    )?;
    Gateway::start(&file).await
}

/// Fills the store up to `args.stored` dossiers (copies of the newest) and says how long it took.
async fn fill(db: &BenchDb, args: &BenchArgs) -> anyhow::Result<()> {
    let store = Store::connect(&db.url, 2).await?;
    let template = store
        .dossier_codes(1)
        .await?
        .first()
        .map(|(id, _)| *id)
        .context("no dossier to copy")?;
    let agency = crate::config::Config::load(None)?.agency.code;
    let t0 = std::time::Instant::now();
    let added = store
        .bulk_copy_dossiers(template, agency.as_str(), 1, args.stored)
        .await?;
    store.close().await;
    eprintln!(
        "filled the store with {added} dossiers in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run_on(args: &BenchArgs, db: &BenchDb) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let work = Arc::new(workload::Submissions::load(&args.fixtures)?);
    let c = args.concurrency;
    let d = Until::Time(args.duration);
    let mut phases = Vec::new();
    let gw = start(db, dir.path(), None, args).await?;
    let ready_ms = gw.ready_after.as_secs_f64() * 1000.0;
    let mut usage = Usage::default();
    match args.mode {
        Mode::Intake => {
            let base = phase(&gw, "healthz (baseline)", c, d, 200, healthz()).await;
            let fresh = phase(
                &gw,
                "intake, fresh store",
                c,
                d,
                201,
                work.clone().maker("F"),
            )
            .await
            .against(&base);
            usage = gw.usage();
            gw.stop().await;
            // The store alone, on the same database with the gateway stopped: the bound of the
            // phase above, whatever the request path costs.
            let alone = store_alone::run(&db.url, work.clone(), c, args.duration).await?;
            let alone = Phase::of(
                &format!("intake transaction alone, batches of {c}"),
                &alone,
                0.0,
            )
            .against(&base);
            let fresh = Phase {
                vs_store: Some(fresh.rate / alone.rate.max(1e-9)),
                ..fresh
            };
            phases.push(base);
            phases.push(fresh.clone());
            phases.push(alone);
            if args.stored > 0 {
                fill(db, args).await?;
                let gw = start(db, dir.path(), None, args).await?;
                let base = phase(&gw, "healthz (baseline, stored)", c, d, 200, healthz()).await;
                let name = format!("intake, {} stored", args.stored);
                let mut stored = phase(&gw, &name, c, d, 201, work.clone().maker("S"))
                    .await
                    .against(&base);
                phases.push(base);
                stored.vs_fresh = Some(stored.rate / fresh.rate.max(1e-9));
                phases.push(stored);
                usage = max_usage(usage, gw.usage());
                gw.stop().await;
            }
        }
        Mode::Read => {
            submit_all(&gw, &work, "P", args.pool, c).await?;
            let gw = if args.stored > 0 {
                usage = gw.usage();
                gw.stop().await;
                fill(db, args).await?;
                start(db, dir.path(), None, args).await?
            } else {
                gw
            };
            let store = Store::connect(&db.url, 2).await?;
            let codes: Vec<String> = store
                .dossier_codes(i64::try_from(args.pool).unwrap_or(i64::MAX))
                .await?
                .into_iter()
                .map(|(_, code)| code)
                .collect();
            store.close().await;
            anyhow::ensure!(!codes.is_empty(), "no dossier to read");
            let base = phase(&gw, "healthz (baseline)", c, d, 200, healthz()).await;
            // The same reads twice: as the department's systems make them (answered from the
            // status cache once read), then with `Cache-Control: no-cache` (every one from the
            // store).
            let by_code = |extra: &'static str| -> MakeRequest {
                let codes = codes.clone();
                Arc::new(move |w, n| {
                    let code = &codes[(w * 7919 + n as usize * 104_729) % codes.len().max(1)];
                    let path = format!("/api/v1/dossiers/{code}");
                    client::get_with(&path, Some(gateway::TOKEN), extra)
                })
            };
            let reads = phase(&gw, "status by code", c, d, 200, by_code(""))
                .await
                .against(&base);
            let fresh = by_code("cache-control: no-cache\r\n");
            let fresh = phase(&gw, "status by code, no-cache", c, d, 200, fresh)
                .await
                .against(&base);
            // The list the same two ways.
            let procedures = work.procedures();
            let list = |extra: &'static str| -> MakeRequest {
                let procedures = procedures.clone();
                Arc::new(move |w, n| {
                    let path = match (w + n as usize) % 3 {
                        0 => "/api/v1/dossiers?limit=50".to_owned(),
                        1 => "/api/v1/dossiers?limit=50&status=1".to_owned(),
                        _ => format!(
                            "/api/v1/dossiers?limit=50&procedure={}",
                            procedures[(w + n as usize) % procedures.len().max(1)]
                        ),
                    };
                    client::get_with(&path, Some(gateway::TOKEN), extra)
                })
            };
            let pages = phase(&gw, "paged list (50)", c, d, 200, list(""))
                .await
                .against(&base);
            let fresh_pages = list("cache-control: no-cache\r\n");
            let fresh_pages = phase(&gw, "paged list (50), no-cache", c, d, 200, fresh_pages)
                .await
                .against(&base);
            phases.extend([base, reads, fresh, pages, fresh_pages]);
            usage = max_usage(usage, gw.usage());
            gw.stop().await;
        }
        Mode::Outbox => {
            submit_all(&gw, &work, "Q", args.messages, c).await?;
            usage = gw.usage();
            gw.stop().await;
            let store = Store::connect(&db.url, 2).await?;
            store.refresh_statistics().await?;
            store.close().await;
            let sink = workload::Sink::start().await?;
            let payload = work.sync_payload();
            let bare: MakeRequest = Arc::new(move |_, _| {
                client::post(
                    "/dossiers/sync",
                    &[("content-type", "application/json")],
                    &payload,
                )
            });
            let base_load = client::run(
                &sink.addr,
                args.outbox_concurrency,
                Until::Count(args.messages),
                200,
                bare,
            )
            .await;
            let base = Phase::of("bare client loop to the sink (baseline)", &base_load, 0.0);
            // The same messages sent as the worker sends them, without the store: what the
            // queue, its leases and its records cost on top of the HTTP client's own work.
            sink.reset();
            let secret = crate::signing::WebhookSecret::parse(gateway::PORTAL_SECRET)
                .map_err(|e| anyhow::anyhow!("the bench secret: {e}"))?;
            let signed = client::run_reqwest_signed(
                &format!("http://{}/dossiers/sync", sink.addr),
                args.outbox_concurrency,
                args.messages,
                work.sync_payload(),
                &secret,
            )
            .await;
            let signed = Phase::of("signed sends, the worker's client, no store", &signed, 0.0)
                .against(&base);
            sink.reset();
            let t0 = std::time::Instant::now();
            let gw = start(db, dir.path(), Some(&format!("http://{}", sink.addr)), args).await?;
            let before = gw.usage();
            sink.wait_for(args.messages).await;
            // Drained means recorded as delivered, not only received by the sink.
            let store = Store::connect(&db.url, 2).await?;
            while store.outbox_pending().await? > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            store.close().await;
            let elapsed = t0.elapsed();
            let after = gw.usage();
            let drained = Load {
                ok: args.messages,
                errors: 0,
                elapsed,
                latencies_us: Vec::new(),
                first_error: None,
            };
            let drain =
                Phase::of("outbox drain", &drained, after.cpu_s - before.cpu_s).against(&base);
            let vs_client = drain.rate / signed.rate.max(1e-9);
            let drain = Phase {
                vs_client: Some(vs_client),
                ..drain
            };
            phases.extend([base, signed, drain]);
            usage = max_usage(usage, gw.usage());
            gw.stop().await;
        }
    }
    Ok(Report {
        mode: format!("{:?}", args.mode).to_lowercase(),
        database: if db.admin.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
        .into(),
        concurrency: c,
        stored: args.stored,
        phases,
        gateway_peak_rss_mb: usage.peak_rss_mb,
        ready_ms,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    })
}

fn max_usage(a: Usage, b: Usage) -> Usage {
    Usage {
        cpu_s: a.cpu_s + b.cpu_s,
        peak_rss_mb: a.peak_rss_mb.max(b.peak_rss_mb),
    }
}

fn print_report(r: &Report) {
    println!(
        "\nmotcua bench {} — {} database, concurrency {}, {} CPUs{}",
        r.mode,
        r.database,
        r.concurrency,
        r.cpus,
        if r.stored > 0 {
            format!(", {} dossiers stored", r.stored)
        } else {
            String::new()
        }
    );
    println!(
        "{:<42} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7}",
        "phase", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "cpu s", "ratio"
    );
    for p in &r.phases {
        println!(
            "{:<42} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7.2} {:>7}",
            p.name,
            p.rate,
            p.p50_ms,
            p.p90_ms,
            p.p99_ms,
            p.max_ms,
            p.errors,
            p.gateway_cpu_s,
            p.ratio.map_or("-".into(), |x| format!("{x:.3}"))
        );
        if let Some(e) = &p.first_error {
            println!("    first error: {e}");
        }
        if let Some(x) = p.vs_client {
            println!("    {x:.3} × the worker's HTTP client sending alone (no store)");
        }
        if let Some(x) = p.vs_store {
            println!("    {x:.3} × the intake transaction alone (no HTTP, full batches)");
        }
        if let Some(x) = p.vs_fresh {
            println!("    {x:.3} × the rate on a fresh store");
        }
    }
    println!(
        "gateway: peak RSS {:.1} MB, ready {:.0} ms after start",
        r.gateway_peak_rss_mb, r.ready_ms
    );
}
