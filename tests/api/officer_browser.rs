//! An officer's morning in a real browser (Chromium through ChromeDriver, `webdriver`): sign
//! in with the keyboard, open a dossier from the list, accept it, replay the dead message
//! that held it back, and open its receipt. Each step is checked in what the browser shows
//! and in what the gateway stored or sent; screenshots are kept under `target/screenshots`.

use crate::helpers::*;
use crate::lifecycle::new_dossier;
use crate::webdriver::Browser;
use motcua_gateway::outbox::Dispatched;

/// A browser signed in with `token` through the sign-in page, on the dossiers' list.
pub async fn signed_in(app: &TestApp, token: &str) -> Browser {
    let b = Browser::start().await;
    b.go(&app.url("/admin/login")).await;
    b.type_into("#token", token).await;
    b.follow("form[action='/admin/login'] button").await;
    assert_eq!(b.url().await, app.url("/admin"));
    b
}

#[tokio::test]
async fn an_officer_signs_in_accepts_a_dossier_replays_its_dead_message_and_prints_the_receipt() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(400)]);
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[outbox]\nworker = false\nretry_schedule = [\"0s\"]",
        portal.address
    ))
    .await;
    let code = new_dossier(&app, "BROWSER-1").await;
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead]
    );
    let b = Browser::start().await;

    // Without a session every page sends the officer to sign in.
    b.go(&app.url(&format!("/admin/dossiers/{code}"))).await;
    assert_eq!(b.url().await, app.url("/admin/login"));
    // The keyboard reaches the other language, the token's field, then the button.
    assert_eq!(b.tab(1).await, "A#:English");
    assert_eq!(b.tab(1).await, "INPUT#token:");
    assert_eq!(b.tab(1).await, "BUTTON#:Đăng nhập");
    b.type_into("#token", ADMIN).await;
    b.screenshot("officer-1-sign-in").await;
    b.follow("form[action='/admin/login'] button").await;
    assert_eq!(b.url().await, app.url("/admin"));
    assert_eq!(b.text("h1").await, "Hồ sơ");
    b.screenshot("officer-2-list").await;

    // Open the dossier from the list and accept it.
    b.follow(&format!("a[href='/admin/dossiers/{code}']")).await;
    assert_eq!(b.text("h1").await, format!("Hồ sơ {code}"));
    assert_eq!(
        b.count("#action option").await,
        3,
        "accept, reject, withdraw"
    );
    b.click("#action option[value='accept']").await;
    b.type_into("#officer_name", "Lê Thị Hoa").await;
    b.type_into("#officer_title", "Chuyên viên").await;
    b.type_into("#officer_unit", "Bộ phận Một cửa").await;
    b.screenshot("officer-3-dossier-before").await;
    b.follow("form.act button[type='submit']").await;
    assert_eq!(b.url().await, app.url(&format!("/admin/dossiers/{code}")));
    let page = b.source().await;
    assert!(page.contains("<dd>Được tiếp nhận</dd>"), "{page}");
    assert!(page.contains("Tiếp nhận hồ sơ, hẹn ngày trả kết quả"));
    assert!(
        page.contains("Gửi không được, chờ xử lý"),
        "its arrival is dead"
    );
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["TrangThaiHoSo"], 2);
    assert_eq!(d["progress"][1]["NguoiXuLy"], "Lê Thị Hoa");
    b.screenshot("officer-4-dossier-accepted").await;

    // The dead arrival holds the acceptance back; the officer replays it.
    b.follow("nav a[href='/admin/outbox']").await;
    assert_eq!(b.count("td.actions form").await, 2, "replay and discard");
    b.screenshot("officer-5-dead-messages").await;
    b.follow("td.actions form[action$='/replay'] button").await;
    assert_eq!(b.url().await, app.url("/admin/outbox"));
    assert!(b
        .source()
        .await
        .contains("Không có tin nào gửi không được."));
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Delivered, Dispatched::Delivered]
    );
    let statuses: Vec<i64> = portal
        .received()
        .iter()
        .map(|r| r.json()["TrangThaiHoSo"].as_i64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [1, 1, 2],
        "the dead arrival, replayed, then the acceptance"
    );

    // The receipt, from the dossier's page.
    b.go(&app.url(&format!("/admin/dossiers/{code}"))).await;
    b.follow(&format!("a[href='/admin/dossiers/{code}/receipt']"))
        .await;
    assert_eq!(
        b.text("h1").await,
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
    );
    assert!(b.source().await.contains(&code));
    b.screenshot("officer-6-receipt").await;

    // In English, chosen from the header, on the page it was chosen on.
    b.go(&app.url(&format!("/admin/dossiers/{code}"))).await;
    b.follow("header a[lang='en']").await;
    assert_eq!(b.url().await, app.url(&format!("/admin/dossiers/{code}")));
    assert_eq!(b.text("h1").await, format!("Dossier {code}"));
    let page = b.source().await;
    assert!(page.starts_with("<html lang=\"en\">") || page.contains("<html lang=\"en\""));
    assert!(page.contains("<dd>Accepted</dd>"), "the status in English");
    assert!(page.contains("<option value=\"start_processing\">Start processing</option>"));
    assert!(page.contains(">Timeline</h2>"));
    b.screenshot("officer-7-dossier-in-english").await;
    b.follow("header a[lang='vi']").await;
    assert_eq!(b.text("h1").await, format!("Hồ sơ {code}"));
}

#[tokio::test]
async fn an_officer_forwards_a_step_in_the_browser_and_sees_the_agencys_answer() {
    use crate::agencies::*;
    let Setup { app, pc07, .. } = setup().await;
    let code = processing(&app, "karaoke.json", "BROWSER-LT-1").await;
    let b = signed_in(&app, ADMIN).await;
    b.go(&app.url(&format!("/admin/dossiers/{code}"))).await;
    assert_eq!(
        b.count("#step option").await,
        1,
        "only the step that is ready"
    );
    b.click("#action option[value='forward']").await;
    b.click("#step option[value='nghiem-thu-pccc']").await;
    b.type_into("#officer_name", "Lê Thị Hoa").await;
    b.type_into("#officer_title", "Chuyên viên").await;
    b.type_into("#officer_unit", "Phòng Quản lý Văn hóa").await;
    b.follow("form.act button[type='submit']").await;
    assert_eq!(b.url().await, app.url(&format!("/admin/dossiers/{code}")));
    app.worker.dispatch_all_pending().await.unwrap();
    assert_eq!(pc07.received().len(), 1, "the fire police got the step");
    let d = dossier(&app, &code).await;
    let reference = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = agency_answer(&app, &reference, PC07_SECRET, "b-1", &done()).await;
    assert_eq!(s, 200);
    // (A fragment alone on the same address would not load the page again.)
    b.go(&app.url("/admin")).await;
    b.go(&app.url(&format!("/admin/dossiers/{code}#lienthong")))
        .await;
    let page = b.source().await;
    assert!(page.contains("<td>Đã có kết quả</td>"), "{page}");
    assert!(page.contains("45/NT-PC07 — Đạt yêu cầu"));
    assert!(
        page.contains("Chuyển liên thông đến PC07 thử"),
        "the timeline says it"
    );
    assert_eq!(
        b.count("#step option").await,
        1,
        "now the security step is ready"
    );
    b.screenshot("officer-8-lienthong").await;
}
