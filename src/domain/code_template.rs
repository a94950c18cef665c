//! Text that names a dossier's code before the code exists.
//!
//! A new dossier's answer and the messages its arrival queues name its code, which the store
//! draws inside the transaction that keeps them. Rather than calling back into the code that
//! renders them, the store is handed each text as a [`CodeTemplate`] and completes it with the
//! code it draws ([`CodeTemplate::fill`]).
//!
//! A template is made by rendering the text twice, with two placeholder codes of one length
//! that differ in every byte ([`CodeTemplate::render`]): the holes are exactly the runs where
//! both renderings hold their placeholders at the same offset. Whatever else the text holds — a
//! citizen's form that happens to contain a placeholder's characters — is the same in both
//! renderings and so is never taken for a hole.

/// Two placeholder codes of one length that differ in every byte and need no escaping in JSON.
const FIRST: &str = "@@@@@@@@@@@@@@@@@@@@@@@@";
const SECOND: &str = "########################";

/// Text with holes where the dossier's code goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTemplate {
    /// The text between the holes: one more piece than there are holes.
    pieces: Vec<String>,
}

/// The renderer did not give the same text around the code both times, or could not render
/// it at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text renders differently each time, or not at all: no template can be made of it")]
pub struct Unstable;

impl CodeTemplate {
    /// The template of what `render` makes of a code.
    pub fn render(render: impl Fn(&str) -> String) -> Result<Self, Unstable> {
        Self::from_renderings(render(FIRST), render(SECOND))
    }

    /// The template of what `make` builds around a code, written as JSON text: a value of a
    /// derived `Serialize` type, written straight to text (a `serde_json::Value` built for each
    /// rendering stood out in intake's profile; docs/PERFORMANCE.md). A value that cannot be
    /// written is [`Unstable`].
    pub fn json<T: serde::Serialize>(make: impl Fn(&'static str) -> T) -> Result<Self, Unstable> {
        let text = |code: &'static str| serde_json::to_string(&make(code)).map_err(|_| Unstable);
        Self::from_renderings(text(FIRST)?, text(SECOND)?)
    }

    /// The template of `text`, rendered with the code [`FIRST`], given `other`, the same
    /// rendered with [`SECOND`].
    fn from_renderings(text: String, other: String) -> Result<Self, Unstable> {
        if text.len() != other.len() {
            return Err(Unstable);
        }
        let (a, b) = (text.as_bytes(), other.as_bytes());
        let mut pieces = Vec::new();
        let (mut start, mut i) = (0, 0);
        while i < a.len() {
            if a[i] == b[i] {
                i += 1;
            } else if a[i..].starts_with(FIRST.as_bytes()) && b[i..].starts_with(SECOND.as_bytes())
            {
                // A hole starts and ends at an ASCII placeholder: both are character boundaries.
                pieces.push(text[start..i].to_owned());
                i += FIRST.len();
                start = i;
            } else {
                return Err(Unstable);
            }
        }
        pieces.push(text[start..].to_owned());
        Ok(CodeTemplate { pieces })
    }

    /// The text with `code` (a `DossierCode` as drawn, or as stored) in every hole.
    pub fn fill(&self, code: &str) -> String {
        self.pieces.join(code)
    }

    /// How many holes the text has.
    #[cfg(test)]
    fn holes(&self) -> usize {
        self.pieces.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::{AgencyCode, DossierCode};
    use chrono::NaiveDate;
    use serde_json::json;

    fn code() -> DossierCode {
        let agency = AgencyCode::parse("000.00.12.H29").unwrap_or_else(|e| panic!("{e}"));
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_else(|| panic!("a date"));
        DossierCode::new(&agency, day, 7)
    }

    #[test]
    fn a_filled_template_is_what_rendering_the_code_gives() {
        let render = |c: &str| json!({ "MaHoSo": c, "n": 1, "again": [c] }).to_string();
        let t = CodeTemplate::render(render).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.holes(), 2);
        assert_eq!(t.fill(code().as_str()), render(code().as_str()));
    }

    #[test]
    fn placeholder_characters_in_the_rest_of_the_text_are_not_holes() {
        let hostile = format!("{FIRST}{SECOND}@#{FIRST}");
        let render = |c: &str| json!({ "form": hostile, "MaHoSo": c, "tail": SECOND }).to_string();
        let t = CodeTemplate::render(render).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.holes(), 1);
        assert_eq!(t.fill(code().as_str()), render(code().as_str()));
    }

    #[test]
    fn a_text_that_changes_between_renderings_is_refused() {
        let calls = std::cell::Cell::new(0);
        let render = |c: &str| {
            calls.set(calls.get() + 1);
            format!("{c}{}", calls.get())
        };
        assert_eq!(CodeTemplate::render(render), Err(Unstable));
    }

    #[test]
    fn a_json_template_is_the_value_written_with_the_code_in_its_holes() {
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            #[serde(rename = "MaHoSo")]
            code: &'a str,
            n: i64,
            note: &'a str,
        }
        let hostile = format!("{FIRST}{SECOND}");
        let t = CodeTemplate::json(|code| Answer {
            code,
            n: 1,
            note: &hostile,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.holes(), 1);
        let code = code();
        assert_eq!(
            t.fill(code.as_str()),
            format!(
                r#"{{"MaHoSo":"{}","n":1,"note":"{hostile}"}}"#,
                code.as_str()
            )
        );
    }

    /// A value serde_json cannot write (a map whose keys are not strings) makes no template.
    #[test]
    fn a_value_that_cannot_be_written_as_json_is_refused() {
        let refused = CodeTemplate::json(|code| {
            std::collections::BTreeMap::from([((code, 1), "a map keyed by pairs")])
        });
        assert_eq!(refused, Err(Unstable));
    }
}
