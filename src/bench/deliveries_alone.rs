//! The outbox's store work measured alone: the worker's delivery cycles
//! (`store::DeliveryCycle`: the outcomes that came back recorded with their attempt rows and
//! answers' log records, due messages claimed, their signed requests logged) run back to back,
//! on a thread of their own with the writer's own connection as the worker's loop runs, over
//! the messages the drain delivered, put back as due. Every message is answered "delivered" at
//! once: no HTTP, and no waiting for answers to come back. What the cycles do per second here
//! bounds what the drain can do on the same machine, whatever the sends cost.

use super::client::Load;
use crate::audit::log::{Answer, Outbound};
use crate::chain::NewMessage;
use crate::signing::{sign, WebhookSecret};
use crate::store::lane::{spawn_on, Lane};
use crate::store::{AttemptOutcome, AttemptRecord, Attempted, ClaimFor, Claimed, Store};
use anyhow::Context;
use std::time::Instant;

/// Puts every message of the run's outbox back as due and never tried, behind the gateway's
/// back (the gateway is stopped).
const REQUEUE: &str = "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = 0, \
     delivered_at = NULL, dead_at = NULL, last_error = NULL, lease_owner = NULL, lease_until = NULL";

/// Runs delivery cycles of up to `per_cycle` messages on `db_url` until nothing is due; each
/// cycle's time is the latency of each message it claimed.
pub async fn run(
    db_url: &str,
    per_cycle: usize,
    sink: &str,
    secret: &WebhookSecret,
) -> anyhow::Result<Load> {
    super::db::execute(db_url, REQUEUE).await?;
    let shared = Store::connect(db_url, 2).await?;
    let http = reqwest::Client::new();
    let url = format!("http://{sink}/dossiers/sync");
    let secret = secret.clone();
    let (done_tx, load) = tokio::sync::oneshot::channel();
    let work_on_thread = async move {
        let own = tokio::sync::OnceCell::new();
        let store = shared.own_writer(&own).await;
        let result = cycles(&store, per_cycle, |m| request(&http, &url, &secret, m)).await;
        store.close().await;
        shared.close().await;
        let _ = done_tx.send(result);
    };
    spawn_on(Lane::Dedicated, "motcua-bench-cycles", work_on_thread).await;
    load.await.context("the delivery cycles stopped")?
}

/// The cycles, as the worker's loop runs them, until a cycle claims nothing and has nothing
/// to record.
async fn cycles(
    store: &Store,
    per_cycle: usize,
    request: impl Fn(&Claimed) -> anyhow::Result<Outbound>,
) -> anyhow::Result<Load> {
    let mut load = Load::default();
    let mut done: Vec<Attempted> = Vec::new();
    let claim = ClaimFor {
        worker: "bench",
        lease_ms: 60_000,
        limit: i64::try_from(per_cycle).unwrap_or(i64::MAX),
    };
    let answer = || Answer {
        status: reqwest::StatusCode::OK,
        headers: [(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        )]
        .into_iter()
        .collect(),
        body: axum::body::Bytes::from_static(br#"{"error_code":"0","message":"ok"}"#),
        cut: false,
    };
    loop {
        let t0 = Instant::now();
        let now = chrono::Utc::now().timestamp_millis();
        let mut cycle = store.begin_delivery_cycle().await?;
        let recorded = cycle.record(&done, now).await?;
        let claimed = cycle.claim(now, claim).await?;
        let calls = claimed
            .iter()
            .map(&request)
            .collect::<Result<Vec<_>, _>>()?;
        let requests: Vec<Option<NewMessage>> =
            calls.iter().map(|c| Some(c.request.clone())).collect();
        let seqs = cycle.commit(requests).await?;
        let took = t0.elapsed();
        load.elapsed += took;
        let held = recorded.iter().filter(|r| **r).count();
        if held != done.len() {
            load.errors += (done.len() - held) as u64;
            load.first_error
                .get_or_insert_with(|| "an outcome's claim did not hold".into());
        }
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        load.latencies_us
            .extend(std::iter::repeat_n(us, claimed.len()));
        if claimed.is_empty() && done.is_empty() {
            break;
        }
        load.ok += held as u64;
        done = claimed
            .iter()
            .zip(&calls)
            .zip(seqs)
            .map(|((c, call), seq)| {
                let record = AttemptRecord {
                    worker: "bench".into(),
                    started_at: now,
                    latency_ms: 0,
                    http_status: Some(200),
                    error: None,
                };
                let mut attempted = Attempted::of(c, AttemptOutcome::Delivered, record);
                attempted.answer = seq.map(|seq| call.answer_record(seq, &Ok(answer())));
                attempted
            })
            .collect();
    }
    load.latencies_us.sort_unstable();
    Ok(load)
}

/// The signed request the worker would send for `m`, as its log record sees it.
fn request(
    http: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    m: &Claimed,
) -> anyhow::Result<Outbound> {
    let id = m.id.to_string();
    let ts = chrono::Utc::now().timestamp();
    let request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            sign(secret, &id, ts, m.payload.as_bytes()),
        )
        .body(m.payload.clone())
        .build()?;
    Ok(Outbound::of(&m.destination, &request))
}
