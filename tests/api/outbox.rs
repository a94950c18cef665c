//! The delivery outbox towards a test portal (a real HTTP server that fails as told): retries,
//! dead letters, operators' replay and discard, order per dossier, and metrics.

use crate::helpers::*;
use crate::lifecycle::{act, new_dossier};
use motcua_gateway::chain::Record;
use motcua_gateway::outbox::Dispatched;
use serde_json::{json, Value};

const OUTBOUND: &str = "whsec_dGVzdC1wb3J0YWwtb3V0Ym91bmQtc2VjcmV0LTAx";

fn portal_at(address: &str, extra: &str) -> String {
    format!("[portal]\nbase_url = \"{address}\"\n[outbox]\nworker = false\n{extra}")
}

fn step(action: &str) -> Value {
    json!({"action": action, "officer": {"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Một cửa"}, "note": "x"})
}

async fn outbox(app: &TestApp, state: &str) -> Vec<Value> {
    let (status, page) = app
        .get_json(&format!("/api/v1/outbox?state={state}"), ADMIN)
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The requests the message log holds as sent to the portal, each with the answers that point
/// back to it.
async fn portal_deliveries(app: &TestApp) -> Vec<(Record, Vec<Record>)> {
    let log = message_log(&app.store).await;
    log.iter()
        .filter(|r| r.message.partner == "portal" && r.message.verdict == "sent")
        .map(|request| {
            let answers = log
                .iter()
                .filter(|r| r.message.reply_to == Some(request.seq))
                .cloned()
                .collect();
            (request.clone(), answers)
        })
        .collect()
}

#[tokio::test]
async fn a_status_change_reaches_the_portal_signed_with_a_stable_id() {
    let portal = TestPartner::start().await;
    // Status reads kept for an hour: the delivery itself must drop the kept read.
    let app = spawn_app_with(&format!(
        "{}\n[server]\nstatus_cache_ttl = \"1h\"\n",
        portal_at(&portal.address, "")
    ))
    .await;
    let code = new_dossier(&app, "SYNC-1").await;
    let (s, _) = act(&app, &code, step("accept")).await;
    assert_eq!(s, 200);
    let (_, before) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(before["sync"]["pending"], 2);
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered, Dispatched::Delivered]
    );

    let got = portal.received();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.path, "/dossiers/sync");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.signed_by(OUTBOUND), "signed with portal.outbound_secret");
        assert!(!r.signed_by(PORTAL_SECRET));
    }
    let accepted = got[1].json();
    assert_eq!(accepted["service"], "CapNhatTienDoHoSoMC");
    assert_eq!(accepted["MaHoSo"], code);
    assert_eq!(accepted["MaHoSoQG"], "SYNC-1");
    // The portal writes procedure codes in the province's form; both syncs say it so.
    assert_eq!(accepted["MaTTHC"], "1.001029.000.00.00.H29");
    assert_eq!(got[0].json()["MaTTHC"], "1.001029.000.00.00.H29");
    assert_eq!(accepted["TrangThaiHoSo"], 2);
    assert!(accepted["NgayTiepNhan"].is_string() && accepted["NgayHenTra"].is_string());
    assert_eq!(accepted["NgayKetThucXuLy"], Value::Null);
    assert_eq!(accepted["TienDo"]["NguoiXuLy"], "Lê Thị Hoa");
    assert_eq!(got[0].json()["TrangThaiHoSo"], 1);

    let delivered = outbox(&app, "delivered").await;
    let ids: Vec<String> = delivered.iter().map(|m| m["id"].to_string()).collect();
    assert_eq!(
        ids,
        got.iter().map(Received::webhook_id).collect::<Vec<_>>(),
        "webhook-id is the message id"
    );
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(
        (
            d["sync"]["pending"].as_i64(),
            d["sync"]["delivered"].as_i64()
        ),
        (Some(0), Some(2))
    );
}

