//! Payments at the edge: the department's payment requests, and the providers' callbacks
//! (always answered 200 with the provider's own codes, as they expect).

use super::actions::{idempotency_key, key_reused};
use super::auth::Caller;
use super::body::read_body;
use super::error::{json_response, ApiError};
use super::record::{recorded, Inbound, Trust};
use super::AppState;
use crate::config::Scope;
use crate::payment::service::{PaymentError, Provider};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// `POST /api/v1/dossiers/{MaHoSo}/payments` with `{"provider":"paygov"|"vnpay"}` (and an
/// optional `client_ip`, the applicant's address, which VNPAY and PayGov record).
pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::PaymentsWrite)?;
    let bytes = read_body(&headers, body, 16 * 1024).await?;
    let key = idempotency_key(
        &headers,
        &caller.0.name,
        &format!("POST /api/v1/dossiers/{code}/payments"),
        &bytes,
    )?;
    if let Some(k) = &key {
        if let Some(answer) = state
            .store
            .idempotent_answer(&k.client, &k.key)
            .await
            .map_err(|e| ApiError::internal(&e))?
        {
            if answer.request_hash != k.request_hash {
                return Err(key_reused());
            }
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED);
            return Ok(json_response(status, answer.body));
        }
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::malformed(format!("JSON is not well-formed: {e}")))?;
    let provider = v["provider"]
        .as_str()
        .and_then(Provider::parse)
        .ok_or_else(|| {
            ApiError::validation(&[crate::domain::validation::FieldError::new(
                "provider",
                "not_allowed",
                "\"paygov\" or \"vnpay\"",
            )])
        })?;
    let ip = v["client_ip"]
        .as_str()
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or("127.0.0.1");
    match state
        .payments
        .request(&code, provider, ip, chrono::Utc::now())
        .await
    {
        Ok(c) => {
            let body = json!({"payment_ref": c.reference, "amount": c.amount, "pay_url": c.pay_url, "provider": c.provider.name()})
                .to_string();
            // Stored after the payment's commit: a crash in between leaves the key unset, and the
            // retry is then refused (a payment is pending), never paid twice.
            if let Some(k) = &key {
                if let Err(e) = state
                    .store
                    .save_idempotent_answer(k, 201, &body, chrono::Utc::now().timestamp_millis())
                    .await
                {
                    tracing::error!(error = %e, "idempotency key not stored");
                }
            }
            Ok(json_response(StatusCode::CREATED, body))
        }
        Err(PaymentError::NotFound) => Err(ApiError::not_found("dossier")),
        Err(PaymentError::NoFees) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "NO_FEES",
            "this dossier has no fees to pay",
        )),
        Err(PaymentError::CannotPay(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "INVALID_TRANSITION", m))
        }
        Err(PaymentError::Provider(m)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "PROVIDER_UNAVAILABLE",
            m,
        )),
        Err(PaymentError::Store(e)) => Err(ApiError::internal(&e)),
    }
}

/// `POST /payment/paygov/confirm`: read and checked, then recorded in the message log (cut if
/// its checksum failed) before anything acts on it. Only a signed confirmation spends the
/// providers' rate budget (contract section 8).
pub async fn paygov_confirm(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(&headers, body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(refused) => return refused.into_response(),
    };
    let confirm = state.payments.paygov_read(&bytes);
    if let Err(refused) = callback_admitted(&state, "paygov", confirm.verified) {
        return refused.into_response();
    }
    let inbound = Inbound {
        partner: "paygov",
        peer,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &bytes,
    };
    recorded(&state, inbound, Trust::of(confirm.verified), || async {
        let answer = state
            .payments
            .paygov_confirm(&confirm, &bytes, chrono::Utc::now())
            .await;
        Ok(json_response(StatusCode::OK, answer.to_string()))
    })
    .await
}

/// `GET /payment/vnpay/ipn?…`: checked, then recorded in the message log (the query is the
/// message, kept in the request line; cut if its hash failed) before anything acts on it.
pub async fn vnpay_ipn(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query = uri.query().unwrap_or_default();
    if query.len() > 8 * 1024 {
        return json_response(
            StatusCode::OK,
            json!({"RspCode": "99", "Message": "Request too large"}).to_string(),
        );
    }
    let ipn = state.payments.vnpay_read(query);
    if let Err(refused) = callback_admitted(&state, "vnpay", ipn.verified) {
        return refused.into_response();
    }
    // An unsigned IPN's query is its body: the request line keeps only the path, and the query
    // is kept as the (cut) body with its digest.
    let (target, body) = if ipn.verified {
        (uri.clone(), Bytes::new())
    } else {
        (
            Uri::from_static("/payment/vnpay/ipn"),
            Bytes::copy_from_slice(query.as_bytes()),
        )
    };
    let inbound = Inbound {
        partner: "vnpay",
        peer,
        method: &method,
        uri: &target,
        headers: &headers,
        body: &body,
    };
    recorded(&state, inbound, Trust::of(ipn.verified), || async {
        let (code, message) = state
            .payments
            .vnpay_ipn(&ipn, query, chrono::Utc::now())
            .await;
        Ok(json_response(
            StatusCode::OK,
            json!({"RspCode": code, "Message": message}).to_string(),
        ))
    })
    .await
}

/// A signed callback within the providers' rate; a refusal is logged and counted, never
/// silent. An unsigned one spends nothing here: it met the per-address limit already.
fn callback_admitted(
    state: &AppState,
    provider: &'static str,
    verified: bool,
) -> Result<(), ApiError> {
    if !verified {
        return Ok(());
    }
    state.limiters.check_payment().inspect_err(|_| {
        state.metrics.rate_limited(provider);
        tracing::warn!(provider, "payment callback refused by the rate limit");
    })
}
