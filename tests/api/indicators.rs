//! The city's monthly indicators (contract section 7): a month seeded dossier by dossier — each
//! driven through the API, then its times set to the seeded month — and every figure computed
//! by hand below, per procedure and in total, from the API and from `motcua report`.

use crate::helpers::*;
use crate::lifecycle::{act, arrive, step};
use crate::officer_browser::signed_in;
use crate::payments::{ipn, request, send_ipn, VNPAY_SECRET};
use crate::process::run_motcua;
use chrono::TimeZone;
use serde_json::{json, Value};

const KARAOKE: &str = "1.001029";
const NOTICE: &str = "9.900008";

/// A moment of 2026, Vietnam time, in ms.
fn vn(month: u32, day: u32, hour: u32) -> i64 {
    chrono::FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, month, day, hour, 0, 0)
        .unwrap()
        .timestamp_millis()
}

async fn drive(app: &TestApp, code: &str, actions: &[&str]) {
    for action in actions {
        let (status, body) = act(app, code, step(action)).await;
        assert_eq!(status, 200, "{action}: {body}");
    }
}

/// What the seeded month says of one dossier: when it arrived, each progress record's time and
/// the due date in force after it (in the order they were written), and its own due date and
/// finish.
struct Seed<'a> {
    code: &'a str,
    received: i64,
    progress: &'a [(i64, Option<i64>)],
    due: Option<i64>,
    finished: Option<(i64, &'a str)>,
}

async fn seed(db: &str, s: Seed<'_>) {
    let id = sql_i64(
        db,
        &format!("SELECT id FROM dossiers WHERE code = '{}'", s.code),
    )
    .await;
    let records = sql_i64(
        db,
        &format!("SELECT COUNT(*) FROM progress WHERE dossier_id = {id}"),
    )
    .await;
    assert_eq!(
        records,
        s.progress.len() as i64,
        "{}: progress records",
        s.code
    );
    let null = |v: Option<i64>| v.map_or("NULL".to_owned(), |v| v.to_string());
    let (finished, timeliness) = match s.finished {
        Some((at, t)) => (at.to_string(), format!("'{t}'")),
        None => ("NULL".to_owned(), "NULL".to_owned()),
    };
    raw_sql(
        db,
        &format!(
            "UPDATE dossiers SET received_at = {r}, submitted_at = {r}, due_at = {due}, \
             finished_at = {finished}, timeliness = {timeliness} WHERE id = {id}",
            r = s.received,
            due = null(s.due),
        ),
    )
    .await;
    for (k, (at, due)) in s.progress.iter().enumerate() {
        raw_sql(
            db,
            &format!(
                "UPDATE progress SET at = {at}, due_at = {} WHERE id = \
                 (SELECT id FROM progress WHERE dossier_id = {id} ORDER BY id LIMIT 1 OFFSET {k})",
                null(*due)
            ),
        )
        .await;
    }
}

/// The figures of one procedure (or the total) as the report gives them, flattened.
fn figures(f: &Value) -> Value {
    let share = |s: &Value| json!([s["count"], s["of"]]);
    json!({
        "received": [f["received"]["in_person"], f["received"]["online"], f["received"]["post"], f["received"]["total"]],
        "finished": [f["finished"]["early"], f["finished"]["on_time"], f["finished"]["late"], f["finished"]["total"]],
        "deemed_consent": f["deemed_consent"],
        "open_at_end": f["open_at_end"],
        "overdue_at_end": f["overdue_at_end"],
        "synced": share(&f["synced"]),
        "paid_online": share(&f["paid_online"]),
        "documents_stored": share(&f["documents_stored"]),
    })
}

