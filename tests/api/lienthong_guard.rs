//! What an agency's answers may and may not do (contract section 9): a forged answer, one
//! signed by the other agency, a stale one and one about no forwarding are refused and leave
//! nothing but the cut log record; the same `webhook-id` again is answered as the first time
//! and does nothing more; nothing follows a final answer; a bad body is refused precisely (a
//! NUL included, on PostgreSQL too). Forwarded documents go to their step's agency only;
//! result documents are fetched from the agency's own host and proven by their hash.

use crate::agencies::*;
use crate::documents::{sha256, with_documents, FileServer};
use crate::helpers::*;
use crate::lifecycle::act;
use serde_json::{json, Value};

/// Everything an answer could have written, for a dossier: its steps' rows, progress records,
/// outbox messages, documents, and the agencies' kept answers.
async fn written(app: &TestApp) -> Vec<i64> {
    let url = app.db_url();
    let mut counts = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM progress",
        "SELECT COUNT(*) FROM outbox",
        "SELECT COUNT(*) FROM dossier_documents",
        "SELECT COUNT(*) FROM idempotency_keys WHERE client LIKE 'agency:%'",
        "SELECT COUNT(*) FROM dossier_steps WHERE state <> 'forwarded'",
    ] {
        counts.push(sql_i64(&url, sql).await);
    }
    counts
}

async fn forwarded(app: &TestApp, id: &str) -> (String, String) {
    let code = processing(app, "karaoke.json", id).await;
    let (s, d) = forward(app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "{d}");
    let reference = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    (code, reference)
}

#[tokio::test]
async fn forged_wrong_agency_stale_and_unknown_answers_are_refused_and_nothing_is_kept() {
    let Setup { app, .. } = setup().await;
    let (_, reference) = forwarded(&app, "LT-GUARD-1").await;
    let before = written(&app).await;
    let stranger = "whsec_c3RyYW5nZXItc2VjcmV0LTAwMDAwMDAwMDA=";
    let (s, e) = agency_answer(&app, &reference, stranger, "f-1", &done()).await;
    assert_eq!((s, e), (401, json!({"error_code": "SIGNATURE_INVALID"})));
    let (s, e) = agency_answer(&app, &reference, PC06_SECRET, "f-2", &done()).await;
    assert_eq!(
        (s, e),
        (401, json!({"error_code": "SIGNATURE_INVALID"})),
        "the other agency cannot answer for this one"
    );
    let body = done().to_string();
    let old = now() - 301;
    let sig = motcua_gateway::signing::sign(
        &motcua_gateway::signing::WebhookSecret::parse(PC07_SECRET).unwrap(),
        "f-3",
        old,
        body.as_bytes(),
    );
    let res = app
        .client
        .post(app.url(&format!("/lienthong/v1/steps/{reference}")))
        .header("content-type", "application/json")
        .header("webhook-id", "f-3")
        .header("webhook-timestamp", old.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(res).await,
        (401, json!({"error_code": "TIMESTAMP_OUT_OF_RANGE"}))
    );
    let unknown = "000.00.12.H29-261130-9999.nghiem-thu-pccc.0000000000000000";
    let (s, e) = agency_answer(&app, unknown, PC07_SECRET, "f-4", &done()).await;
    assert_eq!((s, &e["error_code"]), (404, &json!("NOT_FOUND")), "{e}");
    let (s, e) = agency_answer(&app, unknown, stranger, "f-5", &done()).await;
    assert_eq!(
        (s, e),
        (401, json!({"error_code": "SIGNATURE_INVALID"})),
        "a stranger learns nothing of which forwardings exist"
    );
    assert_eq!(written(&app).await, before, "nothing recorded");
    let log = message_log(&app.store).await;
    let refused: Vec<&str> = log
        .iter()
        .filter(|r| {
            r.message.partner == "agency" && r.message.verdict.starts_with("unauthenticated")
        })
        .map(|r| r.message.target.as_str())
        .collect();
    assert_eq!(refused.len(), 4, "each refusal kept cut: {refused:?}");
}

