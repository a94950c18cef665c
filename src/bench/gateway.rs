//! The gateway under test: this same binary started as `serve` in a child process on a
//! configuration of the harness's, so that its memory and CPU are its own and can be read
//! from `/proc`.

use anyhow::Context;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The test secret the harness signs portal pushes with.
pub const PORTAL_SECRET: &str = "whsec_YmVuY2gtcG9ydGFsLWluYm91bmQtc2VjcmV0LTAx";
/// The harness's read token.
pub const TOKEN: &str = "bench-reader-token";

/// Messages the benchmarked worker holds claimed per delivery in flight: the sink sees the same
/// number of connections as the baseline, while claims and outcomes are committed in batches.
pub const CLAIMED_PER_SLOT: usize = 16;

/// `[rate_limits]` raised out of a harness's way (the benchmarks', the soak's).
pub const NO_RATE_LIMITS: &str = "[rate_limits]
portal = { per_second = 1000000, burst = 1000000 }
payment = { per_second = 1000000, burst = 1000000 }
api = { per_second = 1000000, burst = 1000000 }
address = { per_second = 1000000, burst = 1000000 }
";

/// The configuration of a benchmarked gateway: port 0, limits out of the way, the worker as
/// asked, no document fetching, logs at warn.
pub fn config(db_url: &str, sink: Option<&str>, outbox_concurrency: usize) -> String {
    let worker = sink.is_some();
    let portal = sink.unwrap_or("http://127.0.0.1:9");
    format!(
        r#"
clients = [{{ name = "bench", token_sha256 = "{token}", scopes = ["dossiers:read", "admin"] }}]
[server]
listen = "127.0.0.1:0"
max_in_flight = 4096
max_connections_per_address = 4096
watch_config = "0s"
[database]
url = "{db_url}"
max_connections = 8
[portal]
inbound_secrets = ["{PORTAL_SECRET}"]
base_url = "{portal}"
[outbox]
worker = {worker}
concurrency = {claimed}
destination_concurrency = {outbox_concurrency}
destination_rate = {{ per_second = 1000000, burst = 1000000 }}
[storage]
# Documents are not fetched: the harness measures intake and delivery.
fetcher = false
files = "{files}"
{rates}[log]
level = "error"
"#,
        token = crate::config::token_hash(TOKEN),
        rates = NO_RATE_LIMITS,
        claimed = CLAIMED_PER_SLOT * outbox_concurrency,
        files = std::env::temp_dir().join("motcua-bench-files").display(),
    )
}

/// A running gateway.
pub struct Gateway {
    child: Child,
    /// `host:port`.
    pub addr: String,
    /// From spawning the process to its first `/healthz` answer.
    pub ready_after: Duration,
}

/// What `/proc` says of a process: CPU seconds so far and peak resident memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// Peak resident set (VmHWM), MB.
    pub peak_rss_mb: f64,
}

impl Gateway {
    /// Starts `serve` with `config_file` and waits until `/healthz` answers.
    pub async fn start(config_file: &Path) -> anyhow::Result<Self> {
        Self::start_logging(config_file, None).await
    }

    /// [`Gateway::start`], keeping in `log` every line the gateway logs once it listens (the
    /// harnesses log at `error`: what is kept is what went wrong).
    pub async fn start_logging(
        config_file: &Path,
        log: Option<Arc<Mutex<Vec<String>>>>,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this binary")?;
        let t0 = Instant::now();
        let mut child = Command::new(exe)
            .arg("--config")
            .arg(config_file)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the gateway")?;
        let stdout = child.stdout.take().context("gateway stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await?
                .context("the gateway stopped before listening")?;
            if let Some(rest) = line.strip_prefix("listening on http://") {
                break rest.trim().to_owned();
            }
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(log) = &log {
                    crate::sim::locked(log).push(line);
                }
            }
        });
        let mut conn = loop {
            if let Ok(c) = super::client::Conn::open(&addr).await {
                break c;
            }
            tokio::task::yield_now().await;
        };
        let (status, _) = conn.request(&super::client::get("/healthz", None)).await?;
        anyhow::ensure!(status == 200, "/healthz answered {status}");
        Ok(Gateway {
            child,
            addr,
            ready_after: t0.elapsed(),
        })
    }

    /// CPU and peak memory of the gateway so far.
    pub fn usage(&self) -> Usage {
        let Some(pid) = self.child.id() else {
            return Usage::default();
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name; 100 ticks/s.
        let cpu_s = (ticks(11) + ticks(12)) / 100.0;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let peak_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        Usage {
            cpu_s,
            peak_rss_mb: peak_kb / 1024.0,
        }
    }

    /// The gateway's process id, while it runs.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The intake writer's batches so far, read from its `/metrics`: dossiers (and repeats)
    /// stored, and transactions that stored them.
    pub async fn intake_batches(&self) -> anyhow::Result<(f64, f64)> {
        let mut conn = super::client::Conn::open(&self.addr).await?;
        let (status, body) = conn.request(&super::client::get("/metrics", None)).await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}");
        let text = String::from_utf8_lossy(&body);
        let series = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(' ')?
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .with_context(|| format!("{name} is not in /metrics"))
        };
        Ok((
            series("motcua_intake_batch_size_sum")?,
            series("motcua_intake_batch_size_count")?,
        ))
    }

    /// Kills it with SIGKILL (no shutdown of any kind) and waits for it to be gone.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Stops it with SIGTERM and waits.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}
