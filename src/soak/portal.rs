//! The soak's portal: a real HTTP server taking the gateways' status syncs, failing part of the
//! time as told (a 500, an answer slower than the gateways' timeout, an outage of 503s), and
//! recording every request it got — which message, when, and whether it was confirmed — for the invariants to be checked against.

use crate::sim::{locked, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the portal got.
#[derive(Debug, Clone)]
pub struct Got {
    /// `webhook-id`: the outbox message's id.
    pub message: i64,
    /// When it arrived.
    pub at: Instant,
    /// Whether it was answered 2xx `{"error_code":"0"}` in time (a slow answer is not: the
    /// gateway gave up on it, though the portal may count it).
    pub confirmed: bool,
}

#[derive(Clone, Default)]
struct Shared {
    got: Arc<Mutex<Vec<Got>>>,
    flaky: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
}

/// The running portal.
#[derive(Clone)]
pub struct FlakyPortal {
    /// `host:port`.
    pub address: String,
    shared: Shared,
}

/// How long a slow answer takes: past the gateways' `outbox.timeout` of the soak (1 s).
pub const SLOW: Duration = Duration::from_millis(1500);

impl FlakyPortal {
    /// Listens on a free port, failing part of the time from the start.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared::default();
        shared.flaky.store(true, Ordering::SeqCst);
        let router = Router::new()
            .route("/dossiers/sync", post(sync))
            .with_state(shared.clone());
        let address = serve("127.0.0.1:0", router).await?;
        Ok(Self { address, shared })
    }

    /// Fails part of the time (`true`), or confirms everything.
    pub fn set_flaky(&self, flaky: bool) {
        self.shared.flaky.store(flaky, Ordering::SeqCst);
    }

    /// Answers every request 503 while down.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Everything received so far, in arrival order.
    pub fn got(&self) -> Vec<Got> {
        locked(&self.shared.got).clone()
    }
}

async fn sync(State(s): State<Shared>, headers: HeaderMap, _body: Bytes) -> Response {
    let at = Instant::now();
    let message = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let roll: u32 = rand::random::<u32>() % 100;
    let (status, slow) = if s.down.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, false)
    } else if !s.flaky.load(Ordering::SeqCst) {
        (StatusCode::OK, false)
    } else if roll < 15 {
        (StatusCode::INTERNAL_SERVER_ERROR, false)
    } else if roll < 22 {
        (StatusCode::OK, true)
    } else {
        (StatusCode::OK, false)
    };
    let confirmed = status == StatusCode::OK && !slow;
    locked(&s.got).push(Got {
        message,
        at,
        confirmed,
    });
    if slow {
        tokio::time::sleep(SLOW).await;
    }
    (status, r#"{"error_code":"0"}"#).into_response()
}
