//! The dossier's documents (contract section 6): where they may be fetched from ([`guard`]),
//! the fetch that proves and stores them ([`fetch`]), and the storage that keeps them by
//! content hash ([`storage`]).

pub mod fetch;
pub mod guard;
pub mod storage;
