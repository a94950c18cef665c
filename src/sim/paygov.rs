//! The national payment platform's side (contract section 3): INIT and QUERY answered with
//! their checksums verified, a small payment page for each request with "pay" and "cancel", and
//! the signed CONFIRM sent to the gateway when the page is used — once, twice, or late, on
//! request, to rehearse the providers' habits.

use super::{bind, locked, spawn, Callbacks, Journal};
use crate::domain::html::escape;
use crate::payment::paygov::{self, ConfirmFields, InitFields};
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Payment {
    amount: String,
    info: String,
    /// `1` paid, `3` pending, `4` failed (QUERY's `TrangThaiGD`).
    state: &'static str,
    transaction: String,
}

#[derive(Clone)]
struct Shared {
    partner: String,
    secret: String,
    callbacks: Callbacks,
    address: String,
    payments: Arc<Mutex<HashMap<String, Payment>>>,
}

/// A running simulated PayGov.
#[derive(Clone)]
pub struct PaygovSim {
    /// Where it listens (`host:port`): `paygov.base_url` points here.
    pub address: String,
    shared: Shared,
}

impl PaygovSim {
    /// Listens on `listen`; confirmations go to the gateway at `gateway` (`http://host:port`).
    pub async fn start(
        listen: &str,
        partner: &str,
        secret: &str,
        gateway: &str,
        journal: Journal,
    ) -> std::io::Result<Self> {
        let (listener, address) = bind(listen).await?;
        let shared = Shared {
            partner: partner.to_owned(),
            secret: secret.to_owned(),
            callbacks: Callbacks::new(gateway, journal),
            address: address.clone(),
            payments: Arc::default(),
        };
        let router = Router::new()
            .route("/init", post(init))
            .route("/query", post(query))
            .route("/pay/{reference}", get(page).post(pay))
            .with_state(shared.clone());
        spawn(listener, router);
        Ok(Self { address, shared })
    }

    /// Where its callbacks go, and what it saw and did.
    pub fn callbacks(&self) -> &Callbacks {
        &self.shared.callbacks
    }
}

/// Whether `v` is an INIT from `partner` signed with `secret`.
pub fn init_is_signed(v: &Value, partner: &str, secret: &str) -> bool {
    let f = |k: &str| v[k].as_str().unwrap_or_default();
    let fields = InitFields {
        partner: f("MaDoiTac"),
        reference: f("MaThamChieu"),
        amount: f("SoTien"),
        info: f("ThongTinGiaoDich"),
        time: f("ThoiGianGD"),
        ip: f("Ip"),
    };
    f("LoaiBanTin") == "INIT"
        && fields.partner == partner
        && paygov::init_checksum(&fields, secret) == f("MaXacThuc")
}

/// INIT's answer: the payment page's address, as a JSON string inside `message`.
pub fn init_answer(url: &str) -> Value {
    json!({"error_code": "0", "message": json!({"UrlThanhToan": url}).to_string()})
}

/// Whether `v` is a QUERY from `partner` signed with `secret`.
pub fn query_is_signed(v: &Value, partner: &str, secret: &str) -> bool {
    let f = |k: &str| v[k].as_str().unwrap_or_default();
    paygov::query_checksum(partner, f("MaThamChieu"), f("ThoiGianGD"), secret) == f("MaXacThuc")
}

/// QUERY's answer about a payment the platform knows: `state` `1` paid (with its
/// transaction), `3` pending, `4` failed.
pub fn query_answer(reference: &str, state: &str, transaction: &str, amount: &str) -> Value {
    json!({
        "error_code": "0", "MaThamChieu": reference, "TrangThaiGD": state,
        "MaGiaoDich": if state == "1" { transaction } else { "" }, "SoTien": amount,
    })
}

/// A CONFIRM of `reference`, paid or not, signed with `secret`.
pub fn confirm_body(
    partner: &str,
    secret: &str,
    reference: &str,
    amount: &str,
    transaction: &str,
    info: &str,
    paid: bool,
) -> Value {
    let fields = ConfirmFields {
        kind: "CONFIRM".into(),
        code: if paid { "00" } else { "01" }.into(),
        partner: partner.to_owned(),
        reference: reference.to_owned(),
        amount: amount.to_owned(),
        currency: "VND".into(),
        transaction: transaction.to_owned(),
        bank: "VCB".into(),
        time: chrono::Utc::now().format("%Y%m%d%H%M%S").to_string(),
        info: info.to_owned(),
    };
    json!({
        "LoaiBanTin": fields.kind, "MaLoi": fields.code, "MaDoiTac": fields.partner,
        "MaThamChieu": fields.reference, "SoTien": fields.amount, "MaTienTe": fields.currency,
        "MaGiaoDich": fields.transaction, "MaNganHang": fields.bank, "ThoiGianGD": fields.time,
        "ThongTinGiaoDich": fields.info, "MaXacThuc": paygov::confirm_checksum(&fields, secret),
    })
}

/// Whether the gateway's answer to a CONFIRM is signed with `secret`.
pub fn answer_is_signed(answer: &Value, secret: &str) -> bool {
    let f = |k: &str| answer[k].as_str().unwrap_or_default();
    answer["MaXacThuc"].as_str()
        == Some(&paygov::answer_checksum(
            f("MaLoi"),
            f("MaDoiTac"),
            f("MaThamChieu"),
            f("ThoiGianGD"),
            secret,
        ))
}

