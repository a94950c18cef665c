//! The portal's XML body read into the neutral tree: quick-xml's event reader, bounded, with no
//! DTD, no entity other than the five predefined ones, and UTF-8 only.

use super::tree::{malformed, strip_bom, Limits, Malformed, Node};
use quick_xml::events::Event;
use quick_xml::Reader;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::json::parse_json;

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
    fn deep_nesting_is_refused_in_both_formats() {
        let deep_xml = format!("<HoSo>{}{}</HoSo>", "<a>".repeat(100), "</a>".repeat(100));
        assert!(xml(&deep_xml).is_err());
        let deep_json = r#"{"a":[1]}"#;
        assert!(json(deep_json).is_ok());
        let deeper = format!("{{{}\"x\":1{}}}", "\"a\":{".repeat(50), "}".repeat(50));
        assert!(json(&deeper).is_err());
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
}
