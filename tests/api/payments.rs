//! Fee payment through PayGov and VNPAY: requests, callbacks with every answer code, repeats and
//! races, reconciliation, and the audit of what the providers sent.

use crate::helpers::*;
use crate::lifecycle::{dossier_in, new_dossier};
use motcua_gateway::payment::{paygov, vnpay};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) const PAYGOV_SECRET: &str = "test-paygov-secret-0001";
pub(crate) const VNPAY_SECRET: &str = "TESTVNPAYHASHSECRET0001";

pub(crate) async fn request(app: &TestApp, code: &str, provider: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{code}/payments")))
        .bearer_auth(PAYER)
        .json(&json!({"provider": provider}))
        .send()
        .await
        .unwrap();
    status_and_json(res).await
}

pub(crate) async fn dossier(app: &TestApp, code: &str) -> Value {
    app.get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await
        .1
}

/// An IPN as VNPAY would send it for `reference`, signed with `secret`.
pub(crate) fn ipn(reference: &str, amount_x100: &str, response: &str, secret: &str) -> String {
    ipn_with(reference, amount_x100, response, secret, &[])
}

/// An IPN as [`ipn`] makes it, with `extra` parameters signed with the rest.
fn ipn_with(
    reference: &str,
    amount_x100: &str,
    response: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut p = BTreeMap::new();
    for (k, v) in extra {
        p.insert((*k).to_owned(), (*v).to_owned());
    }
    for (k, v) in [
        ("vnp_TmnCode", "SVHTTEST"),
        ("vnp_Amount", amount_x100),
        ("vnp_TxnRef", reference),
        ("vnp_OrderInfo", "Thanh toan phi ho so"),
        ("vnp_ResponseCode", response),
        ("vnp_TransactionStatus", response),
        ("vnp_TransactionNo", "14123456"),
        ("vnp_BankCode", "NCB"),
        ("vnp_PayDate", "20261127103512"),
    ] {
        p.insert(k.to_owned(), v.to_owned());
    }
    let hash = vnpay::secure_hash(&p, secret);
    format!(
        "{}&vnp_SecureHashType=HmacSHA512&vnp_SecureHash={hash}",
        vnpay::signing_string(&p)
    )
}

pub(crate) async fn send_ipn(app: &TestApp, query: &str) -> Value {
    let res = get_ipn(app, query).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_vnpay_payment_moves_the_dossier_to_6_and_its_ipn_brings_it_back() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "VNP-1").await;
    let (s, created) = request(&app, &code, "vnpay").await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["amount"], 3_000_000);
    assert_eq!(created["provider"], "vnpay");
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    let url = created["pay_url"].as_str().unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "http://127.0.0.1:9105/paymentv2/vpcpay.html");
    let params = vnpay::parse_query(query).unwrap();
    assert!(
        vnpay::verify(&params, VNPAY_SECRET),
        "the payment URL is signed"
    );
    assert_eq!(
        params["vnp_Amount"], "300000000",
        "VND x 100 on VNPAY's wire only"
    );
    assert_eq!(params["vnp_TxnRef"], reference);
    assert!(
        params["vnp_OrderInfo"].is_ascii(),
        "{}",
        params["vnp_OrderInfo"]
    );

    let d = dossier(&app, &code).await;
    assert_eq!(d["TrangThaiHoSo"], 6);
    assert_eq!(d["payments"][0]["state"], "pending");

    let answer = send_ipn(&app, &ipn(&reference, "300000000", "00", VNPAY_SECRET)).await;
    assert_eq!(
        answer,
        json!({"RspCode": "00", "Message": "Confirm Success"})
    );
    let d = dossier(&app, &code).await;
    assert_eq!(d["TrangThaiHoSo"], 4, "back to the status before 6");
    assert_eq!(d["payments"][0]["state"], "paid");
    assert_eq!(d["payments"][0]["transaction"], "14123456");
    assert_eq!(
        d["sync"]["pending"].as_i64(),
        Some(d["progress"].as_array().unwrap().len() as i64),
        "each change queued for the portal"
    );

    let again = send_ipn(&app, &ipn(&reference, "300000000", "00", VNPAY_SECRET)).await;
    assert_eq!(
        again,
        json!({"RspCode": "02", "Message": "Order already confirmed"})
    );
    let events = app.store.payment_events(&reference).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.kind == "ipn" && e.verified && !e.raw.is_empty()));
}