async fn init(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    let f = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let reference = f("MaThamChieu");
    if !init_is_signed(&v, &s.partner, &s.secret) {
        s.callbacks.journal().note(format!(
            "paygov: INIT {reference} refused: checksum or partner wrong"
        ));
        return Json(json!({"error_code": "99", "message": "MaXacThuc khong hop le"}))
            .into_response();
    }
    s.callbacks.journal().note(format!(
        "paygov: INIT {reference} for {} VND, receipt for {} ({})",
        f("SoTien"),
        v["ThongTinBienLai"]["MaHoSo"].as_str().unwrap_or("?"),
        v["ThongTinBienLai"]["MaTTHC"].as_str().unwrap_or("?"),
    ));
    locked(&s.payments).insert(
        reference.clone(),
        Payment {
            amount: f("SoTien"),
            info: f("ThongTinGiaoDich"),
            state: "3",
            transaction: format!("PG{:010}", rand::random::<u32>()),
        },
    );
    let url = format!("http://{}/pay/{reference}", s.address);
    Json(init_answer(&url)).into_response()
}

async fn query(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    let reference = v["MaThamChieu"].as_str().unwrap_or_default().to_owned();
    let known = locked(&s.payments).get(&reference).cloned();
    let answer = match known {
        Some(p) if query_is_signed(&v, &s.partner, &s.secret) => {
            query_answer(&reference, p.state, &p.transaction, &p.amount)
        }
        Some(_) => json!({"error_code": "99", "message": "MaXacThuc khong hop le"}),
        None => json!({"error_code": "01", "message": "Khong tim thay giao dich"}),
    };
    s.callbacks
        .journal()
        .note(format!("paygov: QUERY {reference} → {answer}"));
    Json(answer).into_response()
}

async fn page(State(s): State<Shared>, Path(reference): Path<String>) -> Response {
    let Some(p) = locked(&s.payments).get(&reference).cloned() else {
        return Html("<p>Không tìm thấy giao dịch.</p>".to_owned()).into_response();
    };
    Html(format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><title>PayGov (mô phỏng)</title>\
         <h1>Cổng thanh toán quốc gia — mô phỏng</h1><p>Mã tham chiếu <b>{r}</b>: {a} đồng — {i}</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"outcome\" value=\"pay\">\
         <label><input type=\"checkbox\" name=\"times\" value=\"2\"> gửi xác nhận hai lần</label> \
         <button>Thanh toán</button></form>\
         <form method=\"post\"><input type=\"hidden\" name=\"outcome\" value=\"cancel\"><button>Hủy</button></form></html>",
        r = escape(&reference),
        a = escape(&p.amount),
        i = escape(&p.info),
    ))
    .into_response()
}

/// What the payment page posts.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    /// `pay` or `cancel`.
    pub outcome: String,
    /// How many times the confirmation is sent (1 by default, 2 to rehearse a repeat).
    #[serde(default)]
    pub times: Option<u8>,
    /// `1`: the callback is lost (never sent), for reconciliation to find the payment.
    #[serde(default)]
    pub lost: Option<String>,
    /// Seconds to wait before sending it (a late confirmation).
    #[serde(default)]
    pub late: Option<u64>,
}

async fn pay(
    State(s): State<Shared>,
    Path(reference): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let paid = form.outcome == "pay";
    let payment = {
        let mut all = locked(&s.payments);
        let Some(p) = all.get_mut(&reference) else {
            return Html("<p>Không tìm thấy giao dịch.</p>".to_owned()).into_response();
        };
        p.state = if paid { "1" } else { "4" };
        p.clone()
    };
    if let Some(secs) = form.late {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    let body = confirm_body(
        &s.partner,
        &s.secret,
        &reference,
        &payment.amount,
        &payment.transaction,
        &payment.info,
        paid,
    );
    let mut answers = Vec::new();
    let sends = if form.lost.as_deref() == Some("1") {
        s.callbacks
            .journal()
            .note(format!("paygov: CONFIRM of {reference} lost on purpose"));
        0
    } else {
        form.times.unwrap_or(1).max(1)
    };
    for _ in 0..sends {
        let answer = match s
            .callbacks
            .client
            .post(s.callbacks.url("/payment/paygov/confirm"))
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
            Err(e) => json!({"MaLoi": "?", "MoTaLoi": e.to_string()}),
        };
        let verified = answer_is_signed(&answer, &s.secret);
        s.callbacks.journal().note(format!(
            "paygov: CONFIRM {reference} MaLoi {} → gateway MaLoi {} ({}, answer {})",
            body["MaLoi"].as_str().unwrap_or("?"),
            answer["MaLoi"].as_str().unwrap_or("?"),
            answer["MoTaLoi"].as_str().unwrap_or(""),
            if verified { "signed" } else { "NOT SIGNED" },
        ));
        answers.push(answer["MaLoi"].as_str().unwrap_or("?").to_owned());
    }
    Html(format!(
        "<!doctype html><html lang=\"vi\"><meta charset=\"utf-8\"><p>{} — cổng dịch vụ trả lời: {}</p></html>",
        if paid { "Đã thanh toán" } else { "Đã hủy" },
        escape(&answers.join(", "))
    ))
    .into_response()
}