#[tokio::test]
async fn a_portal_failing_twice_gets_three_attempts_of_one_message_with_one_webhook_id() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(500), Reply::status(503)]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    new_dossier(&app, "RETRY-1").await;
    let steps = app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(
        steps,
        [
            Dispatched::Rescheduled,
            Dispatched::Rescheduled,
            Dispatched::Delivered
        ]
    );
    let got = portal.received();
    let ids: Vec<String> = got.iter().map(Received::webhook_id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let delivered = outbox(&app, "delivered").await;
    let log: Vec<i64> = delivered[0]["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["http_status"].as_i64().unwrap())
        .collect();
    assert_eq!(log, [500, 503, 200]);
    assert_eq!(delivered[0]["attempts"], 3);
}

#[tokio::test]
async fn a_refused_connection_is_retried_later_and_logged() {
    let app = spawn_app_with(&portal_at(&dead_address().await, "")).await;
    new_dossier(&app, "REFUSED-1").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled]
    );
    let pending = outbox(&app, "pending").await;
    assert_eq!(pending.len(), 1);
    let log = &pending[0]["attempt_log"][0];
    assert_eq!(log["outcome"], "retry");
    assert!(
        log["error"].as_str().unwrap().contains("connection"),
        "{log}"
    );
    // The schedule's first delay (5 s, jittered by ±20 %) counted from the attempt's end.
    let stored = app.store.outbox_page("pending", 0, 10).await.unwrap();
    let attempt = &stored[0].attempt_log[0];
    let delay = stored[0].next_attempt_at - attempt.started_at - attempt.latency_ms;
    assert!(
        (3_990..=6_050).contains(&delay),
        "the first retry is due 4 to 6 s after the attempt, not {delay} ms"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let portal = TestPartner::start().await;
    portal.script([Reply::Answer(
        429,
        "{}".into(),
        vec![("retry-after".into(), "120".into())],
    )]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    new_dossier(&app, "RA-1").await;
    let before = chrono::Utc::now();
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled],
        "not due again at once"
    );
    let next = app.store.outbox_page("pending", 0, 10).await.unwrap()[0].next_attempt_at;
    assert!(
        next >= before.timestamp_millis() + 120_000,
        "next attempt at least 120 s later"
    );
}

#[tokio::test]
async fn a_slow_portal_times_out_and_is_retried() {
    let portal = TestPartner::start().await;
    portal.script([Reply::Slow(std::time::Duration::from_secs(3))]);
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "timeout = \"300ms\"\nretry_schedule = [\"0s\"]",
    ))
    .await;
    new_dossier(&app, "SLOW-1").await;
    let steps = app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(steps, [Dispatched::Rescheduled, Dispatched::Delivered]);
    let delivered = outbox(&app, "delivered").await;
    let first = &delivered[0]["attempt_log"][0];
    assert!(
        first["error"].as_str().unwrap().contains("timeout"),
        "{first}"
    );
    assert_eq!(first["http_status"], Value::Null);
}

#[tokio::test]
async fn a_2xx_without_error_code_zero_is_retried() {
    let portal = TestPartner::start().await;
    portal.script([Reply::Answer(
        200,
        r#"{"error_code":"-1","message":"busy"}"#.into(),
        vec![],
    )]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    new_dossier(&app, "EC-1").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled, Dispatched::Delivered]
    );
}

#[tokio::test]
async fn a_400_is_dead_holds_the_dossier_back_and_is_delivered_once_replayed() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(400)]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    let a = new_dossier(&app, "DEAD-A").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead]
    );
    act(&app, &a, step("accept")).await;
    let b = new_dossier(&app, "DEAD-B").await;
    // A's acceptance waits behind its dead arrival; B is not held up.
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered]
    );
    assert_eq!(portal.received().last().unwrap().json()["MaHoSo"], b);

    let dead = outbox(&app, "dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["dossier"], a);
    assert_eq!(dead[0]["attempt_log"][0]["http_status"], 400);
    let (_, d) = app.get_json(&format!("/api/v1/dossiers/{a}"), READER).await;
    assert_eq!(d["sync"]["dead"], 1);

    let res = app
        .client
        .post(app.url(&format!("/api/v1/outbox/{}/replay", dead[0]["id"])))
        .bearer_auth(READER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "replay needs the admin scope");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/outbox/{}/replay", dead[0]["id"])))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered, Dispatched::Delivered]
    );
    let a_statuses: Vec<i64> = portal
        .received()
        .iter()
        .map(Received::json)
        .filter(|m| m["MaHoSo"] == a)
        .map(|m| m["TrangThaiHoSo"].as_i64().unwrap())
        .collect();
    assert_eq!(
        a_statuses,
        [1, 1, 2],
        "the replayed arrival, then the acceptance"
    );
    let again = app
        .client
        .post(app.url(&format!("/api/v1/outbox/{}/replay", dead[0]["id"])))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "only a dead message can be replayed");
}

