//! The processing clock (contract section 5, DOMAIN.md): it stops while the applicant owes a
//! supplement (5) or fees (6), so such a dossier is never shown as overdue; a supplement is
//! asked for once; and a notice's date is its deemed-consent date, never a deadline missed.

use crate::helpers::*;
use crate::lifecycle::{act, dossier_in};
use serde_json::json;

fn step(action: &str) -> serde_json::Value {
    json!({"action": action, "officer": {"name": "Nguyễn Văn A", "title": "Chuyên viên", "unit": "Phòng Quản lý Văn hóa"}, "note": "Bổ sung bản sao giấy chứng nhận PCCC"})
}

/// The dossier's status and whether it shows as overdue.
async fn shown(app: &TestApp, code: &str) -> (i64, bool) {
    let d = dossier_now(app, code).await;
    (
        d["TrangThaiHoSo"].as_i64().unwrap(),
        d["overdue"].as_bool().unwrap(),
    )
}

/// Moves the dossier's due date a working week into the past.
async fn due_last_week(app: &TestApp, code: &str) {
    let past = chrono::Utc::now().timestamp_millis() - 7 * 86_400_000;
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET due_at = {past} WHERE code = '{code}'"),
    )
    .await;
}

#[tokio::test]
async fn a_dossier_waiting_on_the_applicant_is_never_overdue() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "CLOCK-1").await;
    due_last_week(&app, &code).await;
    assert_eq!(
        shown(&app, &code).await,
        (4, true),
        "past its due date while processing"
    );
    assert_eq!(act(&app, &code, step("request_supplement")).await.0, 200);
    assert_eq!(shown(&app, &code).await, (5, false), "the clock stops in 5");
    assert_eq!(act(&app, &code, step("receive_supplement")).await.0, 200);
    assert_eq!(shown(&app, &code).await, (4, true), "and runs again in 4");

    let paying = dossier_in(&app, 6, "CLOCK-2").await;
    due_last_week(&app, &paying).await;
    assert_eq!(
        shown(&app, &paying).await,
        (6, false),
        "the clock stops in 6"
    );
}

#[tokio::test]
async fn a_supplement_is_asked_for_once() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 5, "SUPP-1").await;
    assert_eq!(act(&app, &code, step("receive_supplement")).await.0, 200);
    let (status, refused) = act(&app, &code, step("request_supplement")).await;
    assert_eq!(
        refusal(status, &refused),
        (
            409,
            Some("INVALID_TRANSITION"),
            Some("a supplement is requested once only, listing everything needed")
        )
    );
    assert_eq!(shown(&app, &code).await.0, 4, "nothing changed");
    // Never at reception: only from 4.
    let fresh = dossier_in(&app, 2, "SUPP-2").await;
    assert_eq!(act(&app, &fresh, step("request_supplement")).await.0, 409);
}

/// A dossier of `fixture` taken in and brought to 4.
async fn processing(app: &TestApp, fixture_name: &str, id: &str) -> String {
    let body = with_portal_id(&fixture(fixture_name), id);
    let (status, created) = status_and_json(app.submit(&body, "application/json").await).await;
    assert_eq!(status, 201, "{created}");
    let code = created["MaHoSo"].as_str().unwrap().to_owned();
    for action in ["accept", "start_processing"] {
        let (s, d) = act(app, &code, step(action)).await;
        assert_eq!(s, 200, "{action}: {d}");
    }
    code
}

