//! The dossier service: a verified portal request taken in as a stored dossier ([`intake`]),
//! the department's actions on it ([`lifecycle`]), the dossier as the internal API shows it
//! ([`view`]), the status reads kept for a second ([`status_cache`]), and the offline check
//! of mappings against fixtures ([`check`]).

pub mod check;
pub mod intake;
pub mod lifecycle;
pub mod status_cache;
pub mod view;
