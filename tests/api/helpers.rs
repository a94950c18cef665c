//! Test harness: the real application on port 0 over a fresh database (a temporary SQLite
//! file, or a new PostgreSQL database when `TEST_DATABASE_URL` is set), signed requests, and
//! the fixtures.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use motcua_gateway::app::Application;
use motcua_gateway::config::{token_hash, Config};
use motcua_gateway::signing::{sign, WebhookSecret};
use motcua_gateway::store::Store;
use rand::Rng;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The portal's test secret in `config/default.toml`.
pub const PORTAL_SECRET: &str = "whsec_dGVzdC1wb3J0YWwtaW5ib3VuZC1zZWNyZXQtMDE=";
/// Bearer tokens of the test clients.
pub const READER: &str = "reader-token";
pub const WRITER: &str = "writer-token";
pub const ADMIN: &str = "admin-token";
pub const PAYER: &str = "payer-token";

/// A database made for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    /// A PostgreSQL test's anchor file and document folder live in the temporary folder (an
    /// SQLite test's, in its own folder, go with it): removed with the test's database handle.
    fn drop(&mut self) {
        if self._dir.is_none() {
            let _ = std::fs::remove_file(anchor_file(&self.url));
            let _ = std::fs::remove_dir_all(files_dir(&self.url));
        }
    }
}

impl TestDb {
    /// Another handle on the same PostgreSQL database, for a second gateway on it.
    pub fn share(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
        }
    }
}

/// Makes a fresh, empty database on the backend the run is for.
pub async fn fresh_database() -> TestDb {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("motcua_test_{:016x}", rand::rng().random::<u64>());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("TEST_DATABASE_URL answers");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            conn.close().await.ok();
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            TestDb {
                url: url.to_string(),
                _dir: None,
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/motcua.db", dir.path().display());
            TestDb {
                url,
                _dir: Some(dir),
            }
        }
    }
}

/// The configuration every test starts from: port 0, generous limits, four clients.
pub fn base_config(db_url: &str) -> String {
    format!(
        r#"
clients = [
  {{ name = "reader", token_sha256 = "{}", scopes = ["dossiers:read"] }},
  {{ name = "writer", token_sha256 = "{}", scopes = ["dossiers:read", "dossiers:write"] }},
  {{ name = "admin", token_sha256 = "{}", scopes = ["dossiers:read", "admin"] }},
  {{ name = "payer", token_sha256 = "{}", scopes = ["payments:write"] }},
]
[server]
listen = "127.0.0.1:0"
# Tests reuse pooled connections across pauses; only the tests about idle clients shorten this.
header_read_timeout = "60s"
# Tests of concurrency open a connection per request from one address; the tests of the cap
# set it back.
max_connections_per_address = 1024
[database]
url = "{db_url}"
max_connections = 8
[outbox]
worker = false
[audit]
anchor_file = "{anchor_file}"
[storage]
files = "{files}"
fetcher = false
[rate_limits]
portal = {{ per_second = 100000, burst = 100000 }}
payment = {{ per_second = 100000, burst = 100000 }}
api = {{ per_second = 100000, burst = 100000 }}
address = {{ per_second = 100000, burst = 100000 }}
"#,
        token_hash(READER),
        token_hash(WRITER),
        token_hash(ADMIN),
        token_hash(PAYER),
        anchor_file = anchor_file(db_url).display(),
        files = files_dir(db_url).display(),
    )
}

/// The documents folder of the database at `db_url`, placed as its anchor file is.
pub fn files_dir(db_url: &str) -> PathBuf {
    match db_url.strip_prefix("sqlite://") {
        Some(path) => Path::new(path).with_file_name("files"),
        None => {
            let name = db_url.rsplit('/').next().unwrap_or("db");
            std::env::temp_dir().join(format!("{name}-files"))
        }
    }
}