#[tokio::test]
async fn discarding_a_dead_message_releases_the_dossiers_later_ones() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(422)]);
    let app = spawn_app_with(&portal_at(&portal.address, "")).await;
    let a = new_dossier(&app, "DISC-A").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead]
    );
    act(&app, &a, step("accept")).await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [],
        "held behind the dead message"
    );
    let id = outbox(&app, "dead").await[0]["id"].clone();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/outbox/{id}/discard")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered]
    );
    assert_eq!(portal.received().last().unwrap().json()["TrangThaiHoSo"], 2);
    assert_eq!(outbox(&app, "discarded").await.len(), 1);
}

#[tokio::test]
async fn a_message_still_failing_after_give_up_after_is_dead() {
    let portal = TestPartner::start().await;
    portal.set_default(Reply::status(503));
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "retry_schedule = [\"0s\", \"1h\"]\ngive_up_after = \"30m\"",
    ))
    .await;
    new_dossier(&app, "GIVEUP-1").await;
    let steps = app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(
        steps,
        [Dispatched::Rescheduled, Dispatched::Dead],
        "the next delay (1 h) would pass give_up_after"
    );
    let dead = outbox(&app, "dead").await;
    assert_eq!(dead[0]["attempts"], 2);
}

#[tokio::test]
async fn the_worker_delivers_each_dossiers_changes_in_order_after_an_outage() {
    let portal = TestPartner::start().await;
    portal.set_default(Reply::status(503));
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "retry_schedule = [\"20ms\", \"50ms\"]",
    ))
    .await;
    // The real dispatch loops, four at once, run by the test so it can stop them and know that
    // every outcome was recorded.
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(app.worker.clone().run(4, stop.clone()));
    let a = new_dossier(&app, "ORDER-A").await;
    let b = new_dossier(&app, "ORDER-B").await;
    for action in [
        "accept",
        "start_processing",
        "request_supplement",
        "receive_supplement",
        "complete",
    ] {
        let (s, body) = act(&app, &a, step(action)).await;
        assert_eq!(s, 200, "{body}");
    }
    act(&app, &b, step("accept")).await;
    portal
        .wait_until("a few refused attempts", |r| r.len() >= 4)
        .await;
    portal.set_default(Reply::ok());
    portal
        .wait_until("all eight messages confirmed", |r| {
            r.iter().filter(|x| x.answered == 200).count() >= 8
        })
        .await;
    stop.cancel();
    worker.await.unwrap();

    let got = portal.received();
    let confirmed = |code: &str| -> Vec<i64> {
        got.iter()
            .filter(|r| r.answered == 200)
            .map(Received::json)
            .filter(|m| m["MaHoSo"] == code)
            .map(|m| m["TrangThaiHoSo"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        confirmed(&a),
        [1, 2, 4, 5, 4, 9],
        "the first dossier's changes in order"
    );
    assert_eq!(confirmed(&b), [1, 2]);
    // A message of A is sent only once every earlier message of A was confirmed, and never
    // again after its own confirmation.
    let sends: Vec<(i64, u16)> = got
        .iter()
        .filter(|r| r.json()["MaHoSo"] == a)
        .map(|r| (r.webhook_id().parse().unwrap(), r.answered))
        .collect();
    let mut ids: Vec<i64> = sends.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "six messages of A: {sends:?}");
    let mut confirmed_so_far = std::collections::BTreeSet::new();
    for (n, (id, answered)) in sends.iter().enumerate() {
        let earlier: Vec<i64> = ids.iter().copied().filter(|x| x < id).collect();
        assert!(
            earlier.iter().all(|x| confirmed_so_far.contains(x)),
            "send {n} of message {id} while an earlier one was unconfirmed: {sends:?}"
        );
        assert!(
            !confirmed_so_far.contains(id),
            "message {id} sent again after its confirmation: {sends:?}"
        );
        if *answered == 200 {
            confirmed_so_far.insert(*id);
        }
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("motcua_outbox_deliveries_total{destination=\"portal\"} 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains("motcua_outbox_attempts_total{destination=\"portal\",outcome=\"retry\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("motcua_outbox_delivery_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_show_queue_depth_and_the_oldest_pending_age() {
    let app = spawn_app_with(&portal_at(&dead_address().await, "")).await;
    new_dossier(&app, "MET-1").await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains("motcua_outbox_messages{state=\"pending\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("motcua_outbox_messages{state=\"dead\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("motcua_outbox_oldest_pending_age_seconds "),
        "{text}"
    );
}

#[tokio::test]
async fn a_flood_of_scrapes_counts_the_outbox_at_most_once_a_second() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    let scrapes = (0..50).map(|_| app.client.get(app.url("/metrics")).send());
    for res in futures_util::future::join_all(scrapes).await {
        assert_eq!(res.unwrap().status(), 200);
    }
    let elapsed = started.elapsed().as_secs();
    let text = app.metrics().await;
    let reads: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("motcua_outbox_queue_reads_total "))
        .unwrap_or_else(|| panic!("{text}"))
        .parse()
        .unwrap();
    // One reading a second at most, the last scrape's included.
    assert!(reads <= elapsed + 2, "{reads} readings in {elapsed} s");
}

#[tokio::test]
async fn a_new_dossier_is_pushed_to_the_one_stop_software_in_the_departments_model() {
    let portal = TestPartner::start().await;
    let onestop = TestPartner::start().await;
    let secret = "whsec_b25lc3RvcC10ZXN0LXNlY3JldC0wMQ==";
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[onestop]\nbase_url = \"{}\"\nsecret = \"{secret}\"\n",
        portal.address, onestop.address
    ))
    .await;
    let code = new_dossier(&app, "ONESTOP-1").await;
    let steps = app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(steps, [Dispatched::Delivered, Dispatched::Delivered]);
    let got = onestop.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/dossiers");
    let r = &got[0];
    assert!(r.signed_by(secret), "signed with onestop.secret");
    let body = r.json();
    assert_eq!(body["event"], "dossier.received");
    let dossier = &body["dossier"];
    // Every field of the push, in the order it is written.
    let keys: Vec<&str> = dossier
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "code",
            "portal_id",
            "procedure",
            "status",
            "channel",
            "submitted_at",
            "received_at",
            "applicant",
            "summary",
            "form",
            "documents",
            "fees"
        ]
    );
    assert_eq!(dossier["code"], code);
    assert_eq!(dossier["portal_id"], "ONESTOP-1");
    assert!(
        dossier["procedure"]["code"].is_string() && dossier["procedure"]["name"].is_string(),
        "{dossier}"
    );
    assert_eq!(dossier["status"], 1);
    assert_eq!(dossier["channel"], 2);
    assert_eq!(dossier["submitted_at"].as_str().map(str::len), Some(14));
    assert_eq!(dossier["received_at"].as_str().map(str::len), Some(14));
    assert!(dossier["applicant"].is_object(), "{dossier}");
    assert!(
        dossier["documents"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{dossier}"
    );
    assert!(dossier["fees"].is_array(), "{dossier}");
    assert_eq!(dossier["form"]["rooms_count"], 3);
    assert_eq!(portal.received().len(), 1, "the portal got its own message");
}

