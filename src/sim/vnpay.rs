//! VNPAY's side (contract section 4): the payment page at `vnpay.pay_url` (the request's
//! signature verified), "pay" and "cancel", the signed IPN sent to the gateway — once, twice or
//! late, on request — and the citizen's browser sent back to `vnp_ReturnUrl` with the signed
//! result; querydr at `vnpay.api_url` answered and signed as VNPAY signs it.

use super::{bind, locked, spawn, Callbacks, Journal};
use crate::domain::html::escape;
use crate::payment::vnpay;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Payment {
    amount_x100: String,
    info: String,
    return_url: String,
    /// `vnp_TransactionStatus`: `00` paid, `01` not yet, `02` failed.
    status: &'static str,
    transaction: String,
    paid_at: String,
}

#[derive(Clone)]
struct Shared {
    tmn_code: String,
    secret: String,
    callbacks: Callbacks,
    payments: Arc<Mutex<HashMap<String, Payment>>>,
}

/// A running simulated VNPAY.
#[derive(Clone)]
pub struct VnpaySim {
    /// Where it listens (`host:port`).
    pub address: String,
    shared: Shared,
}

/// The paths of `vnpay.pay_url` and `vnpay.api_url`.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The payment page's path (`/paymentv2/vpcpay.html`).
    pub pay: String,
    /// querydr's path (`/merchant_webapi/api/transaction`).
    pub api: String,
}

impl VnpaySim {
    /// Listens on `listen` at these paths; IPNs go to the gateway at `gateway`.
    pub async fn start(
        listen: &str,
        paths: &Paths,
        tmn_code: &str,
        secret: &str,
        gateway: &str,
        journal: Journal,
    ) -> std::io::Result<Self> {
        let (listener, address) = bind(listen).await?;
        let shared = Shared {
            tmn_code: tmn_code.to_owned(),
            secret: secret.to_owned(),
            callbacks: Callbacks::new(gateway, journal),
            payments: Arc::default(),
        };
        let router = Router::new()
            .route(&paths.pay, get(page))
            .route("/sim/pay", post(pay))
            .route(&paths.api, post(querydr))
            .with_state(shared.clone());
        spawn(listener, router);
        Ok(Self { address, shared })
    }

    /// Where its callbacks go, and what it saw and did.
    pub fn callbacks(&self) -> &Callbacks {
        &self.shared.callbacks
    }
}

async fn page(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let params = query
        .as_deref()
        .and_then(vnpay::parse_query)
        .unwrap_or_default();
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    if !vnpay::verify(&params, &s.secret) || p("vnp_TmnCode") != s.tmn_code {
        s.callbacks.journal().note(format!(
            "vnpay: payment page for {} refused: signature or TmnCode wrong",
            p("vnp_TxnRef")
        ));
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>Sai chữ ký (mô phỏng VNPAY).</p>"),
        )
            .into_response();
    }
    let reference = p("vnp_TxnRef");
    s.callbacks.journal().note(format!(
        "vnpay: payment page for {reference}, vnp_Amount {}",
        p("vnp_Amount")
    ));
    locked(&s.payments)
        .entry(reference.clone())
        .or_insert_with(|| Payment {
            amount_x100: p("vnp_Amount"),
            info: p("vnp_OrderInfo"),
            return_url: p("vnp_ReturnUrl"),
            status: "01",
            transaction: format!("{:08}", rand::random::<u32>() % 100_000_000),
            paid_at: String::new(),
        });
    let form = |outcome: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/sim/pay\"><input type=\"hidden\" name=\"reference\" value=\"{r}\">\
             <input type=\"hidden\" name=\"outcome\" value=\"{outcome}\"><button>{label}</button></form>",
            r = escape(&reference)
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>VNPAY (mô phỏng)</title>\
         <h1>VNPAY — mô phỏng</h1><p>Đơn hàng <b>{r}</b>: {a} — {i}</p>{pay}{cancel}</html>",
        r = escape(&reference),
        a = escape(&p("vnp_Amount")),
        i = escape(&p("vnp_OrderInfo")),
        pay = form("pay", "Thanh toán"),
        cancel = form("cancel", "Hủy giao dịch"),
    ))
    .into_response()
}

