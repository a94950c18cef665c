//! The tamper-evident message log: every partner message, inbound and outbound, kept as it
//! crossed the wire, each record chained to the one before by SHA-256 (the chain itself,
//! pure, is `crate::chain`; its rows are the store's).
//!
//! - [`log`] — appending records (many waiting callers in one transaction), and the outbound
//!   call that records a partner's request and answer around it;
//! - [`verify`] — checking a stored run against its hashes, links, head and anchors, naming
//!   each [`problem`];
//! - [`anchor`] — the head anchored outside the database, in a signed file;
//! - [`mask`] — identity and phone numbers masked in what is exported.

pub mod anchor;
pub mod log;
pub mod mask;
pub mod problem;
pub mod verify;
