//! One neutral tree for both of the portal's body formats.
//!
//! XML elements and JSON objects both become [`Node::Map`]; XML's repeated child elements and
//! JSON's arrays both become repeated keys, so one field path (`DanhSachPhong/Phong`) reads the
//! same data from either format. Parsing is bounded (depth, node count, text length) and refuses
//! everything that could make a parser do work the sender chose: DTDs, entity declarations and
//! references other than the five predefined ones, non-UTF-8 encodings, and duplicate JSON keys.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

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

fn malformed(msg: impl Into<String>) -> Malformed {
    Malformed(msg.into())
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

struct Open {
    name: String,
    children: Vec<(String, Node)>,
    text: String,
}

/// Parses an XML body whose root element must be `root`.
pub fn parse_xml(bytes: &[u8], root: &str, limits: Limits) -> Result<Node, Malformed> {
    let text = std::str::from_utf8(strip_bom(bytes))
        .map_err(|e| malformed(format!("body is not valid UTF-8 ({e})")))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    let mut result: Option<Node> = None;
    let mut nodes = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            malformed(format!(
                "XML is not well-formed at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Decl(decl) => {
                if let Some(enc) = decl.encoding() {
                    let enc = enc.map_err(|e| malformed(format!("bad XML declaration: {e}")))?;
                    if !enc.eq_ignore_ascii_case(b"utf-8") && !enc.eq_ignore_ascii_case(b"utf8") {
                        return Err(malformed("only UTF-8 is accepted"));
                    }
                }
            }
            Event::DocType(_) => return Err(malformed("a DOCTYPE is not accepted")),
            Event::PI(_) | Event::Comment(_) => {}
            Event::Start(start) => {
                if result.is_some() {
                    return Err(malformed("more than one root element"));
                }
                nodes += 1;
                if stack.len() >= limits.max_depth {
                    return Err(malformed(format!(
                        "nesting deeper than {}",
                        limits.max_depth
                    )));
                }
                if nodes > limits.max_nodes {
                    return Err(malformed(format!(
                        "more than {} elements",
                        limits.max_nodes
                    )));
                }
                let name = element_name(start.local_name().as_ref())?;
                if stack.is_empty() && name != root {
                    return Err(malformed(format!("the root element must be <{root}>")));
                }
                stack.push(Open {
                    name,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(start) => {
                nodes += 1;
                if nodes > limits.max_nodes {
                    return Err(malformed(format!(
                        "more than {} elements",
                        limits.max_nodes
                    )));
                }
                let name = element_name(start.local_name().as_ref())?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, Node::Text(String::new()))),
                    None if name == root && result.is_none() => {
                        result = Some(Node::Map(Vec::new()))
                    }
                    None => return Err(malformed(format!("the root element must be <{root}>"))),
                }
            }
            Event::End(_) => {
                let open = stack.pop().ok_or_else(|| malformed("unexpected end tag"))?;
                let node = if open.children.is_empty() {
                    Node::Text(open.text)
                } else if open.text.trim().is_empty() {
                    Node::Map(open.children)
                } else {
                    return Err(malformed(format!(
                        "<{}> mixes text and elements",
                        open.name
                    )));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push((open.name, node)),
                    None => result = Some(node),
                }
            }
            Event::Text(t) => {
                let piece = t
                    .decode()
                    .map_err(|e| malformed(format!("bad text: {e}")))?;
                push_text(&mut stack, &piece, limits)?;
            }
            Event::CData(c) => {
                let piece = c
                    .decode()
                    .map_err(|e| malformed(format!("bad CDATA: {e}")))?;
                push_text(&mut stack, &piece, limits)?;
            }
            Event::GeneralRef(r) => {
                let piece = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if !c.is_control() || matches!(c, '\n' | '\r' | '\t') => {
                            c.to_string()
                        }
                        _ => {
                            return Err(malformed(
                                "a character reference names no allowed character",
                            ))
                        }
                    }
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| malformed(format!("bad reference: {e}")))?;
                    match name.as_ref() {
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "amp" => "&".to_owned(),
                        "apos" => "'".to_owned(),
                        "quot" => "\"".to_owned(),
                        other => {
                            return Err(malformed(format!("entity &{other}; is not accepted")))
                        }
                    }
                };
                push_text(&mut stack, &piece, limits)?;
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends inside an element"));
    }
    match result {
        Some(Node::Text(t)) if t.trim().is_empty() => Ok(Node::Map(Vec::new())),
        Some(Node::Text(_)) => Err(malformed(format!("<{root}> must contain elements"))),
        Some(node) => Ok(node),
        None => Err(malformed(format!("no <{root}> element"))),
    }
}

fn element_name(raw: &[u8]) -> Result<String, Malformed> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| malformed("an element name is not UTF-8"))
}

fn push_text(stack: &mut [Open], piece: &str, limits: Limits) -> Result<(), Malformed> {
    match stack.last_mut() {
        Some(open) => {
            if open.text.len() + piece.len() > limits.max_text {
                return Err(malformed(format!(
                    "<{}> is longer than {} bytes",
                    open.name, limits.max_text
                )));
            }
            open.text.push_str(piece);
            Ok(())
        }
        None if piece.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element")),
    }
}

