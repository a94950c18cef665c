//! Untrusted input (contract section 8): what strangers can make the gateway store, spend or
//! hold, tried as they would try it.

use crate::helpers::*;
use crate::payments::{confirm, ipn, VNPAY_SECRET};
use serde_json::json;

/// The bytes the message log, the payment history and the dossiers hold, as the database
/// counts them.
async fn stored_bytes(app: &TestApp) -> i64 {
    let url = app.db_url();
    sql_i64(
        &url,
        "SELECT COALESCE(SUM(LENGTH(body) + LENGTH(headers) + LENGTH(target) + LENGTH(verdict)), 0) FROM message_log",
    )
    .await
        + sql_i64(&url, "SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM payment_events").await
}

#[tokio::test]
async fn a_flood_of_forgeries_leaves_the_store_flat() {
    let app = spawn_app().await;
    let before = stored_bytes(&app).await;
    let forger = ["whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTAxMjM="];
    let big = {
        let mut b = with_portal_id(&fixture("valid/karaoke.json"), "FORGED");
        let pad = format!(",\"Pad\":\"{}\"}}", "x".repeat(1000 * 1024));
        b.truncate(b.len() - 1 - usize::from(b.ends_with(b"\n")));
        b.extend_from_slice(pad.as_bytes());
        b
    };
    assert!(big.len() > 1000 * 1024 && big.len() <= 1024 * 1024);
    for i in 0..5 {
        let res = app
            .submit_signed(
                &big,
                "application/json",
                &format!("msg_f{i}"),
                now(),
                &forger,
            )
            .await;
        assert_eq!(
            status_and_json(res).await,
            (401, json!({"error_code": "SIGNATURE_INVALID"}))
        );
        // A forged PayGov confirmation of 60 KiB, and a forged VNPAY IPN of 8 KiB.
        let mut c = confirm("TT0000000000NONE", "1", "T1", "00", "forged");
        c["Pad"] = json!("y".repeat(60 * 1024));
        let res = app
            .client
            .post(app.url("/payment/paygov/confirm"))
            .json(&c)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (answer["MaLoi"].as_str(), answer["MaThamChieu"].as_str()),
            (Some("99"), Some(""))
        );
        let q = ipn("TT0000000000NONE", "100", "00", "forged") + "&pad=" + &"z".repeat(7 * 1024);
        let res = get_ipn(&app, &q).await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["RspCode"],
            "97"
        );
    }
    let grown = stored_bytes(&app).await - before;
    // Fifteen forgeries and their answers: each request keeps at most 1 KiB of body and its
    // headers, each answer is small. The bodies sent were over 5.3 MB.
    assert!(grown < 15 * 2 * 1024, "the store grew by {grown} bytes");
    assert_eq!(
        sql_i64(&app.db_url(), "SELECT COUNT(*) FROM payment_events").await,
        0,
        "no unsigned callback joins a payment's history"
    );
    let log = message_log(&app.store).await;
    assert_eq!(
        log.len(),
        30,
        "each forgery is still recorded with its answer"
    );
    let requests: Vec<_> = log.iter().filter(|r| r.message.direction == "in").collect();
    assert!(requests
        .iter()
        .all(|r| r.message.verdict.starts_with("unauthenticated: body ")
            && r.message.body.len() <= 1024));
    assert!(
        requests.iter().all(|r| !r.message.target.contains("vnp_")),
        "an unsigned query is kept as a cut body, not whole in the request line"
    );
    assert_eq!(app.dossier_count().await, 0);
}

