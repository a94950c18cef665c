//! The department's view of inter-agency steps across dossiers (contract section 9): the open
//! and late steps of `GET /api/v1/lienthong`, paged, soonest due first, and the month's
//! indicators counting each agency's steps on time, late, and held at the month's end. On
//! SQLite and PostgreSQL alike.

use crate::agencies::*;
use crate::helpers::*;
use serde_json::{json, Value};

/// A karaoke dossier in processing with its fire-safety step forwarded: `(code, ref)`.
async fn forwarded(app: &TestApp, id: &str) -> (String, String) {
    let code = processing(app, "karaoke.json", id).await;
    let (s, d) = forward(app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "{d}");
    (
        code,
        step_of(&d, "nghiem-thu-pccc")["ref"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn due_long_ago(app: &TestApp, reference: &str) {
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossier_steps SET due_at = 86400000 WHERE ref = '{reference}'"),
    )
    .await;
}

fn codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["MaHoSo"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn open_and_late_steps_are_listed_soonest_due_first_and_paged() {
    let Setup { app, .. } = setup().await;
    let (a, _) = forwarded(&app, "LT-LIST-A").await;
    let (b, b_ref) = forwarded(&app, "LT-LIST-B").await;
    let (_, c_ref) = forwarded(&app, "LT-LIST-C").await;
    due_long_ago(&app, &b_ref).await;
    let (s, _) = agency_answer(&app, &c_ref, PC07_SECRET, "c-done", &done()).await;
    assert_eq!(s, 200);

    let (s, open) = app.get_json("/api/v1/lienthong?state=open", READER).await;
    assert_eq!(s, 200, "{open}");
    assert_eq!(
        codes(&open),
        [b.as_str(), a.as_str()],
        "the done one is gone; the late one first"
    );
    let first = &open["items"][0];
    assert_eq!(
        (
            &first["step"],
            &first["agency"],
            &first["agency_name"],
            &first["ref"],
            &first["late"]
        ),
        (
            &json!("nghiem-thu-pccc"),
            &json!(PC07),
            &json!("PC07 thử"),
            &json!(b_ref),
            &json!(true)
        )
    );
    assert_eq!(first["HanXuLy"], "19700102070000");
    assert_eq!(open["items"][1]["late"], false);
    assert_eq!(open["next_cursor"], Value::Null);
    let (_, default) = app.get_json("/api/v1/lienthong", READER).await;
    assert_eq!(default, open, "open is the default");

    let (_, late) = app.get_json("/api/v1/lienthong?state=late", READER).await;
    assert_eq!(codes(&late), [b.as_str()]);

    let (_, one) = app.get_json("/api/v1/lienthong?limit=1", READER).await;
    assert_eq!(codes(&one), [b.as_str()]);
    let cursor = one["next_cursor"].as_str().unwrap().to_owned();
    let (_, two) = app
        .get_json(
            &format!("/api/v1/lienthong?limit=1&cursor={cursor}"),
            READER,
        )
        .await;
    assert_eq!(codes(&two), [a.as_str()]);
    assert_eq!(two["next_cursor"], Value::Null);

    // A stopped dossier's step is no longer the department's to chase.
    let (s, _) = crate::lifecycle::act(
        &app,
        &b,
        json!({"action": "stop", "officer": officer(), "note": "Dừng theo đề nghị"}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, late) = app.get_json("/api/v1/lienthong?state=late", READER).await;
    assert_eq!(codes(&late), Vec::<&str>::new());

    for bad in ["state=closed", "limit=0", "limit=201", "cursor=abc"] {
        let (s, e) = app
            .get_json(&format!("/api/v1/lienthong?{bad}"), READER)
            .await;
        assert_eq!(
            (s, &e["error_code"]),
            (400, &json!("INVALID_QUERY")),
            "{bad}"
        );
    }
    let res = app
        .client
        .get(app.url("/api/v1/lienthong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_indicators_count_each_agencys_steps_on_time_late_and_held() {
    let Setup { app, .. } = setup().await;
    let (_, on_time) = forwarded(&app, "LT-IND-1").await;
    let (_, late_done) = forwarded(&app, "LT-IND-2").await;
    let (_, held) = forwarded(&app, "LT-IND-3").await;
    let (_, held_late) = forwarded(&app, "LT-IND-4").await;
    due_long_ago(&app, &late_done).await;
    due_long_ago(&app, &held_late).await;
    for (i, reference) in [&on_time, &late_done].into_iter().enumerate() {
        let (s, _) = agency_answer(&app, reference, PC07_SECRET, &format!("i-{i}"), &done()).await;
        assert_eq!(s, 200);
    }
    let _ = held;
    let month = (chrono::Utc::now() + chrono::Duration::hours(7)).format("%Y-%m");
    let (s, report) = app
        .get_json(&format!("/api/v1/reports/indicators?month={month}"), READER)
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(
        report["agencies"],
        json!([{"agency": PC07, "name": "PC07 thử", "on_time": 1, "late": 1,
                "open_at_end": 2, "late_at_end": 1}])
    );
    // The officers' indicators page shows the same line.
    let (_, cookie, _) = crate::admin::sign_in(&app, ADMIN).await;
    let cookie = crate::admin::pair(&cookie.unwrap());
    let (status, _, html) =
        crate::admin::open(&app, &format!("/admin/indicators?month={month}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            "<tr><th scope=\"row\">PC07 thử</th><td>1</td><td>1</td><td>2</td><td>1</td></tr>"
        ),
        "{html}"
    );
    let (_, before) = app
        .get_json("/api/v1/reports/indicators?month=2020-01", READER)
        .await;
    assert_eq!(before["agencies"], json!([]), "nothing forwarded then");
}
