//! `motcua soak` (contract section 7, issue 22): several gateways — this binary as `serve`, in
//! child processes — on one fresh PostgreSQL database, a portal that fails part of the time and
//! goes down now and then, dossiers pushed and acted on through every instance at once while
//! instances are SIGKILLed and restarted at random; then the outbox is let drain and the
//! invariants are checked (`check`): every 2xx-answered dossier and action stored, no action
//! applied twice, codes gapless and unique, every message confirmed by the portal, in order per
//! dossier, and twice only across a kill; every payment paid on the platform recorded once,
//! with its transaction; the message log one unbroken chain (`motcua audit verify`). Prints a
//! summary; non-zero on any violation.

mod check;
mod driver;
mod faults;
mod paygov;
mod portal;

use crate::bench::gateway::{Gateway, PORTAL_SECRET, TOKEN};
use anyhow::Context;
use check::Acked;
use driver::{Driver, Slots};
use faults::{Listening, Outage};
use paygov::FlakyPaygov;
use portal::FlakyPortal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `motcua soak`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// The PostgreSQL server (a fresh database is made on it and dropped after).
    #[arg(long)]
    pub database: String,
    /// Gateways at once.
    #[arg(long, default_value_t = 3)]
    pub instances: usize,
    /// How long to drive them (then the outbox drains).
    #[arg(long, default_value = "60s")]
    pub duration: humantime::Duration,
    /// Mean time between kills.
    #[arg(long, default_value = "4s")]
    pub kill_every: humantime::Duration,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
}

fn config(db_url: &str, portal: &str, paygov: &str, dir: &std::path::Path) -> String {
    format!(
        r#"
clients = [{{ name = "soak", token_sha256 = "{token}", scopes = ["dossiers:read", "dossiers:write", "payments:write", "admin"] }}]
[server]
listen = "127.0.0.1:0"
watch_config = "0s"
[database]
url = "{db_url}"
max_connections = 4
[portal]
inbound_secrets = ["{PORTAL_SECRET}"]
base_url = "http://{portal}"
[outbox]
worker = true
timeout = "1s"
retry_schedule = ["100ms", "300ms", "1s"]
give_up_after = "1h"
concurrency = 16
[paygov]
base_url = "http://{paygov}"
partner_code = "{partner}"
secret = "{secret}"
[payments]
reconcile_after = "2s"
expire_after = "1h"
[audit]
anchor_file = "{anchors}"
anchor_every = "2s"
[storage]
fetcher = false
files = "{files}"
{rates}[log]
# The partners' failures are the point: the 502s they cause are not worth a line each.
level = "error,tower_http=off"
"#,
        token = crate::config::token_hash(TOKEN),
        rates = crate::bench::gateway::NO_RATE_LIMITS,
        files = std::env::temp_dir().join("motcua-soak-files").display(),
        partner = paygov::PARTNER,
        secret = paygov::SECRET,
        anchors = dir.join("anchors.jsonl").display(),
    )
}

/// The dossier every client pushes, each under its own portal id.
const TEMPLATE: &str = "fixtures/portal/valid/karaoke.json";

/// Runs the soak; whether every invariant held.
pub async fn run(args: SoakArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(
        args.database.starts_with("postgres"),
        "--database: a postgres:// server (several instances share PostgreSQL only)"
    );
    let db = crate::bench::db::BenchDb::create(Some(&args.database)).await?;
    let result = soak(&args, &db.url).await;
    db.drop_database().await;
    result
}

/// The soak's partners.
struct Partners {
    portal: FlakyPortal,
    paygov: FlakyPaygov,
}