/// The anchor file of the database at `db_url`: beside an SQLite file, in the temporary folder
/// for a PostgreSQL database (named after it, so each test has its own).
pub fn anchor_file(db_url: &str) -> PathBuf {
    match db_url.strip_prefix("sqlite://") {
        Some(path) => Path::new(path).with_file_name("audit-anchors.jsonl"),
        None => {
            let name = db_url.rsplit('/').next().unwrap_or("db");
            std::env::temp_dir().join(format!("{name}-audit-anchors.jsonl"))
        }
    }
}

/// The test configuration with `extra` TOML layered over it (a key in `extra` wins).
pub fn config_with(db_url: &str, extra: &str) -> Config {
    Config::from_toml_layers(&[&base_config(db_url), extra]).expect("test config is valid")
}

/// A running gateway.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    db: Option<TestDb>,
    /// A delivery worker to drive by hand (`outbox.worker` is off in tests unless turned on).
    pub worker: std::sync::Arc<motcua_gateway::outbox::Worker>,
    payments: motcua_gateway::payment::service::Payments,
    /// The document fetcher, to drive by hand (`storage.fetcher` is off in tests).
    pub fetcher: std::sync::Arc<motcua_gateway::files::fetch::Fetcher>,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

pub async fn spawn_app_with(extra: &str) -> TestApp {
    let db = fresh_database().await;
    spawn_on(db, extra).await
}

pub async fn spawn_on(db: TestDb, extra: &str) -> TestApp {
    let config = config_with(&db.url, extra);
    let app = Application::build(config).await.expect("app builds");
    let address = format!("http://{}", app.local_addr().expect("bound"));
    let store = app.state().store.clone();
    let worker = app.outbox_worker().expect("worker builds");
    let payments = app.state().payments.clone();
    let fetcher = app.state().fetcher.clone();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        db: Some(db),
        worker,
        payments,
        fetcher,
        shutdown,
        handle: Some(handle),
    }
}

