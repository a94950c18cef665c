//! The city portal's wire formats only. In: XML and JSON submissions, each read into one
//! bounded neutral tree (`xml`, `json`, `tree`), whose envelope (`submission`, with its
//! applicant in `applicant`) is read through a field view (`fields`). Out: status-sync messages
//! (`sync`).

pub mod applicant;
pub mod fields;
pub mod json;
pub mod submission;
pub mod sync;
pub mod tree;
pub mod xml;
