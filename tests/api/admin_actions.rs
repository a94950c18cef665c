//! What officers change from their page, as the server answers it: a dossier's action, and
//! a dead message's replay or discard. Each needs the session, its CSRF token and the
//! `admin` scope, and a refusal changes nothing; a form sent twice acts once; a refused action
//! says why in Vietnamese and gives back what was typed. Payments awaiting reconciliation
//! are listed.

use crate::admin::{browser, csrf, open, pair, seen, sign_in};
use crate::helpers::*;
use crate::lifecycle::new_dossier;
use crate::payments::request;
use motcua_gateway::outbox::Dispatched;
use reqwest::header::COOKIE;

const OFFICER: [(&str, &str); 3] = [
    ("officer_name", "Lê Thị Hoa"),
    ("officer_title", "Chuyên viên"),
    ("officer_unit", "Bộ phận Một cửa"),
];

/// A signed-in officer's session cookie.
async fn session(app: &TestApp, token: &str) -> String {
    let (status, cookie, _) = sign_in(app, token).await;
    assert_eq!(status, 303);
    pair(&cookie.unwrap())
}

/// The action form's own key on a dossier's page.
fn form_key(html: &str) -> String {
    let at = html.find("name=\"key\" value=\"").expect("an action form") + 18;
    html[at..at + 32].to_owned()
}

/// Posts `form` to `path` with `cookie`: status, `Location`, body.
async fn post(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &(impl serde::Serialize + ?Sized),
) -> (u16, Option<String>, String) {
    let res = browser()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    seen(res).await
}

