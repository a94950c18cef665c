//! A submitted form as a neutral tree: text leaves and maps whose keys may repeat.
//!
//! The portal's XML and JSON bodies both parse into this shape (in `portal::tree`), so the
//! mapping engine reads one structure whatever the wire format was.

use super::validation::FieldError;
use std::collections::{BTreeMap, HashMap};

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
        // Nearly every body holds none: a plain scan of the bytes first, and the paths worked
        // out only when there is one to name (the walk that names them stood out in intake's
        // profile; docs/PERFORMANCE.md).
        if self.holds_control_character() {
            self.collect_control_characters(&mut Vec::new(), &mut found);
        }
        found
    }

    /// Whether any text value holds a control character [`Node::control_characters`] names.
    /// Bytes below 0x80 are only ever ASCII characters in UTF-8, so bytes are enough.
    fn holds_control_character(&self) -> bool {
        match self {
            Node::Text(t) => t
                .bytes()
                .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')),
            Node::Map(entries) => entries.iter().any(|(_, v)| v.holds_control_character()),
        }
    }

    /// Walks the tree with `path` holding the keys above (and a repeated key's item number);
    /// a path is written out only for a value that holds a control character.
    fn collect_control_characters<'a>(
        &'a self,
        path: &mut Vec<(&'a str, Option<usize>)>,
        found: &mut Vec<FieldError>,
    ) {
        match self {
            Node::Text(t) => {
                if let Some(c) = t
                    .chars()
                    .find(|c| matches!(c, '\0'..='\x1f') && !matches!(c, '\t' | '\n' | '\r'))
                {
                    let field = path
                        .iter()
                        .map(|(key, item)| match item {
                            Some(n) => format!("{key}[{n}]"),
                            None => (*key).to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(".");
                    // A body that is one bare value is named as the whole body.
                    let field = if field.is_empty() {
                        "HoSo".into()
                    } else {
                        field
                    };
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
                // Counted once, so a list of thousands of items is walked in linear time.
                let mut count: HashMap<&str, usize> = HashMap::new();
                for (key, _) in entries {
                    *count.entry(key.as_str()).or_default() += 1;
                }
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for (key, value) in entries {
                    let repeated = count.get(key.as_str()).is_some_and(|&n| n > 1);
                    let item = repeated.then(|| {
                        let n = seen.entry(key.as_str()).or_default();
                        *n += 1;
                        *n - 1
                    });
                    path.push((key.as_str(), item));
                    value.collect_control_characters(path, found);
                    path.pop();
                }
            }
        }
    }

    /// Writes [`Node::canonical`]'s compact JSON bytes to `out` without building it: the same
    /// bytes as `serde_json::to_vec(&node.canonical())` (tested), at a fraction of the cost —
    /// intake hashes every submission this way.
    pub fn write_canonical(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Node::Text(t) => Ok(serde_json::to_writer(out, t)?),
            Node::Map(entries) => {
                write_canonical_map(entries.iter().map(|(k, v)| (k.as_str(), v)), out)
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

/// Writes a map's entries as [`Node::canonical`] writes a map: keys sorted, each key's values
/// a list in the entries' order.
pub fn write_canonical_map<'a>(
    entries: impl Iterator<Item = (&'a str, &'a Node)>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    // Sorted by key, a stable sort keeping each key's values in the entries' order: the
    // groups a `BTreeMap` of lists would give, in one allocation.
    let mut sorted: Vec<(&str, &Node)> = entries.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    out.write_all(b"{")?;
    let mut rest = sorted.as_slice();
    let mut first = true;
    while let Some(&(key, _)) = rest.first() {
        let same = rest.iter().take_while(|(k, _)| *k == key).count();
        let (group, after) = rest.split_at(same);
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":[")?;
        for (j, (_, v)) in group.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            v.write_canonical(out)?;
        }
        out.write_all(b"]")?;
        rest = after;
    }
    out.write_all(b"}")
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