#[tokio::test]
async fn every_vnpay_answer_code_and_rejections_change_nothing() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 2, "VNP-2").await;
    let (_, created) = request(&app, &code, "vnpay").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    let cases = [
        (
            ipn(&reference, "300000000", "00", "WRONGSECRET"),
            "97",
            "Invalid signature",
        ),
        (
            ipn(&reference, "300000000", "00", VNPAY_SECRET)
                .replace("vnp_Amount=300000000", "vnp_Amount=300000001"),
            "97",
            "Invalid signature",
        ),
        (
            ipn("TT0000000000NONE", "300000000", "00", VNPAY_SECRET),
            "01",
            "Order not found",
        ),
        (
            ipn(&reference, "200000000", "00", VNPAY_SECRET),
            "04",
            "Invalid amount",
        ),
        (
            ipn_with(
                &reference,
                "300000000",
                "00",
                VNPAY_SECRET,
                &[("vnp_CurrCode", "USD")],
            ),
            "04",
            "Invalid amount",
        ),
        ("not a query %%".to_owned(), "97", "Invalid signature"),
    ];
    for (query, code_expected, message) in &cases {
        let answer = send_ipn(&app, query).await;
        assert_eq!(
            answer,
            json!({"RspCode": code_expected, "Message": message}),
            "{query}"
        );
    }
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(6), Some("pending"))
    );

    // A failed payment is recorded; the dossier stays in 6 and may ask again.
    let answer = send_ipn(&app, &ipn(&reference, "300000000", "24", VNPAY_SECRET)).await;
    assert_eq!(answer["RspCode"], "00");
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(6), Some("failed"))
    );
    let (s, second) = request(&app, &code, "vnpay").await;
    assert_eq!(s, 201);
    assert_ne!(second["payment_ref"], created["payment_ref"]);
    let (s, e) = request(&app, &code, "vnpay").await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (409, Some("INVALID_TRANSITION")),
        "one pending payment at a time"
    );
}

