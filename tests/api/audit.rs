//! The tamper-evident message log: every partner message recorded raw and chained before it is
//! acted on; `motcua audit verify` names tampering; export and pruning.

use crate::helpers::*;
use crate::process::{run_motcua, write_config};
use motcua_gateway::audit::verify::Verifier;
use motcua_gateway::chain::sha256_hex;
use serde_json::Value;

/// Two submissions: one accepted (seq 1 and 2), one with a bad signature (seq 3 and 4).
/// Returns the accepted body.
async fn two_exchanges(app: &TestApp) -> Vec<u8> {
    let body = fixture("valid/karaoke.json");
    assert_eq!(app.submit(&body, "application/json").await.status(), 201);
    let forged = app
        .submit_signed(
            &forged_body(&body),
            "application/json",
            "msg_forged",
            now(),
            &["whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTAxMjM="],
        )
        .await;
    assert_eq!(forged.status(), 401);
    body
}

fn forged_body(body: &[u8]) -> Vec<u8> {
    with_portal_id(body, "FORGED-1")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn every_partner_message_is_recorded_raw_and_chained() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&format!("[portal]\nbase_url = \"{}\"\n", portal.address)).await;
    let body = two_exchanges(&app).await;
    app.worker.dispatch_all_pending().await.unwrap();

    let log = message_log(&app.store).await;
    assert_eq!(
        log.len(),
        6,
        "two requests, two answers, one delivery and its answer"
    );
    let (request, answer) = (&log[0], &log[1]);
    assert_eq!(
        (
            request.message.direction.as_str(),
            request.message.partner.as_str(),
            request.message.target.as_str(),
            request.message.verdict.as_str()
        ),
        ("in", "portal", "POST /portal/v1/dossiers", "received")
    );
    assert_eq!(request.message.body, body, "the bytes as received");
    assert_eq!(request.body_sha256, sha256_hex(&body));
    assert!(request.message.headers.contains("webhook-signature: v1,"));
    assert_eq!(answer.message.direction, "out");
    assert_eq!(answer.message.reply_to, Some(request.seq));
    assert_eq!(answer.message.target, "201");
    let answered: Value = serde_json::from_slice(&answer.message.body).unwrap();
    assert!(answered["MaHoSo"].as_str().is_some(), "{answered}");
    // A forgery is recorded too, but cut: its first KiB and the whole body's digest.
    let forged = forged_body(&body);
    assert!(
        forged.len() > 1024,
        "the fixture is longer than what is kept"
    );
    assert_eq!(
        log[2].message.verdict,
        format!(
            "unauthenticated: body {} bytes, sha256 {}, first 1024 kept",
            forged.len(),
            sha256_hex(&forged)
        )
    );
    assert_eq!(log[2].message.body, forged[..1024]);
    assert!(log[2].message.headers.contains("webhook-id: msg_forged"));
    assert_eq!(log[3].message.verdict, "401 SIGNATURE_INVALID");

    let delivered = &portal.received()[0];
    let (sent, reply) = (&log[4], &log[5]);
    assert_eq!(
        (
            sent.message.direction.as_str(),
            sent.message.partner.as_str()
        ),
        ("out", "portal")
    );
    assert!(
        sent.message.target.starts_with("POST http://"),
        "{}",
        sent.message.target
    );
    assert_eq!(
        sent.message.body, delivered.body,
        "what the portal got, byte for byte"
    );
    assert_eq!(
        (
            reply.message.direction.as_str(),
            reply.message.reply_to,
            reply.message.target.as_str()
        ),
        ("in", Some(sent.seq), "200")
    );
    assert_eq!(reply.message.body, br#"{"error_code":"0"}"#);

    let seqs: Vec<i64> = log.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    let mut verifier = Verifier::new(app.store.message_log_anchor().await.unwrap());
    for r in &log {
        verifier.check(r);
    }
    let head = app.store.message_log_head().await.unwrap();
    assert_eq!(head.hash, log[5].hash);
    assert_eq!(verifier.finish(&head), vec![]);
}

