//! An officer's action on a dossier from its page: the form is read into the same request the
//! API's `POST /api/v1/dossiers/{MaHoSo}/actions` takes, checked by the same rules, and
//! applied by the same lifecycle. Only `admin` acts; every form carries the session's CSRF
//! token and a key of its own, so a form sent twice acts once.

use super::dossiers::{dossier_page, found};
use super::reply::{failed, forged, looks_only, see_other, short};
use super::session::{acts, Officer};
use super::views::Typed;
use crate::domain::money::dong;
use crate::domain::validation::FieldError;
use crate::dossiers::plan::LifecycleError;
use crate::http::actions::action_input;
use crate::http::AppState;
use crate::store::{IdempotencyKey, StoreError};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

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
fn field_label(field: &str) -> &str {
    match field {
        "action" => "Thao tác",
        "officer" | "officer.name" => "Họ tên cán bộ",
        "officer.title" => "Chức vụ",
        "officer.unit" => "Đơn vị",
        "note" => "Nội dung",
        "new_due" => "Hạn trả kết quả mới",
        "method" => "Hình thức nộp",
        "amount" => "Số tiền",
        "receipt_no" => "Số biên lai",
        other => other,
    }
}

/// What a field's problem means, in words.
fn problem_words(e: &FieldError) -> String {
    let what = match e.code {
        "required" => "cần nhập".to_owned(),
        "too_long" => format!("quá dài ({})", e.message),
        "invalid_format" | "wrong_type" => "không đúng định dạng".to_owned(),
        "not_allowed" => "không được phép với thao tác này".to_owned(),
        "amount_mismatch" => format!("không khớp số phải nộp ({})", e.message),
        _ => e.message.clone(),
    };
    format!("{}: {what}", field_label(&e.field))
}

/// Why the lifecycle refused, as a status and the officer's words; `None` for a store failure.
fn refusal(e: &LifecycleError) -> Option<(StatusCode, Vec<String>)> {
    let conflict = |words: String| Some((StatusCode::CONFLICT, vec![words]));
    match e {
        LifecycleError::NotFound => Some((StatusCode::NOT_FOUND, vec!["Không tìm thấy hồ sơ này.".into()])),
        LifecycleError::InvalidTransition(_) | LifecycleError::PaymentNotPending => conflict(
            "Trạng thái hiện tại của hồ sơ không cho phép thao tác này (có thể hồ sơ vừa được xử lý ở nơi khác)."
                .into(),
        ),
        LifecycleError::Validation(errors) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            errors.iter().map(problem_words).collect(),
        )),
        LifecycleError::KeyReused => conflict("Biểu mẫu này đã được gửi với nội dung khác. Vui lòng tải lại trang.".into()),
        LifecycleError::CalendarMissing(c) => conflict(format!("Chưa có lịch làm việc để tính hạn ({c}).")),
        LifecycleError::FeesUnpaid(due) => {
            conflict(format!("Hồ sơ còn phí, lệ phí chưa nộp: {}.", dong(due.get())))
        }
        LifecycleError::Store(StoreError::Duplicate(_)) => {
            conflict("Số biên lai này đã được ghi nhận.".into())
        }
        LifecycleError::Store(_) => None,
    }
}

/// `POST /admin/dossiers/{MaHoSo}/act`.
pub async fn act(
    State(state): State<AppState>,
    officer: Officer,
    Path(code): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    if !officer.session.csrf_ok(&form.csrf) {
        return forged();
    }
    if !acts(&officer.client) {
        return looks_only();
    }
    if !(1..=64).contains(&form.key.len()) || !form.key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return forged();
    }
    let fields = form.body();
    let body = Value::Object(fields.clone()).to_string();
    let mut hash = Sha256::new();
    hash.update(format!("POST /admin/dossiers/{code}/act\n").as_bytes());
    hash.update(body.as_bytes());
    let key = IdempotencyKey {
        client: officer.client.name.clone(),
        key: format!("admin:{}", form.key),
        request_hash: hex::encode(hash.finalize()),
    };
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
        Err(e) => match refusal(&e) {
            Some((StatusCode::NOT_FOUND, _)) => {
                short(StatusCode::NOT_FOUND, "Không tìm thấy hồ sơ này.")
            }
            Some((status, problems)) => match found(&state, &code).await {
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