#[tokio::test]
async fn payments_need_fees_a_payable_status_and_the_scope() {
    let app = spawn_app().await;
    let free = {
        let res = app
            .submit(
                &with_portal_id(&fixture("valid/thu-vien.json"), "FREE-1"),
                "application/json",
            )
            .await;
        res.json::<Value>().await.unwrap()["MaHoSo"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    crate::lifecycle::act(
        &app,
        &free,
        json!({"action": "accept", "officer": {"name": "A", "title": "B", "unit": "C"}}),
    )
    .await;
    let (s, e) = request(&app, &free, "vnpay").await;
    assert_eq!((s, e["error_code"].as_str()), (409, Some("NO_FEES")));
    let new = new_dossier(&app, "NEW-1").await;
    let (s, e) = request(&app, &new, "paygov").await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (409, Some("INVALID_TRANSITION")),
        "status 1 cannot pay"
    );
    let (s, _) = request(&app, &new, "cash").await;
    assert_eq!(s, 422);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/dossiers/{new}/payments")))
        .bearer_auth(READER)
        .json(&json!({"provider": "vnpay"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

pub(crate) fn paygov_init_answer(url: &str) -> Reply {
    let message = json!({"UrlThanhToan": url}).to_string();
    Reply::Answer(
        200,
        json!({"error_code": "0", "message": message}).to_string(),
        vec![],
    )
}

pub(crate) async fn paygov_app(paygov: &TestPartner) -> TestApp {
    spawn_app_with(&format!("[paygov]\nbase_url = \"{}\"\n", paygov.address)).await
}

pub(crate) fn confirm(reference: &str, amount: &str, txn: &str, code: &str, secret: &str) -> Value {
    signed_confirm(&confirm_fields(reference, amount, txn, code), secret)
}

fn confirm_fields(reference: &str, amount: &str, txn: &str, code: &str) -> paygov::ConfirmFields {
    paygov::ConfirmFields {
        kind: "CONFIRM".into(),
        code: code.into(),
        partner: "SVHTT_HCM_TEST".into(),
        reference: reference.into(),
        amount: amount.into(),
        currency: "VND".into(),
        transaction: txn.into(),
        bank: "VCB".into(),
        time: "20261127103512".into(),
        info: "Thanh toan phi".into(),
    }
}

fn signed_confirm(f: &paygov::ConfirmFields, secret: &str) -> Value {
    json!({
        "LoaiBanTin": f.kind, "MaLoi": f.code, "MaDoiTac": f.partner, "MaThamChieu": f.reference, "SoTien": f.amount,
        "MaTienTe": f.currency, "MaGiaoDich": f.transaction, "MaNganHang": f.bank, "ThoiGianGD": f.time,
        "ThongTinGiaoDich": f.info, "MaXacThuc": paygov::confirm_checksum(f, secret),
    })
}

pub(crate) async fn send_confirm(app: &TestApp, body: &Value) -> Value {
    let res = app
        .client
        .post(app.url("/payment/paygov/confirm"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    let s = |k: &str| answer[k].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        s("MaXacThuc"),
        paygov::answer_checksum(
            &s("MaLoi"),
            &s("MaDoiTac"),
            &s("MaThamChieu"),
            &s("ThoiGianGD"),
            PAYGOV_SECRET
        ),
        "the answer is signed"
    );
    answer
}

#[tokio::test]
async fn a_paygov_payment_is_initialised_signed_and_confirmed() {
    let paygov = TestPartner::start().await;
    paygov.script([paygov_init_answer("https://paygov.example/pay/abc")]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 4, "PG-1").await;
    let (s, created) = request(&app, &code, "paygov").await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["pay_url"], "https://paygov.example/pay/abc");
    let reference = created["payment_ref"].as_str().unwrap().to_owned();

    let init = paygov.received()[0].json();
    assert_eq!(paygov.received()[0].path, "/init");
    assert_eq!(
        (init["LoaiBanTin"].as_str(), init["PhienBan"].as_str()),
        (Some("INIT"), Some("1.0.6"))
    );
    assert_eq!(init["SoTien"], "3000000");
    assert_eq!(init["ThongTinBienLai"]["MaHoSo"], code);
    assert_eq!(init["ThongTinBienLai"]["MaTTHC"], "1.001029.000.00.00.H29");
    assert_eq!(
        init["ThongTinBienLai"]["MaDonVi"], "000.00.12.H29",
        "the agency's e-ID"
    );
    assert_eq!(init["ThongTinBienLai"]["PhiLePhi"][0]["SoTien"], 3_000_000);
    let s = |k: &str| {
        init[k]
            .as_str()
            .unwrap_or_else(|| panic!("INIT has no string {k}: {init}"))
            .to_owned()
    };
    // The contract's constant fields, as sent.
    for (field, value) in [
        ("MaDoiTac", "SVHTT_HCM_TEST"),
        ("MaThamChieu", reference.as_str()),
        ("LoaiHinhThanhToan", "PAY"),
        ("MaKenhThanhToan", "1"),
        ("MaThietBi", "1"),
        ("NgonNgu", "vi-VN"),
        ("MaTienTe", "VND"),
        ("MaNganHang", "PAYMENT"),
    ] {
        assert_eq!(s(field), value, "INIT {field}");
    }
    // MaXacThuc over the values on the wire, computed here from the contract's order (not by
    // the gateway's own signer, which could sign one value and send another).
    let signed = [
        "LoaiBanTin",
        "PhienBan",
        "MaDoiTac",
        "MaThamChieu",
        "SoTien",
        "LoaiHinhThanhToan",
        "MaKenhThanhToan",
        "MaThietBi",
        "NgonNgu",
        "MaTienTe",
        "MaNganHang",
        "ThongTinGiaoDich",
        "ThoiGianGD",
        "Ip",
    ]
    .map(s)
    .join("|");
    let expected = hex::encode(sha2::Sha256::digest(format!("{signed}|{PAYGOV_SECRET}")));
    assert_eq!(s("MaXacThuc"), expected);

    let answer = send_confirm(
        &app,
        &confirm(&reference, "3000000", "PG000123", "00", PAYGOV_SECRET),
    )
    .await;
    assert_eq!(
        (answer["MaLoi"].as_str(), answer["MaThamChieu"].as_str()),
        (Some("00"), Some(reference.as_str()))
    );
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(4), Some("paid"))
    );
    let repeat = send_confirm(
        &app,
        &confirm(&reference, "3000000", "PG000123", "00", PAYGOV_SECRET),
    )
    .await;
    assert_eq!(
        repeat["MaLoi"], "00",
        "a repeat of the recorded confirmation is accepted"
    );
    let other = send_confirm(
        &app,
        &confirm(&reference, "3000000", "PG999999", "00", PAYGOV_SECRET),
    )
    .await;
    assert_eq!(other["MaLoi"], "99", "already paid by another transaction");
}

#[tokio::test]
async fn rejected_paygov_confirmations_change_nothing() {
    let paygov = TestPartner::start().await;
    paygov.script([paygov_init_answer("https://paygov.example/pay/x")]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 2, "PG-2").await;
    let (_, created) = request(&app, &code, "paygov").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    let mut tampered = confirm(&reference, "3000000", "T1", "00", PAYGOV_SECRET);
    tampered["SoTien"] = json!("300000");
    for (body, why) in [
        (
            confirm(&reference, "3000000", "T1", "00", "wrong-secret"),
            "Invalid signature",
        ),
        (tampered, "Invalid signature"),
        (
            confirm("TT0000000000NONE", "3000000", "T1", "00", PAYGOV_SECRET),
            "Unknown reference",
        ),
        (
            confirm(&reference, "2000000", "T1", "00", PAYGOV_SECRET),
            "Amount differs from the request",
        ),
        (
            {
                let mut f = confirm_fields(&reference, "3000000", "T1", "00");
                f.currency = "USD".into();
                signed_confirm(&f, PAYGOV_SECRET)
            },
            "Currency differs from the request",
        ),
        (json!("not an object"), "Invalid signature"),
    ] {
        let answer = send_confirm(&app, &body).await;
        assert_eq!(
            (answer["MaLoi"].as_str(), answer["MoTaLoi"].as_str()),
            (Some("99"), Some(why)),
            "{body}"
        );
        // A reference is echoed (and signed) only from a confirmation whose signature held.
        let echoed = if why == "Invalid signature" {
            ""
        } else {
            body["MaThamChieu"].as_str().unwrap()
        };
        assert_eq!(answer["MaThamChieu"], echoed, "{body}");
        let s = |k: &str| answer[k].as_str().unwrap().to_owned();
        assert_eq!(
            s("MaXacThuc"),
            paygov::answer_checksum(
                "99",
                &s("MaDoiTac"),
                echoed,
                &s("ThoiGianGD"),
                PAYGOV_SECRET
            )
        );
    }
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(6), Some("pending"))
    );
    // Only signed confirmations join the payment's history; the unsigned ones are in the
    // message log alone, cut (contract section 8).
    let events = app.store.payment_events(&reference).await.unwrap();
    let verdicts: Vec<_> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.verified, e.verdict.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("init_answer", true, "payment page given"),
            ("confirm", true, "Amount differs from the request"),
            ("confirm", true, "Currency differs from the request"),
        ]
    );
}