/// Each kind of intake answer — new (in the dossier's transaction), replay and conflict (in
/// the same transaction, nothing new stored), refused before the store — is in the log right
/// after its request, pointing back to it, byte for byte what the portal got.
#[tokio::test]
async fn every_intake_answer_is_recorded_as_sent_right_after_its_request() {
    let app = spawn_app().await;
    let karaoke = with_portal_id(&fixture("valid/karaoke.json"), "LOGGED-1");
    let other = with_portal_id(&fixture("valid/thu-vien.json"), "LOGGED-1");
    let invalid = fixture("invalid/422-missing-required-envelope-fields.json");
    let mut sent = Vec::new();
    for (body, status) in [
        (&karaoke, 201),
        (&karaoke, 200),
        (&other, 409),
        (&invalid, 422),
    ] {
        let res = app.submit(body, "application/json").await;
        assert_eq!(res.status(), status);
        sent.push((body.clone(), res.bytes().await.unwrap().to_vec()));
    }
    let log = message_log(&app.store).await;
    assert_eq!(log.len(), 8);
    let verdicts: Vec<&str> = log.iter().map(|r| r.message.verdict.as_str()).collect();
    assert_eq!(
        verdicts,
        vec![
            "received",
            "201 0",
            "received",
            "200 0",
            "received",
            "409 CONFLICT",
            "received",
            "422 VALIDATION"
        ]
    );
    for (pair, (request_body, answer_body)) in log.chunks(2).zip(&sent) {
        let (request, answer) = (&pair[0], &pair[1]);
        assert_eq!(&request.message.body, request_body);
        assert_eq!(
            (answer.message.direction.as_str(), answer.message.reply_to),
            ("out", Some(request.seq))
        );
        assert_eq!(
            &answer.message.body, answer_body,
            "the log holds what was sent"
        );
        assert!(answer
            .message
            .headers
            .contains("content-type: application/json"));
    }
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn a_request_that_cannot_be_recorded_is_not_acted_on() {
    let app = spawn_app().await;
    raw_sql(&app.db_url(), "DROP TABLE message_log").await;
    let res = app
        .submit(&fixture("valid/karaoke.json"), "application/json")
        .await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "UNAVAILABLE");
    assert_eq!(app.dossier_count().await, 0, "nothing was taken in");
}

#[tokio::test]
async fn payment_calls_and_callbacks_are_recorded() {
    let unsigned = "vnp_TxnRef=NOPE&vnp_SecureHash=00";
    let signed = crate::payments::ipn("NOPE", "100", "00", crate::payments::VNPAY_SECRET);
    let app = spawn_app().await;
    for query in [unsigned, &signed] {
        assert_eq!(get_ipn(&app, query).await.status(), 200);
    }
    let log = message_log(&app.store).await;
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|r| r.message.partner == "vnpay"));
    // The unsigned query is kept as a cut body with its digest, not in the request line.
    assert_eq!(
        (
            log[0].message.target.as_str(),
            log[0].message.body.as_slice()
        ),
        ("GET /payment/vnpay/ipn", unsigned.as_bytes())
    );
    assert_eq!(
        log[0].message.verdict,
        format!(
            "unauthenticated: body {} bytes, sha256 {}, first {} kept",
            unsigned.len(),
            sha256_hex(unsigned.as_bytes()),
            unsigned.len()
        )
    );
    assert_eq!(
        log[1].message.verdict, "200 97",
        "invalid signature, in VNPAY's words"
    );
    assert_eq!(
        (
            log[2].message.target.clone(),
            log[2].message.verdict.as_str()
        ),
        (format!("GET /payment/vnpay/ipn?{signed}"), "received"),
        "a signed query is the message; it is kept verbatim"
    );
    assert_eq!(log[3].message.verdict, "200 01", "order not found");
}

