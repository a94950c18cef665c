//! The city portal's wire formats: XML and JSON submissions in, status-sync messages out, and
//! the intake service that turns a verified request into a stored dossier.

pub mod check;
pub mod intake;
pub mod submission;
pub mod sync;
pub mod tree;