#[tokio::test]
async fn twenty_identical_confirmations_at_once_record_one_payment() {
    let paygov = TestPartner::start().await;
    paygov.script([paygov_init_answer("https://paygov.example/pay/y")]);
    let app = std::sync::Arc::new(paygov_app(&paygov).await);
    let code = dossier_in(&app, 4, "PG-RACE").await;
    let (_, created) = request(&app, &code, "paygov").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    let body = confirm(&reference, "3000000", "PGRACE1", "00", PAYGOV_SECRET);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send_confirm(&app, &body).await["MaLoi"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "00");
    }
    let d = dossier(&app, &code).await;
    let confirmations = d["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["action"] == "payment_confirmed")
        .count();
    assert_eq!(confirmations, 1, "one status change");
    let back_to_4 = outbox_messages(&app.db_url())
        .await
        .iter()
        .filter(|(_, payload)| payload.contains("\"TrangThaiHoSo\":4"))
        .count();
    assert_eq!(
        back_to_4, 2,
        "start_processing and the one payment confirmation"
    );
    assert_eq!(d["payments"].as_array().unwrap().len(), 1);
}

/// VNPAY's querydr answer about `reference` (3,000,000 đồng): `response` is
/// `vnp_ResponseCode`, `status` `vnp_TransactionStatus`, signed with `secret`.
pub(crate) fn querydr_answer(reference: &str, status: &str, response: &str, secret: &str) -> Reply {
    let mut a = json!({
        "vnp_ResponseId": "R1", "vnp_Command": "querydr", "vnp_ResponseCode": response, "vnp_Message": "QueryDR",
        "vnp_TmnCode": "SVHTTEST", "vnp_TxnRef": reference, "vnp_Amount": "300000000", "vnp_BankCode": "NCB",
        "vnp_PayDate": "20261127103512", "vnp_TransactionNo": "777", "vnp_TransactionType": "01",
        "vnp_TransactionStatus": status, "vnp_OrderInfo": "x", "vnp_PromotionCode": "", "vnp_PromotionAmount": ""
    });
    let fields: Vec<String> = vnpay::QUERYDR_ANSWER_FIELDS
        .iter()
        .map(|k| a[*k].as_str().unwrap().to_owned())
        .collect();
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(fields.join("|").as_bytes());
    a["vnp_SecureHash"] = json!(hex::encode(mac.finalize().into_bytes()));
    Reply::Answer(200, a.to_string(), vec![])
}

