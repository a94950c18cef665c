//! The department's dossier model, free of any transport or storage concern.
//!
//! Everything here is plain data and pure functions: codes built by parsing (never by
//! `Deref`), statuses, money, identity numbers and Vietnam time. `axum`, `sqlx` and `reqwest`
//! are not used in this module tree.

pub mod applicant;
pub mod calendar;
pub mod calendar_year;
pub mod code_template;
pub mod codes;
pub mod dossier;
pub mod form;
pub mod html;
pub mod indicators;
pub mod lifecycle;
pub mod money;
pub mod search;
pub mod status;
pub mod time;
pub mod validation;
pub mod working_hours;
