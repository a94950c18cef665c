//! `POST /portal/v1/dossiers`: every row of the contract's answer table.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn every_valid_fixture_is_stored_and_answered_201() {
    let app = spawn_app().await;
    for name in fixture_names("valid") {
        let path = format!("valid/{name}");
        let res = app.submit(&fixture(&path), content_type_of(&path)).await;
        assert_eq!(
            res.headers()["content-type"],
            "application/json; charset=utf-8",
            "{name}"
        );
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(body["error_code"], "0");
        assert_eq!(body["TrangThaiHoSo"], 1);
        let code = body["MaHoSo"].as_str().unwrap();
        assert!(code.starts_with("000.00.12.H29-"), "{code}");
        assert_eq!(body["NgayNhan"].as_str().map(str::len), Some(14));

        let (status, dossier) = app
            .get_json(&format!("/api/v1/dossiers/{code}"), READER)
            .await;
        assert_eq!(status, 200);
        assert_eq!(dossier["MaHoSoQG"], body["MaHoSoQG"]);
        assert_eq!(dossier["TrangThaiHoSo"], 1);
        assert_eq!(dossier["TenTrangThaiHoSo"], "Mới đăng ký");
        assert!(
            dossier["form"].as_object().is_some_and(|f| !f.is_empty()),
            "{name}: mapped form"
        );
        assert_eq!(
            dossier["sync"]["pending"], 1,
            "the arrival is queued for the portal"
        );
        assert_eq!(dossier["progress"].as_array().map(Vec::len), Some(1));
    }
    assert_eq!(app.dossier_count().await, fixture_names("valid").len());
}

