//! The harness's own HTTP/1.1 client: one keep-alive connection per worker, requests written
//! as prepared bytes, answers read by `Content-Length`. Small on purpose, so that the client
//! costs little of the CPU it shares with the gateway, and the same for every run.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    stream: BufReader<TcpStream>,
    line: String,
}

impl Conn {
    /// Connects to `addr` (`host:port`).
    pub async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::with_capacity(16 * 1024, stream),
            line: String::new(),
        })
    }

    /// Sends one request (complete bytes) and reads its answer: status and body.
    pub async fn request(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        self.stream.get_mut().write_all(request).await?;
        let mut status = 0;
        let mut length = 0usize;
        let mut first = true;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.line.trim_end();
            if first {
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or(std::io::ErrorKind::InvalidData)?;
                first = false;
            } else if line.is_empty() {
                break;
            } else if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value
                        .trim()
                        .parse()
                        .map_err(|_| std::io::ErrorKind::InvalidData)?;
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// `GET path` with optional bearer token, as bytes.
pub fn get(path: &str, token: Option<&str>) -> Vec<u8> {
    get_with(path, token, "")
}

/// `GET path` with a bearer token and `extra` header lines (each ending in `\r\n`), as bytes.
pub fn get_with(path: &str, token: Option<&str>, extra: &str) -> Vec<u8> {
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nhost: bench\r\n{auth}{extra}\r\n").into_bytes()
}

/// `POST path` with headers and body, as bytes.
pub fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Answers with the expected status.
    pub ok: u64,
    /// Other answers and broken connections.
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every answer, sorted (µs).
    pub latencies_us: Vec<u32>,
    /// The first unexpected answer, for the report.
    pub first_error: Option<String>,
}

impl Load {
    /// Answers per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1), ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let last = self.latencies_us.len() - 1;
        let i = ((last as f64) * q).round() as usize;
        f64::from(self.latencies_us[i.min(last)]) / 1000.0
    }
}

/// What each request of a run is: the bytes to send, given the worker and its request number.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// How a run ends: after a time, or after a number of requests in all.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Stop starting requests after this long.
    Time(Duration),
    /// Stop after this many requests in all.
    Count(u64),
}

/// Runs `concurrency` workers against `addr`, each on its own connection, until `until`;
/// an answer with status `expect` counts as done.
pub async fn run(
    addr: &str,
    concurrency: usize,
    until: Until,
    expect: u16,
    make: MakeRequest,
) -> Load {
    let started = Instant::now();
    let issued = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency.max(1) {
        let (addr, make, issued) = (addr.to_owned(), make.clone(), issued.clone());
        workers.spawn(async move {
            let mut lat = Vec::with_capacity(64 * 1024);
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut conn = Conn::open(&addr).await.ok();
            let mut n = 0u64;
            loop {
                let go = match until {
                    Until::Time(d) => started.elapsed() < d,
                    Until::Count(total) => {
                        issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total
                    }
                };
                if !go {
                    break;
                }
                let request = make(w, n);
                n += 1;
                if conn.is_none() {
                    conn = Conn::open(&addr).await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    errors += 1;
                    first_error.get_or_insert_with(|| "cannot connect".to_owned());
                    continue;
                };
                let t0 = Instant::now();
                match c.request(&request).await {
                    Ok((status, body)) => {
                        lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                        if status == expect {
                            ok += 1;
                        } else {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "{status} {}",
                                    String::from_utf8_lossy(&body[..body.len().min(200)])
                                )
                            });
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("connection: {e}"));
                        conn = None;
                    }
                }
            }
            (ok, errors, lat, first_error)
        });
    }
    let mut load = Load::default();
    while let Some(Ok((ok, errors, lat, first_error))) = workers.join_next().await {
        load.ok += ok;
        load.errors += errors;
        load.latencies_us.extend(lat);
        if load.first_error.is_none() {
            load.first_error = first_error;
        }
    }
    load.elapsed = started.elapsed();
    load.latencies_us.sort_unstable();
    load
}

/// Posts `count` signed copies of `payload` to `url` with `concurrency` loops of the same HTTP
/// client the outbox worker uses (`reqwest` as `partner_client` builds it, a pool of keep-alive
/// connections), each signed, built, sent and read as the worker does — the outbox's second baseline: delivery without the store.
pub async fn run_reqwest_signed(
    url: &str,
    concurrency: usize,
    count: u64,
    payload: Vec<u8>,
    secret: &crate::signing::WebhookSecret,
) -> Load {
    // The worker's own client, as `outbox` builds it: its timeouts (a timer per request),
    // no redirects, a pool as large as the loops.
    let http = match crate::audit::log::partner_client(Duration::from_secs(10), concurrency) {
        Ok(http) => http,
        Err(e) => {
            return Load {
                errors: 1,
                first_error: Some(e.to_string()),
                ..Load::default()
            }
        }
    };
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let payload = Arc::new(payload);
    let started = Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (http, next, payload, secret, url) = (
            http.clone(),
            next.clone(),
            payload.clone(),
            secret.clone(),
            url.to_owned(),
        );
        loops.spawn(async move {
            let mut lat = Vec::new();
            let (mut errors, mut first_error) = (0u64, None);
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let t0 = Instant::now();
                let id = t0.elapsed().as_nanos().to_string();
                let ts = chrono::Utc::now().timestamp();
                let signature = crate::signing::sign(&secret, &id, ts, &payload);
                // Built and sent as the worker builds and sends (`outbox::attempt`).
                let request = http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", signature)
                    .body(payload.as_ref().clone())
                    .build();
                let answer = match request {
                    Ok(request) => match crate::audit::log::call_partner(&http, request).await {
                        Ok(res) if res.status.is_success() => Ok(res.body),
                        Ok(res) => Err(format!("HTTP {}", res.status)),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                match answer {
                    Ok(_) => lat.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, first_error)
        });
    }
    let mut load = Load::default();
    while let Some(Ok((lat, errors, first_error))) = loops.join_next().await {
        load.latencies_us.extend(lat);
        load.errors += errors;
        if load.first_error.is_none() {
            load.first_error = first_error;
        }
    }
    load.elapsed = started.elapsed();
    load.ok = load.latencies_us.len() as u64;
    load.latencies_us.sort_unstable();
    load
}