#[tokio::test]
async fn reconciliation_settles_a_lost_callback_and_ignores_an_unsigned_answer() {
    let vnp = TestPartner::start().await;
    let app = spawn_app_with(&format!(
        "[vnpay]\napi_url = \"{}/merchant_webapi/api/transaction\"\n",
        vnp.address
    ))
    .await;
    let code = dossier_in(&app, 4, "REC-1").await;
    let (_, created) = request(&app, &code, "vnpay").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    vnp.script([
        querydr_answer(&reference, "00", "00", "forged-secret"),
        querydr_answer(&reference, "00", "00", VNPAY_SECRET),
    ]);
    let payments = &app.worker_payments();
    let settled = payments
        .reconcile_once(
            Duration::ZERO,
            Duration::from_secs(86_400),
            chrono::Utc::now() + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(settled, 0, "a forged answer is not believed");
    assert_eq!(
        dossier(&app, &code).await["payments"][0]["state"],
        "pending"
    );
    let query = vnp.received()[0].json();
    let q = |k: &str| {
        query[k]
            .as_str()
            .unwrap_or_else(|| panic!("querydr has no string {k}: {query}"))
            .to_owned()
    };
    assert_eq!(
        (
            q("vnp_Command"),
            q("vnp_Version"),
            q("vnp_TmnCode"),
            q("vnp_TxnRef")
        ),
        (
            "querydr".into(),
            "2.1.0".into(),
            "SVHTTEST".into(),
            reference.clone()
        )
    );
    // vnp_SecureHash over the values on the wire, in the contract's order, computed here.
    let signed = [
        "vnp_RequestId",
        "vnp_Version",
        "vnp_Command",
        "vnp_TmnCode",
        "vnp_TxnRef",
        "vnp_TransactionDate",
        "vnp_CreateDate",
        "vnp_IpAddr",
        "vnp_OrderInfo",
    ]
    .map(q)
    .join("|");
    {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(VNPAY_SECRET.as_bytes()).unwrap();
        mac.update(signed.as_bytes());
        assert_eq!(
            q("vnp_SecureHash"),
            hex::encode(mac.finalize().into_bytes())
        );
    }
    let settled = payments
        .reconcile_once(
            Duration::ZERO,
            Duration::from_secs(86_400),
            chrono::Utc::now() + chrono::Duration::seconds(60),
        )
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(4), Some("paid"))
    );
}