impl TestApp {
    /// Stops the server and waits for it, handing back the database for a restart.
    pub async fn stop(mut self) -> TestDb {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server stops cleanly");
        }
        self.db.take().expect("database is held until stop")
    }

    /// The payment service of this app (to drive reconciliation by hand).
    pub fn worker_payments(&self) -> motcua_gateway::payment::service::Payments {
        self.payments.clone()
    }

    /// The database URL this app runs on.
    pub fn db_url(&self) -> String {
        self.db.as_ref().map(|d| d.url.clone()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Posts a body to the portal endpoint signed with the test secret, a fresh message id and
    /// the current time.
    pub async fn submit(&self, body: &[u8], content_type: &str) -> reqwest::Response {
        let id = format!("msg_{:016x}", rand::rng().random::<u64>());
        self.submit_signed(body, content_type, &id, now(), &[PORTAL_SECRET])
            .await
    }

    /// Posts with explicit signing inputs.
    pub async fn submit_signed(
        &self,
        body: &[u8],
        content_type: &str,
        id: &str,
        timestamp: i64,
        secrets: &[&str],
    ) -> reqwest::Response {
        post_signed(
            &self.client,
            &self.address,
            body,
            content_type,
            id,
            timestamp,
            secrets,
        )
        .await
        .expect("request sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.get_with(path, token, &[]).await
    }

    /// `GET path` with a token and extra headers.
    pub async fn get_with(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.get(self.url(path)).bearer_auth(token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request sent")
    }

    /// `GET path` with a token: the status and the JSON body.
    pub async fn get_json(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        status_and_json(self.get(path, token).await).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// How many dossiers the store holds, as the list shows them (at most 200: no test stores
    /// more and then counts).
    pub async fn dossier_count(&self) -> usize {
        let (status, page) = self.get_json("/api/v1/dossiers?limit=200", READER).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["next_cursor"].is_null(), "more than one page: {page}");
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("a list without items: {page}"))
            .len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An answer's status and its body, which must be JSON: a body that is not fails the test here,
/// named, rather than reading as `null` to the assertions after.
pub async fn status_and_json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("the body is read");
    match serde_json::from_str(&text) {
        Ok(value) => (status, value),
        Err(e) => panic!("an answer {status} whose body is not JSON ({e}): {text:?}"),
    }
}

/// The dossier `code` as the store holds it now (`Cache-Control: no-cache`); 200 asserted.
pub async fn dossier_now(app: &TestApp, code: &str) -> serde_json::Value {
    let res = app
        .get_with(
            &format!("/api/v1/dossiers/{code}"),
            READER,
            &[("cache-control", "no-cache")],
        )
        .await;
    let (status, d) = status_and_json(res).await;
    assert_eq!(status, 200, "{d}");
    d
}

/// Posts a submission signed with `secrets` to the gateway at `address`.
pub async fn post_signed(
    client: &reqwest::Client,
    address: &str,
    body: &[u8],
    content_type: &str,
    id: &str,
    timestamp: i64,
    secrets: &[&str],
) -> reqwest::Result<reqwest::Response> {
    let signature = secrets
        .iter()
        .map(|s| sign(&WebhookSecret::parse(s).unwrap(), id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    client
        .post(format!("{address}/portal/v1/dossiers"))
        .header("content-type", content_type)
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await
}

/// `GET /payment/vnpay/ipn?{query}` from the test's client.
pub async fn get_ipn(app: &TestApp, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/payment/vnpay/ipn?{query}")))
        .send()
        .await
        .unwrap()
}

/// A refusal as `(status, error_code, message)`, to compare whole.
pub fn refusal(status: u16, body: &serde_json::Value) -> (u16, Option<&str>, Option<&str>) {
    (
        status,
        body["error_code"].as_str(),
        body["message"].as_str(),
    )
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture's bytes, e.g. `valid/karaoke.json`.
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures/portal").join(path)).expect("fixture exists")
}

pub fn content_type_of(path: &str) -> &'static str {
    if path.ends_with(".xml") {
        "application/xml"
    } else {
        "application/json"
    }
}

/// The fixture with its `MaHoSoQG` replaced by `id`.
pub fn with_portal_id(body: &[u8], id: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).expect("utf-8 fixture");
    let start = text
        .find("<MaHoSoQG>")
        .map(|i| i + "<MaHoSoQG>".len())
        .or_else(|| {
            text.find("\"MaHoSoQG\": \"")
                .map(|i| i + "\"MaHoSoQG\": \"".len())
        })
        .expect("fixture has MaHoSoQG");
    let end = start + text[start..].find(['<', '"']).expect("value ends");
    format!("{}{}{}", &text[..start], id, &text[end..]).into_bytes()
}

/// A copy of the shipped mappings in a temporary folder, for tests that break one.
pub fn mappings_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("mappings")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Every item of a paged listing (`items` / `next_cursor`), following the cursors.
pub async fn all_pages(
    client: &reqwest::Client,
    first_url: &str,
    token: &str,
) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut url = first_url.to_owned();
    loop {
        let page: serde_json::Value = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{first_url}&cursor={c}"),
            None => return items,
        }
    }
}

/// Every fixture file name under `fixtures/portal/<dir>`.
pub fn fixture_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures/portal").join(dir))
        .expect("fixture dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How a test partner answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status, body, extra headers.
    Answer(u16, String, Vec<(String, String)>),
    /// Wait this long, then answer 200 `{"error_code":"0"}` (the client times out first).
    Slow(std::time::Duration),
    /// Wait until the test lets it go (`notify_one`), then answer as the inner reply.
    Held(std::sync::Arc<tokio::sync::Notify>, Box<Reply>),
}

impl Reply {
    pub fn ok() -> Self {
        Reply::Answer(200, r#"{"error_code":"0"}"#.into(), vec![])
    }
    pub fn status(code: u16) -> Self {
        Reply::Answer(code, "{}".into(), vec![])
    }
}

/// One request a test partner received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("partner got JSON")
    }
    /// Whether the request carries a valid signature by `secret` (Standard Webhooks).
    pub fn signed_by(&self, secret: &str) -> bool {
        let h = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok());
        let headers = motcua_gateway::signing::SignatureHeaders {
            id: h("webhook-id"),
            timestamp: h("webhook-timestamp"),
            signature: h("webhook-signature"),
        };
        motcua_gateway::signing::verify(
            &[WebhookSecret::parse(secret).unwrap()],
            headers,
            &self.body,
            now(),
            300,
        )
        .is_ok()
    }

    pub fn webhook_id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

