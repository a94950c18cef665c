//! Inter-agency processing (một cửa liên thông, contract section 9) as people and systems see
//! it: a dossier shows its procedure's steps from the moment it is received, each waiting to be
//! forwarded, in the rules' order, in its JSON and on the officers' page (each agency by the
//! name the configuration gives it); a procedure without steps shows none. An officer forwards
//! from the page the steps that are ready, and sees each where it stands, late ones marked.
//! On SQLite and PostgreSQL alike.

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
    let steps = steps_of(&app, "karaoke.json", "LT-1").await;
    let pending = |id: &str, agency: &str, name: &str, days: u32, after: Value| {
        json!({"id": id, "agency": agency, "name": name, "working_days": days, "after": after,
               "state": "pending", "ref": null, "forwarded_at": null, "HanXuLy": null,
               "finished_at": null, "late": false, "beyond_due": false, "NguoiXuLy": null,
               "NoiDung": null, "SoVanBan": null, "earlier": []})
    };
    assert_eq!(
        steps,
        json!([
            pending(
                "nghiem-thu-pccc",
                "000.20.07.H29",
                "Nghiệm thu về phòng cháy và chữa cháy cơ sở kinh doanh karaoke",
                7,
                json!([])
            ),
            pending(
                "an-ninh-trat-tu",
                "000.20.06.H29",
                "Cấp Giấy chứng nhận đủ điều kiện về an ninh, trật tự",
                5,
                json!(["nghiem-thu-pccc"])
            ),
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
        .split("<h2 id=\"lienthong\">Liên thông</h2>")
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

/// The steps table of a dossier's page, one string per row.
fn step_rows(html: &str) -> Vec<String> {
    let table = html
        .split("<h2 id=\"lienthong\">Liên thông</h2>")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_else(|| panic!("a steps section in {html}"));
    table.split("<tr><td>").skip(1).map(str::to_owned).collect()
}

/// The options of the action form's step choice.
fn step_choices(html: &str) -> Vec<String> {
    let Some(select) = html.split("<select id=\"step\" name=\"step\">").nth(1) else {
        return Vec::new();
    };
    let select = select.split("</select>").next().unwrap();
    select
        .split("<option value=\"")
        .skip(1)
        .map(|o| o.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_officer_forwards_from_the_page_and_sees_each_step_where_it_stands() {
    use crate::agencies::*;
    let Setup { app, .. } = setup().await;
    let code = processing(&app, "karaoke.json", "LT-PAGE-3").await;
    let (_, cookie, _) = crate::admin::sign_in(&app, ADMIN).await;
    let cookie = crate::admin::pair(&cookie.unwrap());
    let path = format!("/admin/dossiers/{code}");
    let (_, _, html) = crate::admin::open(&app, &path, &cookie).await;
    assert_eq!(
        step_choices(&html),
        ["nghiem-thu-pccc"],
        "only the step that is ready"
    );
    assert!(html.contains("<option value=\"forward\">Chuyển liên thông</option>"));
    let key_at = html.find("name=\"key\" value=\"").unwrap() + 18;
    let form = [
        ("csrf", crate::admin::csrf(&html)),
        ("key", html[key_at..key_at + 32].to_owned()),
        ("action", "forward".into()),
        ("step", "nghiem-thu-pccc".into()),
        ("officer_name", "Lê Thị Hoa".into()),
        ("officer_title", "Chuyên viên".into()),
        ("officer_unit", "Phòng Quản lý Văn hóa".into()),
    ];
    let res = crate::admin::browser()
        .post(app.url(&format!("{path}/act")))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let d = dossier(&app, &code).await;
    let fire = step_of(&d, "nghiem-thu-pccc");
    assert_eq!(fire["state"], "forwarded");
    let (_, _, html) = crate::admin::open(&app, &path, &cookie).await;
    let rows = step_rows(&html);
    let due =
        chrono::NaiveDateTime::parse_from_str(fire["HanXuLy"].as_str().unwrap(), "%Y%m%d%H%M%S")
            .unwrap()
            .format("%d/%m/%Y %H:%M")
            .to_string();
    assert!(
        rows[0].contains(&format!(
            "<td>Đã chuyển, chờ tiếp nhận</td><td>{due}</td><td></td>"
        )),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("<td>Chưa chuyển</td><td></td><td></td>"),
        "{}",
        rows[1]
    );
    assert!(step_choices(&html).is_empty(), "nothing else is ready");
    assert!(
        !html.contains("cân nhắc gia hạn"),
        "7 days fit in the dossier's 16"
    );

    // Its time runs out: shown late, and past the dossier's own date the officer is told to
    // consider the one extension.
    raw_sql(
        &app.db_url(),
        &format!(
            "UPDATE dossier_steps SET due_at = 1000 WHERE ref = '{}'",
            fire["ref"].as_str().unwrap()
        ),
    )
    .await;
    raw_sql(&app.db_url(), "UPDATE dossiers SET due_at = 2000").await;
    let (_, _, html) = crate::admin::open(&app, &path, &cookie).await;
    assert!(step_rows(&html)[0].contains("<span class=\"late\">Quá hạn</span>"));
    assert!(html.contains("cân nhắc gia hạn"), "{html}");
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            &step_of(&d, "nghiem-thu-pccc")["late"],
            &d["extend_advised"]
        ),
        (&json!(true), &json!(true))
    );

    let (s, _) = agency_answer(
        &app,
        fire["ref"].as_str().unwrap(),
        PC07_SECRET,
        "p-1",
        &done(),
    )
    .await;
    assert_eq!(s, 200);
    let (_, _, html) = crate::admin::open(&app, &path, &cookie).await;
    let rows = step_rows(&html);
    assert!(rows[0].contains("<td>Đã có kết quả</td>"), "{}", rows[0]);
    assert!(
        rows[0].ends_with("<td>45/NT-PC07 — Đạt yêu cầu</td></tr>"),
        "{:?}",
        rows[0]
    );
    assert_eq!(step_choices(&html), ["an-ninh-trat-tu"]);
}
