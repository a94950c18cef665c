//! An officer's action on a dossier from its page: the form is read into the same request the
//! API's `POST /api/v1/dossiers/{MaHoSo}/actions` takes, checked by the same rules, and
//! applied by the same lifecycle. Only `admin` acts; every form carries the session's CSRF
//! token and a key of its own, so a form sent twice acts once.

use super::dossiers::{dossier_page, found};
use super::lang::Lang;
use super::reply::{failed, forged, not_found, see_other};
use super::session::Officer;
use super::views::Typed;
use crate::domain::money::dong;
use crate::domain::validation::FieldError;
use crate::dossiers::plan::LifecycleError;
use crate::http::actions::{action_input, request_key};
use crate::http::AppState;
use crate::store::StoreError;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The action form as posted; every field is text, read as the API would read it.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: String,
    key: String,
    action: String,
    #[serde(default)]
    officer_name: String,
    #[serde(default)]
    officer_title: String,
    #[serde(default)]
    officer_unit: String,
    #[serde(default)]
    note: String,
    /// `YYYY-MM-DDTHH:MM` from a `datetime-local` field, Vietnam time.
    #[serde(default)]
    new_due: String,
    /// Whole đồng; dots and spaces between thousands are allowed.
    #[serde(default)]
    amount: String,
    #[serde(default)]
    receipt_no: String,
    /// `forward`: the step.
    #[serde(default)]
    step: String,
}

/// `2026-12-05T17:00` as the wire's `20261205170000`; anything else is passed on as typed, to
/// be refused by the API's own rule.
fn wire_due(local: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M").map_or_else(
        |_| local.to_owned(),
        |t| t.format("%Y%m%d%H%M00").to_string(),
    )
}

impl ActForm {
    /// The API's request body for this form.
    fn body(&self) -> Map<String, Value> {
        let mut obj = Map::new();
        obj.insert("action".into(), json!(self.action));
        obj.insert(
            "officer".into(),
            json!({"name": self.officer_name, "title": self.officer_title, "unit": self.officer_unit}),
        );
        if !self.note.trim().is_empty() {
            obj.insert("note".into(), json!(self.note));
        }
        if self.action == "extend" {
            obj.insert("new_due".into(), json!(wire_due(self.new_due.trim())));
        }
        if self.action == "forward" {
            obj.insert("step".into(), json!(self.step));
        }
        if self.action == "record_payment" {
            obj.insert("method".into(), json!("counter"));
            let plain: String = self
                .amount
                .chars()
                .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}'))
                .collect();
            let amount = plain
                .parse::<i64>()
                .map_or_else(|_| json!(self.amount), |n| json!(n));
            obj.insert("amount".into(), amount);
            obj.insert("receipt_no".into(), json!(self.receipt_no));
        }
        obj
    }
}

/// What a form field is called on the page.
fn field_label(field: &str, t: Lang) -> &str {
    match field {
        "action" => t.w("Thao tác", "Action"),
        "officer" | "officer.name" => t.w("Họ tên cán bộ", "Officer's name"),
        "officer.title" => t.w("Chức vụ", "Title"),
        "officer.unit" => t.w("Đơn vị", "Unit"),
        "note" => t.w("Nội dung", "Note"),
        "new_due" => t.w("Hạn trả kết quả mới", "New due date"),
        "method" => t.w("Hình thức nộp", "Method"),
        "amount" => t.w("Số tiền", "Amount"),
        "receipt_no" => t.w("Số biên lai", "Receipt number"),
        "step" => t.w("Bước liên thông", "Inter-agency step"),
        other => other,
    }
}

/// What a field's problem means, in words.
fn problem_words(e: &FieldError, t: Lang) -> String {
    let what = match e.code {
        "required" => t.w("cần nhập", "required").to_owned(),
        "too_long" => format!("{} ({})", t.w("quá dài", "too long"), e.message),
        "invalid_format" | "wrong_type" => t
            .w("không đúng định dạng", "not in the expected form")
            .to_owned(),
        "not_allowed" => t
            .w(
                "không được phép với thao tác này",
                "not allowed with this action",
            )
            .to_owned(),
        "amount_mismatch" => format!(
            "{} ({})",
            t.w("không khớp số phải nộp", "not the amount due"),
            e.message
        ),
        _ => e.message.clone(),
    };
    format!("{}: {what}", field_label(&e.field, t))
}