/// A partner as a real HTTP server: records every request and answers from a script, then with
/// a default answer.
#[derive(Clone)]
pub struct TestPartner {
    pub address: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Reply>>>,
    default: std::sync::Arc<std::sync::Mutex<Reply>>,
    events: std::sync::Arc<tokio::sync::Notify>,
    arrived: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TestPartner {
    pub async fn start() -> Self {
        let partner = TestPartner {
            address: String::new(),
            received: Default::default(),
            script: Default::default(),
            default: std::sync::Arc::new(std::sync::Mutex::new(Reply::ok())),
            events: Default::default(),
            arrived: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let p = partner.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let p = p.clone();
            async move { p.handle(req).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestPartner { address, ..partner }
    }

    async fn handle(&self, req: axum::extract::Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 10 << 20).await.unwrap().to_vec();
        self.arrived
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.events.notify_waiters();
        let mut reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.default.lock().unwrap().clone());
        if let Reply::Held(release, inner) = reply {
            release.notified().await;
            reply = *inner;
        }
        let (status, text, headers) = match reply {
            Reply::Answer(s, b, h) => (s, b, h),
            Reply::Slow(d) => {
                tokio::time::sleep(d).await;
                (200, r#"{"error_code":"0"}"#.to_owned(), vec![])
            }
            Reply::Held(..) => (500, "{}".to_owned(), vec![]),
        };
        self.received.lock().unwrap().push(Received {
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            body,
            answered: status,
        });
        self.events.notify_waiters();
        let mut res = (axum::http::StatusCode::from_u16(status).unwrap(), text).into_response();
        for (k, v) in headers {
            res.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_str(&v).unwrap(),
            );
        }
        res
    }

    /// Answers the next requests in this order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }

    /// Answers every request after the script with this.
    pub fn set_default(&self, reply: Reply) {
        *self.default.lock().unwrap() = reply;
    }

    /// Waits (at most a minute) until `n` requests have arrived, answered or not.
    pub async fn wait_arrivals(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let notified = self.events.notified();
            if self.arrived.load(std::sync::atomic::Ordering::SeqCst) >= n {
                return;
            }
            assert!(
                tokio::time::timeout_at(deadline, notified).await.is_ok(),
                "{n} request(s) never arrived"
            );
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most a minute) until `done` holds for what was received.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let notified = self.events.notified();
            if done(&self.received()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for: {what}; received {}",
                    self.received().len()
                );
            }
        }
    }
}

/// An address where nothing listens (a port bound, then released).
pub async fn dead_address() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// Runs `$body` with `$conn` a fresh connection to the test's database (SQLite or PostgreSQL by
/// its URL), behind the gateway's back.
macro_rules! behind_the_gateway {
    ($url:expr, $conn:ident => $body:expr) => {
        if $url.starts_with("sqlite://") {
            let mut $conn = sqlx::SqliteConnection::connect($url).await.unwrap();
            $body
        } else {
            let mut $conn = sqlx::PgConnection::connect($url).await.unwrap();
            $body
        }
    };
}

/// Runs one SQL statement on the test's database behind the gateway's back (to tamper with it).
pub async fn raw_sql(db_url: &str, sql: &str) {
    behind_the_gateway!(db_url, conn => {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    })
}

/// One integer read behind the gateway's back (`SELECT` of one row and column).
pub async fn sql_i64(db_url: &str, sql: &str) -> i64 {
    behind_the_gateway!(db_url, conn => sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap())
}

