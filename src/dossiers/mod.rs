//! The dossier service: a verified portal request taken in as a stored dossier ([`intake`],
//! with what its arrival writes, `arrival`),
//! the department's actions on it ([`lifecycle`], each planned by [`plan`], inter-agency
//! steps by [`steps`]), the dossier as the internal API shows it
//! ([`view`]), the status reads kept for a second ([`status_cache`]), the fees the lifecycle
//! enforces ([`fees`]), the offline check of mappings against fixtures ([`check`]), and the
//! city's monthly indicators ([`report`]), and the receipt and control slip ([`receipt`]).

mod arrival;
pub mod cache_peers;
pub mod check;
pub mod fees;
pub mod intake;
pub mod lifecycle;
pub mod plan;
pub mod receipt;
pub mod report;
pub mod status_cache;
pub mod steps;
pub mod view;
