//! The internal read API: tokens, scopes, one dossier, the paged list, health probes.

use crate::helpers::*;
use serde_json::Value;

async fn submit_fixture(app: &TestApp, path: &str, id: &str) -> String {
    let res = app
        .submit(&with_portal_id(&fixture(path), id), content_type_of(path))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["MaHoSo"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reads_need_a_valid_token_and_the_read_scope() {
    let app = spawn_app().await;
    let code = submit_fixture(&app, "valid/karaoke.json", "AUTH-1").await;
    let path = format!("/api/v1/dossiers/{code}");

    let res = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer"),
        "a 401 names the scheme it wants"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_code"], "UNAUTHORIZED");
    assert!(body["message"].is_string());

    for bad in ["wrong-token", "", "reader-token-but-longer"] {
        assert_eq!(app.get(&path, bad).await.status(), 401, "{bad:?}");
    }
    let basic = app
        .client
        .get(app.url(&path))
        .header("authorization", format!("Basic {READER}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    // The scheme's name is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = app
            .client
            .get(app.url(&path))
            .header("authorization", format!("{scheme} {READER}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }

    let (status, body) = app.get_json(&path, PAYER).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    for token in [READER, WRITER, ADMIN] {
        assert_eq!(app.get(&path, token).await.status(), 200, "{token}");
    }
}

#[tokio::test]
async fn a_dossier_reads_the_same_by_code_and_by_portal_id() {
    let app = spawn_app().await;
    let code = submit_fixture(&app, "valid/thi-nguoi-dep.xml", "PID-1").await;
    let (s1, by_code) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    let (s2, by_pid) = app
        .get_json("/api/v1/dossiers/by-portal-id/PID-1", READER)
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(by_code, by_pid);
    for key in [
        "MaHoSo",
        "MaHoSoQG",
        "MaTTHC",
        "TrangThaiHoSo",
        "NgayNhan",
        "NgayTiepNhan",
        "NgayHenTra",
        "NgayKetThucXuLy",
        "NgayTra",
        "applicant",
        "form",
        "documents",
        "fees",
        "payments",
        "progress",
        "sync",
    ] {
        assert!(by_code.get(key).is_some(), "{key} missing");
    }
    assert_eq!(
        by_code["form"]["contest"]["rounds"][1]["venue"],
        "Nhà thi đấu Phú Thọ"
    );
    assert_eq!(by_code["form"]["contest"]["final_on"], "2027-05-15");
    assert_eq!(
        by_code["fees"],
        serde_json::json!([]),
        "no fee for this procedure"
    );
}

#[tokio::test]
async fn unknown_dossiers_are_404() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/dossiers/000.00.12.H29-261127-9999",
        "/api/v1/dossiers/not-a-code",
        "/api/v1/dossiers/by-portal-id/NOPE",
    ] {
        let (status, body) = app.get_json(path, READER).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_list_is_newest_first_paged_and_filtered() {
    let app = spawn_app().await;
    let mut codes = Vec::new();
    for i in 0..5 {
        codes.push(submit_fixture(&app, "valid/karaoke.json", &format!("LIST-K{i}")).await);
    }
    codes.push(submit_fixture(&app, "valid/thu-vien.json", "LIST-T0").await);

    let (status, page1) = app.get_json("/api/v1/dossiers?limit=4", READER).await;
    assert_eq!(status, 200);
    let got: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["MaHoSo"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = codes.iter().rev().take(4).map(String::as_str).collect();
    assert_eq!(got, newest);
    for key in [
        "MaHoSo",
        "MaHoSoQG",
        "MaTTHC",
        "TrangThaiHoSo",
        "NgayNhan",
        "NgayHenTra",
    ] {
        assert!(page1["items"][0].get(key).is_some(), "{key}");
    }
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = app
        .get_json(&format!("/api/v1/dossiers?limit=4&cursor={cursor}"), READER)
        .await;
    let rest: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["MaHoSo"].as_str().unwrap())
        .collect();
    assert_eq!(rest, [codes[1].as_str(), codes[0].as_str()]);
    assert_eq!(page2["next_cursor"], Value::Null);

    let (_, karaoke) = app
        .get_json("/api/v1/dossiers?procedure=1.001029.000.00.00.H29", READER)
        .await;
    assert_eq!(karaoke["items"].as_array().unwrap().len(), 5);
    let (_, new) = app
        .get_json("/api/v1/dossiers?status=1&procedure=1.008895", READER)
        .await;
    assert_eq!(new["items"].as_array().unwrap().len(), 1);
    let (_, accepted) = app.get_json("/api/v1/dossiers?status=2", READER).await;
    assert_eq!(accepted["items"].as_array().unwrap().len(), 0);

    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap());
    let day = today.format("%Y%m%d").to_string();
    let (_, same_day) = app
        .get_json(&format!("/api/v1/dossiers?from={day}&to={day}"), READER)
        .await;
    assert_eq!(same_day["items"].as_array().unwrap().len(), 6);
    let (_, before) = app.get_json("/api/v1/dossiers?to=20200101", READER).await;
    assert_eq!(before["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_list_queries_are_400() {
    let app = spawn_app().await;
    for q in [
        "status=11",
        "status=x",
        "procedure=karaoke",
        "from=2026-11-27",
        "limit=0",
        "limit=100000",
        "cursor=%%%",
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/dossiers?{q}"), READER).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_QUERY")),
            "{q}"
        );
    }
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let nothing = app
        .client
        .get(app.url("/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(nothing.status(), 404);
}

#[tokio::test]
async fn each_internal_client_has_its_own_rate_limit() {
    let app = spawn_app_with("[rate_limits]\napi = { per_second = 1, burst = 2 }\n").await;
    let path = "/api/v1/dossiers";
    assert_eq!(app.get(path, READER).await.status(), 200);
    assert_eq!(app.get(path, READER).await.status(), 200);
    let limited = app.get(path, READER).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        app.get(path, ADMIN).await.status(),
        200,
        "another client is not held up"
    );
}

#[tokio::test]
async fn each_client_address_is_limited_before_authentication() {
    let app = spawn_app_with("[rate_limits]\naddress = { per_second = 1, burst = 2 }\n").await;
    assert_eq!(
        app.get("/api/v1/dossiers", "wrong-token").await.status(),
        401
    );
    assert_eq!(app.get("/api/v1/dossiers", READER).await.status(), 200);
    let limited = app.get("/api/v1/dossiers", READER).await;
    assert_eq!(
        limited.status(),
        429,
        "the third request from this address, whatever its token"
    );
    assert_eq!(limited.headers()["retry-after"], "1");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"error_code": "RATE_LIMITED"}));
    // Payment callbacks and the probes that read the store count too; the liveness probe does
    // not.
    for path in ["/payment/vnpay/ipn?x=1", "/metrics", "/readyz"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 429, "{path}");
    }
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Another address still gets through, and sees the four refusals counted.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let metrics = other
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("motcua_rate_limited_total{caller=\"address\"} 4"),
        "{metrics}"
    );
}

