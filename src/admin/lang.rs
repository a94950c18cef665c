//! The officers' page's two languages: Vietnamese, the default, and English for the IT staff
//! and partners who read it. Each template holds both words side by side
//! (`{{ t.w("Hồ sơ", "Dossiers") }}`), so a missing translation shows in review, not at run
//! time; the choice is a cookie set by `GET /admin/lang/{vi|en}` (`admin::choose_lang`). The gateway's own words
//! (statuses, actions, states) are here in both languages; procedure and document names are
//! the mappings' own, in Vietnamese.

use crate::domain::lifecycle::Action;
use crate::domain::status::Status;
use crate::domain::time::format_people_millis;
use crate::store::OutboxSummary;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The language cookie's name.
pub const COOKIE: &str = "motcua_lang";

/// A language of the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// `vi` or `en`, as `<html lang>` and the cookie say it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// From `vi` or `en`.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The word in this language.
    pub fn w(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// The other language, which the header offers.
    pub fn other(self) -> Self {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The other language's name, in itself.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Vi => "Tiếng Việt",
            Lang::En => "English",
        }
    }
}

/// The words of the gateway's own states and names, in either language.
impl Lang {
    /// A status's name (`TrangThaiHoSo`); Vietnamese as the portal names it.
    pub fn status(self, code: i64) -> &'static str {
        let Some(s) = Status::from_code(code) else {
            return "";
        };
        match self {
            Lang::Vi => s.name_vi(),
            Lang::En => match s {
                Status::New => "New",
                Status::Accepted => "Accepted",
                Status::Refused => "Refused at reception",
                Status::Processing => "Processing",
                Status::SupplementRequested => "Supplement requested",
                Status::PaymentRequested => "Fees requested",
                Status::Withdrawn => "Withdrawn by the applicant",
                Status::Stopped => "Stopped",
                Status::Completed => "Completed",
                Status::Returned => "Result returned",
            },
        }
    }

    /// An action's name on the page.
    pub fn action(self, a: Action) -> &'static str {
        match self {
            Lang::Vi => a.label_vi(),
            Lang::En => match a {
                Action::Accept => "Accept",
                Action::Reject => "Refuse at reception",
                Action::StartProcessing => "Start processing",
                Action::RequestSupplement => "Request a supplement",
                Action::ReceiveSupplement => "Receive the supplement",
                Action::RequestPayment => "Request the fees",
                Action::ConfirmPayment => "Confirm an online payment",
                Action::RecordPayment => "Record fees paid at the counter",
                Action::Extend => "Extend the due date",
                Action::Forward => "Forward to an agency",
                Action::Complete => "Complete",
                Action::ReturnResult => "Return the result",
                Action::Withdraw => "Withdraw on the applicant's request",
                Action::Stop => "Stop processing",
            },
        }
    }

    /// A document's state.
    pub fn document_state(self, state: &str) -> &'static str {
        match state {
            "pending" => self.w("Đang chờ tải về", "Waiting to be fetched"),
            "stored" => self.w("Đã lưu, đúng mã băm", "Stored, hash verified"),
            "hash_mismatch" => self.w("Sai mã băm", "Hash mismatch"),
            "too_large" => self.w("Quá dung lượng cho phép", "Too large"),
            "host_not_allowed" => self.w("Nguồn không được phép", "Host not allowed"),
            "failed" => self.w("Không tải được", "Could not be fetched"),
            _ => self.w("Không rõ", "Unknown"),
        }
    }

    /// A payment's state.
    pub fn payment_state(self, state: &str) -> &'static str {
        match state {
            "pending" => self.w("Đang chờ thanh toán", "Awaiting payment"),
            "paid" => self.w("Đã thanh toán", "Paid"),
            "failed" => self.w("Không thành công", "Failed"),
            "expired" => self.w("Hết hạn", "Expired"),
            "cancelled" => self.w("Đã hủy", "Cancelled"),
            _ => self.w("Không rõ", "Unknown"),
        }
    }

    /// An outbox message's state.
    pub fn message_state(self, state: &str) -> &'static str {
        match state {
            "pending" => self.w("Đang chờ gửi", "Waiting to be sent"),
            "delivered" => self.w("Đã gửi, đối tác đã nhận", "Delivered"),
            "dead" => self.w("Gửi không được, chờ xử lý", "Dead, awaiting a decision"),
            "discarded" => self.w("Đã bỏ qua", "Discarded"),
            _ => self.w("Không rõ", "Unknown"),
        }
    }

    /// Where a dossier's status sync stands.
    pub fn sync(self, s: &OutboxSummary) -> String {
        let mut out = match self {
            Lang::Vi => format!("{} tin đã gửi, {} tin đang chờ gửi", s.delivered, s.pending),
            Lang::En => format!("{} messages delivered, {} waiting", s.delivered, s.pending),
        };
        if s.dead > 0 {
            out.push_str(&match self {
                Lang::Vi => format!(", {} tin gửi không được (chờ xử lý)", s.dead),
                Lang::En => format!(", {} dead (awaiting a decision)", s.dead),
            });
        }
        if let Some(at) = s.last_delivered_at {
            out.push_str(&format!(
                "; {} {}",
                self.w("lần gửi gần nhất", "last delivered"),
                format_people_millis(at)
            ));
        }
        out
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(super::cookies::cookie(parts, COOKIE)
            .and_then(Lang::parse)
            .unwrap_or_default())
    }
}