#[tokio::test]
async fn a_vnpay_transaction_cannot_pay_two_requests() {
    let app = spawn_app().await;
    let a = dossier_in(&app, 4, "TXN-A").await;
    let b = dossier_in(&app, 4, "TXN-B").await;
    let ra = request(&app, &a, "vnpay").await.1["payment_ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let rb = request(&app, &b, "vnpay").await.1["payment_ref"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send_ipn(&app, &ipn(&ra, "300000000", "00", VNPAY_SECRET)).await["RspCode"],
        "00"
    );
    let answer = send_ipn(&app, &ipn(&rb, "300000000", "00", VNPAY_SECRET)).await;
    assert_eq!(
        answer,
        json!({"RspCode": "99", "Message": "Unknown error"}),
        "the same vnp_TransactionNo"
    );
    assert_eq!(dossier(&app, &b).await["payments"][0]["state"], "pending");
}

#[tokio::test]
async fn paygov_reconciliation_settles_a_paid_reference() {
    let paygov = TestPartner::start().await;
    paygov.script([paygov_init_answer("https://paygov.example/pay/q")]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 2, "PGQ-1").await;
    let (_, created) = request(&app, &code, "paygov").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    paygov.script([
        Reply::Answer(200, json!({"error_code": "0", "TrangThaiGD": "3", "MaGiaoDich": "", "SoTien": "3000000"}).to_string(), vec![]),
        Reply::Answer(200, json!({"error_code": "0", "TrangThaiGD": "1", "MaGiaoDich": "PGQ777", "SoTien": "2000000"}).to_string(), vec![]),
        // Paid, says an answer that does not say how much: not believed.
        Reply::Answer(200, json!({"error_code": "0", "TrangThaiGD": "1", "MaGiaoDich": "PGQ777"}).to_string(), vec![]),
        Reply::Answer(200, json!({"error_code": "0", "TrangThaiGD": "1", "MaGiaoDich": "PGQ777", "SoTien": ""}).to_string(), vec![]),
        Reply::Answer(200, json!({"error_code": "0", "TrangThaiGD": "1", "MaGiaoDich": "PGQ777", "SoTien": "3000000"}).to_string(), vec![]),
    ]);
    let payments = app.worker_payments();
    let day = Duration::from_secs(86_400);
    for (later, settled) in [(1, 0), (60, 0), (120, 0), (180, 0), (240, 1)] {
        let at = chrono::Utc::now() + chrono::Duration::seconds(later);
        assert_eq!(
            payments
                .reconcile_once(Duration::ZERO, day, at)
                .await
                .unwrap(),
            settled,
            "after {later}s"
        );
    }
    let query = paygov.received()[1].json();
    assert_eq!(query["LoaiBanTin"], "QUERY");
    let s = |k: &str| query[k].as_str().unwrap().to_owned();
    assert_eq!(
        s("MaXacThuc"),
        paygov::query_checksum(&s("MaDoiTac"), &reference, &s("ThoiGianGD"), PAYGOV_SECRET)
    );
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["transaction"].as_str()
        ),
        (Some(2), Some("PGQ777"))
    );
}

