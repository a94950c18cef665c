//! The soak's payment platform: PayGov's INIT and QUERY (contract section 3) with their
//! checksums checked, failing part of the time as told (`faults`: a 500, an answer past the
//! gateways' timeout, outages of 503s or refused connections), and the citizen's side — paying a
//! request takes the money once and gives the signed CONFIRM the soak then sends. It records
//! what it was asked and what it was paid, for the invariants.

use super::faults::{Fault, Faults, Listening, SLOW};
use crate::sim::locked;
use crate::sim::paygov::{
    confirm_body, init_answer, init_is_signed, query_answer, query_is_signed,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `paygov.partner_code` of the soak's gateways.
pub const PARTNER: &str = "SOAK_PAYGOV";
/// `paygov.secret` of the soak's gateways.
pub const SECRET: &str = "soak-paygov-secret-0001";

/// A payment request the platform accepted.
#[derive(Debug, Clone)]
struct Request {
    amount: String,
    info: String,
    /// The platform's transaction id, should it be paid.
    transaction: String,
}

#[derive(Clone, Default)]
struct Shared {
    faults: Faults,
    requests: Arc<Mutex<HashMap<String, Request>>>,
    /// `MaThamChieu` → `MaGiaoDich` of each request paid.
    paid: Arc<Mutex<HashMap<String, String>>>,
    /// INITs and QUERYs received (failed ones too).
    asked: Arc<AtomicUsize>,
    /// INITs and QUERYs whose checksum did not hold.
    unsigned: Arc<AtomicUsize>,
}

/// The running platform.
#[derive(Clone)]
pub struct FlakyPaygov {
    /// Its server, with the switches of its faults and outages.
    pub server: Arc<Listening>,
    shared: Shared,
}

impl FlakyPaygov {
    /// Listens on a free port, failing part of the time from the start.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared {
            faults: Faults::flaky(),
            ..Shared::default()
        };
        let router = Router::new()
            .route("/init", post(init))
            .route("/query", post(query))
            .with_state(shared.clone());
        let server = Listening::start(router, shared.faults.clone()).await?;
        Ok(Self { server, shared })
    }

    /// The citizen pays `reference` on the platform's page: the money is taken once (a second
    /// payment of the same request gives the same transaction). The CONFIRM to send, or `None`
    /// when the platform never accepted an INIT of that reference.
    pub fn pay(&self, reference: &str) -> Option<Value> {
        let request = locked(&self.shared.requests).get(reference).cloned()?;
        locked(&self.shared.paid)
            .entry(reference.to_owned())
            .or_insert_with(|| request.transaction.clone());
        Some(confirm_body(
            PARTNER,
            SECRET,
            reference,
            &request.amount,
            &request.transaction,
            &request.info,
            true,
        ))
    }

    /// `MaThamChieu` → `MaGiaoDich` of every request paid.
    pub fn paid(&self) -> HashMap<String, String> {
        locked(&self.shared.paid).clone()
    }

    /// INITs and QUERYs received, and of them how many were not signed right.
    pub fn asked(&self) -> (usize, usize) {
        (
            self.shared.asked.load(Ordering::Relaxed),
            self.shared.unsigned.load(Ordering::Relaxed),
        )
    }
}

/// The answer a fault gives instead of the contract's, if any.
async fn fault_answer(s: &Shared) -> Option<Response> {
    s.asked.fetch_add(1, Ordering::Relaxed);
    match s.faults.roll() {
        Fault::Down => Some(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        Fault::Fails => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Fault::Slow => {
            tokio::time::sleep(SLOW).await;
            None
        }
        Fault::None => None,
    }
}

fn refused(s: &Shared) -> Response {
    s.unsigned.fetch_add(1, Ordering::Relaxed);
    Json(json!({"error_code": "99", "message": "MaXacThuc khong hop le"})).into_response()
}

async fn init(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    if let Some(answer) = fault_answer(&s).await {
        return answer;
    }
    if !init_is_signed(&v, PARTNER, SECRET) {
        return refused(&s);
    }
    let f = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let reference = f("MaThamChieu");
    locked(&s.requests).insert(
        reference.clone(),
        Request {
            amount: f("SoTien"),
            info: f("ThongTinGiaoDich"),
            transaction: format!("PG{:012}", rand::random::<u64>() % 1_000_000_000_000),
        },
    );
    Json(init_answer(&format!("http://soak.invalid/pay/{reference}"))).into_response()
}

async fn query(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    if let Some(answer) = fault_answer(&s).await {
        return answer;
    }
    if !query_is_signed(&v, PARTNER, SECRET) {
        return refused(&s);
    }
    let reference = v["MaThamChieu"].as_str().unwrap_or_default();
    let Some(request) = locked(&s.requests).get(reference).cloned() else {
        return Json(json!({"error_code": "01", "message": "Khong tim thay giao dich"}))
            .into_response();
    };
    let state = if locked(&s.paid).contains_key(reference) {
        "1"
    } else {
        "3"
    };
    Json(query_answer(
        reference,
        state,
        &request.transaction,
        &request.amount,
    ))
    .into_response()
}
