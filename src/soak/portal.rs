//! The soak's portal: a real HTTP server taking the gateways' status syncs, failing part of the
//! time as told (`faults`: a 500, an answer slower than the gateways' timeout, outages of 503s
//! or of refused connections), and recording every request it got — which message, when, and
//! whether it was confirmed — for the invariants to be checked against.

use super::faults::{Fault, Faults, Listening, SLOW};
use crate::sim::locked;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

#[derive(Clone)]
struct Shared {
    got: Arc<Mutex<Vec<Got>>>,
    faults: Faults,
}

/// The running portal.
#[derive(Clone)]
pub struct FlakyPortal {
    /// Its server, with the switches of its faults and outages.
    pub server: Arc<Listening>,
    shared: Shared,
}

impl FlakyPortal {
    /// Listens on a free port, failing part of the time from the start.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared {
            got: Arc::default(),
            faults: Faults::flaky(),
        };
        let router = Router::new()
            .route("/dossiers/sync", post(sync))
            .with_state(shared.clone());
        let server = Listening::start(router, shared.faults.clone()).await?;
        Ok(Self { server, shared })
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
    let fault = s.faults.roll();
    let status = match fault {
        Fault::Down => StatusCode::SERVICE_UNAVAILABLE,
        Fault::Fails => StatusCode::INTERNAL_SERVER_ERROR,
        Fault::None | Fault::Slow => StatusCode::OK,
    };
    let confirmed = fault == Fault::None;
    locked(&s.got).push(Got {
        message,
        at,
        confirmed,
    });
    if fault == Fault::Slow {
        tokio::time::sleep(SLOW).await;
    }
    (status, r#"{"error_code":"0"}"#).into_response()
}
