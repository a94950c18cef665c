//! The papers a dossier's applicant and officers print, in Vietnamese, for A4: the receipt and
//! appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả) with the documents received, the
//! fees, the appointment and a QR code of the dossier's lookup link; and the control slip
//! (Phiếu kiểm soát quá trình giải quyết hồ sơ) listing every progress record. Pure: built from
//! the stored dossier and the rules it is judged by.

use crate::domain::dossier::FeeLine;
use crate::domain::html::escape;
use crate::domain::money::dong;
use crate::domain::time::format_people_millis as when;
use crate::mapping::Procedure;
use crate::store::StoredDossier;
use qrcode::render::svg;
use qrcode::QrCode;
use serde_json::Value;
use std::fmt::Write as _;

const STYLE: &str = "@page{size:A4;margin:15mm 15mm 15mm 20mm}\
body{font-family:'Times New Roman',Times,serif;font-size:13pt;line-height:1.4;color:#000;\
max-width:180mm;margin:1.5rem auto;padding:0 1rem}\
.head{display:grid;grid-template-columns:1fr 1fr;text-align:center;font-size:12pt}\
.head b{display:block}h1{text-align:center;font-size:15pt;margin:1.2rem 0 .2rem}\
.code{text-align:center;margin:0 0 1rem}table{border-collapse:collapse;width:100%;margin:.4rem 0}\
th,td{border:1px solid #000;padding:.2rem .4rem;text-align:left;vertical-align:top;font-size:12pt}\
.money{text-align:right;white-space:nowrap}.qr{float:right;text-align:center;font-size:10pt;\
margin:0 0 .5rem 1rem}.qr svg{width:34mm;height:34mm}.sign{display:grid;\
grid-template-columns:1fr 1fr;text-align:center;margin-top:1.5rem}.sign p{margin:.2rem 0 3.5rem}\
@media print{body{margin:0;padding:0}a{color:#000;text-decoration:none}}";

/// What the papers need beyond the dossier.
#[derive(Debug, Clone, Copy)]
pub struct Issuer<'a> {
    /// The department's name.
    pub agency: &'a str,
    /// The dossier's lookup link (`agency.lookup_url` with the code put in).
    pub lookup: &'a str,
}

/// Which paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// The receipt and appointment slip.
    Receipt,
    /// The control slip.
    Control,
}

impl Paper {
    /// The paper a `?slip=` asks for: none for the receipt, `control` for the control slip.
    pub fn asked(slip: Option<&str>) -> Option<Self> {
        match slip {
            None => Some(Self::Receipt),
            Some("control") => Some(Self::Control),
            Some(_) => None,
        }
    }
}

/// The paper `which` of `d`, judged by the rules it records, issued by `agency` (its name, and
/// its lookup link with the code put in); `None` for a receipt of a dossier never accepted.
pub fn paper(
    d: &StoredDossier,
    mappings: &crate::mapping::Mappings,
    agency: &crate::config::AgencyConfig,
    which: Paper,
) -> Option<String> {
    let lookup = agency.lookup_url.as_str().replace("{MaHoSo}", &d.code);
    let issuer = Issuer {
        agency: &agency.name,
        lookup: &lookup,
    };
    let rules = super::plan::rules_of(mappings, d).map(AsRef::as_ref);
    match which {
        Paper::Receipt => receipt(d, rules, &issuer),
        Paper::Control => Some(control_slip(d, rules, &issuer)),
    }
}