/// The dossier's status and how many progress records it has, through the API.
async fn where_it_stands(app: &TestApp, code: &str) -> (i64, usize) {
    let (status, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(status, 200, "{d}");
    (
        d["TrangThaiHoSo"].as_i64().unwrap(),
        d["progress"].as_array().unwrap().len(),
    )
}

#[tokio::test]
async fn an_action_needs_the_session_its_csrf_token_and_the_admin_scope_and_acts_once() {
    let app = spawn_app().await;
    let code = new_dossier(&app, "ACT-1").await;
    let path = format!("/admin/dossiers/{code}/act");
    let admin = session(&app, ADMIN).await;
    let (_, _, page) = open(&app, &format!("/admin/dossiers/{code}"), &admin).await;
    let (token, key) = (csrf(&page), form_key(&page));
    // From status 1 the page offers exactly what the lifecycle allows.
    let select = &page[page.find("<select id=\"action\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    let offered: Vec<&str> = select
        .match_indices("<option value=\"")
        .map(|(at, m)| {
            let rest = &select[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(offered, ["accept", "reject", "withdraw"]);
    let accept = |csrf: &str, key: &str| {
        let mut form = vec![("csrf", csrf.to_owned()), ("key", key.to_owned())];
        form.push(("action", "accept".to_owned()));
        form.extend(OFFICER.iter().map(|(k, v)| (*k, (*v).to_owned())));
        form
    };

    // No session, a wrong CSRF token, a session that may only look: refused, nothing changed.
    let good = accept(&token, &key);
    let (status, location, _) = post(&app, &path, "", &good).await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/login")));
    let forged = accept(&"0".repeat(64), &key);
    let (status, _, html) = post(&app, &path, &admin, &forged).await;
    assert_eq!(status, 403);
    assert!(html.starts_with("Yêu cầu không hợp lệ"), "{html}");
    let reader = session(&app, READER).await;
    let (_, _, reader_page) = open(&app, &format!("/admin/dossiers/{code}"), &reader).await;
    assert!(
        !reader_page.contains("class=\"act\""),
        "no action form for who only looks"
    );
    let theirs = accept(&csrf(&reader_page), &key);
    let (status, _, html) = post(&app, &path, &reader, &theirs).await;
    assert_eq!(
        (status, html.as_str()),
        (
            403,
            "Tài khoản này chỉ được xem hồ sơ, không được xử lý (cần quyền admin)."
        )
    );
    // A form key that is not one the page draws: refused as forged.
    let odd_key = accept(&token, "not a key!");
    let (status, _, html) = post(&app, &path, &admin, &odd_key).await;
    assert_eq!(status, 403);
    assert!(html.starts_with("Yêu cầu không hợp lệ"), "{html}");
    assert_eq!(where_it_stands(&app, &code).await, (1, 1));
    // A dossier that is not there: 404, in words.
    let nowhere = "/admin/dossiers/000.00.12.H29-000000-0000/act";
    let (status, _, html) = post(&app, nowhere, &admin, &good).await;
    assert_eq!((status, html.as_str()), (404, "Không tìm thấy hồ sơ này."));

    // The officer accepts; the same form sent again acts once.
    for _ in 0..2 {
        let (status, location, _) = post(&app, &path, &admin, &good).await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some(format!("/admin/dossiers/{code}").as_str()))
        );
    }
    assert_eq!(where_it_stands(&app, &code).await, (2, 2));
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["progress"][1]["NguoiXuLy"], "Lê Thị Hoa");
    assert_eq!(d["progress"][1]["PhongBanXuLy"], "Bộ phận Một cửa");

    // A refused action: 422 with every problem in words, what was typed given back.
    let (_, _, page) = open(&app, &format!("/admin/dossiers/{code}"), &admin).await;
    let key = form_key(&page);
    let stop = [
        ("csrf", token.as_str()),
        ("key", key.as_str()),
        ("action", "stop"),
        ("officer_name", "Lê Thị Hoa"),
        ("officer_title", ""),
        ("officer_unit", "Bộ phận <Một cửa>"),
    ];
    let (status, _, html) = post(&app, &path, &admin, &stop).await;
    assert_eq!(status, 422);
    assert!(html.contains("<li>Chức vụ: cần nhập</li>"), "{html}");
    assert!(html.contains("<li>Nội dung: cần nhập</li>"), "{html}");
    assert!(html.contains("value=\"Lê Thị Hoa\""));
    assert!(
        html.contains("value=\"Bộ phận &#60;Một cửa&#62;\""),
        "given back escaped"
    );
    // An action the status does not allow: 409, nothing changed.
    let key = form_key(&html);
    let mut done = vec![
        ("csrf", token.as_str()),
        ("key", key.as_str()),
        ("action", "return_result"),
    ];
    done.extend(OFFICER);
    let (status, _, html) = post(&app, &path, &admin, &done).await;
    assert_eq!(status, 409);
    assert!(html.contains("Trạng thái hiện tại của hồ sơ không cho phép thao tác này"));
    assert_eq!(where_it_stands(&app, &code).await, (2, 2));
}

#[tokio::test]
async fn dead_messages_are_replayed_and_discarded_from_the_page() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(400), Reply::status(400)]);
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[outbox]\nworker = false\nretry_schedule = [\"0s\"]",
        portal.address
    ))
    .await;
    let a = new_dossier(&app, "DEADPAGE-A").await;
    let b = new_dossier(&app, "DEADPAGE-B").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead, Dispatched::Dead]
    );
    let dead = |state: &'static str| {
        let app = &app;
        async move {
            let (_, page) = app
                .get_json(&format!("/api/v1/outbox?state={state}"), ADMIN)
                .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["id"].as_i64().unwrap(),
                        m["dossier"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let messages = dead("dead").await;
    let id_of = |code: &str| messages.iter().find(|(_, d)| d == code).unwrap().0;
    let admin = session(&app, ADMIN).await;
    let (status, _, page) = open(&app, "/admin/outbox", &admin).await;
    assert_eq!(status, 200);
    for code in [&a, &b] {
        assert!(page.contains(&format!("<a href=\"/admin/dossiers/{code}\">{code}</a>")));
        assert!(page.contains(&format!("action=\"/admin/outbox/{}/replay\"", id_of(code))));
    }
    let token = csrf(&page);
    let replay_a = format!("/admin/outbox/{}/replay", id_of(&a));

    // Without the token, or by who only looks: refused, both still dead.
    let (status, _, _) = post(&app, &replay_a, &admin, &[("csrf", "")]).await;
    assert_eq!(status, 403);
    let reader = session(&app, READER).await;
    let (_, _, reader_page) = open(&app, "/admin/outbox", &reader).await;
    assert!(
        !reader_page.contains("/replay\""),
        "no decision forms for who only looks"
    );
    let (status, _, _) = post(&app, &replay_a, &reader, &[("csrf", &csrf(&reader_page))]).await;
    assert_eq!(status, 403);
    assert_eq!(dead("dead").await.len(), 2);

    let (status, location, _) = post(&app, &replay_a, &admin, &[("csrf", &token)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/outbox")));
    let discard_b = format!("/admin/outbox/{}/discard", id_of(&b));
    let (status, _, _) = post(&app, &discard_b, &admin, &[("csrf", &token)]).await;
    assert_eq!(status, 303);
    assert_eq!(dead("dead").await, []);
    assert_eq!(dead("discarded").await, [(id_of(&b), b.clone())]);
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered]
    );
    assert_eq!(portal.received().last().unwrap().json()["MaHoSo"], a);
    let (status, _, html) = post(&app, &replay_a, &admin, &[("csrf", &token)]).await;
    assert_eq!(status, 409, "{html}");
    let (_, _, page) = open(&app, "/admin/outbox", &admin).await;
    assert!(page.contains("Không có tin nào gửi không được."));

    // The dossier's page shows each attempt and the portal's answer.
    let (_, _, page) = open(&app, &format!("/admin/dossiers/{a}"), &admin).await;
    let sync = &page[page.find("<h2>Đồng bộ với Cổng dịch vụ công</h2>").unwrap()..];
    assert!(sync.contains("HTTP 400"), "{sync}");
    assert!(sync.contains("HTTP 200"), "{sync}");
    assert!(sync.contains("Đã gửi, đối tác đã nhận"));
}

#[tokio::test]
async fn payments_pending_past_reconcile_after_are_listed_for_officers() {
    let app = spawn_app().await;
    let old = crate::lifecycle::dossier_in(&app, 4, "RECON-1").await;
    let fresh = crate::lifecycle::dossier_in(&app, 4, "RECON-2").await;
    for code in [&old, &fresh] {
        assert_eq!(request(&app, code, "vnpay").await.0, 201);
    }
    // Requested 16 minutes ago: past the default 15 minutes.
    raw_sql(
        &app.db_url(),
        &format!(
            "UPDATE payments SET created_at = created_at - 960000 WHERE dossier_id = \
             (SELECT id FROM dossiers WHERE code = '{old}')"
        ),
    )
    .await;
    let reader = session(&app, READER).await;
    let (status, _, page) = open(&app, "/admin/payments", &reader).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<a href=\"/admin/dossiers/{old}\">{old}</a>")));
    assert!(!page.contains(&fresh), "not yet due for reconciliation");
    assert!(page.contains("<td>3.000.000 đồng</td>"), "{page}");
}

