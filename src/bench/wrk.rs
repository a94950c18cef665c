//! An independent check of the harness's own client (`bench intake --wrk`): the same gateway,
//! in the same run, loaded by `wrk` — `/healthz`, then submissions that the harness signs
//! beforehand and a Lua script sends each once, in turn across wrk's threads. If the harness's
//! ratio and wrk's agree, the client the harness wrote is not what sets the figures.

use super::client::Load;
use super::workload::Submissions;
use anyhow::Context;
use std::io::Write;
use std::time::Duration;

/// Sends each request of the file (`<length>\n<bytes>` after one another) once: thread `k` of
/// `n` takes requests k, k + n, …; a thread out of requests stops. Statuses other than the
/// one expected are counted and printed as `unexpected: N` when wrk is done.
const SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local n, expect = tonumber(args[2]), tonumber(args[3])
  requests, sent, unexpected, wanted = {}, 0, 0, expect
  local pos, i = 1, 0
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    if i % n == id then
      requests[#requests + 1] = string.sub(data, nl + 1, nl + len)
    end
    pos, i = nl + 1 + len, i + 1
  end
end
function request()
  sent = sent + 1
  if sent > #requests then
    wrk.thread:stop()
    return requests[#requests]
  end
  return requests[sent]
end
function response(status, headers, body)
  if status ~= wanted then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("unexpected") end
  io.write(string.format("unexpected: %d\n", total))
end
"#;

/// `wrk` on the PATH, if any.
pub fn available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// `requests`, each to be answered `expect`, sent once each by wrk with `connections`
/// connections for `duration` (or until they run out).
pub async fn run(
    addr: &str,
    connections: usize,
    duration: Duration,
    requests: impl Iterator<Item = Vec<u8>>,
    expect: u16,
) -> anyhow::Result<Load> {
    let dir = tempfile::tempdir()?;
    let (script, file) = (dir.path().join("send.lua"), dir.path().join("requests"));
    std::fs::write(&script, SCRIPT)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    for r in requests {
        writeln!(out, "{}", r.len())?;
        out.write_all(&r)?;
    }
    out.flush()?;
    drop(out);
    let threads = 2;
    // wrk takes whole seconds.
    let secs = duration.as_secs().max(1);
    let duration = Duration::from_secs(secs);
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{}", connections.max(threads)))
        .arg(format!("-d{secs}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}/"))
        .arg("--")
        .arg(&file)
        .arg(threads.to_string())
        .arg(expect.to_string())
        .output()
        .await
        .context("wrk did not run")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("wrk printed no {prefix:?}: {text}"))
    };
    let rate: f64 = field("Requests/sec:")?.parse()?;
    let unexpected: u64 = field("unexpected:")?.parse()?;
    let errors: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map_or(0, |_| 1);
    let total = (rate * duration.as_secs_f64()).round() as u64;
    Ok(Load {
        ok: total.saturating_sub(unexpected),
        errors: unexpected + errors,
        elapsed: duration,
        latencies_us: Vec::new(),
        first_error: (unexpected + errors > 0).then(|| text.trim().to_owned()),
    })
}

/// Submissions for wrk: `count` of them, prefixed `W`, signed now.
pub fn submissions(work: &Submissions, count: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..count).map(move |n| work.request("W", 0, n))
}
