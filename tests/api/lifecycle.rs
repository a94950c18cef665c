//! `POST /api/v1/dossiers/{MaHoSo}/actions`: every transition allowed and forbidden, due dates
//! in working time, supplements, the one extension, timeliness and idempotency.

use crate::helpers::*;
use chrono::NaiveDateTime;
use motcua_gateway::domain::working_hours::WorkingHours;
use serde_json::{json, Value};

pub async fn new_dossier(app: &TestApp, id: &str) -> String {
    arrive(app, "karaoke.json", id).await
}

/// A dossier of the valid JSON fixture `fixture_name`, pushed with portal id `id`: its code.
pub async fn arrive(app: &TestApp, fixture_name: &str, id: &str) -> String {
    let res = app
        .submit(
            &with_portal_id(&fixture(&format!("valid/{fixture_name}")), id),
            "application/json",
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["MaHoSo"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn officer() -> Value {
    json!({"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Bộ phận Một cửa"})
}

pub async fn act(app: &TestApp, code: &str, body: Value) -> (u16, Value) {
    act_with(app, code, body, None).await
}

pub async fn act_with(app: &TestApp, code: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/actions")))
        .bearer_auth(WRITER)
        .json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    status_and_json(req.send().await.unwrap()).await
}

pub fn step(action: &str) -> Value {
    let mut body = json!({"action": action, "officer": officer(), "note": "Ghi chú"});
    if action == "extend" {
        body["new_due"] = json!("20271231170000");
    }
    if action == "record_payment" {
        // The karaoke fixture's fees, paid at the counter on a receipt of their own.
        body["method"] = json!("counter");
        body["amount"] = json!(3_000_000);
        body["receipt_no"] = json!(format!("BL-{:08x}", rand::random::<u32>()));
    }
    body
}

/// Drives a new dossier to `status` through allowed actions.
pub async fn dossier_in(app: &TestApp, status: i64, id: &str) -> String {
    let path: &[&str] = match status {
        1 => &[],
        2 => &["accept"],
        3 => &["reject"],
        4 => &["accept", "start_processing"],
        5 => &["accept", "start_processing", "request_supplement"],
        6 => &["accept", "request_payment"],
        7 => &["withdraw"],
        8 => &["accept", "stop"],
        // Paid at the counter first: a result is not returned while fees are unpaid.
        9 => &[
            "accept",
            "request_payment",
            "record_payment",
            "start_processing",
            "complete",
        ],
        10 => &[
            "accept",
            "request_payment",
            "record_payment",
            "start_processing",
            "complete",
            "return_result",
        ],
        _ => unreachable!(),
    };
    let code = new_dossier(app, id).await;
    for a in path {
        let (s, body) = act(app, &code, step(a)).await;
        assert_eq!(s, 200, "{a}: {body}");
    }
    code
}

#[tokio::test]
async fn every_transition_of_the_contract_is_allowed_and_every_other_is_409() {
    let app = spawn_app().await;
    let allowed: &[(&str, &[i64], Option<i64>)] = &[
        ("accept", &[1], Some(2)),
        ("reject", &[1], Some(3)),
        ("start_processing", &[2], Some(4)),
        ("request_supplement", &[4], Some(5)),
        ("receive_supplement", &[5], Some(4)),
        ("request_payment", &[2, 4], Some(6)),
        ("record_payment", &[6], Some(2)),
        ("extend", &[2, 4, 5, 6], None),
        ("complete", &[4], Some(9)),
        ("return_result", &[9], Some(10)),
        ("withdraw", &[1, 2, 4, 5, 6], Some(7)),
        ("stop", &[2, 4, 5, 6], Some(8)),
    ];
    for status in 1..=10 {
        let shared = dossier_in(&app, status, &format!("TR-{status}")).await;
        for (action, froms, to) in allowed {
            if froms.contains(&status) {
                let code = dossier_in(&app, status, &format!("TR-{status}-{action}")).await;
                let (s, body) = act(&app, &code, step(action)).await;
                assert_eq!(s, 200, "{action} from {status}: {body}");
                assert_eq!(
                    body["TrangThaiHoSo"],
                    to.unwrap_or(status),
                    "{action} from {status}"
                );
                assert_eq!(body["MaHoSo"], code);
                let last = body["progress"].as_array().unwrap().last().unwrap().clone();
                assert_eq!(last["action"], *action);
                assert_eq!(last["NguoiXuLy"], "Lê Thị Hoa");
                assert_eq!(last["ChucDanh"], "Chuyên viên");
                assert_eq!(last["PhongBanXuLy"], "Bộ phận Một cửa");
            } else {
                let (s, body) = act(&app, &shared, step(action)).await;
                assert_eq!(
                    (s, body["error_code"].as_str()),
                    (409, Some("INVALID_TRANSITION")),
                    "{action} from {status}"
                );
            }
        }
        let (_, d) = app
            .get_json(&format!("/api/v1/dossiers/{shared}"), READER)
            .await;
        assert_eq!(
            d["TrangThaiHoSo"], status,
            "forbidden actions changed nothing"
        );
    }
}

fn local(wire: &Value) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(wire.as_str().unwrap(), "%Y%m%d%H%M%S").unwrap()
}

#[tokio::test]
async fn accept_sets_the_due_date_in_working_days() {
    let app = spawn_app().await;
    let code = new_dossier(&app, "DUE-1").await;
    let (s, d) = act(
        &app,
        &code,
        json!({"action": "accept", "officer": officer()}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let calendar = motcua_gateway::config::Config::from_toml("")
        .unwrap()
        .calendar
        .load_years()
        .unwrap();
    let expected = calendar
        .due(&WorkingHours::department(), local(&d["NgayTiepNhan"]), 16)
        .unwrap();
    assert_eq!(
        local(&d["NgayHenTra"]),
        expected,
        "16 working days for the karaoke licence, its inter-agency steps included"
    );
    assert_eq!(
        d["progress"][1]["NoiDungXuLy"],
        "Tiếp nhận hồ sơ, hẹn ngày trả kết quả"
    );
    assert_eq!(
        d["sync"]["pending"], 2,
        "arrival and acceptance queued for the portal"
    );
}

#[tokio::test]
async fn a_supplement_stops_the_clock_and_the_due_date_moves_by_the_time_waited() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "SUP-1").await;
    let (_, before) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    let (s, _) = act(
        &app,
        &code,
        json!({"action": "request_supplement", "officer": officer()}),
    )
    .await;
    assert_eq!(
        s, 422,
        "request_supplement needs the list of what is needed"
    );
    let (s, _) = act(
        &app,
        &code,
        json!({"action": "request_supplement", "officer": officer(), "note": "Bản sao GCN ANTT"}),
    )
    .await;
    assert_eq!(s, 200);
    // The request is dated two weeks back and the due date set, behind the gateway's back, so
    // that the time waited is days of working time, not the test's milliseconds.
    let requested = chrono::Utc::now().timestamp_millis() / 1000 * 1000 - 14 * 86_400_000;
    let due = local(&before["NgayHenTra"]);
    raw_sql(
        &app.db_url(),
        &format!(
            "UPDATE dossiers SET supplement_requested_at = {requested}, due_at = {} WHERE code = '{code}'",
            due.and_utc().timestamp_millis() - 7 * 3_600_000
        ),
    )
    .await;
    let (s, after) = act(&app, &code, step("receive_supplement")).await;
    assert_eq!(s, 200, "{after}");
    let received = sql_i64(
        &app.db_url(),
        "SELECT at FROM progress WHERE action = 'receive_supplement'",
    )
    .await;
    // The due date moves by exactly the working time between the request and the receipt,
    // counted on the department's calendar and hours.
    let config = motcua_gateway::config::Config::from_toml("").unwrap();
    let (calendar, hours) = (
        config.calendar.load_years().unwrap(),
        &config.calendar.working_hours,
    );
    let vn = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .naive_utc()
            + chrono::Duration::hours(7)
    };
    let waited = calendar
        .working_time_between(hours, vn(requested), vn(received))
        .unwrap();
    assert!(
        waited >= 8 * 3600,
        "two weeks hold at least a working day: {waited} s"
    );
    let expected = calendar.add_working_time(hours, due, waited).unwrap();
    assert_eq!(
        local(&after["NgayHenTra"]),
        expected,
        "NgayHenTra {} moved by the {waited} s of working time waited",
        before["NgayHenTra"]
    );
}

#[tokio::test]
async fn a_dossier_is_extended_once_to_a_later_date() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "EXT-1").await;
    let (s, body) = act(&app, &code, json!({"action": "extend", "officer": officer(), "note": "Xin lỗi", "new_due": "20000101080000"})).await;
    assert_eq!(
        (s, body["errors"][0]["field"].as_str()),
        (422, Some("new_due"))
    );
    let (s, body) = act(
        &app,
        &code,
        json!({"action": "extend", "officer": officer(), "new_due": "20271231170000"}),
    )
    .await;
    assert_eq!(
        (s, body["errors"][0]["field"].as_str()),
        (422, Some("note")),
        "the apology letter is required"
    );
    // A date in a year with no calendar file is refused, and the extension is not spent.
    let mut to_2099 = step("extend");
    to_2099["new_due"] = json!("20991231170000");
    let (s, body) = act(&app, &code, to_2099).await;
    assert_eq!(
        (s, body["error_code"].as_str(), body["message"].as_str()),
        (
            409,
            Some("CALENDAR_MISSING"),
            Some("no working calendar for 2099: add config/calendar/2099.toml")
        )
    );
    let (s, body) = act(&app, &code, step("extend")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["NgayHenTra"], "20271231170000");
    assert_eq!(body["TrangThaiHoSo"], 4);
    let (s, body) = act(&app, &code, step("extend")).await;
    assert_eq!(
        (s, body["error_code"].as_str()),
        (409, Some("INVALID_TRANSITION"))
    );
}