#[tokio::test]
async fn genuine_callbacks_get_through_a_flood_of_unsigned_ones() {
    let app = spawn_app_with("[rate_limits]\npayment = { per_second = 1, burst = 3 }\n").await;
    for _ in 0..20 {
        let res = app
            .client
            .post(app.url("/payment/paygov/confirm"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "an unsigned callback is answered, not rate-limited"
        );
        let res = app
            .client
            .get(app.url("/payment/vnpay/ipn?vnp_TxnRef=X"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let q = ipn("TT0000000000NONE", "100", "00", VNPAY_SECRET);
        let res = get_ipn(&app, &q).await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "the providers' whole burst was left for signed callbacks"
    );
}

/// A request of the suite.
enum Req {
    /// A push to the portal endpoint, signed with the test secret at `now + skew` seconds, or
    /// unsigned (`signed` false).
    Push {
        ctype: &'static str,
        body: Vec<u8>,
        signed: bool,
        skew: i64,
    },
    /// Any request, as given.
    Raw {
        method: &'static str,
        path: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
}

/// What the contract says the answer is.
#[derive(Debug)]
enum Expect {
    /// This status and exactly `{"error_code": …}`.
    Bare(u16, &'static str),
    /// This status, `error_code` and a `message`.
    Coded(u16, &'static str),
    /// 422 `VALIDATION` naming this field with this code (among others).
    Validation(&'static str, &'static str),
    /// PayGov's 200 with `MaLoi` 99, this `MoTaLoi`, and no reference echoed.
    PayGov(&'static str),
    /// VNPAY's 200 with this `RspCode` and `Message`.
    Vnpay(&'static str, &'static str),
    /// This status (the server's own refusals, before any handler).
    Status(u16),
}

fn karaoke() -> String {
    String::from_utf8(fixture("valid/karaoke.json")).unwrap()
}

/// The karaoke fixture with `from` replaced by `to` (which must occur).
fn karaoke_with(from: &str, to: &str) -> Vec<u8> {
    let body = karaoke();
    assert!(body.contains(from), "{from}");
    body.replacen(from, to, 1).into_bytes()
}

fn push(body: Vec<u8>) -> Req {
    Req::Push {
        ctype: "application/json",
        body,
        signed: true,
        skew: 0,
    }
}

fn xml_push(body: &str) -> Req {
    Req::Push {
        ctype: "application/xml",
        body: body.as_bytes().to_vec(),
        signed: true,
        skew: 0,
    }
}

fn raw(method: &'static str, path: &str, headers: &[(&'static str, &str)], body: &[u8]) -> Req {
    Req::Raw {
        method,
        path: path.to_owned(),
        headers: headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        body: body.to_vec(),
    }
}

fn get(path: &str, token: Option<&str>) -> Req {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&'static str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    raw("GET", path, &headers, b"")
}

fn nested_json(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// Every case: its name, request and the contract's answer.
fn suite() -> Vec<(&'static str, Req, Expect)> {
    use Expect::*;
    let body = karaoke().into_bytes();
    let big = vec![b' '; 1024 * 1024 + 1];
    let forged_sig = {
        let id = "msg_tampered";
        let ts = now();
        let sig = motcua_gateway::signing::sign(
            &motcua_gateway::signing::WebhookSecret::parse(PORTAL_SECRET).unwrap(),
            id,
            ts,
            &body,
        );
        let ts = ts.to_string();
        vec![
            ("content-type", "application/json".to_owned()),
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts),
            ("webhook-signature", sig),
        ]
    };
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let json_ct = [("content-type", "application/json")];
    let reader = format!("Bearer {READER}");
    let writer = format!("Bearer {WRITER}");
    let payer = format!("Bearer {PAYER}");
    let long_query = format!("vnp_TxnRef={}", "A".repeat(9000));
    vec![
        // The portal: cheap refusals first (contract sections 1 and 8).
        (
            "push without a content type",
            raw("POST", "/portal/v1/dossiers", &[], &body),
            Bare(415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
        (
            "push as text/plain",
            raw(
                "POST",
                "/portal/v1/dossiers",
                &[("content-type", "text/plain")],
                &body,
            ),
            Bare(415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
        (
            "push as JSON in Latin-1",
            raw(
                "POST",
                "/portal/v1/dossiers",
                &[("content-type", "application/json; charset=iso-8859-1")],
                &body,
            ),
            Bare(415, "UNSUPPORTED_MEDIA_TYPE"),
        ),
        (
            "push over 1 MiB",
            raw("POST", "/portal/v1/dossiers", &json_ct, &big),
            Bare(413, "TOO_LARGE"),
        ),
        (
            "push unsigned",
            Req::Push {
                ctype: "application/json",
                body: body.clone(),
                signed: false,
                skew: 0,
            },
            Bare(401, "SIGNATURE_INVALID"),
        ),
        (
            "push signed then altered",
            Req::Raw {
                method: "POST",
                path: "/portal/v1/dossiers".into(),
                headers: forged_sig.clone(),
                body: tampered,
            },
            Bare(401, "SIGNATURE_INVALID"),
        ),
        (
            "push signed ten minutes ago",
            Req::Push {
                ctype: "application/json",
                body: body.clone(),
                signed: true,
                skew: -600,
            },
            Bare(401, "TIMESTAMP_OUT_OF_RANGE"),
        ),
        (
            "push signed ten minutes ahead",
            Req::Push {
                ctype: "application/json",
                body: body.clone(),
                signed: true,
                skew: 600,
            },
            Bare(401, "TIMESTAMP_OUT_OF_RANGE"),
        ),
        (
            "push with a timestamp that is not a number",
            raw(
                "POST",
                "/portal/v1/dossiers",
                &[
                    ("content-type", "application/json"),
                    ("webhook-id", "msg_x"),
                    ("webhook-timestamp", "soon"),
                    ("webhook-signature", "v1,AAAA"),
                ],
                &body,
            ),
            Bare(401, "SIGNATURE_INVALID"),
        ),
        (
            "push with a signature that is not base64",
            raw(
                "POST",
                "/portal/v1/dossiers",
                &[
                    ("content-type", "application/json"),
                    ("webhook-id", "msg_x"),
                    ("webhook-timestamp", &now().to_string()),
                    ("webhook-signature", "v1,!!!"),
                ],
                &body,
            ),
            Bare(401, "SIGNATURE_INVALID"),
        ),
        (
            "push with no webhook-id",
            raw(
                "POST",
                "/portal/v1/dossiers",
                &[
                    ("content-type", "application/json"),
                    ("webhook-timestamp", &now().to_string()),
                    ("webhook-signature", "v1,AAAA"),
                ],
                &body,
            ),
            Bare(401, "SIGNATURE_INVALID"),
        ),
        // Signed but not a dossier: 400 for what cannot be read (section 1).
        (
            "signed JSON cut short",
            push(b"{\"MaHoSoQG\":".to_vec()),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed empty body",
            push(Vec::new()),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed JSON array",
            push(b"[]".to_vec()),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed JSON nested ten thousand deep",
            push(nested_json(10_000)),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed bytes that are not UTF-8",
            push(vec![0xff, 0xfe, b'{', b'}']),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed JSON with a key twice",
            push(fixture("invalid/400-duplicate-json-key.json")),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed JSON with an object for the applicant's name",
            push(karaoke_with(
                "\"HoTen\": \"",
                "\"HoTen\": {\"x\":1}, \"Y\": \"",
            )),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML with a DTD (billion laughs)",
            Req::Push {
                ctype: "application/xml",
                body: fixture("invalid/400-doctype-billion-laughs.xml"),
                signed: true,
                skew: 0,
            },
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML with an external entity",
            Req::Push {
                ctype: "application/xml",
                body: fixture("invalid/400-external-entity.xml"),
                signed: true,
                skew: 0,
            },
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML not well formed",
            xml_push("<HoSo><MaHoSoQG>x</HoSo>"),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML with another root",
            xml_push("<Dossier/>"),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML with a NUL character reference",
            xml_push("<HoSo><MaHoSoQG>a&#0;b</MaHoSoQG></HoSo>"),
            Coded(400, "MALFORMED"),
        ),
        (
            "signed XML declaring Latin-1",
            Req::Push {
                ctype: "application/xml",
                body: fixture("invalid/400-latin1-encoding.xml"),
                signed: true,
                skew: 0,
            },
            Coded(400, "MALFORMED"),
        ),
        // Signed and readable, but not valid: 422 naming the field (sections 1 and 8).
        (
            "signed with a NUL in the summary",
            push(karaoke_with(
                "\"TrichYeuHoSo\": \"",
                "\"TrichYeuHoSo\": \"\\u0000",
            )),
            Validation("TrichYeuHoSo", "control_character"),
        ),
        (
            "signed with a bell in the applicant's name",
            push(karaoke_with("\"HoTen\": \"", "\"HoTen\": \"\\u0007")),
            Validation("ChuHoSo.HoTen", "control_character"),
        ),
        (
            "signed with an escape in a form field",
            push(karaoke_with(
                "\"TenDoanhNghiep\": \"",
                "\"TenDoanhNghiep\": \"\\u001b[2J",
            )),
            Validation("DuLieuBieuMau.TenDoanhNghiep", "control_character"),
        ),
        (
            "signed for an unknown procedure",
            push(fixture("invalid/422-unknown-procedure.json")),
            Validation("MaTTHC", "unknown_procedure"),
        ),
        (
            "signed without the portal's id",
            push(karaoke_with("\"MaHoSoQG\": \"", "\"MaHoSoQGx\": \"")),
            Validation("MaHoSoQG", "required"),
        ),
        (
            "signed with a portal id of 51 characters",
            push(karaoke_with(
                "\"MaHoSoQG\": \"",
                &format!("\"MaHoSoQG\": \"{}", "X".repeat(51)),
            )),
            Validation("MaHoSoQG", "invalid"),
        ),
        (
            "signed without a document the procedure requires",
            push(fixture("invalid/422-missing-required-document.json")),
            Validation("TaiLieuNop.TP01", "missing_document"),
        ),
        (
            "signed with a bad identity number",
            push(fixture("invalid/422-bad-identity-number.json")),
            Validation("ChuHoSo.SoDinhDanh", "invalid_format"),
        ),
        // Payment callbacks: always 200 in the provider's words (sections 3, 4 and 8).
        (
            "PayGov confirmation unsigned",
            raw("POST", "/payment/paygov/confirm", &json_ct, b"{}"),
            PayGov("Invalid signature"),
        ),
        (
            "PayGov confirmation not JSON",
            raw("POST", "/payment/paygov/confirm", &json_ct, b"<xml/>"),
            PayGov("Invalid signature"),
        ),
        (
            "PayGov confirmation with a forged line break",
            raw(
                "POST",
                "/payment/paygov/confirm",
                &json_ct,
                &serde_json::to_vec(&crate::payments::confirm(
                    "TT1\nlevel=ERROR forged",
                    "1",
                    "T",
                    "00",
                    "forged",
                ))
                .unwrap(),
            ),
            PayGov("Invalid signature"),
        ),
        (
            "PayGov confirmation over 64 KiB",
            raw(
                "POST",
                "/payment/paygov/confirm",
                &json_ct,
                &vec![b' '; 64 * 1024 + 1],
            ),
            Bare(413, "TOO_LARGE"),
        ),
        (
            "VNPAY IPN without parameters",
            get("/payment/vnpay/ipn", None),
            Vnpay("97", "Invalid signature"),
        ),
        (
            "VNPAY IPN with a forged hash",
            get(
                &format!(
                    "/payment/vnpay/ipn?{}",
                    ipn("TT0000000000NONE", "100", "00", "forged")
                ),
                None,
            ),
            Vnpay("97", "Invalid signature"),
        ),
        (
            "VNPAY IPN with a parameter twice",
            get(
                &format!(
                    "/payment/vnpay/ipn?{}&vnp_Amount=1",
                    ipn("TT0000000000NONE", "100", "00", VNPAY_SECRET)
                ),
                None,
            ),
            Vnpay("97", "Invalid signature"),
        ),
        (
            "VNPAY IPN with broken percent-encoding",
            get("/payment/vnpay/ipn?vnp_TxnRef=%zz&vnp_SecureHash=00", None),
            Vnpay("97", "Invalid signature"),
        ),
        (
            "VNPAY IPN over 8 KiB",
            get(&format!("/payment/vnpay/ipn?{long_query}"), None),
            Vnpay("99", "Request too large"),
        ),
        // The internal API (section 5).
        (
            "API without a token",
            get("/api/v1/dossiers", None),
            Coded(401, "UNAUTHORIZED"),
        ),
        (
            "API with an unknown token",
            get("/api/v1/dossiers", Some("not-a-token")),
            Coded(401, "UNAUTHORIZED"),
        ),
        (
            "API with a Basic credential",
            raw(
                "GET",
                "/api/v1/dossiers",
                &[("authorization", "Basic cmVhZGVyOnRva2Vu")],
                b"",
            ),
            Coded(401, "UNAUTHORIZED"),
        ),
        (
            "an action with a reader's token",
            raw(
                "POST",
                "/api/v1/dossiers/X/actions",
                &[
                    ("authorization", &reader),
                    ("content-type", "application/json"),
                ],
                b"{}",
            ),
            Coded(403, "FORBIDDEN"),
        ),
        (
            "a payment with a writer's token",
            raw(
                "POST",
                "/api/v1/dossiers/X/payments",
                &[
                    ("authorization", &writer),
                    ("content-type", "application/json"),
                ],
                b"{\"provider\":\"vnpay\"}",
            ),
            Coded(403, "FORBIDDEN"),
        ),
        (
            "a payment through an unknown provider",
            raw(
                "POST",
                "/api/v1/dossiers/X/payments",
                &[
                    ("authorization", &payer),
                    ("content-type", "application/json"),
                ],
                b"{\"provider\":\"bitcoin\"}",
            ),
            Validation("provider", "not_allowed"),
        ),
        (
            "a payment request that is not JSON",
            raw(
                "POST",
                "/api/v1/dossiers/X/payments",
                &[
                    ("authorization", &payer),
                    ("content-type", "application/json"),
                ],
                b"provider=vnpay",
            ),
            Coded(400, "MALFORMED"),
        ),
        (
            "a list with a forged cursor",
            get("/api/v1/dossiers?cursor=eyJpZCI6MX0", Some(READER)),
            Coded(400, "INVALID_QUERY"),
        ),
        (
            "a list with a limit that is not a number",
            get("/api/v1/dossiers?limit=all", Some(READER)),
            Coded(400, "INVALID_QUERY"),
        ),
        (
            "a dossier code climbing out of its path",
            get("/api/v1/dossiers/..%2F..%2Fetc%2Fpasswd", Some(READER)),
            Coded(404, "NOT_FOUND"),
        ),
        (
            "an action body over 64 KiB",
            raw(
                "POST",
                "/api/v1/dossiers/X/actions",
                &[
                    ("authorization", &writer),
                    ("content-type", "application/json"),
                ],
                &vec![b' '; 64 * 1024 + 1],
            ),
            Bare(413, "TOO_LARGE"),
        ),
        // Anything else.
        (
            "an unknown path",
            get("/wp-admin/install.php", None),
            Coded(404, "NOT_FOUND"),
        ),
        (
            "a GET of the push endpoint",
            get("/portal/v1/dossiers", None),
            Status(405),
        ),
    ]
}

async fn send(app: &TestApp, req: Req) -> reqwest::Response {
    match req {
        Req::Push {
            ctype,
            body,
            signed,
            skew,
        } => {
            let id = format!("msg_{:016x}", rand::random::<u64>());
            if signed {
                app.submit_signed(&body, ctype, &id, now() + skew, &[PORTAL_SECRET])
                    .await
            } else {
                app.client
                    .post(app.url("/portal/v1/dossiers"))
                    .header("content-type", ctype)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        }
        Req::Raw {
            method,
            path,
            headers,
            body,
        } => {
            let mut r = app
                .client
                .request(method.parse().unwrap(), app.url(&path))
                .body(body);
            for (k, v) in headers {
                r = r.header(k, v);
            }
            r.send().await.unwrap()
        }
    }
}

/// Whether `answer` (status and body) is what `expect` says, and if not, why.
fn holds(expect: &Expect, status: u16, body: &serde_json::Value) -> Result<(), String> {
    let code = body["error_code"].as_str();
    let ok = match expect {
        Expect::Bare(s, c) => status == *s && *body == json!({"error_code": c}),
        Expect::Coded(s, c) => status == *s && code == Some(c) && body["message"].is_string(),
        Expect::Validation(field, c) => {
            status == 422
                && code == Some("VALIDATION")
                && body["errors"].as_array().is_some_and(|errors| {
                    errors
                        .iter()
                        .any(|e| e["field"] == *field && e["code"] == *c)
                })
        }
        Expect::PayGov(why) => {
            status == 200
                && body["MaLoi"] == "99"
                && body["MoTaLoi"] == *why
                && body["MaThamChieu"] == ""
        }
        Expect::Vnpay(c, m) => status == 200 && *body == json!({"RspCode": c, "Message": m}),
        Expect::Status(s) => status == *s,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expect:?}, got {status} {body}"))
    }
}

#[tokio::test]
async fn the_hostile_input_suite_gets_the_contracts_answers_and_stores_nothing() {
    let app = spawn_app().await;
    let suite = suite();
    assert!(suite.len() >= 40, "{} cases", suite.len());
    let mut failures = Vec::new();
    for (name, req, expect) in suite {
        let res = send(&app, req).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if let Err(why) = holds(&expect, status, &body) {
            failures.push(format!("{name}: {why} ({text:.200})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let url = app.db_url();
    for table in [
        "dossiers",
        "payments",
        "payment_events",
        "outbox",
        "idempotency_keys",
    ] {
        assert_eq!(
            sql_i64(&url, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table} holds nothing"
        );
    }
    // What strangers sent is kept cut; what the portal signed is kept whole, as evidence.
    for r in message_log(&app.store).await {
        if r.message.verdict.starts_with("unauthenticated: ") {
            assert!(r.message.body.len() <= 1024, "record {}", r.seq);
        }
    }
}
