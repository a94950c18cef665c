//! Pages citizens' browsers land on: the VNPAY return page (contract section 4), in
//! Vietnamese, saying whether the payment is recorded, still being confirmed or failed, and
//! never settling anything itself; looked at in a real browser too.

use crate::browser::look_at;
use crate::helpers::*;
use crate::lifecycle::dossier_in;
use crate::payments::{dossier, ipn, request, send_ipn, VNPAY_SECRET};

/// The return page for `query`: status, content type and body.
async fn page(app: &TestApp, query: &str) -> (u16, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/payment/vnpay/return?{query}")))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ctype, res.text().await.unwrap())
}

/// The `<h1>` of a page.
fn heading(html: &str) -> &str {
    let start = html.find("<h1>").expect("a heading") + 4;
    let end = html[start..].find("</h1>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_vnpay_return_page_says_where_the_payment_stands_and_settles_nothing() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "RET-1").await;
    let (_, created) = request(&app, &code, "vnpay").await;
    let reference = created["payment_ref"].as_str().unwrap().to_owned();
    let paid = ipn(&reference, "300000000", "00", VNPAY_SECRET);

    let cases = [
        (
            ipn(&reference, "300000000", "00", "forged"),
            "Không xác minh được kết quả thanh toán",
        ),
        (
            ipn("TT0000000000NONE", "100", "00", VNPAY_SECRET),
            "Không tìm thấy yêu cầu thanh toán",
        ),
        (
            ipn(&reference, "300000000", "24", VNPAY_SECRET),
            "Thanh toán không thành công",
        ),
        (paid.clone(), "Đang xác nhận thanh toán"),
        (String::new(), "Không xác minh được kết quả thanh toán"),
    ];
    for (query, expected) in &cases {
        let (status, ctype, html) = page(&app, query).await;
        assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
        assert_eq!(heading(&html), *expected, "{query}");
    }
    // None of those settled anything: the payment waits for the IPN.
    let d = dossier(&app, &code).await;
    assert_eq!(
        (
            d["TrangThaiHoSo"].as_i64(),
            d["payments"][0]["state"].as_str()
        ),
        (Some(6), Some("pending"))
    );
    let (_, _, html) = page(&app, &paid).await;
    look_at(
        &app.url(&format!("/payment/vnpay/return?{paid}")),
        "vnpay-return-confirming",
        "<h1>Đang xác nhận thanh toán</h1>",
    )
    .await;
    assert!(html.contains(&format!("<dd>{code}</dd>")), "{html}");
    assert!(html.contains("<dd>3.000.000 đồng</dd>"), "{html}");

    assert_eq!(send_ipn(&app, &paid).await["RspCode"], "00");
    let (_, _, html) = page(&app, &paid).await;
    assert_eq!(heading(&html), "Đã ghi nhận thanh toán");
    look_at(
        &app.url(&format!("/payment/vnpay/return?{paid}")),
        "vnpay-return-recorded",
        "<h1>Đã ghi nhận thanh toán</h1>",
    )
    .await;
}