impl Partners {
    /// Now and then a partner goes down while an instance restarts: answering 503, or with its
    /// port closed. The outages begun.
    async fn maybe_down(&self, counts: &mut Outages) -> Vec<&Listening> {
        let mut down = Vec::new();
        for (server, count) in [
            (&self.portal.server, &mut counts.portal),
            (&self.paygov.server, &mut counts.paygov),
        ] {
            if rand::random::<u32>() % 4 != 0 {
                continue;
            }
            let outage = if rand::random::<bool>() {
                count.0 += 1;
                Outage::Unavailable
            } else {
                count.1 += 1;
                Outage::Refusing
            };
            server.go_down(outage).await;
            down.push(server.as_ref());
        }
        down
    }
}

/// Outages begun: (503s, refused connections) of each partner.
#[derive(Debug, Default)]
struct Outages {
    portal: (usize, usize),
    paygov: (usize, usize),
}

async fn soak(args: &SoakArgs, db_url: &str) -> anyhow::Result<bool> {
    let template = Arc::new(std::fs::read(TEMPLATE).with_context(|| {
        format!("cannot read {TEMPLATE} (run the soak from the repository's root)")
    })?);
    let partners = Partners {
        portal: FlakyPortal::start().await?,
        paygov: FlakyPaygov::start().await?,
    };
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("soak.toml");
    std::fs::write(
        &file,
        config(
            db_url,
            &partners.portal.server.address,
            &partners.paygov.server.address,
            dir.path(),
        ),
    )?;
    let logged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut gateways = Vec::new();
    for _ in 0..args.instances.max(1) {
        gateways.push(Gateway::start_logging(&file, Some(logged.clone())).await?);
    }
    let slots: Slots = Arc::new(tokio::sync::RwLock::new(
        gateways.iter().map(|g| Some(g.addr.clone())).collect(),
    ));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let until = start + Duration::from(args.duration);
    let bar = crate::progress::bar("soak");
    bar.set_length(Duration::from(args.duration).as_secs());
    let drivers: Vec<_> = (0..args.clients.max(1))
        .map(|n| {
            let driver = Driver {
                n,
                slots: slots.clone(),
                acked: acked.clone(),
                sent: sent.clone(),
                template: template.clone(),
                paygov: partners.paygov.clone(),
            };
            tokio::spawn(driver.run(until))
        })
        .collect();
    let mut kills = Vec::new();
    let mut outages = Outages::default();
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stdout());
    while Instant::now() < until {
        let mean = Duration::from(args.kill_every).as_millis().max(100);
        let wait =
            u64::try_from(mean / 2 + u128::from(rand::random::<u32>()) % mean).unwrap_or(1000);
        tokio::time::sleep(
            Duration::from_millis(wait).min(until.saturating_duration_since(Instant::now())),
        )
        .await;
        if Instant::now() >= until {
            break;
        }
        let i = rand::random::<u32>() as usize % gateways.len();
        slots.write().await[i] = None;
        gateways[i].kill().await;
        kills.push(Instant::now());
        let down = partners.maybe_down(&mut outages).await;
        gateways[i] = Gateway::start_logging(&file, Some(logged.clone()))
            .await
            .context("restarting a killed gateway")?;
        slots.write().await[i] = Some(gateways[i].addr.clone());
        for server in down {
            server
                .come_back()
                .await
                .context("reopening a partner's port")?;
        }
        bar.set_position(start.elapsed().as_secs());
        if plain {
            println!(
                "{:>4} s: {} kills, {} requests",
                start.elapsed().as_secs(),
                kills.len(),
                sent.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }
    for d in drivers {
        d.await?;
    }
    bar.finish_and_clear();
    // Drain: every instance up, the partners answering everything.
    partners.portal.server.faults().set_flaky(false);
    partners.paygov.server.faults().set_flaky(false);
    let pool = sqlx::PgPool::connect(db_url).await?;
    let paid = partners.paygov.paid();
    let drain_start = Instant::now();
    let drained = tokio::time::timeout(Duration::from_secs(120), drain(&pool, &paid)).await;
    let drain_took = drain_start.elapsed();
    let acked = std::mem::take(&mut *crate::sim::locked(&acked));
    let got = partners.portal.got();
    let mut findings = check::check(&pool, &acked, &got, &kills).await?;
    check::payments(&pool, &acked, &paid, &mut findings).await?;
    if drained.is_err() {
        findings.violations.push(
            "the outbox did not drain, or payments paid on the platform were not recorded, within 120 s"
                .into(),
        );
    }
    if acked.dossiers.is_empty() || acked.actions.is_empty() || acked.payments.is_empty() {
        findings.violations.push(
            "no dossier, action or payment was answered 2xx: the soak drove too little to prove anything"
                .into(),
        );
    }
    for g in gateways {
        g.stop().await;
    }
    pool.close().await;
    let chain = check::message_log(&file, &mut findings).await?;
    let logged_lines = std::mem::take(&mut *crate::sim::locked(&logged));
    let (asked, unsigned) = partners.paygov.asked();
    if unsigned > 0 {
        findings.violations.push(format!(
            "the platform got {unsigned} INIT or QUERY with a wrong checksum"
        ));
    }
    println!(
        "soak: {} instances, {} s, PostgreSQL",
        args.instances,
        Duration::from(args.duration).as_secs()
    );
    let pair = |(a, b): (usize, usize)| format!("{a} / {b}");
    let rows = [
        ("instances killed and restarted", kills.len().to_string()),
        ("portal outages (503 / refused)", pair(outages.portal)),
        ("platform outages (503 / refused)", pair(outages.paygov)),
        (
            "requests sent",
            sent.load(std::sync::atomic::Ordering::Relaxed).to_string(),
        ),
        ("dossiers answered 201", acked.dossiers.len().to_string()),
        ("actions answered 200", acked.actions.len().to_string()),
        ("dossiers stored", findings.stored.to_string()),
        ("messages to the portal", findings.messages.to_string()),
        ("delivered", findings.delivered.to_string()),
        ("portal requests (incl. failed)", got.len().to_string()),
        (
            "confirmed again across a kill",
            findings.redelivered.to_string(),
        ),
        ("payments answered 201", acked.payments.len().to_string()),
        ("paid on the platform", paid.len().to_string()),
        ("platform requests (incl. failed)", asked.to_string()),
        (
            "CONFIRMs sent (incl. repeats)",
            acked.confirms_sent.to_string(),
        ),
        (
            "CONFIRMs lost (reconciled)",
            acked.confirms_lost.to_string(),
        ),
        ("message log records, verified", chain),
        ("drain took", format!("{:.1} s", drain_took.as_secs_f64())),
        (
            "errors the instances logged",
            logged_lines.len().to_string(),
        ),
        ("violations", findings.violations.len().to_string()),
    ];
    for (what, n) in rows {
        println!("  {what:<34} {n:>10}");
    }
    report(&findings.violations);
    // Not violations in themselves, but where a violation's cause is found.
    for line in logged_lines.iter().take(10) {
        println!("  logged: {line}");
    }
    Ok(findings.violations.is_empty())
}

/// Waits until every message is delivered and every payment paid on the platform is recorded
/// paid.
async fn drain(
    pool: &sqlx::PgPool,
    paid: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    loop {
        let open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'")
                .fetch_one(pool)
                .await?;
        let recorded: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT reference FROM payments WHERE state = 'paid'")
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect();
        if open == 0 && paid.keys().all(|r| recorded.contains(r)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Each kind of violation counted, then the first few of all.
fn report(violations: &[String]) {
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for v in violations {
        // Words holding a digit (codes, ids, references, counts) set aside.
        let kind: String = v
            .split_once(": ")
            .map_or(v.as_str(), |(_, what)| what)
            .split(' ')
            .map(|w| {
                if w.chars().any(|c| c.is_ascii_digit()) {
                    "N"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, n) in &kinds {
        println!("  {n:>8} × {kind}");
    }
    for v in violations.iter().take(20) {
        println!("VIOLATION {v}");
    }
    if violations.len() > 20 {
        println!("… and {} more", violations.len() - 20);
    }
}
