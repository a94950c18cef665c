//! Payments past `payments.expire_after` (contract section 4): asked one last time, expired only
//! when the provider says they are not paid, and a late confirmation of one that did expire is
//! recorded as paid — a citizen who paid is never stranded.

use crate::helpers::*;
use crate::lifecycle::dossier_in;
use crate::payments::{
    confirm, dossier, ipn, paygov_app, paygov_init_answer, querydr_answer, request, send_confirm,
    send_ipn, PAYGOV_SECRET, VNPAY_SECRET,
};
use serde_json::json;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// Runs the reconciler as if `secs` seconds past a day had gone by since the request.
async fn a_day_later(app: &TestApp, secs: i64) -> usize {
    app.worker_payments()
        .reconcile_once(
            Duration::from_secs(900),
            DAY,
            chrono::Utc::now() + chrono::Duration::seconds(86_400 + secs),
        )
        .await
        .unwrap()
}

/// The dossier's status and its payments' states.
async fn states(app: &TestApp, code: &str) -> (Option<i64>, Vec<String>) {
    let d = dossier(app, code).await;
    let payments = d["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_owned())
        .collect();
    (d["TrangThaiHoSo"].as_i64(), payments)
}

async fn vnpay_app(vnp: &TestPartner) -> TestApp {
    spawn_app_with(&format!(
        "[vnpay]\napi_url = \"{}/merchant_webapi/api/transaction\"\n",
        vnp.address
    ))
    .await
}

#[tokio::test]
async fn a_payment_past_its_expiry_expires_only_when_the_provider_says_it_is_not_paid() {
    let vnp = TestPartner::start().await;
    let app = vnpay_app(&vnp).await;
    let code = dossier_in(&app, 4, "EXP-1").await;
    let (_, created) = request(&app, &code, "vnpay").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    vnp.script([
        // No answer to believe: a 500, then a forged "not found".
        Reply::status(500),
        querydr_answer(&reference, "", "91", "forged-secret"),
        // Still being paid.
        querydr_answer(&reference, "01", "00", VNPAY_SECRET),
    ]);
    for (later, asked) in [(0, 1), (1000, 2)] {
        assert_eq!(a_day_later(&app, later).await, 0);
        assert_eq!(vnp.received().len(), asked);
        assert_eq!(states(&app, &code).await, (Some(6), vec!["pending".into()]));
    }
    assert_eq!(a_day_later(&app, 2000).await, 0);
    assert_eq!(vnp.received().len(), 3);
    assert_eq!(
        states(&app, &code).await,
        (Some(6), vec!["expired".into()]),
        "VNPAY says not paid: expired, and the dossier may ask again"
    );
    assert_eq!(request(&app, &code, "vnpay").await.0, 201);
}

#[tokio::test]
async fn a_vnpay_payment_confirmed_after_it_expired_is_recorded_as_paid() {
    let vnp = TestPartner::start().await;
    let app = vnpay_app(&vnp).await;
    let code = dossier_in(&app, 4, "EXP-2").await;
    let (_, created) = request(&app, &code, "vnpay").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    // VNPAY has no transaction for it yet: the request expires.
    vnp.script([querydr_answer(&reference, "", "91", VNPAY_SECRET)]);
    a_day_later(&app, 0).await;
    assert_eq!(states(&app, &code).await, (Some(6), vec!["expired".into()]));
    // Then the citizen's payment goes through, late.
    let answer = send_ipn(&app, &ipn(&reference, "300000000", "00", VNPAY_SECRET)).await;
    assert_eq!(
        answer,
        json!({"RspCode": "00", "Message": "Confirm Success"})
    );
    assert_eq!(states(&app, &code).await, (Some(4), vec!["paid".into()]));
    // A repeat is "already confirmed", and a failure report for an expired one changes nothing.
    let again = send_ipn(&app, &ipn(&reference, "300000000", "00", VNPAY_SECRET)).await;
    assert_eq!(again["RspCode"], "02");
}

#[tokio::test]
async fn a_paygov_payment_confirmed_after_it_expired_is_recorded_as_paid() {
    let paygov = TestPartner::start().await;
    paygov.script([paygov_init_answer("https://paygov.example/pay/late")]);
    let app = paygov_app(&paygov).await;
    let code = dossier_in(&app, 2, "EXP-3").await;
    let (_, created) = request(&app, &code, "paygov").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    paygov.script([Reply::Answer(
        200,
        json!({"error_code": "0", "TrangThaiGD": "3", "MaGiaoDich": "", "SoTien": "3000000"})
            .to_string(),
        vec![],
    )]);
    a_day_later(&app, 0).await;
    assert_eq!(states(&app, &code).await, (Some(6), vec!["expired".into()]));
    // A failure reported late for an expired request is refused and changes nothing.
    let failed = send_confirm(
        &app,
        &confirm(&reference, "3000000", "PGLATE", "24", PAYGOV_SECRET),
    )
    .await;
    assert_eq!(
        (failed["MaLoi"].as_str(), failed["MoTaLoi"].as_str()),
        (Some("99"), Some("Reference is no longer pending"))
    );
    let paid = send_confirm(
        &app,
        &confirm(&reference, "3000000", "PGLATE", "00", PAYGOV_SECRET),
    )
    .await;
    assert_eq!(
        (paid["MaLoi"].as_str(), paid["MoTaLoi"].as_str()),
        (Some("00"), Some("Confirmed"))
    );
    assert_eq!(states(&app, &code).await, (Some(2), vec!["paid".into()]));
    let d = dossier(&app, &code).await;
    assert_eq!(d["payments"][0]["transaction"], "PGLATE");
}
