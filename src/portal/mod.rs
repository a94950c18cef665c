//! The city portal's wire formats only: XML and JSON submissions in (`tree` reads either into
//! one bounded tree, `submission` reads its envelope), status-sync messages out (`sync`).

pub mod submission;
pub mod sync;
pub mod tree;