#[tokio::test]
async fn a_notice_past_its_date_is_deemed_consented_never_overdue_or_late() {
    let app = spawn_app().await;
    // A library's notice of founding (1.008895, kind = "notice") and a karaoke licence
    // (1.001029, an approval), both past their dates.
    let notice = processing(&app, "valid/thu-vien.json", "NOTICE-1").await;
    let approval = crate::lifecycle::dossier_in(&app, 4, "APPROVAL-1").await;
    for code in [&notice, &approval] {
        due_last_week(&app, code).await;
    }
    let view = |d: serde_json::Value| {
        (
            d["kind"].as_str().map(str::to_owned),
            d["overdue"].as_bool(),
            d["deemed_consent"].as_bool(),
        )
    };
    let (_, n) = app
        .get_json(&format!("/api/v1/dossiers/{notice}"), READER)
        .await;
    assert_eq!(view(n), (Some("notice".into()), Some(false), Some(true)));
    let (_, a) = app
        .get_json(&format!("/api/v1/dossiers/{approval}"), READER)
        .await;
    assert_eq!(view(a), (Some("approval".into()), Some(true), Some(false)));
    // Completed after the date: the notice is on time, the approval late.
    let (_, n) = act(&app, &notice, step("complete")).await;
    assert_eq!(
        (n["timeliness"].as_str(), n["deemed_consent"].as_bool()),
        (Some("dung_han"), Some(false))
    );
    let (_, a) = act(&app, &approval, step("complete")).await;
    assert_eq!(a["timeliness"], "qua_han");
}

#[tokio::test]
async fn a_procedure_s_own_longer_time_is_chosen_at_acceptance_not_by_extending() {
    let app = spawn_app().await;
    let body = with_portal_id(&fixture("valid/nhap-khau.json"), "VARIANT-1");
    let (_, created) = status_and_json(app.submit(&body, "application/json").await).await;
    let code = created["MaHoSo"].as_str().unwrap().to_owned();
    let mut accept = step("accept");
    accept["note"] = serde_json::Value::Null;
    for (variant, why) in [
        ("lay_y_kien", "one of lay_y_kien_bo_nganh"),
        ("hoi_dong_tham_dinh", "one of lay_y_kien_bo_nganh"),
    ] {
        accept["variant"] = json!(variant);
        let (status, refused) = act(&app, &code, accept.clone()).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(
            refused["errors"],
            json!([{"field": "variant", "code": "not_allowed", "message": why}])
        );
    }
    accept["variant"] = json!("lay_y_kien_bo_nganh");
    let (status, d) = act(&app, &code, accept).await;
    assert_eq!(status, 200, "{d}");
    // Ten working days from acceptance, on the department's calendar, computed apart.
    let calendar = motcua_gateway::config::Config::from_toml("")
        .unwrap()
        .calendar
        .load_years()
        .unwrap();
    let local = |v: &serde_json::Value| {
        chrono::NaiveDateTime::parse_from_str(v.as_str().unwrap(), "%Y%m%d%H%M%S").unwrap()
    };
    let expected = calendar
        .due(
            &motcua_gateway::domain::working_hours::WorkingHours::department(),
            local(&d["NgayTiepNhan"]),
            10,
        )
        .unwrap();
    assert_eq!(local(&d["NgayHenTra"]), expected);
    assert_eq!(
        d["progress"][1]["NoiDungXuLy"],
        "Tiếp nhận hồ sơ, hẹn ngày trả kết quả — Có lấy ý kiến các bộ, ngành liên quan (10 ngày làm việc, Nghị định 32/2012/NĐ-CP)"
    );
    // The one extension is still there to spend.
    let mut extend = step("extend");
    extend["new_due"] = json!("20271231170000");
    assert_eq!(
        act(&app, &code, extend).await.0,
        200,
        "the extension was not spent"
    );
    // A procedure without variants, and an action other than accept, take none.
    let karaoke = crate::lifecycle::new_dossier(&app, "VARIANT-2").await;
    let mut accept = step("accept");
    accept["variant"] = json!("lay_y_kien_bo_nganh");
    let (_, refused) = act(&app, &karaoke, accept).await;
    assert_eq!(
        refused["errors"][0]["message"],
        "this procedure has no variants"
    );
    let mut start = step("start_processing");
    start["variant"] = json!("lay_y_kien_bo_nganh");
    let (status, refused) = act(&app, &code, start).await;
    assert_eq!(
        (status, refused["errors"][0]["message"].as_str()),
        (422, Some("only accept takes a variant"))
    );
}
