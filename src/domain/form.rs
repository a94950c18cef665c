//! A submitted form as a neutral tree: text leaves and maps whose keys may repeat.
//!
//! The portal's XML and JSON bodies both parse into this shape (in `portal::tree`), so the
//! mapping engine reads one structure whatever the wire format was.

use std::collections::BTreeMap;

/// A parsed body: text leaves and maps whose keys may repeat (lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A scalar value (XML text, JSON string or number).
    Text(String),
    /// Named children in document order; a repeated name is a list.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The children named `name` (none, one, or several for a list).
    pub fn children<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'s Node> + use<'s, 'n> {
        let entries: &[(String, Node)] = match self {
            Node::Map(entries) => entries,
            Node::Text(_) => &[],
        };
        entries
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A canonical JSON form: map keys sorted, every map value a list in document order,
    /// so that the same fields and values give the same bytes whatever the format or key order.
    pub fn canonical(&self) -> serde_json::Value {
        match self {
            Node::Text(t) => serde_json::Value::String(t.clone()),
            Node::Map(entries) => {
                let mut grouped: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
                for (k, v) in entries {
                    grouped.entry(k.as_str()).or_default().push(v.canonical());
                }
                serde_json::Value::Object(
                    grouped
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::Array(v)))
                        .collect(),
                )
            }
        }
    }
}