#[tokio::test]
async fn an_officer_downloads_a_stored_document_and_not_one_still_pending() {
    use crate::documents::{fetch_round, sha256, submit, with_documents, FileServer, Route};
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let don = b"%PDF-1.7 don de nghi".to_vec();
    let late = b"%PDF-1.7 late".to_vec();
    let body = with_documents(
        "ADMDOC-1",
        [
            files.file("/don.pdf", &don),
            (
                files.serve("/late.pdf", Route::FailThen(5, late.clone())),
                sha256(&late),
                late.len(),
            ),
        ],
    );
    let code = submit(&app, &body).await;
    assert_eq!(fetch_round(&app).await.len(), 2, "one stored, one to retry");
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    let ids: Vec<i64> = d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|doc| doc["id"].as_i64().unwrap())
        .collect();
    let reader = session(&app, READER).await;
    let (_, _, page) = open(&app, &format!("/admin/dossiers/{code}"), &reader).await;
    let stored = format!("/admin/dossiers/{code}/documents/{}", ids[0]);
    let pending = format!("/admin/dossiers/{code}/documents/{}", ids[1]);
    assert!(page.contains(&format!(
        "<a href=\"{stored}\" download>Đơn đề nghị TP01.pdf</a>"
    )));
    assert!(!page.contains(&pending), "a pending document has no link");

    let res = browser()
        .get(app.url(&stored))
        .header(COOKIE, &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''%C4%90%C6%A1n%20%C4%91%E1%BB%81%20ngh%E1%BB%8B%20TP01"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), don.as_slice());

    let (status, _, html) = open(&app, &pending, &reader).await;
    assert_eq!(
        (status, html.as_str()),
        (
            409,
            "Giấy tờ này chưa được lưu (đang chờ tải về, hoặc bị từ chối)."
        )
    );
    let missing = format!("/admin/dossiers/{code}/documents/999999");
    assert_eq!(open(&app, &missing, &reader).await.0, 404);
    let (status, location, _) = open(&app, &stored, "").await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/login")));
}
