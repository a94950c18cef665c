//! An agency's answer to a forwarded step (`POST /lienthong/v1/steps/{ref}`, contract section
//! 9), read and checked whole: every problem is listed, as intake's 422 does.
//!
//! `TrangThai` is `received`, `processing`, `done` or `refused`; `done` carries `KetQua` with
//! the result's number (`SoVanBan`) and may list its documents (`TaiLieu`), a `refused` says
//! why (`NoiDung`) and may carry a `KetQua` too (the letter that refuses). Texts are held to
//! the portal's progress-record limits, since each answer becomes one, and no control
//! character passes (a NUL that SQLite would keep breaks PostgreSQL).

use crate::domain::validation::{text_field as text, FieldError};
use crate::portal::sync::TIEN_DO_LIMITS as LIMITS;
use crate::store::ResultDocument;
use serde_json::{Map, Value};

/// Most result documents one answer may list.
pub const MAX_DOCUMENTS: usize = 20;

/// An answer as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAnswer {
    /// `received`, `processing`, `done` or `refused`.
    pub state: String,
    /// `NoiDung`.
    pub note: Option<String>,
    /// `NguoiXuLy`.
    pub handler: Option<String>,
    /// `KetQua.SoVanBan`.
    pub result_no: Option<String>,
    /// `KetQua.TaiLieu`.
    pub documents: Vec<ResultDocument>,
}

impl StepAnswer {
    /// Whether it closes the step.
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "done" | "refused")
    }

    /// What a progress record calls the state.
    pub fn state_vi(&self) -> &'static str {
        state_vi(&self.state)
    }
}

/// The Vietnamese name of a step's state.
pub fn state_vi(state: &str) -> &'static str {
    match state {
        "pending" => "Chưa chuyển",
        "forwarded" => "Đã chuyển, chờ tiếp nhận",
        "received" => "Đã tiếp nhận",
        "processing" => "Đang xử lý",
        "done" => "Đã có kết quả",
        "refused" => "Từ chối",
        _ => "",
    }
}

/// Why a body was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// Not one JSON object (400 `MALFORMED`).
    Malformed(String),
    /// Well-formed, but these fields are wrong (422 `VALIDATION`).
    Invalid(Vec<FieldError>),
}

/// Reads an answer's body.
pub fn parse(body: &[u8]) -> Result<StepAnswer, AnswerError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AnswerError::Malformed(format!("JSON is not well-formed: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(AnswerError::Malformed(
            "the body must be one JSON object".into(),
        ));
    };
    let mut errors = Vec::new();
    let state = text(&obj, "TrangThai", "TrangThai", 20, &mut errors);
    let state = match state.as_deref() {
        Some("received" | "processing" | "done" | "refused") => state,
        Some(_) => {
            errors.push(FieldError::new(
                "TrangThai",
                "not_allowed",
                "one of received, processing, done, refused",
            ));
            None
        }
        None => {
            if !errors.iter().any(|e| e.field == "TrangThai") {
                errors.push(FieldError::required("TrangThai"));
            }
            None
        }
    };
    let note = text(&obj, "NoiDung", "NoiDung", LIMITS.note, &mut errors);
    let handler = text(
        &obj,
        "NguoiXuLy",
        "NguoiXuLy",
        LIMITS.officer_name,
        &mut errors,
    );
    if state.as_deref() == Some("refused") && note.is_none() && !has_error(&errors, "NoiDung") {
        errors.push(FieldError::new("NoiDung", "required", "a refusal says why"));
    }
    let (result_no, documents) = match obj.get("KetQua") {
        None | Some(Value::Null) => {
            if state.as_deref() == Some("done") {
                errors.push(FieldError::new(
                    "KetQua",
                    "required",
                    "a step done carries its result (SoVanBan, TaiLieu)",
                ));
            }
            (None, Vec::new())
        }
        Some(Value::Object(result)) => {
            if matches!(state.as_deref(), Some("received" | "processing")) {
                errors.push(FieldError::new(
                    "KetQua",
                    "not_allowed",
                    "a result comes with done or refused",
                ));
            }
            let no = text(result, "SoVanBan", "KetQua.SoVanBan", 100, &mut errors);
            if no.is_none()
                && state.as_deref() == Some("done")
                && !has_error(&errors, "KetQua.SoVanBan")
            {
                errors.push(FieldError::required("KetQua.SoVanBan"));
            }
            (no, documents(result, &mut errors))
        }
        Some(_) => {
            errors.push(FieldError::new("KetQua", "wrong_type", "an object"));
            (None, Vec::new())
        }
    };
    match state {
        Some(state) if errors.is_empty() => Ok(StepAnswer {
            state,
            note,
            handler,
            result_no,
            documents,
        }),
        _ => Err(AnswerError::Invalid(errors)),
    }
}

fn has_error(errors: &[FieldError], field: &str) -> bool {
    errors.iter().any(|e| e.field == field)
}

