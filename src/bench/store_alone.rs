//! The intake transaction measured alone: the same dossiers as the HTTP phase, parsed and
//! mapped by the gateway's own code outside the clock, then stored by `Store::insert_dossiers`
//! in full batches, one after another, on a thread of its own as the gateway's writer runs —
//! no HTTP, no signatures, no waiting for a batch to fill. What the store does per second here
//! bounds what intake over HTTP can do on the same machine, whatever the request path costs.

use super::client::Load;
use super::workload::Submissions;
use crate::chain::{Direction, NewMessage};
use crate::config::Config;
use crate::domain::code_template::CodeTemplate;
use crate::dossiers::intake::{BodyFormat, Intake, Recording};
use crate::dossiers::status_cache::StatusCache;
use crate::mapping::Mappings;
use crate::store::lane::{spawn_on, Lane};
use crate::store::{InsertOutcome, IntakeReplies, Store};
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stores batches of `batch` new dossiers (portal ids starting `prefix`, which no other run on
/// the same database may use) on `db_url` until the store has spent `duration` on them; each
/// batch's time is the latency of each of its dossiers.
pub async fn run(
    db_url: &str,
    work: Arc<Submissions>,
    prefix: &'static str,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let config = Config::load(None)?;
    let mappings = Mappings::load_dir(&config.mappings.dir)
        .map_err(|problems| anyhow::anyhow!("mappings: {problems:?}"))?;
    let shared = Store::connect(db_url, 2).await?;
    let intake = Intake::new(
        shared.clone(),
        Arc::new(mappings),
        config.agency.code.clone(),
        config.agency.name.clone(),
        false,
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(StatusCache::new(Duration::ZERO)),
    );
    let agency = config.agency.code.clone();
    let (done, load) = tokio::sync::oneshot::channel();
    let work_on_thread = async move {
        let own = tokio::sync::OnceCell::new();
        let store = shared.own_writer(&own).await;
        let mut load = Load::default();
        let mut n = 0u64;
        while load.elapsed < duration {
            let mut items = Vec::with_capacity(batch);
            for _ in 0..batch {
                match item(&intake, &work, prefix, n) {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        load.first_error.get_or_insert(e.to_string());
                        load.errors += 1;
                    }
                }
                n += 1;
            }
            let t0 = Instant::now();
            let outcomes = store.insert_dossiers(&agency, &items).await;
            let took = t0.elapsed();
            load.elapsed += took;
            let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
            for outcome in outcomes {
                match outcome {
                    Ok(InsertOutcome::Created { .. }) => {
                        load.ok += 1;
                        load.latencies_us.push(us);
                    }
                    other => {
                        load.first_error.get_or_insert(format!("{other:?}"));
                        load.errors += 1;
                    }
                }
            }
        }
        load.latencies_us.sort_unstable();
        store.close().await;
        shared.close().await;
        let _ = done.send(load);
    };
    spawn_on(Lane::Dedicated, "motcua-bench-store", work_on_thread).await;
    load.await.context("the store-alone run stopped")
}

/// The store's item for request `n`, built as the portal handler builds it.
fn item(
    intake: &Intake,
    work: &Submissions,
    prefix: &str,
    n: u64,
) -> anyhow::Result<crate::store::IntakeItem> {
    let (content_type, body) = work.body(prefix, 0, n);
    let [webhook_id, webhook_timestamp, _] = work.signature(prefix, 0, n, &body);
    let format = if content_type.ends_with("xml") {
        BodyFormat::Xml
    } else {
        BodyFormat::Json
    };
    let now = chrono::Utc::now();
    let message = move |direction, target: String, headers: String, body: Vec<u8>| NewMessage {
        at: now.timestamp_millis(),
        direction,
        partner: "portal".into(),
        peer: "127.0.0.1".into(),
        reply_to: None,
        target,
        headers,
        body,
        verdict: "received".into(),
    };
    let request = message(
        Direction::In,
        "POST /portal/v1/dossiers".into(),
        format!(
            "content-type: {content_type}\nwebhook-id: {webhook_id}\nwebhook-timestamp: {webhook_timestamp}"
        ),
        body.clone(),
    );
    let recording = Recording {
        request,
        replies: IntakeReplies {
            record: message(
                Direction::Out,
                String::new(),
                "content-type: application/json".into(),
                Vec::new(),
            ),
            created: 201,
            replayed: 200,
            conflict: 409,
            conflict_body: CodeTemplate::render(|code| format!(r#"{{"MaHoSo":"{code}"}}"#))?,
        },
    };
    Ok(intake.item(format, &body, now, recording)?)
}
