//! The one shape of a field-level problem, shared by intake and mapping checks.

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
