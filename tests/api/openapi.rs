//! The OpenAPI document (contract section 5): every route of the section with its scope and
//! its refusals, nothing else; the answers the gateway really gives, held against the schemas
//! the document gives them key by key; and the document's page, looked at in a browser.

use crate::browser::look_at;
use crate::helpers::*;
use crate::lifecycle::{new_dossier, step};
use motcua_gateway::outbox::Dispatched;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Contract section 5's routes (and section 6's download, and the outbox's bulk decisions and
/// the document's own page), with the scope each needs (`None`: open).
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("get", "/api/v1/dossiers/{MaHoSo}", Some("dossiers:read")),
    ("get", "/api/v1/dossiers", Some("dossiers:read")),
    (
        "get",
        "/api/v1/dossiers/by-portal-id/{MaHoSoQG}",
        Some("dossiers:read"),
    ),
    (
        "post",
        "/api/v1/dossiers/{MaHoSo}/actions",
        Some("dossiers:write"),
    ),
    (
        "post",
        "/api/v1/dossiers/{MaHoSo}/payments",
        Some("payments:write"),
    ),
    (
        "get",
        "/api/v1/dossiers/{MaHoSo}/documents/{id}",
        Some("dossiers:read"),
    ),
    (
        "get",
        "/api/v1/dossiers/{MaHoSo}/receipt",
        Some("dossiers:read"),
    ),
    ("get", "/api/v1/outbox", Some("admin")),
    ("post", "/api/v1/outbox/{id}/replay", Some("admin")),
    ("post", "/api/v1/outbox/{id}/discard", Some("admin")),
    ("post", "/api/v1/outbox/replay", Some("admin")),
    ("post", "/api/v1/outbox/discard", Some("admin")),
    ("get", "/api/v1/reports/indicators", Some("dossiers:read")),
    ("get", "/api/v1/lienthong", Some("dossiers:read")),
    ("get", "/api/v1/procedures", None),
    ("get", "/api/v1/openapi.json", None),
    ("get", "/api/v1/docs", None),
    ("get", "/healthz", None),
    ("get", "/readyz", None),
    ("get", "/metrics", None),
];

async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_document_lists_every_route_with_its_scope_and_refusals() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scopes: Vec<&str> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|req| req["bearer"].as_array().unwrap())
                .map(|s| s.as_str().unwrap())
                .collect();
            described.insert((method.clone(), path.clone()), scopes);
        }
    }
    let expected: BTreeMap<(String, String), Vec<&str>> = ROUTES
        .iter()
        .map(|(m, p, s)| ((m.to_string(), p.to_string()), s.iter().copied().collect()))
        .collect();
    assert_eq!(described, expected);

    for (method, path, scope) in ROUTES {
        let op = &doc["paths"][path][method];
        let answers = op["responses"].as_object().unwrap();
        let statuses: Vec<&str> = answers.keys().map(String::as_str).collect();
        if scope.is_some() {
            assert!(
                ["401", "403", "429"].iter().all(|s| statuses.contains(s)),
                "{method} {path}: {statuses:?}"
            );
            // The route is served and guarded as described: no token, 401.
            let url = app.url(
                &path
                    .replace("{MaHoSo}", "X")
                    .replace("{MaHoSoQG}", "Y")
                    .replace("{id}", "1"),
            );
            let req = if *method == "get" {
                app.client.get(url)
            } else {
                app.client.post(url)
            };
            let (status, body) = status_and_json(req.send().await.unwrap()).await;
            assert_eq!(
                refusal(status, &body),
                (
                    401,
                    Some("UNAUTHORIZED"),
                    Some("a valid bearer token is required")
                ),
                "{method} {path}"
            );
        } else {
            assert!(!statuses.contains(&"401"), "{method} {path} is open");
        }
        // Only the liveness probe answers outside the per-address limit.
        assert_eq!(statuses.contains(&"429"), *path != "/healthz", "{path}");
        // Each refusal names the error codes it carries, as the contract spells them.
        for (status, answer) in answers {
            let text = answer["description"].as_str().unwrap();
            if status.starts_with('4') && !["408", "416"].contains(&status.as_str()) {
                assert!(
                    text.contains('`') && text.chars().any(|c| c.is_ascii_uppercase()),
                    "{method} {path} {status}: {text}"
                );
            }
        }
    }
    let actions = &doc["paths"]["/api/v1/dossiers/{MaHoSo}/actions"]["post"]["responses"];
    for code in ["INVALID_TRANSITION", "CALENDAR_MISSING", "FEES_UNPAID"] {
        assert!(actions["409"]["description"]
            .as_str()
            .unwrap()
            .contains(code));
    }
    // The command prints the same document.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_motcua"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), doc);
}

