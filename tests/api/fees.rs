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

#[tokio::test]
async fn the_karaoke_adjustment_charges_for_a_new_owner_only_when_the_owner_changes() {
    let app = spawn_app().await;
    let fees_of = |body: Value| {
        let app = &app;
        async move {
            let bytes = serde_json::to_vec(&body).unwrap();
            let (status, answer) =
                status_and_json(app.submit(&bytes, "application/json").await).await;
            assert_eq!(status, 201, "{answer}");
            let d = dossier(app, answer["MaHoSo"].as_str().unwrap()).await;
            let lines: Vec<(String, i64)> = d["fees"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l["code"].as_str().unwrap().to_owned(),
                        l["amount"].as_i64().unwrap(),
                    )
                })
                .collect();
            (lines, d["fee_total"].as_i64().unwrap())
        }
    };
    let fixture: Value = serde_json::from_slice(&fixture("valid/dieu-chinh-karaoke.json")).unwrap();
    // A new owner and two rooms added (Circular 110/2025): 500,000 + 2 × 1,000,000.
    assert_eq!(
        fees_of(fixture.clone()).await,
        (
            vec![
                ("PHI_DC_KARAOKE_CHU".to_owned(), 500_000),
                ("PHI_DC_KARAOKE_PHONG".to_owned(), 2_000_000)
            ],
            2_500_000
        )
    );
    // Rooms taken away, the owner kept: nothing is due.
    let mut fewer = fixture.clone();
    fewer["MaHoSoQG"] = json!("G22.99-ADJ-FEWER");
    fewer["DuLieuBieuMau"]["DoiChuSoHuu"] = json!("0");
    fewer["DuLieuBieuMau"]["SoPhongSauDieuChinh"] = json!(2);
    fewer["DuLieuBieuMau"]
        .as_object_mut()
        .unwrap()
        .remove("PhongTangThem");
    assert_eq!(fees_of(fewer).await, (vec![], 0));
    // Eight rooms added, the owner kept: the room fee's cap of 6,000,000.
    let mut more = fixture;
    more["MaHoSoQG"] = json!("G22.99-ADJ-MORE");
    more["DuLieuBieuMau"]["DoiChuSoHuu"] = json!("0");
    more["DuLieuBieuMau"]["PhongTangThem"]["Phong"] = json!((1..=8)
        .map(|i| json!({"TenPhong": format!("N{i}"), "DienTich": "25"}))
        .collect::<Vec<_>>());
    assert_eq!(
        fees_of(more).await,
        (
            vec![("PHI_DC_KARAOKE_PHONG".to_owned(), 6_000_000)],
            6_000_000
        )
    );
}
