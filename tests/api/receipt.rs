//! The receipt and appointment slip and the control slip (contract section 5): what they say,
//! when they are refused, and the receipt as a browser shows and prints it — its QR code read
//! back from the screenshot to the dossier's lookup link.

use crate::browser::look_at;
use crate::helpers::*;
use crate::lifecycle::{dossier_in, new_dossier};
use serde_json::Value;

async fn slip(app: &TestApp, code: &str, query: &str, token: &str) -> (u16, String, String) {
    let res = app
        .get(&format!("/api/v1/dossiers/{code}/receipt{query}"), token)
        .await;
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, res.text().await.unwrap())
}

/// `yyyyMMddHHmmss` as the papers write it: `dd/MM/yyyy HH:mm`.
fn people(wire: &str) -> String {
    format!(
        "{}/{}/{} {}:{}",
        &wire[6..8],
        &wire[4..6],
        &wire[..4],
        &wire[8..10],
        &wire[10..12]
    )
}

#[tokio::test]
async fn the_receipt_names_the_documents_fees_and_appointment_and_the_control_slip_every_step() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 4, "RCP-1").await;
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;

    let (status, ctype, html) = slip(&app, &code, "", READER).await;
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(html.contains("<h1>GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ</h1>"));
    assert!(html.contains(&format!("Mã hồ sơ: <b>{code}</b>")));
    assert!(html.contains("Tiếp nhận hồ sơ của: <b>Công ty TNHH Giải trí Sao Việt</b>"));
    assert!(html.contains(&format!(
        "Thời gian hẹn trả kết quả: <b>{}</b>",
        people(d["NgayHenTra"].as_str().unwrap())
    )));
    assert!(html.contains(&format!(
        "Thời gian nhận hồ sơ: <b>{}</b>",
        people(d["NgayTiepNhan"].as_str().unwrap())
    )));
    // Each document with the procedure's name for it, and its file.
    for doc in d["documents"].as_array().unwrap() {
        assert!(html.contains(&format!(
            "<td>{}</td>",
            doc["TenTepDinhKem"].as_str().unwrap()
        )));
    }
    assert!(html.contains("<td>Đơn đề nghị cấp giấy phép"), "{html}");
    assert!(html.contains("<td class=\"money\">3.000.000 đồng</td>"));
    assert!(html.contains("Tổng cộng (chưa nộp)"));
    // The identity numbers stay off the paper.
    assert!(!html.contains("079085004321") && !html.contains("0312345678"));
    assert!(html.contains("@page{size:A4"));

    let (status, _, html) = slip(&app, &code, "?slip=control", READER).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ</h1>"));
    let rows = html.matches("<tr><td>").count();
    assert_eq!(rows, d["progress"].as_array().unwrap().len());
    for p in d["progress"].as_array().unwrap() {
        assert!(html.contains(&format!(
            "<td>{}</td>",
            people(p["ThoiDiemXuLy"].as_str().unwrap())
        )));
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("control.html");
    std::fs::write(&page, &html).unwrap();
    look_at(
        &format!("file://{}", page.display()),
        "control-slip",
        "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
    )
    .await;

    // A dossier never accepted has no appointment: no receipt, but its control slip.
    let fresh = new_dossier(&app, "RCP-2").await;
    let (status, _, body) = slip(&app, &fresh, "", READER).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        refusal(status, &body),
        (
            409,
            Some("NOT_ACCEPTED"),
            Some("the dossier was never accepted: there is no appointment to give")
        )
    );
    assert_eq!(slip(&app, &fresh, "?slip=control", READER).await.0, 200);
    let (status, _, body) = slip(&app, &code, "?slip=other", READER).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal(status, &body).1, Some("INVALID_QUERY"));
    assert_eq!(
        slip(&app, "000.00.12.H29-261130-9999", "", READER).await.0,
        404
    );
    assert_eq!(slip(&app, &code, "", "nobody").await.0, 401);
}

#[tokio::test]
async fn the_printed_receipt_carries_a_qr_code_of_the_lookup_link() {
    let app = spawn_app().await;
    let code = dossier_in(&app, 2, "RCP-QR").await;
    // The browser asks with the reader's token as an ordinary link would not: the page is
    // fetched here and handed to Chromium from a file, as an officer's browser saves it to print.
    let (status, _, html) = slip(&app, &code, "", READER).await;
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("receipt.html");
    std::fs::write(&page, &html).unwrap();
    let png = look_at(
        &format!("file://{}", page.display()),
        "receipt",
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    )
    .await;
    let picture = image::open(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the receipt");
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(
        content,
        format!("https://dichvucong.hochiminhcity.gov.vn/tra-cuu-ho-so?MaHoSo={code}")
    );
}