/// `KetQua.TaiLieu`: each with its name, hash, size and link.
fn documents(result: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Vec<ResultDocument> {
    let items = match result.get("TaiLieu") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new("KetQua.TaiLieu", "wrong_type", "a list"));
            return Vec::new();
        }
    };
    if items.len() > MAX_DOCUMENTS {
        errors.push(FieldError::new(
            "KetQua.TaiLieu",
            "too_long",
            format!("at most {MAX_DOCUMENTS} documents"),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str| format!("KetQua.TaiLieu[{i}].{f}");
        let Value::Object(doc) = item else {
            errors.push(FieldError::new(
                format!("KetQua.TaiLieu[{i}]"),
                "wrong_type",
                "an object",
            ));
            continue;
        };
        let component = text(doc, "MaThanhPhanHoSo", &at("MaThanhPhanHoSo"), 50, errors)
            .unwrap_or_else(|| "KQ".into());
        let name = text(doc, "TenTepDinhKem", &at("TenTepDinhKem"), 255, errors);
        let hash = text(doc, "MaHash", &at("MaHash"), 64, errors).map(|h| h.to_ascii_lowercase());
        let url = text(doc, "DuongDan", &at("DuongDan"), 2000, errors);
        let size = doc
            .get("KichThuoc")
            .and_then(Value::as_i64)
            .filter(|n| *n > 0);
        for (value, field) in [
            (&name, "TenTepDinhKem"),
            (&hash, "MaHash"),
            (&url, "DuongDan"),
        ] {
            if value.is_none() && !has_error(errors, &at(field)) {
                errors.push(FieldError::required(at(field)));
            }
        }
        if hash
            .as_deref()
            .is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errors.push(FieldError::new(
                at("MaHash"),
                "pattern",
                "SHA-256 in hex, 64 characters",
            ));
        }
        let url_ok = url.as_deref().is_some_and(|u| {
            url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        });
        if url.is_some() && !url_ok {
            errors.push(FieldError::new(at("DuongDan"), "pattern", "an http(s) URL"));
        }
        if size.is_none() {
            errors.push(FieldError::new(
                at("KichThuoc"),
                "wrong_type",
                "the size in bytes, a whole number above 0",
            ));
        }
        if let (Some(file_name), Some(sha256), Some(url), Some(size), true) =
            (name, hash, url, size, url_ok)
        {
            out.push(ResultDocument {
                component,
                file_name,
                url,
                sha256,
                size,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<(String, &'static str)> {
        match parse(body.as_bytes()) {
            Err(AnswerError::Invalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_done_answer_with_its_result_is_read_whole() {
        let body = r#"{"TrangThai":"done","NoiDung":"Đạt","NguoiXuLy":"Đại úy Lê Văn C",
            "KetQua":{"SoVanBan":"45/NT-PC07","TaiLieu":[{"TenTepDinhKem":"bien-ban.pdf",
            "MaHash":"AB00000000000000000000000000000000000000000000000000000000000000",
            "KichThuoc":12,"DuongDan":"http://127.0.0.1:9106/files/bien-ban.pdf"}]}}"#;
        let got = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.state, "done");
        assert_eq!(got.result_no.as_deref(), Some("45/NT-PC07"));
        assert_eq!(got.documents.len(), 1);
        assert_eq!(got.documents[0].component, "KQ");
        assert!(got.documents[0].sha256.starts_with("ab00"));
        assert!(got.is_final());
    }

    #[test]
    fn every_problem_is_listed() {
        assert_eq!(fields(r#"{}"#), [("TrangThai".into(), "required")]);
        assert_eq!(
            fields(r#"{"TrangThai":"approved"}"#),
            [("TrangThai".into(), "not_allowed")]
        );
        assert_eq!(
            fields(r#"{"TrangThai":"done"}"#),
            [("KetQua".into(), "required")]
        );
        assert_eq!(
            fields(r#"{"TrangThai":"refused","NguoiXuLy":"a\u0000b"}"#),
            [
                ("NguoiXuLy".into(), "control_character"),
                ("NoiDung".into(), "required")
            ]
        );
        assert_eq!(
            fields(r#"{"TrangThai":"received","KetQua":{"SoVanBan":"1"}}"#),
            [("KetQua".into(), "not_allowed")]
        );
        assert_eq!(
            fields(
                r#"{"TrangThai":"done","KetQua":{"TaiLieu":[{"TenTepDinhKem":"a.pdf",
                "MaHash":"xyz","KichThuoc":0,"DuongDan":"file:///etc/passwd"}]}}"#
            ),
            [
                ("KetQua.SoVanBan".into(), "required"),
                ("KetQua.TaiLieu[0].MaHash".into(), "pattern"),
                ("KetQua.TaiLieu[0].DuongDan".into(), "pattern"),
                ("KetQua.TaiLieu[0].KichThuoc".into(), "wrong_type"),
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_one_object_is_malformed() {
        for body in ["", "[1]", "{\"TrangThai\":"] {
            assert!(
                matches!(parse(body.as_bytes()), Err(AnswerError::Malformed(_))),
                "{body:?}"
            );
        }
    }
}
