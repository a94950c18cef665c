//! The catalogue (`GET /api/v1/procedures`, contract section 5): open to anyone, each
//! procedure with the rules in force on the day asked.

use crate::helpers::*;
use serde_json::{json, Value};

async fn catalogue(app: &TestApp, query: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/procedures{query}")))
        .send()
        .await
        .unwrap();
    status_and_json(res).await
}

fn find<'a>(items: &'a Value, code: &str) -> &'a Value {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["MaTTHC"] == code)
        .unwrap_or_else(|| panic!("{code} in {items}"))
}

#[tokio::test]
async fn the_catalogue_shows_each_procedure_with_the_fees_in_force_that_day() {
    let app = spawn_app().await;
    let (status, now) = catalogue(&app, "?at=2026-11-30").await;
    assert_eq!(status, 200, "no token needed: {now}");
    assert_eq!(now["at"], "2026-11-30");
    assert_eq!(now["items"].as_array().unwrap().len(), 15);
    let karaoke = find(&now, "1.001029");
    // The version in force that day is named, with every version's days.
    assert_eq!(karaoke["effective_from"], "2026-01-05");
    assert_eq!(karaoke["effective_until"], Value::Null);
    assert_eq!(
        karaoke["versions"],
        json!([{"effective_from": "2024-11-19", "effective_until": "2025-11-16"},
               {"effective_from": "2025-11-17", "effective_until": "2026-01-04"},
               {"effective_from": "2026-01-05", "effective_until": null}])
    );
    assert_eq!(karaoke["version"].as_str().map(str::len), Some(64));
    assert_eq!(
        (
            karaoke["MaTTHC_portal"].as_str(),
            karaoke["kind"].as_str(),
            karaoke["stand_in"].as_bool(),
            karaoke["processing_days"].as_i64()
        ),
        (
            Some("1.001029.000.00.00.H29"),
            Some("approval"),
            Some(false),
            Some(16)
        )
    );
    assert_eq!(
        karaoke["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (
                d["MaThanhPhanHoSo"].as_str().unwrap(),
                d["required"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("TP01", true), ("TP02", false), ("TP03", false)],
        "the two certificates come from the inter-agency steps"
    );
    assert_eq!(
        karaoke["fees"],
        json!([{
            "kind": "phi", "code": "PHI_TD_KARAOKE",
            "name": "Phí thẩm định cấp giấy phép kinh doanh dịch vụ karaoke",
            "legal_basis": "Thông tư 110/2025/TT-BTC", "effective_from": "2026-01-05",
            "when": null,
            "amount": {"per_unit": 1_000_000, "unit": "rooms", "max": 6_000_000}
        }])
    );
    // Its inter-agency steps, the second after the first; the dance hall's side by side.
    let steps = |p: &Value| -> Vec<(String, String, Value)> {
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    s["agency"].as_str().unwrap().to_owned(),
                    s["after"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        steps(karaoke),
        [
            ("nghiem-thu-pccc".into(), "000.20.07.H29".into(), json!([])),
            (
                "an-ninh-trat-tu".into(),
                "000.20.06.H29".into(),
                json!(["nghiem-thu-pccc"])
            )
        ]
    );
    assert_eq!(karaoke["steps"][1]["working_days"], 5);
    assert_eq!(
        steps(find(&now, "9.900001"))
            .iter()
            .map(|s| s.2.clone())
            .collect::<Vec<_>>(),
        [json!([]), json!([])]
    );
    assert_eq!(find(&now, "1.009399")["steps"], json!([]));
    // The day before Circular 110/2025 took effect: the earlier version (Decree 297/2025's),
    // Circular 01/2021's bands; the karaoke adjustment, mapped from that day, is not offered yet.
    let (_, before) = catalogue(&app, "?at=2026-01-04").await;
    let old = find(&before, "1.001029");
    assert_eq!(old["effective_from"], "2025-11-17");
    assert_eq!(old["effective_until"], "2026-01-04");
    assert_ne!(old["version"], karaoke["version"]);
    assert_eq!(
        old["legal_basis"].as_array().and_then(|b| b.last()),
        Some(&json!("Nghị định 297/2025/NĐ-CP"))
    );
    let codes = |c: &Value| {
        c["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["MaTTHC"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(&now)
            .into_iter()
            .filter(|c| !codes(&before).contains(c))
            .collect::<Vec<_>>(),
        ["9.900009"]
    );
    let fees = &old["fees"];
    assert_eq!(fees[0]["legal_basis"], "Thông tư 01/2021/TT-BTC");
    assert_eq!(
        fees[0]["amount"]["tiers"],
        json!([{"up_to": 3, "amount": 4_000_000}, {"up_to": 5, "amount": 6_000_000}, {"up_to": null, "amount": 12_000_000}])
    );
    assert_eq!(find(&now, "1.008895")["kind"], "notice");
    assert_eq!(
        find(&now, "1.003784")["variants"],
        json!([{"code": "lay_y_kien_bo_nganh", "name": "Có lấy ý kiến các bộ, ngành liên quan",
                "processing_days": 10, "legal_basis": "Nghị định 32/2012/NĐ-CP"}])
    );
    assert_eq!(
        find(&now, "9.900001")["stand_in"],
        true,
        "a stand-in says so"
    );
    assert!(find(&now, "9.900001")["code_note"]
        .as_str()
        .is_some_and(|n| n.contains("stand-in")));
    // The adjustment's owner fee is due only when the owner changes.
    assert_eq!(
        find(&now, "9.900009")["fees"][0]["when"],
        json!({"field": "change.owner", "equals": "1"})
    );
    let stand_ins: Vec<String> = now["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["stand_in"] == true)
        .map(|p| p["MaTTHC"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stand_ins,
        [
            "9.900001", "9.900002", "9.900003", "9.900004", "9.900005", "9.900006", "9.900007",
            "9.900008", "9.900009"
        ],
        "every code not found in a published source, and only those"
    );
    let (status, refused) = catalogue(&app, "?at=30/11/2026").await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (400, Some("INVALID_QUERY"))
    );
}
