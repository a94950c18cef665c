//! The portal's JSON body read into the neutral tree: a serde visitor, bounded, refusing
//! duplicate keys and values the form never holds.

use super::tree::{malformed, strip_bom, Limits, Malformed, Node};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

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
        let mut seen = SeenKeys::Few(Vec::new());
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(&key) {
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

/// The keys of one object read so far: a list while it is short (comparing a few keys costs
/// less than hashing each, which stood out in intake's profile; docs/PERFORMANCE.md), a set
/// once it is long, so that an object of many keys is still checked in linear time.
enum SeenKeys {
    Few(Vec<String>),
    Many(std::collections::HashSet<String>),
}

impl SeenKeys {
    /// Keys kept in a list before they move to a set.
    const FEW: usize = 16;

    /// Adds `key`; false if it was there already.
    fn insert(&mut self, key: &str) -> bool {
        match self {
            SeenKeys::Few(keys) if keys.iter().any(|k| k == key) => false,
            SeenKeys::Few(keys) if keys.len() < Self::FEW => {
                keys.push(key.to_owned());
                true
            }
            SeenKeys::Few(keys) => {
                let mut set: std::collections::HashSet<String> = keys.drain(..).collect();
                set.insert(key.to_owned());
                *self = SeenKeys::Many(set);
                true
            }
            SeenKeys::Many(set) => set.insert(key.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Result<Node, Malformed> {
        parse_json(s.as_bytes(), Limits::default())
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

    /// A repeated key is found whether the object is short or long: before the keys move from
    /// the list to the set, as they move, and after.
    #[test]
    fn a_repeated_key_is_found_in_short_and_long_objects() {
        let object = |keys: &[usize]| {
            let fields: Vec<String> = keys.iter().map(|k| format!(r#""k{k}":"v""#)).collect();
            format!("{{{}}}", fields.join(","))
        };
        for (n, again) in [(3, 1), (16, 0), (16, 15), (17, 16), (40, 2), (40, 39)] {
            let mut keys: Vec<usize> = (0..n).collect();
            assert!(json(&object(&keys)).is_ok(), "{n} distinct keys");
            keys.push(again);
            let err = json(&object(&keys)).err().map(|e| e.0);
            assert_eq!(
                err.as_deref()
                    .map(|e| e.contains(&format!(r#"duplicate key "k{again}""#))),
                Some(true),
                "{n} keys then k{again} again: {err:?}"
            );
        }
    }
}