#[tokio::test]
async fn audit_verify_names_an_edited_or_removed_record() {
    let app = spawn_app().await;
    two_exchanges(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let cfg = config.to_str().unwrap();

    let out = run_motcua(&["--config", cfg, "audit", "verify"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("message log intact: 4 record(s), 1 to 4; head "),
        "{}",
        stdout(&out)
    );
    // In a pipe, only the result; on a terminal, a bar counting the records first.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let seen = crate::process::on_terminal(&["--config", cfg, "audit", "verify"]);
    let bar = regex::Regex::new(r"records \[[=> ]{40}\] \d/4").unwrap();
    assert!(bar.is_match(&seen), "{seen}");
    assert!(seen.contains("message log intact: 4 record(s)"), "{seen}");

    raw_sql(
        &app.db_url(),
        "UPDATE message_log SET verdict = '201' WHERE seq = 4",
    )
    .await;
    let out = run_motcua(&["--config", cfg, "audit", "verify"], &[]);
    assert!(!out.status.success());
    assert_eq!(
        stdout(&out),
        "record 4: its fields were altered (hash differs)\n"
    );

    raw_sql(&app.db_url(), "DELETE FROM message_log WHERE seq = 2").await;
    let out = run_motcua(&["--config", cfg, "audit", "verify"], &[]);
    assert!(!out.status.success());
    let report = stdout(&out);
    assert!(report.contains("record 2: missing (removed)\n"), "{report}");
    assert!(
        report.contains("record 3: does not follow the record before it"),
        "{report}"
    );
}

#[tokio::test]
async fn an_edited_body_is_named_even_with_its_hash_left_alone() {
    let app = spawn_app().await;
    two_exchanges(&app).await;
    let edit = if app.db_url().starts_with("sqlite://") {
        "UPDATE message_log SET body = CAST('{}' AS BLOB) WHERE seq = 1"
    } else {
        "UPDATE message_log SET body = convert_to('{}', 'UTF8') WHERE seq = 1"
    };
    raw_sql(&app.db_url(), edit).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let out = run_motcua(
        &["--config", config.to_str().unwrap(), "audit", "verify"],
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(
        stdout(&out),
        "record 1: its body was altered (SHA-256 differs)\n"
    );
}

#[tokio::test]
async fn a_packed_body_read_as_raw_or_cut_short_is_named() {
    let app = spawn_app().await;
    two_exchanges(&app).await;
    let db = app.db_url();
    assert_eq!(
        sql_i64(
            &db,
            "SELECT CAST(body_encoding AS BIGINT) FROM message_log WHERE seq = 1"
        )
        .await,
        1,
        "the pushed dossier's body is stored packed"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    let verify = || {
        let out = run_motcua(
            &["--config", config.to_str().unwrap(), "audit", "verify"],
            &[],
        );
        (out.status.success(), stdout(&out))
    };
    assert!(verify().0, "intact as stored: {}", verify().1);
    // The encoding flipped: the packed bytes read as the body.
    raw_sql(
        &db,
        "UPDATE message_log SET body_encoding = 0 WHERE seq = 1",
    )
    .await;
    assert_eq!(
        verify(),
        (
            false,
            "record 1: its body was altered (SHA-256 differs)\n".into()
        )
    );
    // Flipped back and the packed bytes cut short: they no longer decode.
    let cut = if db.starts_with("sqlite://") {
        "UPDATE message_log SET body_encoding = 1, body = substr(body, 1, 100) WHERE seq = 1"
    } else {
        "UPDATE message_log SET body_encoding = 1, body = substring(body from 1 for 100) WHERE seq = 1"
    };
    raw_sql(&db, cut).await;
    assert_eq!(
        verify(),
        (
            false,
            "record 1: its body was altered (SHA-256 differs)\n".into()
        )
    );
}

/// The lines `motcua args…` printed, each a JSON value; it must succeed.
fn exported(args: &[&str], envs: &[(&str, &str)]) -> Vec<Value> {
    let out = run_motcua(args, envs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn export_prints_a_time_range_as_json_lines_with_the_raw_bytes() {
    use base64::Engine;
    let app = spawn_app().await;
    let body = two_exchanges(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let cfg = config.to_str().unwrap();
    let today = motcua_gateway::domain::time::vn_date(chrono::Utc::now())
        .format("%Y%m%d")
        .to_string();

    let export = [
        "--config", cfg, "audit", "export", "--from", &today, "--to", &today,
    ];
    let lines = exported(&export, &[]);
    assert_eq!(lines.len(), 4);
    // Masked by default: identity and phone numbers keep their last three characters.
    let shown = base64::engine::general_purpose::STANDARD
        .decode(lines[0]["body_base64"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(shown).unwrap();
    assert_eq!(lines[0]["body_text"], text.as_str());
    assert_eq!(lines[0]["masked"], true);
    // (The enterprise's own tax code, `MaSoDoanhNghiep`, is public and stays.)
    for clear in ["0901234567", "079085004321", "028 3812 3456"] {
        assert!(std::str::from_utf8(&body).unwrap().contains(clear));
        assert!(!text.contains(clear), "{clear} shown in clear");
    }
    assert!(text.contains(r#""SoDinhDanh": "*******678""#), "{text}");
    assert_eq!(
        lines[0]["body_sha256"],
        sha256_hex(&body),
        "the stored body's digest"
    );
    // In clear only for an admin's token.
    let export = [&export[..], &["--unmasked"]].concat();
    for token in [None, Some(READER), Some("not-a-token")] {
        let envs: Vec<(&str, &str)> = token
            .map(|t| ("MOTCUA_ADMIN_TOKEN", t))
            .into_iter()
            .collect();
        let out = run_motcua(&export, &envs);
        assert!(!out.status.success(), "{token:?}");
        assert_eq!(stdout(&out), "", "{token:?}: nothing printed");
    }
    let lines = exported(&export, &[("MOTCUA_ADMIN_TOKEN", ADMIN)]);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines[0]["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, body);
    assert_eq!(lines[0]["masked"], false);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert!(lines[0]["time"].as_str().unwrap().ends_with("+07:00"));

    let out = run_motcua(
        &[
            "--config", cfg, "audit", "export", "--from", "20200101", "--to", "20200131",
        ],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(stdout(&out), "", "nothing in January 2020");
    let out = run_motcua(
        &[
            "--config",
            cfg,
            "audit",
            "export",
            "--from",
            "yesterday",
            "--to",
            &today,
        ],
        &[],
    );
    assert!(!out.status.success(), "an unreadable time is refused");
}

#[tokio::test]
async fn pruning_leaves_a_checkpoint_from_which_the_rest_verifies() {
    use motcua_gateway::chain::{Direction, Exchange, NewMessage};
    // Three exchanges of 400 days ago, written before the gateway starts, then four of today.
    let db = fresh_database().await;
    let now = chrono::Utc::now().timestamp_millis();
    // The second of them was with VNPAY: payment evidence, kept past the log's retention.
    let old = |n: i64, direction| NewMessage {
        at: now - 400 * 86_400_000 + n,
        direction,
        partner: if n / 2 == 1 { "vnpay" } else { "portal" }.into(),
        peer: "127.0.0.1".into(),
        reply_to: None,
        target: "POST /portal/v1/dossiers".into(),
        headers: String::new(),
        body: b"{}".to_vec(),
        verdict: "received".into(),
    };
    let exchanges = (0..3)
        .map(|n| Exchange::pair(old(2 * n, Direction::In), old(2 * n + 1, Direction::Out)))
        .collect();
    let store = motcua_gateway::store::Store::connect(&db.url, 2)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.append_exchanges(exchanges).await.unwrap();
    // As the gateway's pruner does it (at start and hourly): a year's retention, ten years for
    // payment evidence.
    let ten_years = now - 3653 * 86_400_000;
    let removed = store
        .prune_messages(now - 365 * 86_400_000, ten_years, now)
        .await
        .unwrap();
    assert_eq!(removed, 6, "the old exchanges left the chain");
    let kept = store.kept_records(0, 100).await.unwrap();
    assert_eq!(
        kept.iter()
            .map(|r| (r.seq, r.message.partner.as_str()))
            .collect::<Vec<_>>(),
        [(3, "vnpay"), (4, "vnpay")],
        "the VNPAY exchange is kept whole"
    );
    store.close().await;
    let app = spawn_on(db, "").await;
    two_exchanges(&app).await;
    two_exchanges_again(&app).await;
    let anchor = app.store.message_log_anchor().await.unwrap();
    assert_eq!(anchor.seq, 6);
    let rest = message_log(&app.store).await;
    assert_eq!(
        (rest.first().map(|r| r.seq), rest.len()),
        (Some(7), 8),
        "nothing of today is pruned"
    );

    // Anchored at shutdown, after the pruning: the rest verifies from the checkpoint.
    let db = app.stop().await;
    let (ok, out) = verify_cli(&db.url);
    assert!(ok, "{out}");
    assert!(
        out.starts_with("message log intact: 8 record(s), 7 to 14;"),
        "{out}"
    );
    assert!(
        out.ends_with("; 2 record(s) kept past the retention (payments, dossiers' submissions)\n"),
        "{out}"
    );
    // A kept record edited is named as any other.
    raw_sql(
        &db.url,
        "UPDATE message_log_kept SET verdict = '200 00' WHERE seq = 4",
    )
    .await;
    assert_reported(
        &db.url,
        "record 4: its fields were altered (hash differs)\n".into(),
    );
    // Past the payment retention, they go too.
    let store = motcua_gateway::store::Store::connect(&db.url, 2)
        .await
        .unwrap();
    store
        .prune_messages(now - 365 * 86_400_000, now, now)
        .await
        .unwrap();
    assert!(store.kept_records(0, 100).await.unwrap().is_empty());
    store.close().await;
}

/// Two more exchanges, with other portal ids.
async fn two_exchanges_again(app: &TestApp) {
    let body = with_portal_id(&fixture("valid/karaoke.json"), "AGAIN-1");
    assert_eq!(app.submit(&body, "application/json").await.status(), 201);
    let res = app.submit(b"{", "application/json").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_delivery_that_cannot_be_recorded_is_not_sent() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&format!("[portal]\nbase_url = \"{}\"\n", portal.address)).await;
    let body = fixture("valid/karaoke.json");
    assert_eq!(app.submit(&body, "application/json").await.status(), 201);
    raw_sql(&app.db_url(), "DROP TABLE message_log").await;
    // The requests are logged in the claim's own transaction: no log, no claim.
    let dispatched = app.worker.dispatch_all_pending().await;
    assert!(dispatched.is_err(), "{dispatched:?}");
    assert!(portal.received().is_empty(), "nothing left unrecorded");
    let pending = app.store.outbox_page("pending", 0, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "kept for a later attempt");
    assert_eq!(pending[0].attempts, 0, "no attempt was made");
    assert_eq!(
        claim(
            &app.store,
            "another-worker",
            chrono::Utc::now().timestamp_millis(),
            1_000,
            1
        )
        .await
        .len(),
        1,
        "the failed claim left no lease behind"
    );
}

/// Runs `motcua audit verify` on `db_url` (anchors in the test's anchor file); its success and
/// what it printed.
fn verify_cli(db_url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), db_url);
    let out = run_motcua(
        &["--config", config.to_str().unwrap(), "audit", "verify"],
        &[],
    );
    (out.status.success(), stdout(&out))
}

/// Points the chain's head at `seq` with `hash`, as someone covering their tracks would.
async fn set_head(db_url: &str, seq: i64, hash: &str) {
    raw_sql(
        db_url,
        &format!("UPDATE message_log_head SET last_seq = {seq}, last_hash = '{hash}'"),
    )
    .await;
}

/// `motcua audit verify` fails, printing exactly `report`.
fn assert_reported(db_url: &str, report: String) {
    let (ok, out) = verify_cli(db_url);
    assert!(!ok, "{out}");
    assert_eq!(out, report);
}

/// A gateway that took one exchange and stopped (anchoring record 2), then another one and
/// stopped (anchoring record 4): the database, its records, and its anchor lines.
async fn anchored_twice() -> (TestDb, Vec<motcua_gateway::chain::Record>, Vec<Value>) {
    let app = spawn_app().await;
    let body = fixture("valid/karaoke.json");
    assert_eq!(app.submit(&body, "application/json").await.status(), 201);
    let app = spawn_on(app.stop().await, "").await;
    let again = with_portal_id(&body, "AGAIN-1");
    assert_eq!(app.submit(&again, "application/json").await.status(), 201);
    let records = message_log(&app.store).await;
    let db = app.stop().await;
    let lines: Vec<Value> = std::fs::read_to_string(anchor_file(&db.url))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [2, 4],
        "each shutdown anchors the head"
    );
    assert_eq!(lines[1]["hash"], records[3].hash);
    assert_eq!(lines[1]["record_at"], records[3].message.at);
    (db, records, lines)
}

#[tokio::test]
async fn a_cut_tail_and_a_rewritten_head_are_reported_against_the_anchors() {
    let (db, records, lines) = anchored_twice().await;
    let (ok, out) = verify_cli(&db.url);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "; 2 anchor(s) in {};",
            anchor_file(&db.url).display()
        )),
        "{out}"
    );

    // The tail cut and the head moved back: the chain alone would hold.
    raw_sql(&db.url, "DELETE FROM message_log WHERE seq > 2").await;
    set_head(&db.url, 2, &records[1].hash).await;
    assert_reported(
        &db.url,
        format!(
            "the log ends at record 2, but record 4 was anchored at {}: its tail was cut\n",
            lines[1]["at"].as_str().unwrap()
        ),
    );
}

#[tokio::test]
async fn a_head_rewritten_with_its_hashes_recomputed_is_reported_against_the_anchors() {
    let (db, mut records, lines) = anchored_twice().await;
    // Record 3's verdict changed, and records 3 and 4 and the head given hashes that chain.
    records[2].message.verdict = "201 forged".into();
    for i in 2..4 {
        let prev = records[i - 1].hash.clone();
        let r = &mut records[i];
        r.prev_hash = prev;
        r.hash = motcua_gateway::chain::chain_hash(&r.prev_hash, r.seq, &r.message, &r.body_sha256);
        raw_sql(
            &db.url,
            &format!(
                "UPDATE message_log SET verdict = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
                r.message.verdict, r.prev_hash, r.hash, r.seq
            ),
        )
        .await;
    }
    set_head(&db.url, 4, &records[3].hash).await;
    assert_reported(
        &db.url,
        format!(
            "record 4: differs from its anchor of {} (the log was rewritten from there)\n",
            lines[1]["at"].as_str().unwrap()
        ),
    );
    // A line added by hand without the key is named, and believed in nothing.
    let mut forged = lines[1].clone();
    forged["seq"] = serde_json::json!(5);
    let path = anchor_file(&db.url);
    let text = std::fs::read_to_string(&path).unwrap() + &forged.to_string() + "\n";
    std::fs::write(&path, text).unwrap();
    let (_, out) = verify_cli(&db.url);
    assert!(
        out.starts_with("anchor file line 3: not an anchor, or its MAC does not hold"),
        "{out}"
    );
    assert!(!out.contains("record 5"), "{out}");
}

#[tokio::test]
async fn a_fake_pruning_checkpoint_is_reported_against_the_retention_and_the_anchors() {
    let (db, records, lines) = anchored_twice().await;
    let year_ago = chrono::Utc::now().timestamp_millis() - 366 * 86_400_000;
    // Records 1 and 2 removed, passed off as pruned: first with a boundary inside the
    // retention period, then with one set back a year, which the anchor of record 2 belies.
    raw_sql(&db.url, "DELETE FROM message_log WHERE seq <= 2").await;
    for (pruned_before, why) in [
        (
            records[1].message.at + 1,
            "it removed records within the retention period".to_owned(),
        ),
        (
            year_ago,
            format!(
                "record 2 (anchored at {}) was not old enough to remove",
                lines[0]["at"].as_str().unwrap()
            ),
        ),
    ] {
        raw_sql(&db.url, "DELETE FROM message_log_checkpoints").await;
        raw_sql(
            &db.url,
            &format!(
                "INSERT INTO message_log_checkpoints (up_to_seq, hash, pruned_before, at) \
                 VALUES (2, '{}', {pruned_before}, {})",
                records[1].hash,
                chrono::Utc::now().timestamp_millis()
            ),
        )
        .await;
        assert_reported(
            &db.url,
            format!("the pruning checkpoint after record 2: {why}\n"),
        );
    }
}
