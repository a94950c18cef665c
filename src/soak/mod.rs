//! `motcua soak` (contract section 7, issue 22): several gateways — this binary as `serve`, in
//! child processes — on one fresh PostgreSQL database, a portal that fails part of the time and
//! goes down now and then, dossiers pushed and acted on through every instance at once while
//! instances are SIGKILLed and restarted at random; then the outbox is let drain and the
//! invariants are checked (`check`): every 2xx-answered dossier and action stored, no action
//! applied twice, codes gapless and unique, every message confirmed by the portal, in order per
//! dossier, and twice only across a kill. Prints a summary; non-zero on any violation.
//!
//! Not yet driven: payments through failing providers (the next slice of issue 22).

mod check;
mod portal;

use crate::bench::gateway::{Gateway, PORTAL_SECRET, TOKEN};
use anyhow::Context;
use check::Acked;
use portal::FlakyPortal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

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

fn config(db_url: &str, portal: &str) -> String {
    format!(
        r#"
clients = [{{ name = "soak", token_sha256 = "{token}", scopes = ["dossiers:read", "dossiers:write", "admin"] }}]
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
[storage]
fetcher = false
files = "{files}"
[rate_limits]
portal = {{ per_second = 1000000, burst = 1000000 }}
payment = {{ per_second = 1000000, burst = 1000000 }}
api = {{ per_second = 1000000, burst = 1000000 }}
address = {{ per_second = 1000000, burst = 1000000 }}
[log]
level = "error"
"#,
        token = crate::config::token_hash(TOKEN),
        files = std::env::temp_dir().join("motcua-soak-files").display(),
    )
}

/// The dossier every client pushes, each under its own portal id.
const TEMPLATE: &str = "fixtures/portal/valid/karaoke.json";

/// The instances: each slot's address while it is up.
type Slots = Arc<RwLock<Vec<Option<String>>>>;

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