#[tokio::test]
async fn each_destination_gets_a_steady_stream_not_a_flood() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "destination_rate = { per_second = 2, burst = 1 }",
    ))
    .await;
    for i in 0..3 {
        new_dossier(&app, &format!("RATE-{i}")).await;
    }
    let started = std::time::Instant::now();
    assert_eq!(app.worker.dispatch_all_pending().await.unwrap().len(), 3);
    // Two sends per second with no burst: the third send cannot start before a second has passed.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(portal.received().len(), 3);
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_record_its_outcome() {
    use motcua_gateway::store::{AttemptOutcome, AttemptRecord, Attempted, Claimed};
    let app = spawn_app_with(&portal_at(&dead_address().await, "")).await;
    new_dossier(&app, "FENCE-1").await;
    let t0 = chrono::Utc::now().timestamp_millis();
    let a = claim(&app.store, "worker-a", t0, 1_000, 1).await;
    assert_eq!(a.len(), 1, "claimable");
    assert!(
        claim(&app.store, "worker-b", t0 + 500, 1_000, 1)
            .await
            .is_empty(),
        "leased to A"
    );
    // A stalls past its lease; B takes the message over.
    let b = claim(&app.store, "worker-b", t0 + 1_001, 1_000, 1).await;
    assert_eq!(b.len(), 1, "the lease ran out");
    assert_eq!(a[0].id, b[0].id);
    assert!(b[0].fence > a[0].fence);
    let record_of = |c: &Claimed, w: &str| {
        let r = AttemptRecord {
            worker: w.into(),
            started_at: t0,
            latency_ms: 1,
            http_status: Some(200),
            error: None,
        };
        Attempted::of(c, AttemptOutcome::Delivered, r)
    };
    assert_eq!(
        record(&app.store, &[record_of(&a[0], "worker-a")], t0 + 1_100).await,
        [false]
    );
    assert_eq!(
        record(&app.store, &[record_of(&b[0], "worker-b")], t0 + 1_100).await,
        [true]
    );
    let delivered = app.store.outbox_page("delivered", 0, 10).await.unwrap();
    assert_eq!(delivered.len(), 1);
    let workers: Vec<&str> = delivered[0]
        .attempt_log
        .iter()
        .map(|x| x.worker.as_str())
        .collect();
    assert_eq!(
        workers,
        ["worker-b"],
        "only the holder of the current lease recorded an attempt"
    );
}