/// One text read behind the gateway's back.
pub async fn sql_text(db_url: &str, sql: &str) -> String {
    behind_the_gateway!(db_url, conn => sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap())
}

/// Every row's text read behind the gateway's back (`SELECT` of one column).
pub async fn sql_texts(db_url: &str, sql: &str) -> Vec<String> {
    behind_the_gateway!(db_url, conn => sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap())
}

/// A dossier's raw submission, `(content type, body)`, read behind the gateway's back from
/// the record its dossier names, in the message log or in what the log keeps past its
/// retention (exactly one of the two).
pub async fn raw_submission(db_url: &str, dossier_id: i64) -> (String, Vec<u8>) {
    let sql = "SELECT headers, body, body_encoding FROM message_log WHERE seq = \
               (SELECT submission_seq FROM dossiers WHERE id = $1) \
               UNION ALL SELECT headers, body, body_encoding FROM message_log_kept WHERE seq = \
               (SELECT submission_seq FROM dossiers WHERE id = $1)";
    let rows: Vec<(String, Vec<u8>, i16)> = behind_the_gateway!(db_url, conn => sqlx::query_as(sql).bind(dossier_id).fetch_all(&mut conn).await.unwrap());
    assert_eq!(rows.len(), 1, "one copy of the submission");
    let (headers, stored, encoding) = rows.into_iter().next().unwrap();
    let body = motcua_gateway::store::log_body::decode(encoding, stored);
    let content_type = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_else(|| panic!("no content-type in {headers:?}"))
        .to_owned();
    (content_type, body)
}

/// Every outbox message as `(destination, payload)`, in the order queued, read behind the
/// gateway's back.
pub async fn outbox_messages(db_url: &str) -> Vec<(String, String)> {
    let sql = format!(
        "SELECT o.destination, {} ORDER BY o.id",
        payload_of_o(db_url)
    );
    behind_the_gateway!(db_url, conn => sqlx::query_as(&sql).fetch_all(&mut conn).await.unwrap())
}

/// `<payload> FROM outbox o <join>`, for the backend of `db_url`: SQLite keeps payloads in a
/// table of their own (migration 0021), PostgreSQL in the row. A message without its payload
/// reads as NULL, which no caller takes for text.
pub fn payload_of_o(db_url: &str) -> &'static str {
    if db_url.starts_with("sqlite://") {
        "p.payload FROM outbox o LEFT JOIN outbox_payloads p ON p.message_id = o.id"
    } else {
        "o.payload FROM outbox o"
    }
}

/// Claims up to `limit` due messages for `worker` at `now`, each leased for `lease_ms`, in a
/// delivery cycle of its own that logs no request.
pub async fn claim(
    store: &Store,
    worker: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Vec<motcua_gateway::store::Claimed> {
    let mut cycle = store.begin_delivery_cycle().await.unwrap();
    let claim = motcua_gateway::store::ClaimFor {
        worker,
        lease_ms,
        limit,
    };
    let claimed = cycle.claim(now, claim).await.unwrap();
    cycle.commit(vec![None; claimed.len()]).await.unwrap();
    claimed
}

/// Records `outcomes` at `now` in a delivery cycle of its own; whether each was recorded.
pub async fn record(
    store: &Store,
    outcomes: &[motcua_gateway::store::Attempted],
    now: i64,
) -> Vec<bool> {
    let mut cycle = store.begin_delivery_cycle().await.unwrap();
    let recorded = cycle.record(outcomes, now).await.unwrap();
    cycle.commit(Vec::new()).await.unwrap();
    recorded
}

/// Every record of the message log, in seq order.
pub async fn message_log(store: &Store) -> Vec<motcua_gateway::chain::Record> {
    store.message_records(0, 100_000).await.unwrap()
}

/// The `yyMMdd` of `t` in Vietnam time (UTC+7), computed apart from the gateway's own code.
pub fn vn_day(t: chrono::DateTime<chrono::Utc>) -> String {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    t.with_timezone(&vietnam).format("%y%m%d").to_string()
}