/// Parses a JSON body, which must be one object.
pub fn parse_json(bytes: &[u8], limits: Limits) -> Result<Node, Malformed> {
    let bytes = strip_bom(bytes);
    std::str::from_utf8(bytes).map_err(|e| malformed(format!("body is not valid UTF-8 ({e})")))?;
    let budget = Cell::new(limits.max_nodes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed {
        depth: 0,
        budget: &budget,
        limits,
    }
    .deserialize(&mut de)
    .map_err(|e| malformed(format!("JSON is not well-formed: {e}")))?;
    de.end()
        .map_err(|e| malformed(format!("JSON is not well-formed: {e}")))?;
    match value {
        JsonValue::Object(entries) => Ok(Node::Map(entries)),
        _ => Err(malformed("the body must be one JSON object")),
    }
}

enum JsonValue {
    Null,
    Scalar(String),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    depth: usize,
    budget: &'a Cell<usize>,
    limits: Limits,
}

impl ValueSeed<'_> {
    fn spend<E: de::Error>(&self) -> Result<(), E> {
        let left = self.budget.get();
        if left == 0 {
            return Err(E::custom(format!(
                "more than {} values",
                self.limits.max_nodes
            )));
        }
        self.budget.set(left - 1);
        Ok(())
    }

    fn deeper<E: de::Error>(&self) -> Result<Self, E> {
        if self.depth >= self.limits.max_depth {
            return Err(E::custom(format!(
                "nesting deeper than {}",
                self.limits.max_depth
            )));
        }
        Ok(Self {
            depth: self.depth + 1,
            ..*self
        })
    }

    fn scalar<E: de::Error>(&self, text: String) -> Result<JsonValue, E> {
        self.spend()?;
        if text.len() > self.limits.max_text {
            return Err(E::custom(format!(
                "a string is longer than {} bytes",
                self.limits.max_text
            )));
        }
        Ok(JsonValue::Scalar(text))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = JsonValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<JsonValue, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = JsonValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object, array, string, number or null")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonValue, E> {
        Err(E::custom(
            "true/false is not a value the portal's format has",
        ))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonValue, E> {
        self.scalar(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonValue, E> {
        self.scalar(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonValue, E> {
        if !v.is_finite() {
            return Err(E::custom("a number is out of range"));
        }
        self.scalar(v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonValue, E> {
        self.scalar(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonValue, E> {
        self.scalar(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        self.spend()?;
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            match item {
                JsonValue::Null => {}
                JsonValue::Scalar(s) => items.push(Node::Text(s)),
                JsonValue::Object(entries) => items.push(Node::Map(entries)),
                JsonValue::Array(_) => {
                    return Err(de::Error::custom("an array directly inside an array"))
                }
            }
        }
        Ok(JsonValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        self.spend()?;
        let inner = self.deeper()?;
        let mut seen = std::collections::HashSet::new();
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
            }
            match map.next_value_seed(inner)? {
                JsonValue::Null => {}
                JsonValue::Scalar(s) => entries.push((key, Node::Text(s))),
                JsonValue::Object(o) => entries.push((key, Node::Map(o))),
                JsonValue::Array(items) => {
                    entries.extend(items.into_iter().map(|n| (key.clone(), n)))
                }
            }
        }
        Ok(JsonValue::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(s: &str) -> Result<Node, Malformed> {
        parse_xml(s.as_bytes(), "HoSo", Limits::default())
    }

    fn json(s: &str) -> Result<Node, Malformed> {
        parse_json(s.as_bytes(), Limits::default())
    }

    #[test]
    fn xml_and_json_with_the_same_fields_are_the_same_tree() {
        let a = xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><HoSo><A>1</A><L><X>p</X></L><L><X>q</X></L></HoSo>");
        let b = json(r#"{"L":[{"X":"p"},{"X":"q"}],"A":1}"#);
        assert_eq!(a.map(|n| n.canonical()), b.map(|n| n.canonical()));
    }

    #[test]
    fn predefined_and_character_references_are_decoded() {
        let n = xml("<HoSo><A>a &amp; b &#x1EA1; &lt;</A></HoSo>");
        assert_eq!(
            n,
            Ok(Node::Map(vec![(
                "A".into(),
                Node::Text("a & b ạ <".into())
            )]))
        );
    }

    #[test]
    fn dtds_and_entities_are_refused() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><HoSo><A>&lol2;</A></HoSo>";
        assert!(xml(laughs).is_err());
        assert!(xml("<HoSo><A>&ext;</A></HoSo>").is_err());
        assert!(xml("<HoSo><A>&#0;</A></HoSo>").is_err());
    }

    #[test]
    fn bad_xml_is_malformed() {
        for bad in [
            "<HoSo><A>1</B></HoSo>",
            "<HoSo><A>1</A>",
            "<Other/>",
            "<HoSo/><HoSo/>",
            "<HoSo>text<A>1</A></HoSo>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><HoSo/>",
            "",
        ] {
            assert!(xml(bad).is_err(), "{bad}");
        }
        assert!(parse_xml(b"<HoSo><A>\xff</A></HoSo>", "HoSo", Limits::default()).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_in_both_formats() {
        let deep_xml = format!("<HoSo>{}{}</HoSo>", "<a>".repeat(100), "</a>".repeat(100));
        assert!(xml(&deep_xml).is_err());
        let deep_json = r#"{"a":[1]}"#;
        assert!(json(deep_json).is_ok());
        let deeper = format!("{{{}\"x\":1{}}}", "\"a\":{".repeat(50), "}".repeat(50));
        assert!(json(&deeper).is_err());
    }

    #[test]
    fn bad_json_is_malformed() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            "[1]",
            r#"{"a":true}"#,
            r#"{"a":[[1]]}"#,
            "{",
            r#"{"a":1} x"#,
            "\"s\"",
        ] {
            assert!(json(bad).is_err(), "{bad}");
        }
    }
}
