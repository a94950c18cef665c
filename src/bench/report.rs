//! What the harness reports: each phase's rate, latency quantiles and ratio to its baseline,
//! printed as a table and written as JSON.

use super::client::Load;
use super::gateway::Usage;
use serde::Serialize;
use std::time::Duration;

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
    /// Intake: the rate over that of the intake transaction alone in batches of the size the
    /// writer reached over HTTP (`mean_batch`).
    pub vs_store_same_batch: Option<f64>,
    /// Intake over HTTP: dossiers per transaction, on average, from the gateway's `/metrics`.
    pub mean_batch: Option<f64>,
    /// The share of the machine's CPU time the hypervisor gave to others over the phase
    /// (`steal` in `/proc/stat`): on a shared virtual machine, what the rate could not use.
    pub stolen: Option<f64>,
    /// The intake writer's thread over the phase, where it worked at all: the one serial part
    /// of intake, and how much of the phase it could run.
    pub writer: Option<ThreadShares>,
}

/// How a thread spent a phase, as shares of its wall time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThreadShares {
    /// On a CPU.
    pub on_cpu: f64,
    /// Runnable, waiting for a CPU.
    pub waiting: f64,
}

impl Phase {
    pub(super) fn of(name: &str, load: &Load, cpu: f64) -> Self {
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
            vs_store_same_batch: None,
            mean_batch: None,
            stolen: None,
            writer: None,
        }
    }

    /// With the share of CPU time stolen since `before` (taken as the phase began).
    pub(super) fn stolen_since(mut self, before: CpuTimes) -> Self {
        self.stolen = CpuTimes::now().stolen_since(before);
        self
    }

    pub(super) fn against(mut self, base: &Phase) -> Self {
        self.ratio = Some(self.rate / base.rate.max(1e-9));
        self.baseline = Some(base.name.clone());
        self
    }
}

/// The machine's CPU time as `/proc/stat` counts it, in ticks: all of it, and what the
/// hypervisor gave to others (`steal`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CpuTimes {
    total: u64,
    steal: u64,
}

impl CpuTimes {
    /// Now (zeros where `/proc/stat` cannot be read).
    pub(super) fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|t| t.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // counted in user time already.
        CpuTimes {
            total: ticks.iter().take(8).sum(),
            steal: ticks.get(7).copied().unwrap_or(0),
        }
    }

    /// The share of the CPU time from `before` to `self` that was stolen.
    fn stolen_since(self, before: CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(before.total).filter(|&t| t > 0)?;
        let steal = self.steal.checked_sub(before.steal)?;
        Some(steal as f64 / total as f64)
    }
}

/// A thread's time as the scheduler counts it (`/proc/<pid>/task/<tid>/schedstat`), ns: on a
/// CPU, and runnable but waiting for one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ThreadTimes {
    on_cpu_ns: u64,
    waiting_ns: u64,
}

impl ThreadTimes {
    /// The scheduler's counts so far for the thread named `name` of process `pid` (Linux
    /// keeps the first 15 bytes of a thread's name); none where `/proc` does not show it.
    pub(super) fn of(pid: u32, name: &str) -> Option<Self> {
        let kept = name.get(..15).unwrap_or(name);
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
            .find(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end() == kept)
            })
            .and_then(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
            .and_then(|line| Self::parse(&line))
    }

    /// Reads a `schedstat` line: on-CPU ns, waiting ns, time slices.
    pub(super) fn parse(schedstat: &str) -> Option<Self> {
        let mut fields = schedstat.split_whitespace().map(str::parse::<u64>);
        Some(ThreadTimes {
            on_cpu_ns: fields.next()?.ok()?,
            waiting_ns: fields.next()?.ok()?,
        })
    }

    /// The shares of `wall` from `before` to `self`; none where the thread did not run in it.
    pub(super) fn shares_since(self, before: ThreadTimes, wall: Duration) -> Option<ThreadShares> {
        let on_cpu = self.on_cpu_ns.checked_sub(before.on_cpu_ns)?;
        let waiting = self.waiting_ns.checked_sub(before.waiting_ns)?;
        let wall = u64::try_from(wall.as_nanos()).ok().filter(|&w| w > 0)?;
        (on_cpu > 0).then(|| ThreadShares {
            on_cpu: on_cpu as f64 / wall as f64,
            waiting: waiting as f64 / wall as f64,
        })
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
    /// From starting the gateway process on the fresh database (its migrations applied) to its
    /// first `/healthz` answer, ms.
    pub ready_ms: f64,
    /// The same for a gateway started again after the run, on the database the run left, ms.
    pub restart_ms: f64,
    /// The machine: CPUs as the OS counts them.
    pub cpus: usize,
}

/// Two runs' usage together: CPU added, the higher peak.
pub(super) fn max_usage(a: Usage, b: Usage) -> Usage {
    Usage {
        cpu_s: a.cpu_s + b.cpu_s,
        peak_rss_mb: a.peak_rss_mb.max(b.peak_rss_mb),
    }
}