/// The QR code of `link`, as inline SVG.
pub fn qr_svg(link: &str) -> String {
    match QrCode::new(link.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

fn page(title: &str, issuer: &Issuer<'_>, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <div class=\"head\"><div><b>{agency}</b><b>BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ</b></div>\
         <div><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><b>Độc lập - Tự do - Hạnh phúc</b></div></div>\
         {body}</body></html>",
        title = escape(title),
        agency = escape(&issuer.agency.to_uppercase()),
    )
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The applicant's lines: name, address, phone, email (never the identity number).
fn applicant(d: &StoredDossier) -> String {
    let a = &d.applicant;
    let mut out = format!(
        "<p>Tiếp nhận hồ sơ của: <b>{}</b></p>",
        escape(text(a, "name"))
    );
    let address = a.get("address").map(|ad| text(ad, "detail")).unwrap_or("");
    for (label, value) in [
        ("Địa chỉ", address),
        ("Số điện thoại", text(a, "phone")),
        ("Thư điện tử", text(a, "email")),
    ] {
        if !value.is_empty() {
            let _ = write!(out, "<p>{label}: {}</p>", escape(value));
        }
    }
    out
}

/// The receipt and appointment slip. `None` for a dossier never accepted: there is no
/// appointment to give.
pub fn receipt(
    d: &StoredDossier,
    rules: Option<&Procedure>,
    issuer: &Issuer<'_>,
) -> Option<String> {
    let accepted = d.accepted_at?;
    let procedure = rules.map_or(d.procedure_code.as_str(), |p| p.name.as_str());
    let mut body = format!(
        "<div class=\"qr\">{qr}<br>Quét để tra cứu hồ sơ</div>\
         <h1>GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ</h1>\
         <p class=\"code\">Mã hồ sơ: <b>{code}</b></p>{applicant}\
         <p>Nội dung yêu cầu giải quyết: {procedure}</p>",
        qr = qr_svg(issuer.lookup),
        code = escape(&d.code),
        applicant = applicant(d),
        procedure = escape(procedure),
    );
    body.push_str(
        "<p>Thành phần hồ sơ:</p><table><thead><tr><th>STT</th><th>Tên giấy tờ</th>\
         <th>Tệp đính kèm</th></tr></thead><tbody>",
    );
    for (i, doc) in d.documents.iter().enumerate() {
        let name = rules
            .and_then(|p| p.documents.iter().find(|c| c.code == doc.component))
            .map_or(doc.component.as_str(), |c| c.name.as_str());
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            escape(name),
            escape(&doc.file_name)
        );
    }
    body.push_str("</tbody></table>");
    if !d.fees.is_empty() {
        body.push_str(
            "<p>Phí, lệ phí:</p><table><thead><tr><th>Khoản</th><th>Số tiền</th></tr></thead><tbody>",
        );
        for line in &d.fees {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"money\">{}</td></tr>",
                escape(&line.name),
                dong(line.amount.get())
            );
        }
        let total = FeeLine::total(&d.fees).map_or(0, |t| t.get());
        let paid = d.payments.iter().any(|p| p.state == "paid");
        let _ = write!(
            body,
            "<tr><th>Tổng cộng ({})</th><th class=\"money\">{}</th></tr></tbody></table>",
            if paid { "đã nộp" } else { "chưa nộp" },
            dong(total)
        );
    }
    let _ = write!(
        body,
        "<p>Thời gian nhận hồ sơ: <b>{}</b></p><p>Thời gian hẹn trả kết quả: <b>{}</b></p>\
         <p>Tra cứu tình trạng hồ sơ tại <a href=\"{link}\">{link}</a></p>",
        when(accepted),
        d.due_at.map(when).unwrap_or_default(),
        link = escape(issuer.lookup),
    );
    let officer = d
        .progress
        .iter()
        .find(|p| p.action == "accept")
        .map_or("", |p| p.officer_name.as_str());
    let _ = write!(
        body,
        "<div class=\"sign\"><div><b>NGƯỜI NỘP HỒ SƠ</b><p>(Ký và ghi rõ họ tên)</p></div>\
         <div><b>NGƯỜI TIẾP NHẬN HỒ SƠ</b><p>(Ký và ghi rõ họ tên)</p>{}</div></div>",
        escape(officer)
    );
    Some(page(
        "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        issuer,
        &body,
    ))
}

/// The control slip: every progress record, oldest first.
pub fn control_slip(d: &StoredDossier, rules: Option<&Procedure>, issuer: &Issuer<'_>) -> String {
    let procedure = rules.map_or(d.procedure_code.as_str(), |p| p.name.as_str());
    let mut body = format!(
        "<h1>PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ</h1><p class=\"code\">Mã hồ sơ: <b>{}</b></p>\
         {}<p>Nội dung yêu cầu giải quyết: {}</p><p>Ngày nhận hồ sơ: {} · Ngày hẹn trả kết quả: {}</p>\
         <table><thead><tr><th>STT</th><th>Thời điểm</th><th>Người xử lý</th><th>Bộ phận</th>\
         <th>Nội dung xử lý</th><th>Trạng thái</th></tr></thead><tbody>",
        escape(&d.code),
        applicant(d),
        escape(procedure),
        when(d.received_at),
        d.due_at.map(when).unwrap_or_else(|| "chưa có".to_owned()),
    );
    for (i, p) in d.progress.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            when(p.at),
            escape(&p.officer_name),
            escape(&p.officer_title),
            escape(&p.officer_unit),
            escape(p.note.as_deref().unwrap_or("")),
            escape(super::view::status_name(p.status)),
        );
    }
    body.push_str("</tbody></table>");
    page("Phiếu kiểm soát quá trình giải quyết hồ sơ", issuer, &body)
}
