//! Another agency's side of inter-agency processing (contract section 9): it takes forwarded
//! steps on `{base_url}/lienthong/v1/dossiers` (each signature verified with the agency's
//! secret), fetches the documents forwarded with them from the gateway with a signed request
//! and checks their hashes, and answers each step back to the gateway, signed, as told:
//! received, processing, then done with a result document it serves itself (`/files/{ref}.pdf`,
//! its true hash), or refused, or late (after a delay), or not at all.

use super::{locked, serve, Callbacks};
use crate::signing::{self, SignatureHeaders, WebhookSecret};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the simulated agency answers a forwarded step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Received, processing, then done with a result document.
    Done,
    /// Received, then refused.
    Refused,
    /// As `Done`, each answer after this delay (a step that runs late).
    Late(Duration),
    /// Acknowledges the step and answers nothing.
    Silent,
}

impl StepOutcome {
    /// `done`, `refused`, `late:<duration>` or `none`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some(d) = text.strip_prefix("late:") {
            return Ok(Self::Late(humantime::parse_duration(d)?));
        }
        match text {
            "done" => Ok(Self::Done),
            "refused" => Ok(Self::Refused),
            "none" => Ok(Self::Silent),
            _ => anyhow::bail!("an answer is done, refused, late:<duration> or none"),
        }
    }
}

/// The bytes of the result document the agency serves for the forwarding `reference`.
pub fn result_file(code: &str, reference: &str) -> Vec<u8> {
    format!("motcua simulated result of {code} for {reference}\n").into_bytes()
}

#[derive(Clone)]
struct Shared {
    code: String,
    secret: WebhookSecret,
    outcome: Arc<Mutex<StepOutcome>>,
    address: Arc<Mutex<String>>,
    callbacks: Callbacks,
}

/// A running simulated agency.
#[derive(Clone)]
pub struct AgencySim {
    /// Where it listens (`host:port`).
    pub address: String,
    shared: Shared,
}

impl AgencySim {
    /// Listens on `listen` as the agency `code` with `secret`; its answers go through
    /// `callbacks` (to the gateway).
    pub async fn start(
        listen: &str,
        code: &str,
        secret: WebhookSecret,
        callbacks: Callbacks,
    ) -> std::io::Result<Self> {
        let shared = Shared {
            code: code.to_owned(),
            secret,
            outcome: Arc::new(Mutex::new(StepOutcome::Done)),
            address: Arc::default(),
            callbacks,
        };
        let router = Router::new()
            .route("/lienthong/v1/dossiers", post(receive))
            .route("/files/{name}", get(serve_result))
            .with_state(shared.clone());
        let address = serve(listen, router).await?;
        *locked(&shared.address) = address.clone();
        Ok(Self { address, shared })
    }

    /// Answers the next steps this way.
    pub fn set_outcome(&self, outcome: StepOutcome) {
        *locked(&self.shared.outcome) = outcome;
    }
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sig = SignatureHeaders {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
    };
    let now = chrono::Utc::now().timestamp();
    let journal = s.callbacks.journal().clone();
    if signing::verify(std::slice::from_ref(&s.secret), sig, &body, now, 300).is_err() {
        journal.note(format!(
            "agency {}: a forwarded step with a bad signature, refused",
            s.code
        ));
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    let Ok(step) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "{}").into_response();
    };
    let reference = step["BuocXuLy"]["ref"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    journal.note(format!(
        "agency {}: step {} of {} received (ref {reference}, HanXuLy {}, fields {}), signature verified",
        s.code,
        step["BuocXuLy"]["id"].as_str().unwrap_or_default(),
        step["MaHoSo"].as_str().unwrap_or_default(),
        step["HanXuLy"].as_str().unwrap_or_default(),
        step["DuLieu"].as_object().map_or(0, serde_json::Map::len),
    ));
    let outcome = locked(&s.outcome).clone();
    tokio::spawn(async move { work(s, step, reference, outcome).await });
    (StatusCode::OK, json!({"error_code": "0"}).to_string()).into_response()
}