/// Prints the report as a table.
pub(super) fn print_report(r: &Report) {
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
        "{:<42} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}",
        "phase",
        "per s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "cpu s",
        "stolen",
        "ratio"
    );
    for p in &r.phases {
        println!(
            "{:<42} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7.2} {:>7} {:>7}",
            p.name,
            p.rate,
            p.p50_ms,
            p.p90_ms,
            p.p99_ms,
            p.max_ms,
            p.errors,
            p.gateway_cpu_s,
            p.stolen
                .map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
            p.ratio.map_or("-".into(), |x| format!("{x:.3}"))
        );
        if p.gateway_cpu_s > 0.0 && p.ok > 0 {
            let us = p.gateway_cpu_s * 1e6 / p.ok as f64;
            println!("    {us:.0} µs of the gateway's CPU each");
        }
        if let Some(w) = p.writer {
            println!(
                "    the intake writer: on a CPU {:.0} % of the phase, waiting for one {:.0} %",
                w.on_cpu * 100.0,
                w.waiting * 100.0
            );
        }
        if let Some(e) = &p.first_error {
            println!("    first error: {e}");
        }
        if let Some(x) = p.vs_client {
            println!("    {x:.3} × the worker's HTTP client sending alone (no store)");
        }
        if let Some(x) = p.vs_store {
            println!("    {x:.3} × the store alone (no HTTP, full batches)");
        }
        if let Some(x) = p.mean_batch {
            println!("    {x:.1} dossiers a transaction on average (the writer's batches)");
        }
        if let Some(x) = p.vs_store_same_batch {
            println!("    {x:.3} × the store alone in batches of that size");
        }
        if let Some(x) = p.vs_fresh {
            println!("    {x:.3} × the rate on a fresh store");
        }
    }
    println!(
        "gateway: peak RSS {:.1} MB, ready {:.0} ms after start on the fresh database (its schema made), {:.0} ms after a restart on the one the run left",
        r.gateway_peak_rss_mb, r.ready_ms, r.restart_ms
    );
}

#[cfg(test)]
mod tests {
    use super::{CpuTimes, ThreadShares, ThreadTimes};
    use std::time::Duration;

    /// The writer's shares are its scheduler's counts over the phase's wall time: a reading
    /// that took the counts since the thread began, or swapped its two fields, fails this.
    #[test]
    fn a_threads_shares_are_its_time_on_and_waiting_for_a_cpu_over_the_phase() {
        let before = ThreadTimes::parse("5000000000 1000000000 700\n");
        let after = ThreadTimes::parse("8000000000 1500000000 900");
        let (Some(before), Some(after)) = (before, after) else {
            panic!("schedstat lines not read: {before:?} {after:?}");
        };
        assert_eq!(
            after.shares_since(before, Duration::from_secs(4)),
            Some(ThreadShares {
                on_cpu: 0.75,
                waiting: 0.125
            })
        );
        assert_eq!(
            before.shares_since(before, Duration::from_secs(4)),
            None,
            "a thread that did not run"
        );
        assert_eq!(after.shares_since(before, Duration::ZERO), None);
        assert_eq!(ThreadTimes::parse("12"), None);
        assert_eq!(ThreadTimes::parse("x 1 2"), None);
    }

    #[test]
    fn the_share_stolen_is_steal_over_all_the_time_between_two_readings() {
        let before = CpuTimes {
            total: 1_000,
            steal: 40,
        };
        let after = CpuTimes {
            total: 1_400,
            steal: 140,
        };
        assert_eq!(after.stolen_since(before), Some(0.25));
        assert_eq!(before.stolen_since(before), None, "no time between them");
        assert_eq!(before.stolen_since(after), None, "readings out of order");
    }

    #[test]
    fn this_machine_counts_its_cpu_time() {
        // Linux always has the aggregate `cpu` line; a zero here would hide every figure.
        assert!(CpuTimes::now().total > 0);
    }

    /// A thread is found by its name as Linux keeps it (cut to 15 bytes), and its counts are
    /// its own: a thread that has worked shows time on a CPU, a name no thread has shows none.
    #[test]
    fn a_named_thread_is_found_and_its_time_read() -> std::io::Result<()> {
        let name = "motcua-test-thread-counted";
        let (found_tx, found_rx) = std::sync::mpsc::channel();
        let worker = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut x = 0u64;
                for i in 0..2_000_000u64 {
                    x = std::hint::black_box(x.wrapping_add(i * i));
                }
                let _ = found_tx.send(ThreadTimes::of(std::process::id(), name));
                x
            })?;
        let found = found_rx.recv().ok().flatten();
        let _ = worker.join();
        assert!(
            found.is_some_and(|t| t.on_cpu_ns > 0),
            "the thread's own counts: {found:?}"
        );
        assert_eq!(ThreadTimes::of(std::process::id(), "no-such-thread"), None);
        Ok(())
    }
}