#[tokio::test]
async fn a_seeded_month_counts_as_computed_by_hand() {
    let app = spawn_app_with("[outbox]\nworker = false").await;
    let db = app.db_url();

    // A: karaoke, received 5 Oct, paid through VNPAY, finished early on 8 Oct; its documents
    // stored and its syncs delivered.
    let a = arrive(&app, "karaoke.json", "IND-A").await;
    drive(&app, &a, &["accept", "start_processing"]).await;
    let (_, made) = request(&app, &a, "vnpay").await;
    let paid = ipn(
        made["payment_ref"].as_str().unwrap(),
        "300000000",
        "00",
        VNPAY_SECRET,
    );
    assert_eq!(send_ipn(&app, &paid).await["RspCode"], "00");
    drive(&app, &a, &["complete"]).await;
    let due_a = Some(vn(10, 12, 17));
    seed(
        &db,
        Seed {
            code: &a,
            received: vn(10, 5, 9),
            progress: &[
                (vn(10, 5, 9), None),
                (vn(10, 5, 10), due_a),
                (vn(10, 6, 9), due_a),
                (vn(10, 6, 10), due_a),
                (vn(10, 6, 11), due_a),
                (vn(10, 8, 9), due_a),
            ],
            due: due_a,
            finished: Some((vn(10, 8, 9), "truoc_han")),
        },
    )
    .await;

    // B: karaoke, received 20 Oct, paid at the counter, in processing at the month's end past
    // its due date (25 Oct): open and overdue — though extended on 2 Nov to a date not passed.
    let b = arrive(&app, "karaoke.json", "IND-B").await;
    drive(
        &app,
        &b,
        &[
            "accept",
            "request_payment",
            "record_payment",
            "start_processing",
            "extend",
        ],
    )
    .await;
    let due_b = Some(vn(10, 25, 17));
    // `step("extend")`'s new due date: 31 Dec 2027, 17:00.
    let extended = Some(vn(12, 31, 17) + 365 * 86_400_000);
    seed(
        &db,
        Seed {
            code: &b,
            received: vn(10, 20, 9),
            progress: &[
                (vn(10, 20, 9), None),
                (vn(10, 20, 10), due_b),
                (vn(10, 21, 9), due_b),
                (vn(10, 21, 10), due_b),
                (vn(10, 22, 9), due_b),
                (vn(11, 2, 9), extended),
            ],
            due: extended,
            finished: None,
        },
    )
    .await;

    // C: karaoke, received 28 Oct, waiting for a supplement at the month's end: open, its due
    // date passed, but its clock stopped: not overdue.
    let c = arrive(&app, "karaoke.json", "IND-C").await;
    drive(
        &app,
        &c,
        &["accept", "start_processing", "request_supplement"],
    )
    .await;
    let due_c = Some(vn(10, 29, 17));
    seed(
        &db,
        Seed {
            code: &c,
            received: vn(10, 28, 9),
            progress: &[
                (vn(10, 28, 9), None),
                (vn(10, 28, 10), due_c),
                (vn(10, 28, 11), due_c),
                (vn(10, 29, 9), due_c),
            ],
            due: due_c,
            finished: None,
        },
    )
    .await;

    // D: karaoke, received in September, finished late on 3 Oct.
    let d = arrive(&app, "karaoke.json", "IND-D").await;
    drive(&app, &d, &["accept", "start_processing", "complete"]).await;
    let due_d = Some(vn(9, 28, 17));
    seed(
        &db,
        Seed {
            code: &d,
            received: vn(9, 20, 9),
            progress: &[
                (vn(9, 20, 9), None),
                (vn(9, 21, 9), due_d),
                (vn(9, 22, 9), due_d),
                (vn(10, 3, 9), due_d),
            ],
            due: due_d,
            finished: Some((vn(10, 3, 9), "qua_han")),
        },
    )
    .await;

    // E: karaoke, received at the counter on 15 Oct, rejected the next day.
    let e = arrive(&app, "karaoke.json", "IND-E").await;
    drive(&app, &e, &["reject"]).await;
    seed(
        &db,
        Seed {
            code: &e,
            received: vn(10, 15, 9),
            progress: &[(vn(10, 15, 9), None), (vn(10, 16, 9), None)],
            due: None,
            finished: None,
        },
    )
    .await;
    raw_sql(
        &db,
        &format!("UPDATE dossiers SET channel = 1 WHERE code = '{e}'"),
    )
    .await;

    // F: a festival notice, received 2 Oct, its deemed-consent date 20 Oct passed with no
    // rejection: deemed consented, open, never overdue; its syncs delivered.
    let f = arrive(&app, "thong-bao-le-hoi.json", "IND-F").await;
    drive(&app, &f, &["accept"]).await;
    let due_f = Some(vn(10, 20, 17));
    seed(
        &db,
        Seed {
            code: &f,
            received: vn(10, 2, 9),
            progress: &[(vn(10, 2, 9), None), (vn(10, 2, 10), due_f)],
            due: due_f,
            finished: None,
        },
    )
    .await;

    // G: karaoke, received in November: not in October's figures at all.
    let g = arrive(&app, "karaoke.json", "IND-G").await;
    seed(
        &db,
        Seed {
            code: &g,
            received: vn(11, 3, 9),
            progress: &[(vn(11, 3, 9), None)],
            due: None,
            finished: None,
        },
    )
    .await;

    // H: karaoke, received 22 Oct, in processing at the month's end past its due date (24 Oct),
    // finished late in November: open and overdue at October's end all the same.
    let h = arrive(&app, "karaoke.json", "IND-H").await;
    drive(&app, &h, &["accept", "start_processing", "complete"]).await;
    let due_h = Some(vn(10, 24, 17));
    seed(
        &db,
        Seed {
            code: &h,
            received: vn(10, 22, 9),
            progress: &[
                (vn(10, 22, 9), None),
                (vn(10, 22, 10), due_h),
                (vn(10, 23, 9), due_h),
                (vn(11, 5, 9), due_h),
            ],
            due: due_h,
            finished: Some((vn(11, 5, 9), "qua_han")),
        },
    )
    .await;

    for code in [&a, &f] {
        raw_sql(&db, &format!(
            "UPDATE outbox SET state = 'delivered' WHERE dossier_id = (SELECT id FROM dossiers WHERE code = '{code}')"
        ))
        .await;
    }
    raw_sql(&db, &format!(
        "UPDATE dossier_documents SET state = 'stored' WHERE dossier_id = (SELECT id FROM dossiers WHERE code = '{a}')"
    ))
    .await;

    let (status, report) = app
        .get_json("/api/v1/reports/indicators?month=2026-10", READER)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            &report["month"],
            &report["from"],
            &report["to"],
            &report["counted_at"]
        ),
        (
            &json!("2026-10"),
            &json!("20261001000000"),
            &json!("20261101000000"),
            &json!("20261101000000")
        )
    );
    let lines = report["procedures"].as_array().unwrap();
    let codes: Vec<&str> = lines
        .iter()
        .map(|l| l["MaTTHC"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [KARAOKE, NOTICE]);
    assert_eq!(
        (lines[0]["kind"].as_str(), lines[1]["kind"].as_str()),
        (Some("approval"), Some("notice"))
    );

    let karaoke = json!({
        // A, B, C, H online; E at the counter.
        "received": [1, 4, 0, 5],
        // A early; D late (received in September); H finished in November.
        "finished": [1, 0, 1, 2],
        // B's due date passed unfinished, but an approval is never deemed consented.
        "deemed_consent": 0,
        // B and H in processing, C waiting for a supplement.
        "open_at_end": 3,
        // B and H; C's clock stopped.
        "overdue_at_end": 2,
        "synced": [1, 5],
        // A through VNPAY; B at the counter is not online.
        "paid_online": [1, 5],
        "documents_stored": [1, 5],
    });
    let notice = json!({
        "received": [0, 1, 0, 1],
        "finished": [0, 0, 0, 0],
        "deemed_consent": 1,
        "open_at_end": 1,
        // Past its date, but a notice is never overdue.
        "overdue_at_end": 0,
        "synced": [1, 1],
        // It owes nothing: counted of none.
        "paid_online": [0, 0],
        "documents_stored": [0, 1],
    });
    let total = json!({
        "received": [1, 5, 0, 6],
        "finished": [1, 0, 1, 2],
        "deemed_consent": 1,
        "open_at_end": 4,
        "overdue_at_end": 2,
        "synced": [2, 6],
        "paid_online": [1, 5],
        "documents_stored": [1, 6],
    });
    assert_eq!(figures(&lines[0]["figures"]), karaoke);
    assert_eq!(figures(&lines[1]["figures"]), notice);
    assert_eq!(figures(&report["total"]), total);
    assert_eq!(report["total"]["synced"]["share"], json!(0.3333));
    assert_eq!(lines[1]["figures"]["paid_online"]["share"], Value::Null);

    // The same figures from the command line, as CSV.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), format!("[database]\nurl = \"{db}\"\n")).unwrap();
    let out = run_motcua(
        &[
            "--config",
            config.path().to_str().unwrap(),
            "report",
            "indicators",
            "--month",
            "2026-10",
            "--csv",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        rows[0],
        "MaTTHC,received,in_person,online,post,finished,early,on_time,late,deemed_consent,open_at_end,overdue_at_end,synced,paid_online,documents_stored,kind,TenTTHC"
    );
    assert!(
        rows[1].starts_with("1.001029,5,1,4,0,2,1,0,1,0,3,2,1/5,1/5,1/5,approval,"),
        "{csv}"
    );
    assert!(
        rows[2].starts_with("9.900008,1,0,1,0,0,0,0,0,1,1,0,1/1,0/0,0/1,notice,"),
        "{csv}"
    );
    assert_eq!(rows[3], "total,6,1,5,0,2,1,0,1,1,4,2,2/6,1/5,1/6,,");
    assert_eq!(rows[4], "");

    // The same figures on the officers' page, as a browser shows them, with the chart.
    let b = signed_in(&app, READER).await;
    b.go(&app.url("/admin/indicators?month=2026-10")).await;
    assert_eq!(b.text("h1").await, "Chỉ số tháng 2026-10");
    let row = |at: usize| format!("table.figures tbody tr:nth-child({at})");
    assert_eq!(
        b.text(&row(3)).await,
        "Tổng cộng 1 5 0 6 1 0 1 2 1 4 2 33,3 % (2/6) 20,0 % (1/5) 16,7 % (1/6)"
    );
    assert!(b.text(&row(2)).await.starts_with("9.900008 · "));
    assert!(b
        .text(&row(2))
        .await
        .ends_with(" 0 1 0 1 0 0 0 0 1 1 0 100,0 % (1/1) — 0,0 % (0/1)"));
    // Karaoke's early and late bars; the notice finished nothing and draws none.
    assert_eq!(b.count("svg.chart rect > title").await, 2);
    assert_eq!(
        b.text("#chart-desc").await,
        "Tháng 2026-10: 2 hồ sơ giải quyết xong, 1 trước hạn, 0 đúng hạn, 1 trễ hạn."
    );
    b.screenshot("officer-indicators").await;

    // November, under way: G and H's November events, none of October's.
    let (_, nov) = app
        .get_json("/api/v1/reports/indicators?month=2026-11", READER)
        .await;
    assert_eq!(nov["total"]["received"]["total"], 1, "G");
    assert_eq!(nov["total"]["finished"]["late"], 1, "H");
}

#[tokio::test]
async fn the_report_needs_a_month_and_the_read_scope() {
    let app = spawn_app().await;
    for bad in ["", "?month=2026-13", "?month=2026-1", "?month=octobre"] {
        let (status, body) = app
            .get_json(&format!("/api/v1/reports/indicators{bad}"), READER)
            .await;
        assert_eq!(
            refusal(status, &body),
            (400, Some("INVALID_QUERY"), Some("month: YYYY-MM")),
            "{bad}"
        );
    }
    let (status, _) = app
        .get_json("/api/v1/reports/indicators?month=2026-10", "nobody")
        .await;
    assert_eq!(status, 401);
    // An empty month: every figure zero, every share of none.
    let (status, empty) = app
        .get_json("/api/v1/reports/indicators?month=2026-10", READER)
        .await;
    assert_eq!(status, 200);
    assert_eq!(empty["procedures"], json!([]));
    assert_eq!(empty["total"]["received"]["total"], 0);
    assert_eq!(
        empty["total"]["synced"],
        json!({"count": 0, "of": 0, "share": null})
    );
}