#[tokio::test]
async fn the_same_answer_twice_is_answered_as_the_first_and_nothing_follows_a_final_one() {
    let Setup { app, .. } = setup().await;
    let (code, reference) = forwarded(&app, "LT-GUARD-2").await;
    let received = json!({"TrangThai": "received"});
    let first = agency_answer(&app, &reference, PC07_SECRET, "same-1", &received).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let after_first = written(&app).await;
    let again = agency_answer(&app, &reference, PC07_SECRET, "same-1", &received).await;
    assert_eq!(again, first);
    assert_eq!(written(&app).await, after_first, "the second did nothing");
    let (s, e) = agency_answer(&app, &reference, PC07_SECRET, "same-1", &done()).await;
    assert_eq!(
        (s, &e["error_code"]),
        (422, &json!("IDEMPOTENCY_KEY_REUSED")),
        "{e}"
    );
    assert_eq!(written(&app).await, after_first);

    let (s, _) = agency_answer(&app, &reference, PC07_SECRET, "same-2", &done()).await;
    assert_eq!(s, 200);
    let after_done = written(&app).await;
    for (id, body) in [
        ("late-1", json!({"TrangThai": "processing"})),
        ("late-2", done()),
        ("late-3", json!({"TrangThai": "refused", "NoiDung": "x"})),
    ] {
        let (s, e) = agency_answer(&app, &reference, PC07_SECRET, id, &body).await;
        assert_eq!(
            (s, &e["error_code"]),
            (409, &json!("STEP_FINAL")),
            "{id}: {e}"
        );
    }
    assert_eq!(written(&app).await, after_done);
    let replay = agency_answer(&app, &reference, PC07_SECRET, "same-2", &done()).await;
    assert_eq!(
        replay.0, 200,
        "the final answer's own retry is still answered as before"
    );
    let d = dossier(&app, &code).await;
    assert_eq!(step_of(&d, "nghiem-thu-pccc")["state"], "done");
}

#[tokio::test]
async fn bad_answers_are_refused_precisely_and_store_nothing() {
    let Setup { app, .. } = setup().await;
    let (_, reference) = forwarded(&app, "LT-GUARD-3").await;
    let before = written(&app).await;
    let res = app
        .client
        .post(app.url(&format!("/lienthong/v1/steps/{reference}")))
        .header("content-type", "text/plain")
        .body("done")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_json(res).await,
        (415, json!({"error_code": "UNSUPPORTED_MEDIA_TYPE"}))
    );
    let nul = json!({"TrangThai": "refused", "NoiDung": "a\u{0}b"});
    let (s, e) = agency_answer(&app, &reference, PC07_SECRET, "bad-1", &nul).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error_code"], "VALIDATION");
    let fields: Vec<(&str, &str)> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["field"].as_str().unwrap(), x["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [("NoiDung", "control_character")],
        "a refusal's reason refused once, not also as missing"
    );
    let (s, e) = agency_answer(&app, &reference, PC07_SECRET, "bad-2", &json!([1])).await;
    assert_eq!((s, &e["error_code"]), (400, &json!("MALFORMED")), "{e}");
    // Over 256 KiB: refused before it is read whole, signed or not.
    let big = json!({"TrangThai": "refused", "NoiDung": "x".repeat(300 * 1024)});
    let (s, e) = agency_answer(&app, &reference, PC07_SECRET, "bad-3", &big).await;
    assert_eq!((s, &e["error_code"]), (413, &json!("TOO_LARGE")), "{e}");
    assert_eq!(written(&app).await, before);
}

