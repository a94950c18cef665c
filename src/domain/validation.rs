//! The one shape of a field-level problem, shared by intake and mapping checks, and the one
//! reading of a text field of a JSON request (an action, an agency's answer).

use serde::Serialize;

/// One problem with one field of a submission, as the contract's 422 lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the portal's format, e.g. `ChuHoSo.SoDinhDanh`.
    pub field: String,
    /// Stable machine code: `required`, `too_long`, `pattern`, `not_allowed`, …
    pub code: &'static str,
    /// A sentence for the person reading the error.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The field is absent or empty.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new(field, "required", "this field is required")
    }
}

/// A text field of a JSON object: absent, null or blank is `None`; too long, not a string, or
/// holding a control character other than tab and line breaks is an error pushed on `errors`
/// (a NUL that SQLite would keep breaks PostgreSQL). Trimmed.
pub fn text_field(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
    path: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    use serde_json::Value;
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) if s.chars().count() > max => {
            errors.push(FieldError::new(
                path,
                "too_long",
                format!("at most {max} characters"),
            ));
            None
        }
        Some(Value::String(s))
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) =>
        {
            errors.push(FieldError::new(
                path,
                "control_character",
                "control characters are not allowed",
            ));
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            errors.push(FieldError::new(path, "wrong_type", "a string"));
            None
        }
    }
}
