//! Inter-agency processing (một cửa liên thông, contract section 9), as far as it is built: a
//! dossier shows its procedure's steps from the moment it is received, each waiting to be
//! forwarded, in the rules' order, in its JSON and on the officers' page (each agency by the
//! name the configuration gives it); a procedure without steps shows none. On SQLite and
//! PostgreSQL alike.

use crate::helpers::*;
use crate::lifecycle::arrive;
use serde_json::{json, Value};

async fn steps_of(app: &TestApp, fixture: &str, id: &str) -> Value {
    let code = arrive(app, fixture, id).await;
    let (status, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(status, 200, "{d}");
    d["steps"].clone()
}

#[tokio::test]
async fn a_dossier_shows_its_procedures_steps_from_the_moment_it_is_received() {
    let app = spawn_app().await;
    assert_eq!(
        steps_of(&app, "karaoke.json", "LT-1").await,
        json!([
            {"id": "nghiem-thu-pccc", "agency": "000.20.07.H29",
             "name": "Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke",
             "after": [], "state": "pending", "HanXuLy": null, "late": false},
            {"id": "an-ninh-trat-tu", "agency": "000.20.06.H29",
             "name": "Cấp Giấy chứng nhận đủ điều kiện về an ninh, trật tự",
             "after": ["nghiem-thu-pccc"], "state": "pending", "HanXuLy": null, "late": false},
        ])
    );
    let dance_hall = steps_of(&app, "vu-truong.json", "LT-2").await;
    let after: Vec<&Value> = dance_hall
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["after"])
        .collect();
    assert_eq!(after, [&json!([]), &json!([])], "side by side");
    assert_eq!(steps_of(&app, "thu-vien.json", "LT-3").await, json!([]));
}

#[tokio::test]
async fn the_officers_page_shows_each_step_with_its_agency_named() {
    let app = spawn_app().await;
    let (_, cookie, _) = crate::admin::sign_in(&app, ADMIN).await;
    let cookie = crate::admin::pair(&cookie.unwrap());
    let karaoke = arrive(&app, "karaoke.json", "LT-PAGE-1").await;
    let (status, _, html) =
        crate::admin::open(&app, &format!("/admin/dossiers/{karaoke}"), &cookie).await;
    assert_eq!(status, 200);
    let table = html
        .split("<h2>Liên thông</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_else(|| panic!("a steps section in {html}"));
    let rows: Vec<&str> = table.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].starts_with("Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke</td><td>Phòng Cảnh sát phòng cháy, chữa cháy và cứu nạn, cứu hộ (PC07)"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].contains("<td>7 ngày làm việc</td><td></td><td>Chưa chuyển</td>"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains(
            "<td>5 ngày làm việc</td><td>Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke</td><td>Chưa chuyển</td>"
        ),
        "{}",
        rows[1]
    );
    let library = arrive(&app, "thu-vien.json", "LT-PAGE-2").await;
    let (_, _, html) =
        crate::admin::open(&app, &format!("/admin/dossiers/{library}"), &cookie).await;
    assert!(!html.contains("Liên thông"), "no steps, no section");
}
