//! The city portal's side (contract sections 1, 2 and 6): it pushes dossiers signed with the
//! portal's inbound secret, receives the gateway's status syncs on `portal.base_url`'s address
//! (each signature verified with `portal.outbound_secret`, each sync printed) and answers them as
//! told — 2xx, an error code, a 5xx or a delay, to rehearse outages — and serves the files its
//! dossiers list on the documents' host (`/files/<name>`), with the bytes the fixtures' hashes
//! were made of ([`fixture_file`]).

use super::{locked, serve, Journal};
use crate::signing::{self, SignatureHeaders, WebhookSecret};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the simulated portal answers a status sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncReply {
    /// 200 `{"error_code":"0"}`: confirmed.
    Confirm,
    /// 200 with this `error_code` (not confirmed: retried).
    ErrorCode(String),
    /// This HTTP status.
    Status(u16),
    /// Confirm after this long.
    Delay(Duration),
}

impl SyncReply {
    /// `200`, `error:<code>`, a status such as `503`, or `delay:<duration>` (`delay:3s`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some(code) = text.strip_prefix("error:") {
            return Ok(Self::ErrorCode(code.to_owned()));
        }
        if let Some(d) = text.strip_prefix("delay:") {
            return Ok(Self::Delay(humantime::parse_duration(d)?));
        }
        match text.parse::<u16>() {
            Ok(200) => Ok(Self::Confirm),
            Ok(s) if (100..600).contains(&s) => Ok(Self::Status(s)),
            _ => anyhow::bail!(
                "a reply is 200, error:<code>, a status such as 503, or delay:<duration>"
            ),
        }
    }
}

/// One status sync received.
#[derive(Debug, Clone)]
pub struct Sync {
    /// Whether its signature verified.
    pub verified: bool,
    /// Its body.
    pub body: Value,
}

/// The bytes the simulated portal serves as the file `name` (and that the fixtures' `MaHash`
/// and `KichThuoc` were computed from, in `fixtures/portal/generate.py`).
pub fn fixture_file(name: &str) -> Vec<u8> {
    format!("motcua fixture file {name}\n").into_bytes()
}

#[derive(Clone)]
struct Shared {
    secret: Arc<WebhookSecret>,
    reply: Arc<Mutex<SyncReply>>,
    syncs: Arc<Mutex<Vec<Sync>>>,
    journal: Journal,
}

/// A running simulated portal.
#[derive(Clone)]
pub struct PortalSim {
    /// Where it takes status syncs.
    pub sync_address: String,
    /// Where it serves files.
    pub files_address: String,
    shared: Shared,
}

impl PortalSim {
    /// Listens for syncs on `sync_listen` and serves files on `files_listen` (`host:port`, port
    /// 0 for any); `outbound` is the secret the gateway signs syncs with.
    pub async fn start(
        sync_listen: &str,
        files_listen: &str,
        outbound: WebhookSecret,
        journal: Journal,
    ) -> std::io::Result<Self> {
        let shared = Shared {
            secret: Arc::new(outbound),
            reply: Arc::new(Mutex::new(SyncReply::Confirm)),
            syncs: Arc::default(),
            journal,
        };
        let syncs = Router::new()
            .route("/dossiers/sync", post(receive_sync))
            .with_state(shared.clone());
        let files = Router::new()
            .route("/files/{name}", get(serve_file))
            .with_state(shared.clone());
        Ok(Self {
            sync_address: serve(sync_listen, syncs).await?,
            files_address: serve(files_listen, files).await?,
            shared,
        })
    }

    /// Answers the next syncs this way.
    pub fn set_reply(&self, reply: SyncReply) {
        *locked(&self.shared.reply) = reply;
    }

    /// Every sync received so far.
    pub fn syncs(&self) -> Vec<Sync> {
        locked(&self.shared.syncs).clone()
    }
}

async fn receive_sync(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let signature = SignatureHeaders {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let now = chrono::Utc::now().timestamp();
    let verified =
        signing::verify(std::slice::from_ref(&s.secret), signature, &body, now, 300).is_ok();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = locked(&s.reply).clone();
    s.journal.note(format!(
        "portal: sync {} {} → TrangThaiHoSo {} ({}), answering {}",
        parsed["MaHoSo"].as_str().unwrap_or("?"),
        parsed["MaHoSoQG"].as_str().unwrap_or("?"),
        parsed["TrangThaiHoSo"],
        if verified {
            "signature verified"
        } else {
            "SIGNATURE INVALID"
        },
        match &reply {
            SyncReply::Confirm => "200 error_code 0".to_owned(),
            SyncReply::ErrorCode(c) => format!("200 error_code {c}"),
            SyncReply::Status(st) => st.to_string(),
            SyncReply::Delay(d) => format!("200 after {}", humantime::format_duration(*d)),
        }
    ));
    locked(&s.syncs).push(Sync {
        verified,
        body: parsed,
    });
    if !verified {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error_code": "401"}).to_string(),
        )
            .into_response();
    }
    let ok = |code: &str| (StatusCode::OK, json!({"error_code": code}).to_string()).into_response();
    match reply {
        SyncReply::Confirm => ok("0"),
        SyncReply::ErrorCode(c) => ok(&c),
        SyncReply::Status(st) => StatusCode::from_u16(st)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        SyncReply::Delay(d) => {
            tokio::time::sleep(d).await;
            ok("0")
        }
    }
}

async fn serve_file(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    s.journal.note(format!("portal: file {name} fetched"));
    fixture_file(&name).into_response()
}

/// Pushes `body` to the gateway at `gateway` (`http://host:port`) as the portal does: signed
/// with `secret`, a fresh message id, now. The answer's status and JSON.
pub async fn push(
    client: &reqwest::Client,
    gateway: &str,
    secret: &WebhookSecret,
    body: &[u8],
    content_type: &str,
) -> anyhow::Result<(u16, Value)> {
    let id = format!("msg_sim_{:016x}", rand::random::<u64>());
    let timestamp = chrono::Utc::now().timestamp();
    let res = client
        .post(format!("{gateway}/portal/v1/dossiers"))
        .header("content-type", content_type)
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signing::sign(secret, &id, timestamp, body),
        )
        .body(body.to_vec())
        .send()
        .await?;
    let status = res.status().as_u16();
    let answer = res.json().await.unwrap_or(Value::Null);
    Ok((status, answer))
}
