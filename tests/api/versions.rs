//! Rules follow the dossier (contract section 5): a procedure's mapping holds dated versions,
//! and a dossier is judged by the one in force the day it arrived, for its whole life, whatever
//! file the gateway loads later.

use crate::fees::counter;
use crate::helpers::*;
use crate::lifecycle::{act, new_dossier, step};
use chrono::NaiveDateTime;
use serde_json::{json, Value};

/// A gateway on `db` reading its mappings from `dir`.
async fn spawn_with_mappings(db: TestDb, dir: &std::path::Path) -> TestApp {
    spawn_on(db, &format!("[mappings]\ndir = \"{}\"\n", dir.display())).await
}

fn local(v: &Value) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(v.as_str().unwrap(), "%Y%m%d%H%M%S").unwrap()
}

/// The due date `days` working days after the acceptance of `d`, on the department's
/// calendar, computed apart from the gateway.
fn due_after_acceptance(d: &Value, days: u32) -> NaiveDateTime {
    let calendar = motcua_gateway::config::Config::from_toml("")
        .unwrap()
        .calendar
        .load_years()
        .unwrap();
    calendar
        .due(
            &motcua_gateway::domain::working_hours::WorkingHours::department(),
            local(&d["NgayTiepNhan"]),
            days,
        )
        .unwrap()
}

async fn dossier(app: &TestApp, code: &str) -> Value {
    let (status, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(status, 200, "{d}");
    d
}

#[tokio::test]
async fn a_dossier_keeps_the_rules_it_arrived_under_when_the_file_is_rewritten() {
    let dir = mappings_copy();
    let app = spawn_with_mappings(fresh_database().await, dir.path()).await;
    let code = new_dossier(&app, "RULES-KEPT-1").await;
    let arrived = dossier(&app, &code).await;
    let version = arrived["rules"]["version"].as_str().unwrap().to_owned();
    assert_eq!(version.len(), 64);
    assert_eq!(arrived["mapping_version"], version.as_str());
    assert_eq!(arrived["rules"]["effective_from"], "2026-01-05");
    let db = app.stop().await;

    // The department rewrites the karaoke file: 9 working days from Decree 297/2025's version
    // on (the version in force carries them over). No text of the version the dossier arrived
    // under is left in any file.
    let file = dir.path().join("1.001029-karaoke.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("processing_days = 16").count(), 1);
    std::fs::write(
        &file,
        text.replace("processing_days = 16", "processing_days = 9"),
    )
    .unwrap();
    let app = spawn_with_mappings(db, dir.path()).await;

    let (status, accepted) = act(&app, &code, step("accept")).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        local(&accepted["NgayHenTra"]),
        due_after_acceptance(&accepted, 16),
        "judged by the 16 days it arrived under, not the file's 9"
    );
    assert_eq!(accepted["rules"]["version"], version.as_str());

    // A dossier arriving now is judged by the file as it is.
    let later = new_dossier(&app, "RULES-KEPT-2").await;
    let (status, accepted) = act(&app, &later, step("accept")).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        local(&accepted["NgayHenTra"]),
        due_after_acceptance(&accepted, 9)
    );
    assert_ne!(accepted["rules"]["version"], version.as_str());
    // Both texts are kept, each once, whatever the number of starts.
    assert_eq!(
        sql_i64(
            &app.db_url(),
            "SELECT COUNT(*) FROM rule_versions WHERE procedure_code = '1.001029'"
        )
        .await,
        5,
        "three versions in the first file, two of them rewritten"
    );
}

#[tokio::test]
async fn a_dossier_stored_before_versions_were_kept_is_judged_by_the_version_of_its_day() {
    let app = spawn_app().await;
    let code = new_dossier(&app, "RULES-LEGACY-1").await;
    // As a dossier stored by an earlier gateway: the hash of a whole file, known nowhere, and
    // an arrival in December 2025, after Decree 297/2025 and before Circular 110/2025.
    let december = chrono::NaiveDate::from_ymd_opt(2025, 12, 1)
        .unwrap()
        .and_hms_opt(2, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    raw_sql(
        &app.db_url(),
        &format!(
            "UPDATE dossiers SET mapping_version = 'sha256-of-an-old-file', received_at = {december} \
             WHERE code = '{code}'"
        ),
    )
    .await;
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["rules"]["effective_from"].as_str(),
            d["rules"]["effective_until"].as_str()
        ),
        (Some("2025-11-17"), Some("2026-01-04"))
    );
    assert_eq!(d["mapping_version"], "sha256-of-an-old-file");
}

