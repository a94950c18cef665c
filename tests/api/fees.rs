//! Fees the lifecycle enforces (contract section 5): no result returned while the fees due are
//! unpaid (409 `FEES_UNPAID`), and fees paid at the counter recorded with `record_payment` —
//! the amount the fees due, a receipt number used once, the pending online request cancelled.

use crate::helpers::*;
use crate::lifecycle::{act, dossier_in, step};
use crate::payments::{dossier, request};
use serde_json::{json, Value};

/// The dossier's status and its payments as (provider, state).
async fn payments(app: &TestApp, code: &str) -> (i64, Vec<(String, String)>) {
    let d = dossier(app, code).await;
    let list = d["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap().to_owned(),
                p["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (d["TrangThaiHoSo"].as_i64().unwrap(), list)
}

pub(crate) fn counter(amount: Value, receipt: &str) -> Value {
    let mut body = step("record_payment");
    body["amount"] = amount;
    body["receipt_no"] = json!(receipt);
    body
}

#[tokio::test]
async fn a_result_is_not_returned_while_its_fees_are_unpaid() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "FEE-1").await;
    assert_eq!(act(&app, &code, step("complete")).await.0, 200);
    let (status, refused) = act(&app, &code, step("return_result")).await;
    assert_eq!(
        refusal(status, &refused),
        (
            409,
            Some("FEES_UNPAID"),
            Some("the fees due, 3000000 đồng, are not paid")
        )
    );
    assert_eq!(payments(&app, &code).await, (9, vec![]), "nothing changed");
    // A dossier paid on the way returns its result.
    let paid = dossier_in(&app, 9, "FEE-2").await;
    let (status, d) = act(&app, &paid, step("return_result")).await;
    assert_eq!((status, d["TrangThaiHoSo"].as_i64()), (200, Some(10)));
}

#[tokio::test]
async fn a_counter_payment_is_recorded_once_for_the_fees_due_and_cancels_the_online_one() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "FEE-3").await;
    // The citizen was sent to VNPAY, then paid at the counter instead.
    assert_eq!(request(&app, &code, "vnpay").await.0, 201);
    for (body, field, code_expected) in [
        (counter(json!(2_000_000), "BL-1"), "amount", "out_of_range"),
        (counter(json!("3000000"), "BL-1"), "amount", "wrong_type"),
        (counter(json!(-1), "BL-1"), "amount", "wrong_type"),
        (counter(json!(3_000_000), ""), "receipt_no", "required"),
        (
            counter(json!(3_000_000), &"9".repeat(51)),
            "receipt_no",
            "too_long",
        ),
        (
            {
                let mut b = counter(json!(3_000_000), "BL-1");
                b["method"] = json!("cash");
                b
            },
            "method",
            "not_allowed",
        ),
    ] {
        let (status, refused) = act(&app, &code, body.clone()).await;
        assert_eq!(
            (status, refused["error_code"].as_str()),
            (422, Some("VALIDATION")),
            "{body}"
        );
        assert!(
            refused["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == code_expected),
            "{body}: {refused}"
        );
    }
    assert_eq!(
        payments(&app, &code).await,
        (6, vec![("vnpay".into(), "pending".into())]),
        "no refusal changed anything"
    );
    let (status, d) = act(&app, &code, counter(json!(3_000_000), "BL-0001234")).await;
    assert_eq!((status, d["TrangThaiHoSo"].as_i64()), (200, Some(4)), "{d}");
    assert_eq!(
        payments(&app, &code).await,
        (
            4,
            vec![
                ("vnpay".into(), "cancelled".into()),
                ("counter".into(), "paid".into())
            ]
        )
    );
    let last = d["progress"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "record_payment");
    // The same receipt cannot pay another dossier's fees.
    let other = dossier_in(&app, 6, "FEE-4").await;
    let (status, refused) = act(&app, &other, counter(json!(3_000_000), "BL-0001234")).await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (409, Some("INVALID_TRANSITION")),
        "{refused}"
    );
    assert_eq!(payments(&app, &other).await, (6, vec![]));
}