#[tokio::test]
async fn a_payment_request_with_an_idempotency_key_is_made_once() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "PIDEM-1").await;
    let send = |key: &'static str, provider: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/dossiers/{code}/payments")))
            .bearer_auth(PAYER)
            .header("idempotency-key", key)
            .json(&json!({"provider": provider}))
            .send()
    };
    let first = send("pay-1", "vnpay").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("pay-1", "vnpay").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first,
        "the first answer"
    );
    assert_eq!(
        dossier(&app, &code).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let other = send("pay-1", "paygov").await.unwrap();
    assert_eq!(other.status(), 422);
}

#[tokio::test]
async fn a_retry_with_the_same_key_while_the_provider_is_answering_makes_no_second_request() {
    let paygov = TestPartner::start().await;
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    paygov.script([Reply::Held(
        release.clone(),
        Box::new(paygov_init_answer("https://paygov.example/pay/held")),
    )]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 4, "PIDEM-2").await;
    let send = |key: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/dossiers/{code}/payments")))
            .bearer_auth(PAYER)
            .header("idempotency-key", key)
            .json(&json!({"provider": "paygov"}))
            .send()
    };
    let first = tokio::spawn(send("pay-held"));
    paygov.wait_arrivals(1).await;
    // The first request waits on PayGov: its key is already held.
    let (status, retry) = status_and_json(send("pay-held").await.unwrap()).await;
    assert_eq!(
        (status, retry["error_code"].as_str()),
        (409, Some("IDEMPOTENCY_IN_PROGRESS"))
    );
    release.notify_one();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let (status, again) = status_and_json(send("pay-held").await.unwrap()).await;
    assert_eq!(
        (status, &again),
        (201, &first),
        "the first answer, once it is made"
    );
    assert_eq!(paygov.received().len(), 1, "PayGov was asked once");
    assert_eq!(
        dossier(&app, &code).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_reservation_left_by_a_request_that_died_is_taken_over_after_two_minutes() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "PIDEM-4").await;
    let body = json!({"provider": "vnpay"});
    let key = motcua_gateway::http::actions::idempotency_key(
        &{
            let mut h = axum::http::HeaderMap::new();
            h.insert("idempotency-key", "pay-died".parse().unwrap());
            h
        },
        "payer",
        &format!("POST /api/v1/dossiers/{code}/payments"),
        body.to_string().as_bytes(),
    )
    .unwrap()
    .unwrap();
    let send = || {
        app.client
            .post(app.url(&format!("/api/v1/dossiers/{code}/payments")))
            .bearer_auth(PAYER)
            .header("idempotency-key", "pay-died")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    // A reservation of a minute ago is still its request's: 409.
    let reserve = |age_ms: i64| {
        format!(
            "INSERT INTO idempotency_keys (client, key, request_hash, status, body, created_at) \
             VALUES ('payer', 'pay-died', '{}', 0, '', {})",
            key.request_hash,
            chrono::Utc::now().timestamp_millis() - age_ms
        )
    };
    raw_sql(&app.db_url(), &reserve(60_000)).await;
    let (status, busy) = status_and_json(send().await.unwrap()).await;
    assert_eq!(
        (status, busy["error_code"].as_str()),
        (409, Some("IDEMPOTENCY_IN_PROGRESS"))
    );
    // Three minutes old: the request that held it died; this one takes it over.
    raw_sql(&app.db_url(), "DELETE FROM idempotency_keys").await;
    raw_sql(&app.db_url(), &reserve(180_000)).await;
    let (status, made) = status_and_json(send().await.unwrap()).await;
    assert_eq!(status, 201, "{made}");
    let (status, again) = status_and_json(send().await.unwrap()).await;
    assert_eq!(
        (status, again),
        (201, made),
        "and the key then holds its answer"
    );
}