#[tokio::test]
async fn the_karaoke_form_is_mapped_into_the_department_model_with_its_fees() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(
        app.submit(&fixture("valid/karaoke.xml"), "application/xml")
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let code = body["MaHoSo"].as_str().unwrap();
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(d["MaTTHC"], "1.001029");
    assert_eq!(
        d["form"]["business"]["name"],
        "Công ty TNHH Giải trí Sao Việt"
    );
    assert_eq!(d["form"]["rooms_count"], 3);
    assert_eq!(d["form"]["rooms"][2]["area_m2"], "45.75");
    assert_eq!(d["form"]["venue"]["phone"], "02838123456");
    assert_eq!(d["applicant"]["id_number"], "0312345678");
    assert_eq!(
        d["fees"][0]["amount"], 3_000_000,
        "1,000,000 VND per room (Circular 110/2025)"
    );
    assert_eq!(d["fee_total"], 3_000_000);
    assert_eq!(d["documents"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["documents"][0]["state"], "pending");
    assert_eq!(d["NgayTiepNhan"], Value::Null);
}

#[tokio::test]
async fn a_replayed_submission_returns_the_first_answer() {
    let app = spawn_app().await;
    let body = fixture("valid/bieu-dien.json");
    let first = app.submit(&body, "application/json").await;
    assert_eq!(first.status(), 201);
    let first = first.bytes().await.unwrap();
    let again = app.submit(&body, "application/json").await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.bytes().await.unwrap(),
        first,
        "the same body bytes as the first answer"
    );
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn the_same_fields_in_the_other_format_are_a_replay_not_a_conflict() {
    let app = spawn_app().await;
    let json = with_portal_id(&fixture("valid/quang-cao.json"), "QG-SAME-1");
    let xml = with_portal_id(&fixture("valid/quang-cao.xml"), "QG-SAME-1");
    let (status, first) = status_and_json(app.submit(&json, "application/json").await).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = status_and_json(app.submit(&xml, "application/xml").await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
}

#[tokio::test]
async fn different_content_under_a_known_portal_id_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let body = fixture("valid/vu-truong.json");
    let (_, first) = status_and_json(app.submit(&body, "application/json").await).await;
    let changed = String::from_utf8(body).unwrap().replace("120.5", "130");
    let (status, answer) =
        status_and_json(app.submit(changed.as_bytes(), "application/json").await).await;
    assert_eq!(status, 409);
    assert_eq!(answer["error_code"], "CONFLICT");
    assert_eq!(answer["MaHoSo"], first["MaHoSo"]);
    let (_, d) = app
        .get_json(
            &format!("/api/v1/dossiers/{}", first["MaHoSo"].as_str().unwrap()),
            READER,
        )
        .await;
    assert_eq!(d["form"]["venue"]["dance_floor_m2"], "120.5");
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn every_invalid_fixture_is_rejected_with_its_status_and_nothing_is_stored() {
    let app = spawn_app().await;
    for name in fixture_names("invalid") {
        let path = format!("invalid/{name}");
        let (status, body) =
            status_and_json(app.submit(&fixture(&path), content_type_of(&path)).await).await;
        let expected: u16 = name[..3].parse().unwrap();
        assert_eq!(status, expected, "{name}: {body}");
        let code = if expected == 400 {
            "MALFORMED"
        } else {
            "VALIDATION"
        };
        assert_eq!(body["error_code"], code, "{name}");
        if expected == 422 {
            let errors = body["errors"].as_array().unwrap();
            assert!(!errors.is_empty(), "{name}");
            for e in errors {
                assert!(
                    e["field"].is_string() && e["code"].is_string() && e["message"].is_string(),
                    "{e}"
                );
            }
        }
    }
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn a_422_lists_every_problem_not_only_the_first() {
    let app = spawn_app().await;
    let path = "invalid/422-missing-required-envelope-fields.json";
    let (status, body) =
        status_and_json(app.submit(&fixture(path), "application/json").await).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for f in ["MaHoSoQG", "NgayNopHoSo", "ChuHoSo.HoTen"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let path = "invalid/422-form-field-missing-and-out-of-range.json";
    let (_, body) = status_and_json(app.submit(&fixture(path), "application/json").await).await;
    let errors = body["errors"].as_array().unwrap();
    let pairs: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        pairs.contains(&("DuLieuBieuMau.TenDoanhNghiep".into(), "required".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("DuLieuBieuMau.SoPhong".into(), "out_of_range".into())),
        "{pairs:?}"
    );
}

#[tokio::test]
async fn an_unknown_procedure_is_named_in_the_422() {
    let app = spawn_app().await;
    let (status, body) = status_and_json(
        app.submit(
            &fixture("invalid/422-unknown-procedure.json"),
            "application/json",
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "MaTTHC");
    assert_eq!(body["errors"][0]["code"], "unknown_procedure");
}

#[tokio::test]
async fn signatures_must_be_present_and_right() {
    let app = spawn_app().await;
    let body = fixture("valid/thu-vien.xml");
    let unsigned = app
        .client
        .post(app.url("/portal/v1/dossiers"))
        .header("content-type", "application/xml")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (status, answer) = status_and_json(unsigned).await;
    assert_eq!(
        (status, answer["error_code"].as_str()),
        (401, Some("SIGNATURE_INVALID"))
    );

    let wrong = "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==";
    let (status, answer) = status_and_json(
        app.submit_signed(&body, "application/xml", "msg_1", now(), &[wrong])
            .await,
    )
    .await;
    assert_eq!(
        (status, answer),
        (401, serde_json::json!({"error_code": "SIGNATURE_INVALID"}))
    );

    let mut tampered = body.clone();
    let signed = app
        .submit_signed(&body, "application/xml", "msg_2", now(), &[PORTAL_SECRET])
        .await;
    assert_eq!(signed.status(), 201);
    tampered.extend_from_slice(b" ");
    let id = "msg_3";
    let ts = now();
    let sig = motcua_gateway::signing::sign(
        &motcua_gateway::signing::WebhookSecret::parse(PORTAL_SECRET).unwrap(),
        id,
        ts,
        &body,
    );
    let res = app
        .client
        .post(app.url("/portal/v1/dossiers"))
        .header("content-type", "application/xml")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a body changed after signing");
    assert_eq!(app.dossier_count().await, 1);
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_out_of_range() {
    let app = spawn_app().await;
    let body = fixture("valid/thu-vien.json");
    for ts in [now() - 310, now() + 310] {
        let (status, answer) = status_and_json(
            app.submit_signed(&body, "application/json", "msg_t", ts, &[PORTAL_SECRET])
                .await,
        )
        .await;
        assert_eq!(
            (status, answer),
            (
                401,
                serde_json::json!({"error_code": "TIMESTAMP_OUT_OF_RANGE"})
            )
        );
    }
    let ok = app
        .submit_signed(
            &body,
            "application/json",
            "msg_t",
            now() - 290,
            &[PORTAL_SECRET],
        )
        .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn either_secret_is_accepted_during_rotation() {
    let old = PORTAL_SECRET;
    let new = "whsec_bmV3LXBvcnRhbC1zZWNyZXQtcm90YXRlZA==";
    let app = spawn_app_with(&format!(
        "[portal]\ninbound_secrets = [\"{old}\", \"{new}\"]\n"
    ))
    .await;
    let a = with_portal_id(&fixture("valid/thu-vien.json"), "ROT-1");
    let b = with_portal_id(&fixture("valid/thu-vien.json"), "ROT-2");
    assert_eq!(
        app.submit_signed(&a, "application/json", "m1", now(), &[old])
            .await
            .status(),
        201
    );
    assert_eq!(
        app.submit_signed(&b, "application/json", "m2", now(), &[new])
            .await
            .status(),
        201
    );
    let db = app.stop().await;

    let app = spawn_on(db, &format!("[portal]\ninbound_secrets = [\"{new}\"]\n")).await;
    let c = with_portal_id(&fixture("valid/thu-vien.json"), "ROT-3");
    assert_eq!(
        app.submit_signed(&c, "application/json", "m3", now(), &[old])
            .await
            .status(),
        401
    );
    assert_eq!(
        app.submit_signed(&c, "application/json", "m3", now(), &[old, new])
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_too_large() {
    let app = spawn_app().await;
    let mut body = fixture("valid/thu-vien.json");
    body.resize(1024 * 1024 + 1, b' ');
    let (status, answer) = status_and_json(app.submit(&body, "application/json").await).await;
    assert_eq!(
        (status, answer),
        (413, serde_json::json!({"error_code": "TOO_LARGE"}))
    );
    // Exactly 1 MiB is within the limit (trailing spaces are valid JSON whitespace).
    body.truncate(1024 * 1024);
    assert_eq!(app.submit(&body, "application/json").await.status(), 201);
}

#[tokio::test]
async fn other_content_types_are_unsupported() {
    let app = spawn_app().await;
    let body = fixture("valid/thu-vien.json");
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "",
    ] {
        let (status, answer) = status_and_json(app.submit(&body, ct).await).await;
        assert_eq!(
            (status, answer),
            (
                415,
                serde_json::json!({"error_code": "UNSUPPORTED_MEDIA_TYPE"})
            ),
            "{ct:?}"
        );
    }
    let ok = app.submit(&body, "application/json; charset=UTF-8").await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn the_portal_is_rate_limited_with_retry_after() {
    let app = spawn_app_with("[rate_limits]\nportal = { per_second = 1, burst = 2 }\n").await;
    let body = fixture("valid/thu-vien.json");
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..3 {
        let res = app
            .submit(
                &with_portal_id(&body, &format!("RL-{i}")),
                "application/json",
            )
            .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            limited = Some((retry, res.json::<Value>().await.unwrap()));
        }
    }
    assert_eq!(statuses, [201, 201, 429]);
    let (retry, body) = limited.unwrap();
    assert_eq!(retry, 1, "one token per second: retry in at most a second");
    assert_eq!(body, serde_json::json!({"error_code": "RATE_LIMITED"}));
    assert_eq!(app.dossier_count().await, 2);
}

#[tokio::test]
async fn a_flood_of_unsigned_pushes_spends_no_part_of_the_portals_budget() {
    let app = spawn_app_with("[rate_limits]\nportal = { per_second = 1, burst = 3 }\n").await;
    let body = fixture("valid/thu-vien.json");
    // Thirty unsigned pushes: each refused for its signature, none for the portal's rate.
    for i in 0..30 {
        let res = app
            .client
            .post(app.url("/portal/v1/dossiers"))
            .header("content-type", "application/json")
            .body(with_portal_id(&body, &format!("FLOOD-{i}")))
            .send()
            .await
            .unwrap();
        let (status, answer) = status_and_json(res).await;
        assert_eq!(
            (status, answer["error_code"].as_str()),
            (401, Some("SIGNATURE_INVALID")),
            "push {i}"
        );
    }
    // The portal's own pushes still find their whole burst.
    for i in 0..3 {
        let res = app
            .submit(
                &with_portal_id(&body, &format!("GENUINE-{i}")),
                "application/json",
            )
            .await;
        assert_eq!(res.status(), 201, "genuine push {i}");
    }
    assert_eq!(app.dossier_count().await, 3);
}

#[tokio::test]
async fn the_one_stop_software_is_queued_a_push_when_configured() {
    let app = spawn_app_with("[onestop]\nbase_url = \"http://127.0.0.1:9103\"\nsecret = \"whsec_b25lc3RvcC10ZXN0LXNlY3JldC0wMQ==\"\n").await;
    let (status, _) = status_and_json(
        app.submit(&fixture("valid/karaoke.json"), "application/json")
            .await,
    )
    .await;
    assert_eq!(status, 201);
    let messages = outbox_messages(&app.db_url()).await;
    let destinations: Vec<&str> = messages.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(destinations, ["portal", "onestop"]);
    let push: Value = serde_json::from_str(&messages[1].1).unwrap();
    assert_eq!(
        push["dossier"]["form"]["business"]["name"],
        "Công ty TNHH Giải trí Sao Việt"
    );
    assert!(
        push["dossier"]["form"].get("TenDoanhNghiep").is_none(),
        "the department's model, not the portal's names"
    );
    let sync: Value = serde_json::from_str(&messages[0].1).unwrap();
    assert_eq!(sync["service"], "CapNhatTienDoHoSoMC");
    assert_eq!(sync["TrangThaiHoSo"], 1);
}

/// Every string value in a JSON document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn injection_and_markup_in_every_free_text_field_are_stored_and_returned_verbatim() {
    let app = spawn_app().await;
    // At most 50 characters: the shortest limit of these fields.
    let hostile = |i: usize| format!("{i}');DROP TABLE dossiers;--<i>&amp;]]>{{\"$ne\":1}}\\");
    let mut doc: Value = serde_json::from_slice(&fixture("valid/karaoke.json")).unwrap();
    let fields = [
        "/ChuHoSo/HoTen",
        "/ChuHoSo/DiaChi/ChiTiet",
        "/TrichYeuHoSo",
        "/DuLieuBieuMau/TenDoanhNghiep",
        "/DuLieuBieuMau/DiaChiTruSo",
        "/DuLieuBieuMau/NguoiDaiDien/HoTen",
        "/DuLieuBieuMau/NguoiDaiDien/ChucDanh",
        "/DuLieuBieuMau/DiaDiemKinhDoanh",
        "/DuLieuBieuMau/DanhSachPhong/Phong/0/TenPhong",
        "/DuLieuBieuMau/SoGiayChungNhanANTT",
    ];
    for (i, pointer) in fields.iter().enumerate() {
        *doc.pointer_mut(pointer).unwrap() = Value::String(hostile(i));
    }
    let res = app
        .submit(&serde_json::to_vec(&doc).unwrap(), "application/json")
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let code = {
        let list = app.get_json("/api/v1/dossiers", READER).await.1;
        list["items"][0]["MaHoSo"].as_str().unwrap().to_owned()
    };
    let (status, stored) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(status, 200);
    let mut found = Vec::new();
    strings(&stored, &mut found);
    for (i, pointer) in fields.iter().enumerate() {
        assert!(
            found.contains(&hostile(i)),
            "{pointer} did not come back verbatim: {stored}"
        );
    }
    assert_eq!(app.dossier_count().await, 1, "the table is still there");
}

#[tokio::test]
async fn control_characters_in_any_text_value_are_422_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let base: Value = serde_json::from_slice(&fixture("valid/karaoke.json")).unwrap();
    let with = |pointer: &str, text: &str, id: &str| {
        let mut v = base.clone();
        *v.pointer_mut(pointer).unwrap() = Value::String(text.to_owned());
        v["MaHoSoQG"] = Value::String(id.to_owned());
        serde_json::to_vec(&v).unwrap()
    };
    for (pointer, text, field, char) in [
        (
            "/TrichYeuHoSo",
            "Karaoke\u{0} 3 phòng",
            "TrichYeuHoSo",
            "U+0000",
        ),
        ("/ChuHoSo/HoTen", "Công ty\u{0}", "ChuHoSo.HoTen", "U+0000"),
        (
            "/ChuHoSo/DiaChi/ChiTiet",
            "12 Lê Lợi\u{1b}[2J",
            "ChuHoSo.DiaChi.ChiTiet",
            "U+001B",
        ),
        (
            "/DuLieuBieuMau/TenDoanhNghiep",
            "Sao\u{8}Việt",
            "DuLieuBieuMau.TenDoanhNghiep",
            "U+0008",
        ),
        (
            "/TaiLieuNop/1/TenTepDinhKem",
            "gcn\u{0}.pdf",
            "TaiLieuNop[1].TenTepDinhKem",
            "U+0000",
        ),
    ] {
        let body = with(pointer, text, &format!("CTRL-{field}"));
        let (status, answer) = status_and_json(app.submit(&body, "application/json").await).await;
        assert_eq!(status, 422, "{field}: {answer}");
        assert_eq!(answer["error_code"], "VALIDATION");
        let named: Vec<(&str, &str, &str)> = answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["code"] == "control_character")
            .map(|e| {
                (
                    e["field"].as_str().unwrap(),
                    e["code"].as_str().unwrap(),
                    e["message"].as_str().unwrap(),
                )
            })
            .collect();
        let message = format!("the control character {char} is not allowed");
        assert_eq!(
            named,
            [(field, "control_character", message.as_str())],
            "{answer}"
        );
    }
    // The same in XML: a raw control character is read, then named (422); one written as a
    // character reference is refused by the XML reader itself (400), as XML 1.0 allows none.
    let xml = String::from_utf8(fixture("valid/karaoke.xml")).unwrap();
    for (hostile, expected) in [
        (
            "Cấp\u{1} giấy phép",
            (422, "VALIDATION", Some("TrichYeuHoSo")),
        ),
        (
            "Cấp\u{0} giấy phép",
            (422, "VALIDATION", Some("TrichYeuHoSo")),
        ),
        ("Cấp&#x1; giấy phép", (400, "MALFORMED", None)),
        ("Cấp&#0; giấy phép", (400, "MALFORMED", None)),
    ] {
        let body = xml.replace("Cấp giấy phép", hostile);
        let (status, answer) =
            status_and_json(app.submit(body.as_bytes(), "application/xml").await).await;
        assert_eq!(
            (
                status,
                answer["error_code"].as_str().unwrap(),
                answer["errors"][0]["field"].as_str()
            ),
            expected,
            "{hostile:?}: {answer}"
        );
    }
    assert_eq!(app.dossier_count().await, 0, "nothing was stored");
    // Tab and line breaks are text, not control.
    let body = with("/TrichYeuHoSo", "Karaoke\t3 phòng\r\nTầng 2", "CTRL-OK");
    let (status, answer) = status_and_json(app.submit(&body, "application/json").await).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(app.dossier_count().await, 1);
}
