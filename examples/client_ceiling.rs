//! How close an HTTP client built on hyper can come to the harness's bare loop: the same
//! local sink (axum, answering `{"error_code":"0"}`, as `bench outbox` starts it), the same
//! 700-byte JSON body, the same number of loops, sent eight ways in turn, three rounds, each
//! round's rates quoted against its own bare loop:
//!
//! - `bare`: the harness's own client (`bench::client::run`: prepared bytes on a keep-alive
//!   connection, the answer read by `Content-Length`), the baseline of `bench outbox`;
//!   `bare-signed`: the same with the worker's three `webhook-*` headers (one signature, made
//!   once), to show what the sink pays for them;
//! - `worker`: the outbox worker's client and request (`bench::client::run_reqwest_signed`:
//!   `partner_client`, each request signed, built and read as `outbox::attempt` does);
//! - `+signed`, `+timeout`, `reqwest`: `reqwest` with less and less of the worker's work —
//!   the URL parsed once and the body shared (`Bytes`) in all three, the answer read with
//!   `bytes()`; `+signed` signs each request with its three headers through `partner_client`,
//!   `+timeout` only goes through `partner_client` (its timeouts, no redirects), `reqwest` is a
//!   client with no timeout;
//! - `hyper-pool`: hyper's pooled client (`hyper_util`'s legacy client, which `reqwest`
//!   wraps) with no `reqwest` above it;
//! - `hyper-conn`: one hyper HTTP/1 connection per loop, no pool (the connection's task still
//!   spawned, as hyper requires).
//!
//! `cargo run --release --example client_ceiling` (`N` messages a run, default 30,000; `C`
//! loops, default 16 as `bench outbox`; `WAYS=+signed,reqwest` runs only those beside the bare
//! loop; `SIGNS=1` first times a signature and a request's building alone). Issue 23's eighth
//! slice in docs/PERFORMANCE.md quotes it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use motcua_gateway::bench::client::{self, Until};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The gateway's allocator (`src/main.rs`), so that the clients run as they do in `bench outbox`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sends `n` requests in all from `c` loops, each loop running `one` in turn; per second.
async fn loops<F, Fut>(c: usize, n: u64, one: F) -> Result<f64, Box<dyn std::error::Error>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..c {
        let (next, one) = (next.clone(), one.clone());
        set.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                one(w).await?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// The sink: answers every request as a partner confirming.
async fn sink() -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let app = axum::Router::new().fallback(|| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"error_code":"0"}"#,
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let c: usize = std::env::var("C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let addr = sink().await?;
    let url = format!("http://{addr}/dossiers/sync");
    let payload = format!("{{\"p\":\"{}\"}}", "z".repeat(690)).into_bytes();
    let body = Bytes::from(payload.clone());
    let secret = motcua_gateway::signing::WebhookSecret::parse(
        motcua_gateway::bench::gateway::PORTAL_SECRET,
    )
    .map_err(|e| format!("secret: {e}"))?;
    if std::env::var("SIGNS").is_ok() {
        let t = Instant::now();
        let mut total = 0usize;
        for i in 0..200_000i64 {
            total += motcua_gateway::signing::sign(&secret, "msg_1", i, &payload).len();
        }
        println!(
            "sign: {:.2} µs each ({total})",
            t.elapsed().as_secs_f64() * 1e6 / 200_000.0
        );
        let t = Instant::now();
        let http = reqwest::Client::new();
        let target = reqwest::Url::parse(&url)?;
        for i in 0..200_000i64 {
            let id = i.to_string();
            let req = http
                .post(target.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", i.to_string())
                .header(
                    "webhook-signature",
                    "v1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                )
                .body(body.clone())
                .build()?;
            total += req.headers().len();
        }
        println!(
            "build: {:.2} µs each ({total})",
            t.elapsed().as_secs_f64() * 1e6 / 200_000.0
        );
    }
    let ways = [
        "bare",
        "bare-signed",
        "worker",
        "+signed",
        "+timeout",
        "reqwest",
        "hyper-pool",
        "hyper-conn",
    ];
    println!("{n} requests a run, {c} loops; per s (ratio to the round's bare loop)");
    for round in 1..=3 {
        let mut line = format!("round {round}:");
        let mut bare = 0.0;
        let only = std::env::var("WAYS").unwrap_or_default();
        for way in ways {
            if !only.is_empty() && way != "bare" && !only.split(',').any(|w| w == way) {
                continue;
            }
            let rate = match way {
                "bare" | "bare-signed" => {
                    let payload = payload.clone();
                    // With the worker's three signature headers (one signature, made once).
                    let signature = motcua_gateway::signing::sign(&secret, "msg_1", 1, &payload);
                    let signed = way == "bare-signed";
                    let make: client::MakeRequest = Arc::new(move |_, _| {
                        let mut headers = vec![("content-type", "application/json")];
                        if signed {
                            headers.extend([
                                ("webhook-id", "123456789012345"),
                                ("webhook-timestamp", "1764300000"),
                                ("webhook-signature", signature.as_str()),
                            ]);
                        }
                        client::post("/dossiers/sync", &headers, &payload)
                    });
                    let load = client::run(&addr, c, Until::Count(n), 200, make).await;
                    load.ok as f64 / load.elapsed.as_secs_f64()
                }
                "worker" => {
                    let load =
                        client::run_reqwest_signed(&url, c, n, payload.clone(), &secret).await;
                    load.ok as f64 / load.elapsed.as_secs_f64()
                }
                "reqwest" | "+timeout" | "+signed" => {
                    // `partner_client` is the worker's client: its timeouts, no redirects.
                    let http = if way == "reqwest" {
                        reqwest::Client::builder()
                            .pool_max_idle_per_host(c)
                            .build()?
                    } else {
                        motcua_gateway::audit::log::partner_client(
                            std::time::Duration::from_secs(10),
                            c,
                        )?
                    };
                    let target = reqwest::Url::parse(&url)?;
                    let (body, secret, signed) = (body.clone(), secret.clone(), way == "+signed");
                    loops(c, n, move |_| {
                        let (http, target, body, secret) =
                            (http.clone(), target.clone(), body.clone(), secret.clone());
                        async move {
                            let mut req = http
                                .post(target)
                                .header(reqwest::header::CONTENT_TYPE, "application/json");
                            if signed {
                                let t0 = Instant::now();
                                let id = t0.elapsed().as_nanos().to_string();
                                let ts = chrono::Utc::now().timestamp();
                                let signature =
                                    motcua_gateway::signing::sign(&secret, &id, ts, &body);
                                req = req
                                    .header("webhook-id", &id)
                                    .header("webhook-timestamp", ts.to_string())
                                    .header("webhook-signature", signature);
                            }
                            let res = req.body(body).send().await.map_err(|e| e.to_string())?;
                            res.bytes().await.map_err(|e| e.to_string())?;
                            Ok(())
                        }
                    })
                    .await?
                }
                "hyper-pool" => {
                    let http = hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .pool_max_idle_per_host(c)
                    .build_http::<Full<Bytes>>();
                    let target: hyper::Uri = url.parse()?;
                    let body = body.clone();
                    loops(c, n, move |_| {
                        let (http, target, body) = (http.clone(), target.clone(), body.clone());
                        async move {
                            let req = hyper::Request::post(target)
                                .header(hyper::header::CONTENT_TYPE, "application/json")
                                .body(Full::new(body))
                                .map_err(|e| e.to_string())?;
                            let res = http.request(req).await.map_err(|e| e.to_string())?;
                            res.into_body().collect().await.map_err(|e| e.to_string())?;
                            Ok(())
                        }
                    })
                    .await?
                }
                _ => {
                    // One connection a loop, opened before the clock starts.
                    let mut senders = Vec::new();
                    for _ in 0..c {
                        let stream = tokio::net::TcpStream::connect(&addr).await?;
                        stream.set_nodelay(true)?;
                        let (sender, conn) =
                            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
                                hyper_util::rt::TokioIo::new(stream),
                            )
                            .await?;
                        tokio::spawn(conn);
                        senders.push(Arc::new(tokio::sync::Mutex::new(sender)));
                    }
                    let target: hyper::Uri = url.parse()?;
                    let body = body.clone();
                    loops(c, n, move |w| {
                        let (sender, target, body) =
                            (senders[w].clone(), target.clone(), body.clone());
                        async move {
                            let req = hyper::Request::post(target)
                                .header(hyper::header::HOST, "127.0.0.1")
                                .header(hyper::header::CONTENT_TYPE, "application/json")
                                .body(Full::new(body))
                                .map_err(|e| e.to_string())?;
                            let res = sender
                                .lock()
                                .await
                                .send_request(req)
                                .await
                                .map_err(|e| e.to_string())?;
                            res.into_body().collect().await.map_err(|e| e.to_string())?;
                            Ok(())
                        }
                    })
                    .await?
                }
            };
            if way == "bare" {
                bare = rate;
            }
            line.push_str(&format!("  {way} {rate:.0} ({:.3})", rate / bare));
        }
        println!("{line}");
    }
    Ok(())
}