/// Why the lifecycle refused, as a status and the officer's words; `None` for what the page
/// answers otherwise (no such dossier, a store failure).
fn refusal(e: &LifecycleError, t: Lang) -> Option<(StatusCode, Vec<String>)> {
    let conflict = |words: String| Some((StatusCode::CONFLICT, vec![words]));
    match e {
        LifecycleError::InvalidTransition(_) | LifecycleError::PaymentNotPending => conflict(
            t.w(
                "Trạng thái hiện tại của hồ sơ không cho phép thao tác này (có thể hồ sơ vừa được xử lý ở nơi khác).",
                "The dossier's status does not allow this action (it may have just been handled elsewhere).",
            )
            .into(),
        ),
        LifecycleError::Validation(errors) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            errors.iter().map(|e| problem_words(e, t)).collect(),
        )),
        LifecycleError::KeyReused => conflict(
            t.w(
                "Biểu mẫu này đã được gửi với nội dung khác. Vui lòng tải lại trang.",
                "This form was sent with other content. Reload the page.",
            )
            .into(),
        ),
        LifecycleError::CalendarMissing(c) => conflict(format!(
            "{} ({c}).",
            t.w("Chưa có lịch làm việc để tính hạn", "No working calendar to count the due date")
        )),
        LifecycleError::FeesUnpaid(due) => conflict(format!(
            "{}: {}.",
            t.w("Hồ sơ còn phí, lệ phí chưa nộp", "Fees are not paid"),
            dong(due.get())
        )),
        LifecycleError::Store(StoreError::Duplicate(_)) => conflict(
            t.w("Số biên lai này đã được ghi nhận.", "This receipt number is already recorded.")
                .into(),
        ),
        LifecycleError::StepConflict { code, message } => conflict(format!(
            "{} ({code}: {message}).",
            t.w("Bước liên thông chưa cho phép thao tác này", "An inter-agency step does not allow this")
        )),
        LifecycleError::NotFound | LifecycleError::Store(_) => None,
    }
}

/// `POST /admin/dossiers/{MaHoSo}/act`.
pub async fn act(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    let t = officer.lang;
    if let Some(refused) = officer.refusal(&form.csrf) {
        return refused;
    }
    if !(1..=64).contains(&form.key.len()) || !form.key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return forged(t);
    }
    let fields = form.body();
    let key = request_key(
        &officer.client.name,
        &format!("admin:{}", form.key),
        &format!("POST /admin/dossiers/{code}/act"),
        Value::Object(fields.clone()).to_string().as_bytes(),
    );
    let done = match action_input(&fields) {
        Ok(input) => state
            .lifecycle
            .act(&code, &input, Some(&key), chrono::Utc::now())
            .await
            .map(|_| ()),
        Err(errors) => Err(LifecycleError::Validation(errors)),
    };
    match done {
        Ok(()) => {
            tracing::info!(officer = %officer.client.name, dossier = %code, action = %form.action, "an officer acted from the page");
            see_other(&format!("/admin/dossiers/{code}"))
        }
        Err(LifecycleError::NotFound) => not_found(t),
        Err(e) => match refusal(&e, t) {
            Some((status, problems)) => match found(&state, &code, t).await {
                Ok(d) => {
                    let typed = Typed {
                        officer_name: form.officer_name,
                        officer_title: form.officer_title,
                        officer_unit: form.officer_unit,
                        note: form.note,
                    };
                    dossier_page(&state, &officer, &d, (status, problems, typed)).await
                }
                Err(res) => res,
            },
            None => failed(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::wire_due;

    #[test]
    fn a_datetime_local_becomes_the_wire_time_and_anything_else_is_passed_on() {
        assert_eq!(wire_due("2026-12-05T17:00"), "20261205170000");
        // Left for the API's own rule to refuse as `invalid_format`.
        for odd in ["2026-12-05", "05/12/2026 17:00", "2026-12-05T17:00:30", ""] {
            assert_eq!(wire_due(odd), odd);
        }
    }
}