async fn soak(args: &SoakArgs, db_url: &str) -> anyhow::Result<bool> {
    let template = Arc::new(std::fs::read(TEMPLATE).with_context(|| {
        format!("cannot read {TEMPLATE} (run the soak from the repository's root)")
    })?);
    let portal = FlakyPortal::start().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("soak.toml");
    std::fs::write(&file, config(db_url, &portal.address))?;
    let mut gateways = Vec::new();
    for _ in 0..args.instances.max(1) {
        gateways.push(Gateway::start(&file).await?);
    }
    let slots: Slots = Arc::new(RwLock::new(
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
            };
            tokio::spawn(driver.run(until))
        })
        .collect();
    let mut kills = Vec::new();
    let mut outages = 0;
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
        // Now and then the portal goes down for a moment as well.
        let outage = rand::random::<u32>() % 4 == 0;
        if outage {
            outages += 1;
            portal.set_down(true);
        }
        gateways[i] = Gateway::start(&file)
            .await
            .context("restarting a killed gateway")?;
        slots.write().await[i] = Some(gateways[i].addr.clone());
        portal.set_down(false);
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
    // Drain: every instance up, the portal confirming everything.
    portal.set_flaky(false);
    let pool = sqlx::PgPool::connect(db_url).await?;
    let drained = async {
        loop {
            let open: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'")
                    .fetch_one(&pool)
                    .await?;
            if open == 0 {
                return Ok::<(), anyhow::Error>(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let drain_start = Instant::now();
    let drained = tokio::time::timeout(Duration::from_secs(120), drained).await;
    let drain_took = drain_start.elapsed();
    let acked = std::mem::take(&mut *crate::sim::locked(&acked));
    let got = portal.got();
    let mut findings = check::check(&pool, &acked, &got, &kills).await?;
    if drained.is_err() {
        findings
            .violations
            .push("the outbox did not drain within 120 s".into());
    }
    if acked.dossiers.is_empty() || acked.actions.is_empty() {
        findings
            .violations
            .push("nothing was answered 2xx: the soak drove nothing and proves nothing".into());
    }
    for g in gateways {
        g.stop().await;
    }
    pool.close().await;
    println!(
        "soak: {} instances, {} s, PostgreSQL",
        args.instances,
        Duration::from(args.duration).as_secs()
    );
    let rows = [
        ("instances killed and restarted", kills.len().to_string()),
        ("portal outages", outages.to_string()),
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
        ("drain took", format!("{:.1} s", drain_took.as_secs_f64())),
        ("violations", findings.violations.len().to_string()),
    ];
    for (what, n) in rows {
        println!("  {what:<34} {n:>10}");
    }
    // Each kind of violation counted (numbers set aside), then the first few of all.
    let mut kinds: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for v in &findings.violations {
        let kind: String = v
            .split_once(": ")
            .map_or(v.as_str(), |(_, what)| what)
            .split(|c: char| c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("N");
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, n) in &kinds {
        println!("  {n:>8} × {kind}");
    }
    for v in findings.violations.iter().take(20) {
        println!("VIOLATION {v}");
    }
    if findings.violations.len() > 20 {
        println!("… and {} more", findings.violations.len() - 20);
    }
    Ok(findings.violations.is_empty())
}

/// One client's share of the load.
struct Driver {
    n: usize,
    slots: Slots,
    acked: Arc<Mutex<Acked>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    template: Arc<Vec<u8>>,
}

impl Driver {
    /// Pushes a dossier through a random instance, then accepts it and starts its processing
    /// through random instances, each action with an `Idempotency-Key` and tried again
    /// elsewhere when its instance dies under it — until `until`.
    async fn run(self, until: Instant) {
        let Driver {
            n,
            slots,
            acked,
            sent,
            template,
        } = self;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let secret = crate::signing::WebhookSecret::parse(PORTAL_SECRET).ok();
        let mut i = 0u64;
        while Instant::now() < until {
            i += 1;
            let Some(address) = pick(&slots).await else {
                tokio::task::yield_now().await;
                continue;
            };
            let portal_id = format!("SOAK-{n:02}-{i:06}");
            let body = with_portal_id(&template, &portal_id);
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(secret) = &secret else { return };
            let pushed = crate::sim::portal::push(
                &client,
                &format!("http://{address}"),
                secret,
                &body,
                "application/json",
            )
            .await;
            let code = match pushed {
                Ok((201, answer)) => answer["MaHoSo"].as_str().unwrap_or_default().to_owned(),
                _ => continue,
            };
            crate::sim::locked(&acked)
                .dossiers
                .insert(portal_id.clone(), code.clone());
            for action in ["accept", "start_processing"] {
                let key = format!("{portal_id}-{action}");
                let body = serde_json::json!({"action": action,
                "officer": {"name": "Soak", "title": "Kiểm thử", "unit": "Soak"}});
                // Tried again through another instance while the answer is not known.
                for _ in 0..20 {
                    let Some(address) = pick(&slots).await else {
                        tokio::task::yield_now().await;
                        continue;
                    };
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let res = client
                        .post(format!("http://{address}/api/v1/dossiers/{code}/actions"))
                        .bearer_auth(TOKEN)
                        .header("idempotency-key", &key)
                        .json(&body)
                        .send()
                        .await;
                    match res.map(|r| r.status().as_u16()) {
                        Ok(200) => {
                            crate::sim::locked(&acked)
                                .actions
                                .push((code.clone(), action.to_owned()));
                            break;
                        }
                        // Refused for good: nothing was applied.
                        Ok(s) if s < 500 => break,
                        // The instance died under it, or failed: the answer is not known.
                        Ok(_) | Err(_) => {}
                    }
                }
            }
        }
    }
}

async fn pick(slots: &Slots) -> Option<String> {
    let up: Vec<String> = slots.read().await.iter().flatten().cloned().collect();
    if up.is_empty() {
        return None;
    }
    up.get(rand::random::<u32>() as usize % up.len()).cloned()
}

fn with_portal_id(template: &[u8], id: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(template).unwrap_or_default();
    v["MaHoSoQG"] = serde_json::Value::String(id.to_owned());
    serde_json::to_vec(&v).unwrap_or_default()
}