/// What the agency does with one step, after it acknowledged it.
async fn work(s: Shared, step: Value, reference: String, outcome: StepOutcome) {
    let journal = s.callbacks.journal().clone();
    for doc in step["TaiLieu"].as_array().into_iter().flatten() {
        let checked = fetch(&s, doc).await;
        journal.note(format!("agency {}: {checked}", s.code));
    }
    let pause = match outcome {
        StepOutcome::Silent => return,
        StepOutcome::Late(d) => d,
        _ => Duration::from_millis(50),
    };
    let mut answers = vec![json!({"TrangThai": "received", "NguoiXuLy": "Cán bộ tiếp nhận"})];
    if outcome == StepOutcome::Refused {
        answers.push(
            json!({"TrangThai": "refused", "NguoiXuLy": "Cán bộ thẩm định",
            "NoiDung": "Hồ sơ chưa đạt yêu cầu (mô phỏng)"}),
        );
    } else {
        let file = result_file(&s.code, &reference);
        let address = locked(&s.address).clone();
        answers.push(json!({"TrangThai": "processing", "NguoiXuLy": "Cán bộ thẩm định"}));
        answers.push(json!({"TrangThai": "done", "NguoiXuLy": "Cán bộ thẩm định",
            "NoiDung": "Đạt yêu cầu (mô phỏng)",
            "KetQua": {"SoVanBan": format!("{}/KQ-MP", tail(&reference, 4)),
                "TaiLieu": [{"MaThanhPhanHoSo": "KQ", "TenTepDinhKem": format!("ket-qua-{}.pdf", s.code),
                    "MaHash": hex::encode(Sha256::digest(&file)), "KichThuoc": file.len(),
                    "DuongDan": format!("http://{address}/files/{reference}.pdf")}]}}));
    }
    for (i, answer) in answers.into_iter().enumerate() {
        tokio::time::sleep(pause).await;
        let id = format!("sim-{}-{i}", tail(&reference, 16));
        let body = answer.to_string();
        let ts = chrono::Utc::now().timestamp();
        let sent = s
            .callbacks
            .client
            .post(s.callbacks.url(&format!("/lienthong/v1/steps/{reference}")))
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                signing::sign(&s.secret, &id, ts, body.as_bytes()),
            )
            .body(body)
            .send()
            .await;
        let said = match sent {
            Ok(r) => format!("{}", r.status().as_u16()),
            Err(e) => format!("not delivered ({e})"),
        };
        journal.note(format!(
            "agency {}: answered {} for {reference} → {said}",
            s.code, answer["TrangThai"]
        ));
    }
}

/// Fetches one forwarded document with a signed request and checks its hash.
async fn fetch(s: &Shared, doc: &Value) -> String {
    let url = doc["DuongDan"].as_str().unwrap_or_default();
    let id = format!("get-{:016x}", rand::random::<u64>());
    let ts = chrono::Utc::now().timestamp();
    let res = s
        .callbacks
        .client
        .get(url)
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signing::sign(&s.secret, &id, ts, b""))
        .send()
        .await;
    let name = doc["TenTepDinhKem"].as_str().unwrap_or_default();
    match res {
        Ok(r) if r.status().is_success() => match r.bytes().await {
            Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == doc["MaHash"] => {
                format!("document {name} fetched, hash verified")
            }
            Ok(_) => format!("document {name} fetched, hash MISMATCH"),
            Err(e) => format!("document {name}: {e}"),
        },
        Ok(r) => format!(
            "document {name}: the gateway answered {}",
            r.status().as_u16()
        ),
        Err(e) => format!("document {name}: {e}"),
    }
}

async fn serve_result(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    match name.strip_suffix(".pdf") {
        Some(reference) => result_file(&s.code, reference).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The last `n` characters of `text` (a `ref` comes from the gateway: never sliced by bytes).
fn tail(text: &str, n: usize) -> String {
    let skip = text.chars().count().saturating_sub(n);
    text.chars().skip(skip).collect()
}