/// What the payment page posts.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    /// `vnp_TxnRef`.
    pub reference: String,
    /// `pay` or `cancel`.
    pub outcome: String,
    /// How many times the IPN is sent (1 by default).
    #[serde(default)]
    pub times: Option<u8>,
    /// `1`: the callback is lost (never sent), for reconciliation to find the payment.
    #[serde(default)]
    pub lost: Option<String>,
    /// Seconds to wait before sending it (a late IPN).
    #[serde(default)]
    pub late: Option<u64>,
}

async fn pay(State(s): State<Shared>, Form(form): Form<PayForm>) -> Response {
    let paid = form.outcome == "pay";
    let payment = {
        let mut all = locked(&s.payments);
        let Some(p) = all.get_mut(&form.reference) else {
            return (
                StatusCode::NOT_FOUND,
                Html("<p>Không tìm thấy đơn hàng.</p>"),
            )
                .into_response();
        };
        p.status = if paid { "00" } else { "02" };
        p.paid_at = crate::domain::time::to_vn(chrono::Utc::now())
            .format("%Y%m%d%H%M%S")
            .to_string();
        p.clone()
    };
    let mut params = BTreeMap::new();
    for (k, v) in [
        ("vnp_TmnCode", s.tmn_code.as_str()),
        ("vnp_Amount", &payment.amount_x100),
        ("vnp_TxnRef", &form.reference),
        ("vnp_OrderInfo", &payment.info),
        ("vnp_ResponseCode", if paid { "00" } else { "24" }),
        ("vnp_TransactionStatus", payment.status),
        ("vnp_TransactionNo", &payment.transaction),
        ("vnp_BankCode", "NCB"),
        ("vnp_PayDate", &payment.paid_at),
    ] {
        params.insert(k.to_owned(), v.to_owned());
    }
    if let Some(secs) = form.late {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    let ipn = vnpay::payment_url(&s.callbacks.url("/payment/vnpay/ipn"), &params, &s.secret);
    let sends = if form.lost.as_deref() == Some("1") {
        s.callbacks
            .journal()
            .note(format!("vnpay: IPN of {} lost on purpose", form.reference));
        0
    } else {
        form.times.unwrap_or(1).max(1)
    };
    for _ in 0..sends {
        let answer = match s.callbacks.client.get(&ipn).send().await {
            Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
            Err(e) => json!({"RspCode": "?", "Message": e.to_string()}),
        };
        s.callbacks.journal().note(format!(
            "vnpay: IPN {} vnp_ResponseCode {} → gateway RspCode {} ({})",
            form.reference,
            params["vnp_ResponseCode"],
            answer["RspCode"].as_str().unwrap_or("?"),
            answer["Message"].as_str().unwrap_or(""),
        ));
    }
    // The citizen's browser goes back to the department's return page with the result.
    let back = vnpay::payment_url(&payment.return_url, &params, &s.secret);
    (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
}

async fn querydr(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    let reference = v["vnp_TxnRef"].as_str().unwrap_or_default().to_owned();
    let known = locked(&s.payments).get(&reference).cloned();
    let mut answer = match known {
        Some(p) => json!({
            "vnp_ResponseId": format!("{:016x}", rand::random::<u64>()), "vnp_Command": "querydr",
            "vnp_ResponseCode": "00", "vnp_Message": "QueryDR Success", "vnp_TmnCode": s.tmn_code,
            "vnp_TxnRef": reference, "vnp_Amount": p.amount_x100, "vnp_BankCode": "NCB",
            "vnp_PayDate": p.paid_at, "vnp_TransactionNo": p.transaction, "vnp_TransactionType": "01",
            "vnp_TransactionStatus": p.status, "vnp_OrderInfo": p.info,
            "vnp_PromotionCode": "", "vnp_PromotionAmount": "",
        }),
        None => json!({
            "vnp_ResponseId": format!("{:016x}", rand::random::<u64>()), "vnp_Command": "querydr",
            "vnp_ResponseCode": "91", "vnp_Message": "Transaction not found", "vnp_TmnCode": s.tmn_code,
            "vnp_TxnRef": reference,
        }),
    };
    vnpay::sign_querydr_answer(&mut answer, &s.secret);
    s.callbacks.journal().note(format!(
        "vnpay: querydr {reference} → vnp_ResponseCode {}, vnp_TransactionStatus {}",
        answer["vnp_ResponseCode"].as_str().unwrap_or("?"),
        answer["vnp_TransactionStatus"].as_str().unwrap_or("-"),
    ));
    Json(answer).into_response()
}
