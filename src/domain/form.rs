//! A submitted form as a neutral tree: text leaves and maps whose keys may repeat.
//!
//! The portal's XML and JSON bodies both parse into this shape (in `portal::tree`), so the
//! mapping engine reads one structure whatever the wire format was.

use super::validation::FieldError;
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

    /// Every text value holding a control character other than tab, line feed and carriage
    /// return (C0, U+0000–U+001F), as a field error at its path: keys joined by `.`, a repeated
    /// key's items numbered `[i]` — the paths the mapping's errors use. No database stores a NUL
    /// the same way (PostgreSQL refuses it in text), and none belongs in a form.
    pub fn control_characters(&self) -> Vec<FieldError> {
        let mut found = Vec::new();
        self.collect_control_characters("", &mut found);
        found
    }

    fn collect_control_characters(&self, path: &str, found: &mut Vec<FieldError>) {
        match self {
            Node::Text(t) => {
                if let Some(c) = t.chars().find(|c| {
                    c.is_ascii_control() && *c != '\u{7f}' && !matches!(c, '\t' | '\n' | '\r')
                }) {
                    // A body that is one bare value is named as the whole body.
                    let field = if path.is_empty() { "HoSo" } else { path };
                    found.push(FieldError::new(
                        field,
                        "control_character",
                        format!(
                            "the control character U+{:04X} is not allowed",
                            u32::from(c)
                        ),
                    ));
                }
            }
            Node::Map(entries) => {
                for (i, (key, value)) in entries.iter().enumerate() {
                    let repeated = entries.iter().filter(|(k, _)| k == key).count() > 1;
                    let at = match (path.is_empty(), repeated) {
                        (true, false) => key.clone(),
                        (false, false) => format!("{path}.{key}"),
                        (_, true) => {
                            let n = entries[..i].iter().filter(|(k, _)| k == key).count();
                            if path.is_empty() {
                                format!("{key}[{n}]")
                            } else {
                                format!("{path}.{key}[{n}]")
                            }
                        }
                    };
                    value.collect_control_characters(&at, found);
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Node {
        Node::Text(t.to_owned())
    }

    #[test]
    fn control_characters_are_named_by_their_path_and_tab_and_newlines_pass() {
        let form = Node::Map(vec![
            ("TrichYeuHoSo".into(), text("a\u{0}b")),
            ("Ghi".into(), text("line\n\tnext\r\n")),
            (
                "ChuHoSo".into(),
                Node::Map(vec![("HoTen".into(), text("Lê\u{1b}[31m"))]),
            ),
            ("Phong".into(), Node::Map(vec![("Ten".into(), text("ok"))])),
            (
                "Phong".into(),
                Node::Map(vec![("Ten".into(), text("x\u{7}"))]),
            ),
        ]);
        let found: Vec<(String, &str, String)> = form
            .control_characters()
            .into_iter()
            .map(|e| (e.field, e.code, e.message))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "TrichYeuHoSo".into(),
                    "control_character",
                    "the control character U+0000 is not allowed".into()
                ),
                (
                    "ChuHoSo.HoTen".into(),
                    "control_character",
                    "the control character U+001B is not allowed".into()
                ),
                (
                    "Phong[1].Ten".into(),
                    "control_character",
                    "the control character U+0007 is not allowed".into()
                ),
            ]
        );
    }
}