#[tokio::test]
async fn completion_records_timeliness_and_return_records_the_handover() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 9, "DONE-1").await;
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["TrangThaiHoSo"], 9);
    assert!(d["NgayKetThucXuLy"].is_string());
    assert_eq!(
        d["timeliness"], "truoc_han",
        "finished on a day before the due day"
    );
    let (_, d) = act(&app, &code, step("return_result")).await;
    assert_eq!(d["TrangThaiHoSo"], 10);
    assert!(d["NgayTra"].is_string());
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_does_nothing_more() {
    let app = spawn_app().await;
    let code = new_dossier(&app, "IDEM-1").await;
    let body = json!({"action": "accept", "officer": officer()});
    let (s1, first) = act_with(&app, &code, body.clone(), Some("k-1")).await;
    let (s2, again) = act_with(&app, &code, body.clone(), Some("k-1")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, again);
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["progress"].as_array().unwrap().len(), 2, "accepted once");
    let (s, e) = act_with(
        &app,
        &code,
        json!({"action": "start_processing", "officer": officer()}),
        Some("k-1"),
    )
    .await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let (s, _) = act_with(&app, &code, body, None).await;
    assert_eq!(s, 409, "without the key the same request is a new one");
}

#[tokio::test]
async fn bad_action_requests_are_refused_precisely() {
    let app = spawn_app().await;
    let code = new_dossier(&app, "BAD-1").await;
    let (s, e) = act(
        &app,
        &code,
        json!({"action": "fly", "officer": {"name": "A"}}),
    )
    .await;
    assert_eq!((s, e["error_code"].as_str()), (422, Some("VALIDATION")));
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["action", "officer.title", "officer.unit"]);
    let raw = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/actions")))
        .bearer_auth(WRITER)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let (s, e) = act(&app, "000.00.12.H29-990101-0001", step("accept")).await;
    assert_eq!((s, e["error_code"].as_str()), (404, Some("NOT_FOUND")));
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/actions")))
        .bearer_auth(READER)
        .json(&step("accept"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "reading is not writing");
    // A control character in a text (a NUL that SQLite keeps and PostgreSQL refuses): named,
    // on both databases, and nothing stored.
    let mut nul = step("accept");
    nul["note"] = json!("a\u{0}b");
    nul["officer"]["name"] = json!("Lê\u{7}Hoa");
    let (s, e) = act(&app, &code, nul).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (422, Some("VALIDATION")),
        "{e}"
    );
    let problems: Vec<(&str, &str)> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["field"].as_str().unwrap(), x["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            ("officer.name", "control_character"),
            ("note", "control_character")
        ]
    );
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["TrangThaiHoSo"], 1);
    assert_eq!(d["progress"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_actions_on_one_dossier_apply_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let code = new_dossier(&app, "RACE-1").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, code) = (app.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            act(&app, &code, step("accept")).await.0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test]
async fn actions_arriving_together_each_apply_once_and_keys_hold_across_a_batch() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut codes = Vec::new();
    for i in 0..30 {
        codes.push(new_dossier(&app, &format!("GRP-{i}")).await);
    }
    let mut tasks = Vec::new();
    // Every dossier accepted at once, and the first one's request sent five times with one key.
    for code in &codes {
        let (app, code) = (app.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            act_with(&app, &code, step("accept"), Some(&format!("k-{code}"))).await
        }));
    }
    for _ in 0..4 {
        let (app, code) = (app.clone(), codes[0].clone());
        tasks.push(tokio::spawn(async move {
            act_with(&app, &code, step("accept"), Some(&format!("k-{code}"))).await
        }));
    }
    let mut first_bodies = std::collections::BTreeSet::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["TrangThaiHoSo"], 2);
        if i == 0 || i >= 30 {
            first_bodies.insert(body.to_string());
        }
    }
    assert_eq!(
        first_bodies.len(),
        1,
        "a repeated key answers the first answer"
    );
    let d = app
        .get_json(&format!("/api/v1/dossiers/{}", codes[0]), READER)
        .await
        .1;
    let accepted = d["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["action"] == "accept")
        .count();
    assert_eq!(accepted, 1, "applied once: {d}");
}

