//! Untrusted input (contract section 8): what strangers can make the gateway store, spend or
//! hold, tried as they would try it.

use crate::helpers::*;
use crate::payments::{confirm, ipn, VNPAY_SECRET};
use serde_json::json;

/// The bytes the message log, the payment history and the dossiers hold, as the database
/// counts them.
async fn stored_bytes(app: &TestApp) -> i64 {
    let url = app.db_url();
    sql_i64(
        &url,
        "SELECT COALESCE(SUM(LENGTH(body) + LENGTH(headers) + LENGTH(target) + LENGTH(verdict)), 0) FROM message_log",
    )
    .await
        + sql_i64(&url, "SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM payment_events").await
}

#[tokio::test]
async fn a_flood_of_forgeries_leaves_the_store_flat() {
    let app = spawn_app().await;
    let before = stored_bytes(&app).await;
    let forger = ["whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTAxMjM="];
    let big = {
        let mut b = with_portal_id(&fixture("valid/karaoke.json"), "FORGED");
        let pad = format!(",\"Pad\":\"{}\"}}", "x".repeat(1000 * 1024));
        b.truncate(b.len() - 1 - usize::from(b.ends_with(b"\n")));
        b.extend_from_slice(pad.as_bytes());
        b
    };
    assert!(big.len() > 1000 * 1024 && big.len() <= 1024 * 1024);
    for i in 0..5 {
        let res = app
            .submit_signed(
                &big,
                "application/json",
                &format!("msg_f{i}"),
                now(),
                &forger,
            )
            .await;
        assert_eq!(
            status_and_json(res).await,
            (401, json!({"error_code": "SIGNATURE_INVALID"}))
        );
        // A forged PayGov confirmation of 60 KiB, and a forged VNPAY IPN of 8 KiB.
        let mut c = confirm("TT0000000000NONE", "1", "T1", "00", "forged");
        c["Pad"] = json!("y".repeat(60 * 1024));
        let res = app
            .client
            .post(app.url("/payment/paygov/confirm"))
            .json(&c)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (answer["MaLoi"].as_str(), answer["MaThamChieu"].as_str()),
            (Some("99"), Some(""))
        );
        let q = ipn("TT0000000000NONE", "100", "00", "forged") + "&pad=" + &"z".repeat(7 * 1024);
        let res = app
            .client
            .get(app.url(&format!("/payment/vnpay/ipn?{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["RspCode"],
            "97"
        );
    }
    let grown = stored_bytes(&app).await - before;
    // Fifteen forgeries and their answers: each request keeps at most 1 KiB of body and its
    // headers, each answer is small. The bodies sent were over 5.3 MB.
    assert!(grown < 15 * 2 * 1024, "the store grew by {grown} bytes");
    assert_eq!(
        sql_i64(&app.db_url(), "SELECT COUNT(*) FROM payment_events").await,
        0,
        "no unsigned callback joins a payment's history"
    );
    let log = message_log(&app.store).await;
    assert_eq!(
        log.len(),
        30,
        "each forgery is still recorded with its answer"
    );
    let requests: Vec<_> = log.iter().filter(|r| r.message.direction == "in").collect();
    assert!(requests
        .iter()
        .all(|r| r.message.verdict.starts_with("unauthenticated: body ")
            && r.message.body.len() <= 1024));
    assert!(
        requests.iter().all(|r| !r.message.target.contains("vnp_")),
        "an unsigned query is kept as a cut body, not whole in the request line"
    );
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn genuine_callbacks_get_through_a_flood_of_unsigned_ones() {
    let app = spawn_app_with("[rate_limits]\npayment = { per_second = 1, burst = 3 }\n").await;
    for _ in 0..20 {
        let res = app
            .client
            .post(app.url("/payment/paygov/confirm"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "an unsigned callback is answered, not rate-limited"
        );
        let res = app
            .client
            .get(app.url("/payment/vnpay/ipn?vnp_TxnRef=X"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let q = ipn("TT0000000000NONE", "100", "00", VNPAY_SECRET);
        let res = app
            .client
            .get(app.url(&format!("/payment/vnpay/ipn?{q}")))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "the providers' whole burst was left for signed callbacks"
    );
}