#[tokio::test]
async fn operators_replay_every_dead_message_of_a_destination_at_once() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(404), Reply::status(404)]);
    let app = spawn_app_with(&portal_at(&portal.address, "")).await;
    new_dossier(&app, "BULK-1").await;
    new_dossier(&app, "BULK-2").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead, Dispatched::Dead]
    );
    let post = |path: &str, body: Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let res = post("/api/v1/outbox/replay", json!({})).await.unwrap();
    assert_eq!(res.status(), 400, "a bulk decision must say which messages");
    let res = post("/api/v1/outbox/replay", json!({"destination": "portal"}))
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"replayed": 2}));
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered, Dispatched::Delivered]
    );
}

#[tokio::test]
async fn the_outbox_listing_refuses_bad_queries_and_non_admins() {
    let app = spawn_app().await;
    for q in ["state=lost", "cursor=x", "limit=0", "limit=501"] {
        let (status, body) = app.get_json(&format!("/api/v1/outbox?{q}"), ADMIN).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_QUERY")),
            "{q}"
        );
    }
    assert_eq!(app.get("/api/v1/outbox", READER).await.status(), 403);
    let res = app
        .client
        .post(app.url("/api/v1/outbox/not-an-id/replay"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_worker_keeps_many_claimed_past_its_slots_and_logs_every_delivery_as_a_pair() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "destination_concurrency = 2\nconcurrency = 16",
    ))
    .await;
    let mut codes = Vec::new();
    for i in 0..12 {
        let code = new_dossier(&app, &format!("PIPE-{i}")).await;
        let (s, body) = act(&app, &code, step("accept")).await;
        assert_eq!(s, 200, "{body}");
        codes.push(code);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(app.worker.clone().run(16, stop.clone()));
    portal
        .wait_until("all 24 messages confirmed", |r| r.len() >= 24)
        .await;
    stop.cancel();
    worker.await.unwrap();

    let got = portal.received();
    assert_eq!(got.len(), 24, "each message sent once");
    for code in &codes {
        let statuses: Vec<i64> = got
            .iter()
            .map(Received::json)
            .filter(|m| m["MaHoSo"] == code.as_str())
            .map(|m| m["TrangThaiHoSo"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, [1, 2], "{code} in order");
    }
    assert!(got.iter().all(|r| r.signed_by(OUTBOUND)));
    assert_eq!(outbox(&app, "delivered").await.len(), 24);
    assert!(outbox(&app, "pending").await.is_empty());

    // Every delivery is in the message log: its request before it left, then the answer,
    // pointing back to it.
    let deliveries = portal_deliveries(&app).await;
    assert_eq!(deliveries.len(), 24);
    for (request, answers) in &deliveries {
        assert_eq!(answers.len(), 1, "one answer to request {}", request.seq);
        assert!(answers[0].seq > request.seq);
        assert_eq!(answers[0].message.target, "200");
        assert_eq!(answers[0].message.verdict, "answered");
        let sent = got
            .iter()
            .find(|r| r.body == request.message.body)
            .expect("the logged body is what the portal received");
        assert!(request
            .message
            .headers
            .contains(&format!("webhook-id: {}", sent.webhook_id())));
    }
}

#[tokio::test]
async fn in_one_cycle_only_the_outcomes_whose_claims_still_hold_are_recorded() {
    use motcua_gateway::store::{AttemptOutcome, AttemptRecord, Attempted};
    let app = spawn_app_with(&portal_at(&dead_address().await, "")).await;
    new_dossier(&app, "FENCE-MIX-1").await;
    new_dossier(&app, "FENCE-MIX-2").await;
    let t0 = chrono::Utc::now().timestamp_millis();
    let held = claim(&app.store, "worker-a", t0, 1_000, 10).await;
    assert_eq!(held.len(), 2);
    // A stalls past its lease on both; B takes over the first due of them.
    let taken = claim(&app.store, "worker-b", t0 + 1_001, 1_000, 1).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, held[0].id);
    let attempt = AttemptRecord {
        worker: "worker-a".into(),
        started_at: t0,
        latency_ms: 1,
        http_status: Some(200),
        error: None,
    };
    let outcomes: Vec<Attempted> = held
        .iter()
        .map(|c| Attempted::of(c, AttemptOutcome::Delivered, attempt.clone()))
        .collect();
    assert_eq!(
        record(&app.store, &outcomes, t0 + 1_100).await,
        [false, true],
        "the taken-over one is not recorded"
    );
    let delivered = app.store.outbox_page("delivered", 0, 10).await.unwrap();
    assert_eq!(
        delivered.iter().map(|m| m.id).collect::<Vec<_>>(),
        [held[1].id]
    );
    assert_eq!(delivered[0].attempt_log.len(), 1);
    let pending = app.store.outbox_page("pending", 0, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|m| m.id).collect::<Vec<_>>(),
        [held[0].id]
    );
    assert!(
        pending[0].attempt_log.is_empty(),
        "no attempt logged for the lost lease"
    );
}