#[tokio::test]
async fn officers_and_notes_longer_than_the_portal_takes_are_refused_at_the_action() {
    let portal = TestPartner::start().await;
    let app = spawn_app_with(&format!("[portal]\nbase_url = \"{}\"\n", portal.address)).await;
    let code = new_dossier(&app, "LIMIT-1").await;
    let with = |name: String, title: String, unit: String, note: String| json!({"action": "accept", "officer": {"name": name, "title": title, "unit": unit}, "note": note});
    let ok = |n: usize| "Ă".repeat(n);
    for (body, field) in [
        (with(ok(51), ok(100), ok(250), ok(2000)), "officer.name"),
        (with(ok(50), ok(101), ok(250), ok(2000)), "officer.title"),
        (with(ok(50), ok(100), ok(251), ok(2000)), "officer.unit"),
        (with(ok(50), ok(100), ok(250), ok(2001)), "note"),
    ] {
        let (status, refused) = act(&app, &code, body).await;
        assert_eq!(status, 422, "{field}");
        assert_eq!(
            refused["errors"],
            json!([{"field": field, "code": "too_long", "message": format!("at most {} characters", match field {
                "officer.name" => 50, "officer.title" => 100, "officer.unit" => 250, _ => 2000 })}]),
            "{field}"
        );
    }
    // At the limits the action is taken, and the portal's sync carries every character.
    let (status, _) = act(&app, &code, with(ok(50), ok(100), ok(250), ok(2000))).await;
    assert_eq!(status, 200);
    app.worker.dispatch_all_pending().await.unwrap();
    let sync = portal.received().last().unwrap().json();
    assert_eq!(sync["TienDo"]["NguoiXuLy"], ok(50));
    assert_eq!(sync["TienDo"]["NoiDungXuLy"], ok(2000));
}

