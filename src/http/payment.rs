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
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// How long a reserved `Idempotency-Key` may stay without its answer before it is taken to
/// belong to a request that died (well past a provider call's timeout and a commit).
const RESERVATION_STALE_AFTER_MS: i64 = 120_000;

/// `POST /api/v1/dossiers/{MaHoSo}/payments` with `{"provider":"paygov"|"vnpay"}` (and an
/// optional `client_ip`, the applicant's address, which VNPAY and PayGov record).
///
/// An `Idempotency-Key` is reserved before the provider is called, so that a client retrying
/// while its first request is still waiting on the provider gets 409 `IDEMPOTENCY_IN_PROGRESS`
/// rather than a second payment request; the key then holds the 201, or is given back if
/// nothing was made (a refusal, the provider unavailable). The store's own rule — one pending
/// payment per dossier — holds with or without a key.
#[utoipa::path(
    post,
    path = "/api/v1/dossiers/{MaHoSo}/payments",
    operation_id = "request_payment",
    tag = "payments",
    summary = "Ask a payment platform to collect a dossier's fees",
    description = "The dossier moves to status 6 (awaiting payment) and the platform is asked for a \
payment page; the platform's signed confirmation, or reconciliation, settles it. One pending payment \
per dossier.",
    params(
        ("MaHoSo" = String, Path, description = "The department's dossier code"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body again return the first answer and do nothing more"),
    ),
    request_body(content = super::openapi::schema::PaymentOrder),
    responses(
        (status = 201, description = "The payment request made", body = super::openapi::schema::PaymentMade),
        (status = 400, description = "`MALFORMED`: not one JSON object", body = super::openapi::schema::ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no dossier with this code", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`NO_FEES` (nothing to pay), `INVALID_TRANSITION` (not payable in \
this status, or a payment is pending) or `IDEMPOTENCY_IN_PROGRESS` (the key's first request is still \
waiting on the platform; `Retry-After`)", body = super::openapi::schema::ErrorBody),
        (status = 413, description = "`TOO_LARGE`: the body is over 16 KiB", body = super::openapi::schema::ErrorBody),
        (status = 422, description = "`VALIDATION` (`provider` is neither `paygov` nor `vnpay`) or \
`IDEMPOTENCY_KEY_REUSED`", body = super::openapi::schema::ValidationBody),
        (status = 502, description = "`PROVIDER_UNAVAILABLE`: the platform did not make the payment", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["payments:write"]))
)]
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
    let (provider, ip) = payment_order(&bytes)?;
    if let Some(k) = &key {
        let now = chrono::Utc::now().timestamp_millis();
        let held = state
            .store
            .reserve_idempotency_key(k, now, now - RESERVATION_STALE_AFTER_MS)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        match held {
            None => {}
            Some(answer) if answer.request_hash != k.request_hash => return Err(key_reused()),
            Some(answer) if answer.status == 0 => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_IN_PROGRESS",
                    "a request with this Idempotency-Key is still being handled; retry later",
                )
                .with_header(header::RETRY_AFTER, "1"));
            }
            Some(answer) => {
                let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED);
                return Ok(json_response(status, answer.body));
            }
        }
    }
    let made = state
        .payments
        .request(&code, provider, &ip, chrono::Utc::now())
        .await;
    let answer = made.map(|c| {
        json!({"payment_ref": c.reference, "amount": c.amount, "pay_url": c.pay_url, "provider": c.provider.name()})
            .to_string()
    });
    if let Some(k) = &key {
        let kept = match &answer {
            Ok(body) => state.store.complete_idempotency_key(k, 201, body).await,
            Err(_) => state.store.release_idempotency_key(k).await,
        };
        if let Err(e) = kept {
            // The payment (if any) is committed; a retry is refused by the pending payment.
            tracing::error!(error = %e, "an Idempotency-Key could not be completed or released");
        }
    }
    match answer {
        Ok(body) => Ok(json_response(StatusCode::CREATED, body)),
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

/// The provider and the applicant's address a payment request names.
fn payment_order(bytes: &[u8]) -> Result<(Provider, String), ApiError> {
    let v: Value = serde_json::from_slice(bytes)
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
    Ok((provider, ip.to_owned()))
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
