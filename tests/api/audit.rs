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
        let res = app
            .client
            .get(app.url(&format!("/payment/vnpay/ipn?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
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

    let out = run_motcua(
        &[
            "--config", cfg, "audit", "export", "--from", &today, "--to", &today,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines[0]["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, body);
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
    let app = spawn_app().await;
    two_exchanges(&app).await;
    two_exchanges_again(&app).await;
    let log = message_log(&app.store).await;
    assert_eq!(log.len(), 8);
    let before = log[1].message.at + 1;
    let removed = app
        .store
        .prune_messages(before, chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    let anchor = app.store.message_log_anchor().await.unwrap();
    assert!(removed >= 2, "at least the first exchange is pruned");
    assert_eq!(anchor.seq, i64::try_from(removed).unwrap());
    let rest = message_log(&app.store).await;
    assert_eq!(
        rest.first().map(|r| r.seq),
        Some(anchor.seq + 1).filter(|s| *s <= 8)
    );

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let out = run_motcua(
        &["--config", config.to_str().unwrap(), "audit", "verify"],
        &[],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("{} to 8;", anchor.seq + 1)),
        "{}",
        stdout(&out)
    );
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