#[tokio::test]
async fn an_outcome_the_store_cannot_record_is_kept_and_recorded_later_without_sending_again() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&portal_at(&portal.address, "")).await;
    new_dossier(&app, "STORE-DOWN-1").await;
    // Every attempt row is refused: the cycle recording the outcome fails as a whole.
    let url = app.db_url();
    if url.starts_with("sqlite://") {
        raw_sql(
            &url,
            "CREATE TRIGGER refuse_attempts BEFORE INSERT ON outbox_attempts \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        )
        .await;
    } else {
        raw_sql(
            &url,
            "CREATE FUNCTION refuse_attempts() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
        )
        .await;
        raw_sql(
            &url,
            "CREATE TRIGGER refuse_attempts BEFORE INSERT ON outbox_attempts \
             FOR EACH ROW EXECUTE FUNCTION refuse_attempts()",
        )
        .await;
    }
    let mut progress = app.worker.progress();
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(app.worker.clone().run(4, stop.clone()));
    portal
        .wait_until("the message sent", |r| r.len() == 1)
        .await;
    // At least one failed cycle (the loop retries every two seconds, so it may be more).
    let within = std::time::Duration::from_secs(30);
    tokio::time::timeout(within, progress.wait_for(|p| p.store_errors >= 1))
        .await
        .expect("no failed cycle within 30 s")
        .unwrap();
    let failed = app
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("motcua_outbox_store_errors_total "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(
        failed.is_some_and(|n| n >= 1),
        "the failed cycle is counted: {failed:?}"
    );
    let pending = app.store.outbox_page("pending", 0, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "not recorded while the store refuses");
    assert!(pending[0].attempt_log.is_empty());

    // The store works again: the kept outcome is recorded by a later cycle.
    let drop_trigger = if url.starts_with("sqlite://") {
        "DROP TRIGGER refuse_attempts"
    } else {
        "DROP TRIGGER refuse_attempts ON outbox_attempts"
    };
    raw_sql(&url, drop_trigger).await;
    tokio::time::timeout(within, progress.wait_for(|p| p.recorded >= 1))
        .await
        .expect("the kept outcome was never recorded")
        .unwrap();
    let delivered = app.store.outbox_page("delivered", 0, 10).await.unwrap();
    stop.cancel();
    worker.await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].attempt_log.len(),
        1,
        "one attempt, logged once"
    );
    assert_eq!(portal.received().len(), 1, "not sent again");
    let deliveries = portal_deliveries(&app).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].1.len(), 1, "its answer recorded once");
}