#[tokio::test]
async fn a_due_date_in_a_year_without_a_calendar_file_is_refused() {
    // A calendar folder that knows only 2027: today's year has no file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("config/calendar/2027.toml"),
        dir.path().join("2027.toml"),
    )
    .unwrap();
    let app = spawn_app_with(&format!("[calendar]\ndir = \"{}\"\n", dir.path().display())).await;
    let code = new_dossier(&app, "CAL-1").await;
    let (s, body) = act(&app, &code, step("accept")).await;
    let year = chrono::Datelike::year(&vn_now());
    assert_eq!(
        (s, body["error_code"].as_str(), body["message"].as_str()),
        (
            409,
            Some("CALENDAR_MISSING"),
            Some(
                format!("no working calendar for {year}: add config/calendar/{year}.toml").as_str()
            )
        )
    );
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["TrangThaiHoSo"], 1, "nothing changed");
    // The metric counts the days to the end of the last file's year.
    let left =
        (chrono::NaiveDate::from_ymd_opt(2027, 12, 31).unwrap() - vn_now().date()).num_days();
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!("motcua_calendar_days_left {left}\n")),
        "{metrics}"
    );
}

fn vn_now() -> chrono::NaiveDateTime {
    (chrono::Utc::now() + chrono::Duration::hours(7)).naive_utc()
}