/// Where `value` departs from `schema`: a key the schema does not describe, a required key
/// missing, a value of another type. A schema with no type (`{}`) takes anything.
fn departures(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        return departures(doc, &doc["components"]["schemas"][name], value, at, out);
    }
    if let Some(alternatives) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let fits = alternatives.iter().any(|alt| {
            let mut d = Vec::new();
            departures(doc, alt, value, at, &mut d);
            d.is_empty()
        });
        if !fits {
            out.push(format!("{at}: {value} fits none of {alternatives:?}"));
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
        _ => return,
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !allowed {
        out.push(format!("{at}: a {kind}, described as {types:?}"));
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (key, v) in map {
                    match props.get(key) {
                        Some(p) => departures(doc, p, v, &format!("{at}.{key}"), out),
                        None => out.push(format!("{at}.{key}: not described")),
                    }
                }
            }
            for key in schema["required"].as_array().into_iter().flatten() {
                if !map.contains_key(key.as_str().unwrap()) {
                    out.push(format!("{at}.{key}: required, missing"));
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                departures(doc, &schema["items"], v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Holds an answer against the schema the document gives it.
fn described(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let answer = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !answer.is_null(),
        "{method} {path} {status} is not described"
    );
    let schema = &answer["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} {status}: no JSON schema"
    );
    let mut out = Vec::new();
    departures(doc, schema, body, "$", &mut out);
    assert!(
        out.is_empty(),
        "{method} {path} {status}:\n{}",
        out.join("\n")
    );
}

/// The gateway under test and its document: each call's answer is held against the schema
/// the document gives it for its route and status.
struct Described<'a> {
    app: &'a TestApp,
    doc: Value,
}

impl Described<'_> {
    /// Calls `route` (its `{…}` parts filled from `fill`) and checks the answer's shape.
    async fn call(
        &self,
        method: &str,
        route: &str,
        fill: &[&str],
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (route, query) = route.split_once('?').unwrap_or((route, ""));
        let mut path = route.to_owned();
        for value in fill {
            let open = path.find('{').expect("a part to fill");
            let close = open + path[open..].find('}').unwrap();
            path.replace_range(open..=close, value);
        }
        let url = self.app.url(&format!("{path}?{query}"));
        let req = match method {
            "get" => self.app.client.get(url),
            _ => self.app.client.post(url).json(&body.unwrap_or(json!({}))),
        };
        let (status, answer) = status_and_json(req.bearer_auth(token).send().await.unwrap()).await;
        described(&self.doc, method, route, status, &answer);
        (status, answer)
    }
}

#[tokio::test]
async fn the_answers_given_are_the_answers_described() {
    let portal = TestPartner::start().await;
    portal.script([Reply::status(400)]);
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[outbox]\nworker = false\nretry_schedule = [\"0s\"]",
        portal.address
    ))
    .await;
    let api = Described {
        app: &app,
        doc: document(&app).await,
    };
    let code = new_dossier(&app, "OAS-1").await;
    // The dossier's arrival is refused by the portal: a dead message for the operators.
    assert_eq!(
        app.worker.dispatch_all_pending().await.unwrap(),
        [Dispatched::Dead]
    );
    let one = "/api/v1/dossiers/{MaHoSo}";
    let actions = "/api/v1/dossiers/{MaHoSo}/actions";
    let payments = "/api/v1/dossiers/{MaHoSo}/payments";
    let this = [code.as_str()];
    let post = |route, token, body| api.call("post", route, &this, token, Some(body));

    let (s, b) = post(actions, WRITER, step("accept")).await;
    assert_eq!((s, b["TrangThaiHoSo"].as_i64()), (200, Some(2)));
    let (s, b) = post(actions, WRITER, step("complete")).await;
    assert_eq!(
        (s, b["error_code"].as_str()),
        (409, Some("INVALID_TRANSITION"))
    );
    let (s, b) = post(actions, WRITER, json!({"action": "fly", "officer": 3})).await;
    assert_eq!((s, b["error_code"].as_str()), (422, Some("VALIDATION")));
    assert_eq!(b["errors"].as_array().unwrap().len(), 2, "{b}");
    let unknown = ["000.00.12.H29-261130-9999"];
    let (s, _) = api
        .call("post", actions, &unknown, WRITER, Some(step("accept")))
        .await;
    assert_eq!(s, 404);
    let (s, b) = post(payments, PAYER, json!({"provider": "vnpay"})).await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = post(payments, PAYER, json!({"provider": "momo"})).await;
    assert_eq!(s, 422);

    let (s, d) = api.call("get", one, &[&code], READER, None).await;
    assert_eq!(s, 200);
    assert_eq!(d["payments"].as_array().unwrap().len(), 1);
    // Arrival, acceptance, the payment request.
    assert_eq!(d["progress"].as_array().unwrap().len(), 3);
    assert!(!d["documents"].as_array().unwrap().is_empty());
    assert!(!d["fees"].as_array().unwrap().is_empty());
    let by_portal = "/api/v1/dossiers/by-portal-id/{MaHoSoQG}";
    let same = api.call("get", by_portal, &["OAS-1"], READER, None).await;
    assert_eq!(same, (200, d.clone()));
    let (s, b) = api
        .call("get", "/api/v1/dossiers?limit=1", &[], READER, None)
        .await;
    assert_eq!(
        (s, b["items"][0]["MaHoSo"].as_str()),
        (200, Some(code.as_str()))
    );
    let (s, _) = api
        .call("get", "/api/v1/dossiers?status=eleven", &[], READER, None)
        .await;
    assert_eq!(s, 400);
    let (s, _) = api.call("get", one, &[&code], "no-such-token", None).await;
    assert_eq!(s, 401);
    let (s, _) = api.call("get", "/api/v1/outbox", &[], READER, None).await;
    assert_eq!(s, 403);

    let (s, b) = api
        .call("get", "/api/v1/outbox?state=dead", &[], ADMIN, None)
        .await;
    assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 1));
    assert_eq!(b["items"][0]["attempt_log"][0]["http_status"], 400);
    let id = b["items"][0]["id"].as_i64().unwrap().to_string();
    let replay = "/api/v1/outbox/{id}/replay";
    let (s, b) = api.call("post", replay, &[&id], ADMIN, None).await;
    assert_eq!((s, b["state"].as_str()), (200, Some("pending")));
    let (s, b) = api.call("post", replay, &[&id], ADMIN, None).await;
    assert_eq!((s, b["error_code"].as_str()), (409, Some("NOT_DEAD")));
    let all = Some(json!({"all": true}));
    let (s, b) = api
        .call("post", "/api/v1/outbox/discard", &[], ADMIN, all)
        .await;
    assert_eq!((s, &b), (200, &json!({"discarded": 0})));
    let none = Some(json!({}));
    let (s, b) = api
        .call("post", "/api/v1/outbox/replay", &[], ADMIN, none)
        .await;
    assert_eq!((s, b["error_code"].as_str()), (400, Some("INVALID_QUERY")));

    let (s, b) = api
        .call("get", "/api/v1/procedures", &[], READER, None)
        .await;
    assert_eq!(s, 200);
    assert!(b["items"].as_array().unwrap().len() >= 10);
    let (s, _) = api
        .call("get", "/api/v1/procedures?at=tomorrow", &[], READER, None)
        .await;
    assert_eq!(s, 400);
    // The month the dossier was received in, Vietnam time, as its `NgayNhan` says.
    let received = d["NgayNhan"].as_str().unwrap();
    let month = format!("{}-{}", &received[..4], &received[4..6]);
    let indicators = format!("/api/v1/reports/indicators?month={month}");
    let (s, b) = api.call("get", &indicators, &[], READER, None).await;
    assert_eq!(
        (s, b["total"]["received"]["total"].as_i64()),
        (200, Some(1))
    );
    let (s, _) = api
        .call("get", "/api/v1/reports/indicators", &[], READER, None)
        .await;
    assert_eq!(s, 400);
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(api.call("get", probe, &[], READER, None).await.0, 200);
    }

    // The checker itself: a key the schema does not describe, and a type it does not allow.
    let mut wrong = d.clone();
    wrong["surprise"] = json!(1);
    wrong["TrangThaiHoSo"] = json!("2");
    let mut out = Vec::new();
    let answers = &api.doc["paths"][one]["get"]["responses"];
    departures(
        &api.doc,
        &answers["200"]["content"]["application/json"]["schema"],
        &wrong,
        "$",
        &mut out,
    );
    out.sort();
    assert_eq!(
        out,
        [
            "$.TrangThaiHoSo: a string, described as [\"integer\"]",
            "$.surprise: not described"
        ]
    );
}

#[tokio::test]
async fn the_documents_page_is_read_in_a_browser_with_nothing_fetched_elsewhere() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    for (_, path, _) in ROUTES {
        assert!(
            html.contains(&format!("<span class=\"path\">{path}</span>")),
            "{path}"
        );
    }
    // No script, no stylesheet or image from anywhere: an offline network reads it whole.
    for fetched in ["<script", "src=", "<link", "http://", "https://"] {
        assert!(!html.contains(fetched), "{fetched}");
    }
    look_at(
        &app.url("/api/v1/docs"),
        "openapi-docs",
        "<span class=\"path\">/api/v1/dossiers/{MaHoSo}/actions</span>",
    )
    .await;
}
