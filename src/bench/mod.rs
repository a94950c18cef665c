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
pub(crate) mod db;
mod deliveries_alone;
pub mod gateway;
mod modes;
mod report;
mod store_alone;
mod workload;
mod wrk;

use crate::dossiers::intake::WRITER_THREAD;
use crate::store::Store;
use anyhow::Context;
use client::{MakeRequest, Until};
use db::BenchDb;
use gateway::Gateway;
use report::{print_report, CpuTimes, ThreadTimes};
pub use report::{Phase, Report};
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
    /// Intake mode: load the same gateway with `wrk` too (`/healthz`, then submissions signed
    /// beforehand), as an independent check of the harness's own client.
    #[arg(long)]
    pub wrk: bool,
    /// Where the JSON report goes (default: `target/bench/<mode>.json`).
    #[arg(long)]
    pub json: Option<PathBuf>,
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
    let window = Window::open(gw);
    let load = client::run(&gw.addr, concurrency, until, expect, make).await;
    window.phase(gw, name, &load)
}

/// What a phase against the gateway is measured over: its CPU, the intake writer's thread and
/// the machine's CPU as the load began.
struct Window {
    usage: gateway::Usage,
    writer: Option<ThreadTimes>,
    times: CpuTimes,
    at: std::time::Instant,
}

impl Window {
    /// Opened as a load begins.
    fn open(gw: &Gateway) -> Self {
        Window {
            usage: gw.usage(),
            writer: writer_times(gw),
            times: CpuTimes::now(),
            at: std::time::Instant::now(),
        }
    }

    /// The phase of `load`, which has just ended: the gateway's CPU over it, how the intake
    /// writer spent it, and the share of the machine's time stolen.
    fn phase(self, gw: &Gateway, name: &str, load: &client::Load) -> Phase {
        let writer = writer_times(gw)
            .zip(self.writer)
            .and_then(|(now, then)| now.shares_since(then, self.at.elapsed()));
        Phase {
            writer,
            ..Phase::of(name, load, gw.usage().cpu_s - self.usage.cpu_s).stolen_since(self.times)
        }
    }
}

/// The intake writer's thread's scheduling so far.
fn writer_times(gw: &Gateway) -> Option<ThreadTimes> {
    gw.pid().and_then(|pid| ThreadTimes::of(pid, WRITER_THREAD))
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
        .bulk_template()
        .await?
        .context("no dossier to copy (every one is a notice)")?;
    let config = crate::config::Config::load(None)?;
    let agency = config.agency.code;
    // A notice procedure of the mappings, for the mix's notices.
    let notice = crate::mapping::Mappings::load_dir(&config.mappings.dir)
        .map_err(|p| anyhow::anyhow!("the mappings do not load ({} problems)", p.len()))?
        .notice_codes()
        .into_iter()
        .next()
        .context("no procedure of the mappings is a notice")?;
    let t0 = std::time::Instant::now();
    let added = store
        .bulk_copy_dossiers(template, agency.as_str(), 1, args.stored)
        .await?;
    store
        .bulk_officers_mix(chrono::Utc::now().timestamp_millis(), &notice)
        .await?;
    store.refresh_statistics().await?;
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
    let gw = start(db, dir.path(), None, args).await?;
    let ready_ms = gw.ready_after.as_secs_f64() * 1000.0;
    let run = modes::Run {
        args,
        db,
        dir: dir.path(),
        work,
    };
    let (phases, usage) = match args.mode {
        Mode::Intake => modes::intake(run, gw).await?,
        Mode::Read => modes::read(run, gw).await?,
        Mode::Outbox => modes::outbox(run, gw).await?,
    };
    // Started again on the database the run left, its schema made and its dossiers stored:
    // what an operator waits for after a crash or a rolling restart. The first start above
    // also made the schema (every migration on an empty database), which happens once.
    let again = start(db, dir.path(), None, args).await?;
    let restart_ms = again.ready_after.as_secs_f64() * 1000.0;
    again.stop().await;
    Ok(Report {
        mode: format!("{:?}", args.mode).to_lowercase(),
        database: if db.admin.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
        .into(),
        concurrency: args.concurrency,
        stored: args.stored,
        phases,
        gateway_peak_rss_mb: usage.peak_rss_mb,
        ready_ms,
        restart_ms,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    })
}
