//! One neutral tree for both of the portal's body formats.
//!
//! XML elements and JSON objects both become [`Node::Map`]; XML's repeated child elements and
//! JSON's arrays both become repeated keys, so one field path (`DanhSachPhong/Phong`) reads the
//! same data from either format. Parsing is bounded (depth, node count, text length) and refuses
//! everything that could make a parser do work the sender chose: DTDs, entity declarations and
//! references other than the five predefined ones, non-UTF-8 encodings, and duplicate JSON keys.
//!
//! Here the bounds and the one refusal; the readers are `xml` and `json`.

pub use crate::domain::form::Node;

/// Bounds that keep hostile bodies cheap to refuse.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of elements or objects.
    pub max_depth: usize,
    /// Most elements, keys and values in one body.
    pub max_nodes: usize,
    /// Longest single text value, in bytes.
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_nodes: 20_000,
            max_text: 65_536,
        }
    }
}

/// Why a body is not well-formed; becomes a 400 `MALFORMED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

pub(crate) fn malformed(msg: impl Into<String>) -> Malformed {
    Malformed(msg.into())
}

pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}