#[tokio::test]
async fn a_redirecting_portal_is_not_followed() {
    let elsewhere = TestPartner::start().await;
    let portal = TestPartner::start().await;
    portal.script([Reply::Answer(
        307,
        String::new(),
        vec![(
            "location".into(),
            format!("{}/dossiers/sync", elsewhere.address),
        )],
    )]);
    let app = spawn_app_with(&portal_at(&portal.address, "")).await;
    new_dossier(&app, "REDIRECT-1").await;
    // A redirect is not a confirmation, and not an address to send the signed dossier to.
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead]
    );
    assert_eq!(portal.received().len(), 1);
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
    let dead = app.store.outbox_page("dead", 0, 10).await.unwrap();
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("HTTP 307 Temporary Redirect (permanent)")
    );
}

#[tokio::test]
async fn an_answer_over_a_mebibyte_is_not_read_to_its_end_nor_believed() {
    let portal = TestPartner::start().await;
    // A confirmation, then two MiB of whitespace: valid JSON, if it were read whole.
    let padded = format!(r#"{{"error_code":"0"}}{}"#, " ".repeat(2 * 1024 * 1024));
    portal.script([Reply::Answer(200, padded, vec![])]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    new_dossier(&app, "BIG-1").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled, Dispatched::Delivered]
    );
    let deliveries = portal_deliveries(&app).await;
    let first_answer = &deliveries[0].1[0];
    assert_eq!(first_answer.message.body.len(), 1024 * 1024, "1 MiB kept");
    assert_eq!(
        first_answer.message.verdict,
        "answered past 1 MiB: cut, not acted on"
    );
    let delivered = app.store.outbox_page("delivered", 0, 10).await.unwrap();
    assert_eq!(
        delivered[0].attempt_log[0].error.as_deref(),
        Some("answer over 1 MiB, not read")
    );
}

#[tokio::test]
async fn a_long_retry_after_waits_within_the_window_and_never_kills_the_message() {
    let portal = TestPartner::start().await;
    // A year's wait asked: the message waits until the end of its window, and is not dead.
    portal.script([Reply::Answer(
        503,
        "{}".into(),
        vec![("retry-after".into(), "31536000".into())],
    )]);
    let app = spawn_app_with(&portal_at(
        &portal.address,
        "retry_schedule = [\"1s\"]\ngive_up_after = \"1h\"",
    ))
    .await;
    new_dossier(&app, "RA-LONG").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled]
    );
    let pending = app.store.outbox_page("pending", 0, 10).await.unwrap();
    assert_eq!(
        pending[0].next_attempt_at - pending[0].created_at,
        3_600_000,
        "due again at the end of its one-hour window"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let portal = TestPartner::start().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(300);
    portal.script([Reply::Answer(
        503,
        "{}".into(),
        vec![(
            "retry-after".into(),
            at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )],
    )]);
    let app = spawn_app_with(&portal_at(&portal.address, "retry_schedule = [\"0s\"]")).await;
    new_dossier(&app, "RA-DATE").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Rescheduled]
    );
    let next = app.store.outbox_page("pending", 0, 10).await.unwrap()[0].next_attempt_at;
    // The date has whole seconds: due at that second, give or take the milliseconds between
    // reading the answer and recording the outcome (each clock read rounds down to a ms).
    let asked = at.timestamp() * 1000;
    assert!(
        (asked - 10..=asked + 1_000).contains(&next),
        "due at the date asked ({asked}), not {next}"
    );
}