#[tokio::test]
async fn a_key_whose_request_made_nothing_may_be_tried_again() {
    let paygov = TestPartner::start().await;
    paygov.script([
        Reply::status(503),
        paygov_init_answer("https://paygov.example/pay/second"),
    ]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 4, "PIDEM-3").await;
    let send = || {
        app.client
            .post(app.url(&format!("/api/v1/dossiers/{code}/payments")))
            .bearer_auth(PAYER)
            .header("idempotency-key", "pay-again")
            .json(&json!({"provider": "paygov"}))
            .send()
    };
    let (status, refused) = status_and_json(send().await.unwrap()).await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (502, Some("PROVIDER_UNAVAILABLE"))
    );
    let (status, made) = status_and_json(send().await.unwrap()).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["pay_url"], "https://paygov.example/pay/second");
}

#[tokio::test]
async fn payment_callbacks_past_their_limit_get_429_with_retry_after_and_are_counted() {
    let app = spawn_app_with("[rate_limits]\npayment = { per_second = 1, burst = 2 }\n").await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for i in 0..3 {
        // Signed callbacks (for no known order): only those spend the providers' budget.
        let res = if i < 2 {
            get_ipn(&app, &ipn("TT0000000000NONE", "100", "00", VNPAY_SECRET)).await
        } else {
            app.client
                .post(app.url("/payment/paygov/confirm"))
                .json(&confirm("TT0000000000NONE", "1", "T1", "00", PAYGOV_SECRET))
                .send()
                .await
                .unwrap()
        };
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            refused = Some((
                res.headers()["retry-after"].to_str().unwrap().to_owned(),
                res.json::<Value>().await.unwrap(),
            ));
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let (retry, body) = refused.unwrap();
    assert_eq!(retry, "1");
    assert_eq!(body, serde_json::json!({"error_code": "RATE_LIMITED"}));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("motcua_rate_limited_total{caller=\"paygov\"} 1"),
        "a refused callback is counted, never silent: {metrics}"
    );
    assert_eq!(
        message_log(&app.store).await.len(),
        4,
        "the two admitted callbacks and their answers; the refused one was never read"
    );
}

#[tokio::test]
async fn twenty_payment_requests_at_once_leave_one_pending_payment() {
    let app = std::sync::Arc::new(spawn_app().await);
    // In 6 after a failed payment: each new request is an insert without a change of status,
    // the path where a check before the insert was the only guard.
    let code = dossier_in(&app, 4, "ONE-PENDING").await;
    let (s, created) = request(&app, &code, "vnpay").await;
    assert_eq!(s, 201, "{created}");
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    send_ipn(&app, &ipn(&reference, "300000000", "24", VNPAY_SECRET)).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, code) = (app.clone(), code.clone());
        tasks.push(tokio::spawn(
            async move { request(&app, &code, "vnpay").await },
        ));
    }
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => created += 1,
            409 => assert_eq!(
                (body["error_code"].as_str(), body["message"].as_str()),
                (
                    Some("INVALID_TRANSITION"),
                    Some("a payment of this dossier is already pending")
                ),
                "{body}"
            ),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(created, 1, "one request made a payable reference");
    let states: Vec<String> = dossier(&app, &code).await["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["failed", "pending"]);
}

#[tokio::test]
async fn an_init_answer_over_a_mebibyte_gives_no_payment_page() {
    let paygov = TestPartner::start().await;
    // A payment page, then two MiB of whitespace: valid JSON, if it were read whole.
    let message = json!({"UrlThanhToan": "https://paygov.example/pay/big"}).to_string();
    let padded = format!(
        "{}{}",
        json!({"error_code": "0", "message": message}),
        " ".repeat(2 * 1024 * 1024)
    );
    paygov.script([Reply::Answer(200, padded, vec![])]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 4, "PG-BIG").await;
    let (s, body) = request(&app, &code, "paygov").await;
    assert_eq!(
        (s, body["error_code"].as_str(), body["message"].as_str()),
        (
            502,
            Some("PROVIDER_UNAVAILABLE"),
            Some("INIT not answered: an answer over 1 MiB")
        ),
        "{body}"
    );
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"].as_array().map(Vec::len)
        ),
        (Some(4), Some(0)),
        "no payment, the dossier where it was"
    );
}
