//! Pages that citizens' browsers land on, in Vietnamese: the VNPAY return page
//! (`GET /payment/vnpay/return`, contract section 4), which says whether the payment is
//! recorded, still being confirmed, or failed, and never settles anything itself.

use super::answer::Answer;
use super::AppState;
use crate::domain::html::escape;
use crate::domain::money::dong;
use crate::payment::callbacks::{ReturnState, ReturnView};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// `GET /payment/vnpay/return?…`.
pub async fn vnpay_return(State(state): State<AppState>, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default();
    let view = if query.len() > 8 * 1024 {
        ReturnView::Unverified
    } else {
        state.payments.vnpay_return(query).await
    };
    let status = match view {
        ReturnView::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    Answer::page(status, render(&view, &state.config.agency.name)).into_response()
}

fn render(view: &ReturnView, agency: &str) -> String {
    let (tone, title, lead, details) = match view {
        ReturnView::Unverified => (
            "bad",
            "Không xác minh được kết quả thanh toán",
            "Thông tin VNPAY gửi về không đúng chữ ký. Nếu Quý vị đã thanh toán, kết quả sẽ được ghi nhận khi VNPAY xác nhận; vui lòng kiểm tra lại trạng thái hồ sơ sau ít phút.".to_owned(),
            None,
        ),
        ReturnView::Unknown => (
            "bad",
            "Không tìm thấy yêu cầu thanh toán",
            "Mã thanh toán này không có trong hệ thống. Vui lòng liên hệ bộ phận Một cửa của Sở.".to_owned(),
            None,
        ),
        ReturnView::Unavailable => (
            "wait",
            "Hệ thống đang bận",
            "Chưa tra cứu được kết quả thanh toán. Vui lòng tải lại trang sau ít phút.".to_owned(),
            None,
        ),
        ReturnView::Payment { state, dossier, reference, amount } => {
            let (tone, title, lead) = match state {
                ReturnState::Recorded => ("ok", "Đã ghi nhận thanh toán", "Khoản phí, lệ phí của hồ sơ đã được ghi nhận. Hồ sơ tiếp tục được giải quyết."),
                ReturnState::Confirming => ("wait", "Đang xác nhận thanh toán", "VNPAY báo giao dịch thành công; hệ thống đang chờ VNPAY xác nhận để ghi nhận. Quý vị không cần thanh toán lại."),
                ReturnState::Failed => ("bad", "Thanh toán không thành công", "Giao dịch chưa được thực hiện hoặc đã bị hủy; chưa có khoản nào được ghi nhận. Quý vị có thể thanh toán lại từ hồ sơ trên Cổng dịch vụ công."),
            };
            (tone, title, lead.to_owned(), Some((dossier, reference, amount.get())))
        }
    };
    let details = details.map_or_else(String::new, |(dossier, reference, amount)| {
        format!(
            "<dl><dt>Mã hồ sơ</dt><dd>{}</dd><dt>Mã thanh toán</dt><dd>{}</dd><dt>Số tiền</dt><dd>{}</dd></dl>",
            escape(dossier),
            escape(reference),
            dong(amount)
        )
    });
    format!(
        r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — {agency}</title>
<style>
body {{ font-family: system-ui, "Segoe UI", Roboto, Arial, sans-serif; margin: 0; background: #f4f6f8; color: #1d2733; }}
main {{ max-width: 36rem; margin: 3rem auto; background: #fff; border-radius: 8px; padding: 2rem; box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
.agency {{ font-size: .9rem; color: #5a6675; text-transform: uppercase; letter-spacing: .03em; }}
h1 {{ font-size: 1.5rem; margin: .5rem 0 1rem; }}
.ok h1 {{ color: #1b7f3b; }} .wait h1 {{ color: #a86400; }} .bad h1 {{ color: #b3261e; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1rem; margin: 1.5rem 0 0; }}
dt {{ color: #5a6675; }} dd {{ margin: 0; font-weight: 600; }}
</style>
</head>
<body>
<main class="{tone}">
<div class="agency">{agency}</div>
<h1>{title}</h1>
<p>{lead}</p>
{details}
</main>
</body>
</html>
"#,
        agency = escape(agency),
        lead = escape(&lead),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