/// Reads the dossier, then edits it behind the gateway's back (as another instance or a shell
/// would); returns the code, the first answer and the answer after the edit.
async fn read_edit_read(app: &TestApp, id: &str) -> (String, Value, Value) {
    let code = submit_fixture(app, "valid/karaoke.json", id).await;
    let path = format!("/api/v1/dossiers/{code}");
    let (status, first) = app.get_json(&path, READER).await;
    assert_eq!(status, 200);
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET summary = 'sửa ngoài gateway' WHERE code = '{code}'"),
    )
    .await;
    let (status, second) = app.get_json(&path, READER).await;
    assert_eq!(status, 200);
    (code, first, second)
}

#[tokio::test]
async fn a_kept_status_read_is_dropped_when_the_gateway_changes_the_dossier() {
    let app = spawn_app_with("[server]\nstatus_cache_ttl = \"1h\"\n").await;
    let (code, first, kept) = read_edit_read(&app, "CACHE-1").await;
    // Kept: an edit made elsewhere does not show within the TTL...
    assert_eq!(kept, first);
    // ...unless the caller asks for a fresh answer.
    let res = app
        .get_with(
            &format!("/api/v1/dossiers/{code}"),
            READER,
            &[("cache-control", "max-age=0, no-cache")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["summary"], "sửa ngoài gateway");
    // A change through the gateway shows at once, with the edit made meanwhile.
    let (status, answer) = crate::lifecycle::act(
        &app,
        &code,
        serde_json::json!({"action": "accept", "officer": {"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Bộ phận Một cửa"}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (_, after) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(after["TrangThaiHoSo"], 2);
    assert_eq!(after["summary"], "sửa ngoài gateway");
    assert_eq!(after, answer);
}

#[tokio::test]
async fn with_the_status_cache_off_every_read_is_fresh() {
    let app = spawn_app_with("[server]\nstatus_cache_ttl = \"0s\"\n").await;
    let (_, first, second) = read_edit_read(&app, "CACHE-2").await;
    assert_ne!(first["summary"], "sửa ngoài gateway");
    assert_eq!(second["summary"], "sửa ngoài gateway");
}

/// The codes of a list page.
fn codes_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["MaHoSo"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_kept_list_page_is_dropped_when_a_dossier_arrives_or_changes_here() {
    let app = spawn_app_with("[server]\nstatus_cache_ttl = \"1h\"\n").await;
    let first = submit_fixture(&app, "valid/karaoke.json", "LCACHE-1").await;
    let path = "/api/v1/dossiers?status=1&limit=10";
    let (status, page) = app.get_json(path, READER).await;
    assert_eq!(status, 200);
    assert_eq!(codes_of(&page), std::slice::from_ref(&first));

    // A new dossier shows at once, in the same query written another way too.
    let second = submit_fixture(&app, "valid/karaoke.json", "LCACHE-2").await;
    let (_, page) = app.get_json(path, READER).await;
    assert_eq!(codes_of(&page), [second.clone(), first.clone()]);
    let (_, same) = app
        .get_json("/api/v1/dossiers?limit=10&status=1", READER)
        .await;
    assert_eq!(same, page);

    // An edit made elsewhere does not show within the TTL, unless the caller asks.
    raw_sql(
        &app.db_url(),
        &format!("UPDATE dossiers SET status = 3 WHERE code = '{first}'"),
    )
    .await;
    let (_, kept) = app.get_json(path, READER).await;
    assert_eq!(kept, page, "kept");
    let res = app
        .get_with(path, READER, &[("cache-control", "no-cache")])
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(codes_of(&fresh), std::slice::from_ref(&second));

    // A change through the gateway shows at once.
    let (status, answer) = crate::lifecycle::act(
        &app,
        &second,
        serde_json::json!({"action": "accept", "officer": {"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Bộ phận Một cửa"}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (_, after) = app.get_json(path, READER).await;
    assert!(codes_of(&after).is_empty(), "{after}");
}

#[tokio::test]
async fn a_moment_bound_holds_its_whole_second_at_either_end() {
    let app = spawn_app().await;
    let res = app
        .submit(&fixture("valid/thu-vien.json"), "application/json")
        .await;
    let (status, answer) = status_and_json(res).await;
    assert_eq!(status, 201, "{answer}");
    let received = answer["NgayNhan"].as_str().unwrap().to_owned();
    let second = chrono::NaiveDateTime::parse_from_str(&received, "%Y%m%d%H%M%S").unwrap();
    let wire = |t: chrono::NaiveDateTime| t.format("%Y%m%d%H%M%S").to_string();
    let one = chrono::Duration::seconds(1);
    for (query, count) in [
        (format!("from={received}&to={received}"), 1),
        (format!("to={received}"), 1),
        (format!("from={received}"), 1),
        (format!("to={}", wire(second - one)), 0),
        (format!("from={}", wire(second + one)), 0),
    ] {
        let (status, page) = app
            .get_json(&format!("/api/v1/dossiers?{query}"), READER)
            .await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(count),
            "{query}"
        );
    }
}