#[tokio::test]
async fn an_agency_over_its_rate_is_told_when_to_come_back_and_nothing_is_kept() {
    let (portal, pc07, pc06) = (
        TestPartner::start().await,
        TestPartner::start().await,
        TestPartner::start().await,
    );
    let config = format!(
        "{}[rate_limits]\nagency = {{ per_second = 1, burst = 1 }}\n",
        agencies_config(&portal, &pc07, &pc06)
    );
    let app = spawn_app_with(&config).await;
    let (_, reference) = forwarded(&app, "LT-RATE-1").await;
    // Unsigned requests do not spend the agency's budget.
    let stranger = "whsec_c3RyYW5nZXItc2VjcmV0LTAwMDAwMDAwMDA=";
    for i in 0..3 {
        let (s, _) = agency_answer(&app, &reference, stranger, &format!("x-{i}"), &done()).await;
        assert_eq!(s, 401);
    }
    let received = json!({"TrangThai": "received"});
    let (s, _) = agency_answer(&app, &reference, PC07_SECRET, "r-1", &received).await;
    assert_eq!(s, 200, "the first signed answer is within the budget");
    let before = written(&app).await;
    let res = {
        let body = done().to_string();
        let ts = now();
        let sig = motcua_gateway::signing::sign(
            &motcua_gateway::signing::WebhookSecret::parse(PC07_SECRET).unwrap(),
            "r-2",
            ts,
            body.as_bytes(),
        );
        app.client
            .post(app.url(&format!("/lienthong/v1/steps/{reference}")))
            .header("content-type", "application/json")
            .header("webhook-id", "r-2")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(status_and_json(res).await.1["error_code"], "RATE_LIMITED");
    assert_eq!(written(&app).await, before, "nothing kept of it");
}

#[tokio::test]
async fn a_forwarded_document_is_served_to_its_steps_agency_only() {
    let files = FileServer::start().await;
    let (portal, pc07, pc06) = (
        TestPartner::start().await,
        TestPartner::start().await,
        TestPartner::start().await,
    );
    let config = agencies_config(&portal, &pc07, &pc06).replacen(
        "[portal]\n",
        &format!("[portal]\nfile_hosts = [\"{}\"]\n", files.address),
        1,
    );
    let app = spawn_app_with(&config).await;
    let (tp01, tp02) = (b"don de nghi".to_vec(), b"giay chung nhan".to_vec());
    let body = with_documents(
        "LT-DOC-1",
        [
            files.file("/tp01.pdf", &tp01),
            files.file("/tp02.pdf", &tp02),
        ],
    );
    let code = crate::documents::submit(&app, &body).await;
    while !app.fetcher.fetch_due().await.unwrap().is_empty() {}
    for action in ["accept", "start_processing"] {
        let (s, _) = act(
            &app,
            &code,
            json!({"action": action, "officer": {"name": "A", "title": "B", "unit": "C"}}),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, d) = forward(&app, &code, "nghiem-thu-pccc").await;
    assert_eq!(s, 200, "{d}");
    let reference = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_of = |component: &str| {
        d["documents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["MaThanhPhanHoSo"] == component)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let get = |secret: &'static str, id: i64| {
        let app = &app;
        let reference = reference.clone();
        async move {
            let path = format!("/lienthong/v1/steps/{reference}/documents/{id}");
            let mut req = app.client.get(app.url(&path));
            if !secret.is_empty() {
                let ts = now();
                let sig = motcua_gateway::signing::sign(
                    &motcua_gateway::signing::WebhookSecret::parse(secret).unwrap(),
                    "doc-get",
                    ts,
                    b"",
                );
                req = req
                    .header("webhook-id", "doc-get")
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig);
            }
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
        }
    };
    assert_eq!(get(PC07_SECRET, id_of("TP01")).await, (200, tp01));
    assert_eq!(
        get(PC06_SECRET, id_of("TP01")).await.0,
        401,
        "not the other agency"
    );
    assert_eq!(get("", id_of("TP01")).await.0, 401, "not unsigned");
    assert_eq!(
        get(PC07_SECRET, id_of("TP02")).await.0,
        404,
        "TP02 is not among the components this step receives"
    );
}

#[tokio::test]
async fn result_documents_are_fetched_from_the_agencys_own_host_and_proven_by_hash() {
    let agency_files = FileServer::start().await;
    let other = FileServer::start().await;
    let (portal, pc06) = (TestPartner::start().await, TestPartner::start().await);
    let config = format!(
        "[portal]\nbase_url = \"{}\"\nfile_hosts = [\"{}\"]\n[outbox]\nworker = false\n\
         [[agencies]]\ncode = \"{PC07}\"\nname = \"PC07 thử\"\nbase_url = \"http://{}\"\nsecret = \"{PC07_SECRET}\"\n\
         [[agencies]]\ncode = \"{PC06}\"\nname = \"PC06 thử\"\nbase_url = \"{}\"\nsecret = \"{PC06_SECRET}\"\n",
        portal.address, other.address, agency_files.address, pc06.address
    );
    let app = spawn_app_with(&config).await;
    let (_, reference) = forwarded(&app, "LT-RESULT-1").await;
    let minutes = b"bien ban nghiem thu".to_vec();
    let (good_url, good_hash, good_size) = agency_files.file("/bien-ban.pdf", &minutes);
    let (elsewhere, hash2, size2) = other.file("/khac.pdf", b"tai lieu khac");
    let lying = agency_files.serve("/sai.pdf", crate::documents::Route::File(b"xyz".to_vec()));
    let answer = json!({"TrangThai": "done", "KetQua": {"SoVanBan": "45/NT-PC07", "TaiLieu": [
        {"TenTepDinhKem": "bien-ban.pdf", "MaHash": good_hash, "KichThuoc": good_size, "DuongDan": good_url},
        {"TenTepDinhKem": "khac.pdf", "MaHash": hash2, "KichThuoc": size2, "DuongDan": elsewhere},
        {"MaThanhPhanHoSo": "KQ2", "TenTepDinhKem": "sai.pdf", "MaHash": sha256(b"abc"), "KichThuoc": 3, "DuongDan": lying},
    ]}});
    let (s, e) = agency_answer(&app, &reference, PC07_SECRET, "res-1", &answer).await;
    assert_eq!(s, 200, "{e}");
    // A few at a time, the dossier's own two (on no listed host) among them.
    while !app.fetcher.fetch_due().await.unwrap().is_empty() {}
    let code = reference.split(".nghiem").next().unwrap();
    let d = dossier(&app, code).await;
    let results: Vec<(String, String, Value)> = d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["step"] == reference.as_str())
        .map(|x| {
            (
                x["TenTepDinhKem"].as_str().unwrap().to_owned(),
                x["state"].as_str().unwrap().to_owned(),
                x["MaThanhPhanHoSo"].clone(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("bien-ban.pdf".into(), "stored".into(), json!("KQ")),
            ("khac.pdf".into(), "host_not_allowed".into(), json!("KQ")),
            ("sai.pdf".into(), "hash_mismatch".into(), json!("KQ2")),
        ]
    );
    assert_eq!(other.hits("/khac.pdf"), 0, "never asked of another host");
    let stored = d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["TenTepDinhKem"] == "bien-ban.pdf")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = app
        .get(
            &format!("/api/v1/dossiers/{code}/documents/{stored}"),
            READER,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), minutes);
}