#[tokio::test]
async fn a_procedure_with_no_rules_in_force_today_is_refused_and_nothing_is_stored() {
    let dir = mappings_copy();
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let (today, tomorrow) = (
        chrono::Utc::now().with_timezone(&vietnam).date_naive(),
        tomorrow.with_timezone(&vietnam).date_naive(),
    );
    let file = dir.path().join("9.900001-vu-truong.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        // The procedure's rules from tomorrow.
        text.replace(
            "effective_from = \"2024-11-19\"",
            &format!("effective_from = \"{tomorrow}\""),
        ),
    )
    .unwrap();
    let app = spawn_with_mappings(fresh_database().await, dir.path()).await;
    let (status, body) = status_and_json(
        app.submit(&fixture("valid/vu-truong.json"), "application/json")
            .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["errors"],
        json!([{
            "field": "MaTTHC",
            "code": "procedure_not_in_force",
            "message": format!("procedure 9.900001 has no rules in force on {today} (its versions run {tomorrow}..)"),
        }])
    );
    assert_eq!(app.dossier_count().await, 0);
    // Nor is it in today's catalogue, and it is in tomorrow's.
    let listed = |at: chrono::NaiveDate| {
        let app = &app;
        async move {
            let (_, c) = app
                .get_json(&format!("/api/v1/procedures?at={at}"), READER)
                .await;
            c["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["MaTTHC"] == "9.900001")
        }
    };
    assert!(!listed(today).await);
    assert!(listed(tomorrow).await);
}

#[tokio::test]
async fn a_dossier_received_under_old_fees_is_charged_them_after_new_ones_take_effect() {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&vietnam).date_naive();
    let tomorrow = today + chrono::Duration::days(1);
    let dir = mappings_copy();
    let file = dir.path().join("1.001029-karaoke.toml");
    let shipped = std::fs::read_to_string(&file).unwrap();
    let new_rules_from = |day: chrono::NaiveDate| {
        std::fs::write(
            &file,
            shipped.replace(
                "effective_from = \"2026-01-05\"",
                &format!("effective_from = \"{day}\""),
            ),
        )
        .unwrap();
    };
    // Circular 110/2025 takes effect tomorrow: a dossier of three rooms arriving today owes
    // Circular 01/2021's 4,000,000.
    new_rules_from(tomorrow);
    let app = spawn_with_mappings(fresh_database().await, dir.path()).await;
    let code = new_dossier(&app, "RULES-FEES-1").await;
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["fee_total"].as_i64(),
            d["rules"]["effective_from"].as_str()
        ),
        (Some(4_000_000), Some("2025-11-17"))
    );
    let db = app.stop().await;

    // The new rules are in force when the dossier is processed.
    new_rules_from(today);
    let app = spawn_with_mappings(db, dir.path()).await;
    assert_eq!(act(&app, &code, step("accept")).await.0, 200);
    assert_eq!(act(&app, &code, step("request_payment")).await.0, 200);
    let (status, refused) = act(&app, &code, counter(json!(3_000_000), "BL-NEW-RATE")).await;
    assert_eq!(
        (
            status,
            refused["errors"][0]["field"].as_str(),
            refused["errors"][0]["code"].as_str()
        ),
        (422, Some("amount"), Some("out_of_range")),
        "the new rate is not what this dossier owes: {refused}"
    );
    let (status, paid) = act(&app, &code, counter(json!(4_000_000), "BL-OLD-RATE")).await;
    assert_eq!(
        (status, paid["TrangThaiHoSo"].as_i64()),
        (200, Some(2)),
        "back to the status before 6: {paid}"
    );
    assert_eq!(paid["rules"]["effective_from"], "2025-11-17");
    // A dossier arriving now owes the new rate.
    let now = new_dossier(&app, "RULES-FEES-2").await;
    assert_eq!(dossier(&app, &now).await["fee_total"], 3_000_000);
}
