//! Applying a compiled mapping to a submission's `DuLieuBieuMau`: every rule is checked,
//! every problem is collected, and the valid values are placed at their targets.

use super::field::{FieldKind, FieldRule};
use super::Procedure;
use crate::domain::applicant::{is_email, normalize_phone};
use crate::domain::form::Node;
use crate::domain::money::Vnd;
use crate::domain::time::{format_wire, parse_form_date, parse_wire, to_vn};
use crate::domain::validation::FieldError;
use serde_json::{Map, Value};

/// Root of error paths for form fields.
pub const FORM_ROOT: &str = "DuLieuBieuMau";

impl Procedure {
    /// Maps `form` into the department's model. Problems are appended to `errors`; the value
    /// returned is meaningful only when none were added.
    pub fn map_form(&self, form: &Node, errors: &mut Vec<FieldError>) -> Value {
        let mut out = Map::new();
        apply_rules(&self.fields, form, FORM_ROOT, &mut out, errors);
        Value::Object(out)
    }
}

fn apply_rules(
    rules: &[FieldRule],
    node: &Node,
    at: &str,
    out: &mut Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    for rule in rules {
        let path = format!("{at}.{}", rule.source.join("."));
        let Some(found) = resolve(node, &rule.source, &path, errors) else {
            continue;
        };
        let value = match &rule.kind {
            FieldKind::List {
                items,
                min_items,
                max_items,
            } => {
                let count = found.len();
                if count == 0 {
                    if rule.required {
                        errors.push(FieldError::required(&path));
                    }
                    continue;
                }
                if min_items.is_some_and(|m| count < m) {
                    errors.push(FieldError::new(
                        &path,
                        "too_few",
                        format!("at least {} items", min_items.unwrap_or(0)),
                    ));
                }
                if max_items.is_some_and(|m| count > m) {
                    errors.push(FieldError::new(
                        &path,
                        "too_many",
                        format!("at most {} items", max_items.unwrap_or(0)),
                    ));
                }
                let mut list = Vec::with_capacity(count);
                for (i, item) in found.into_iter().enumerate() {
                    let item_at = format!("{path}[{i}]");
                    if let Node::Text(t) = item {
                        if !t.trim().is_empty() {
                            errors.push(FieldError::new(
                                &item_at,
                                "wrong_type",
                                "each item must be an object",
                            ));
                        }
                        continue;
                    }
                    let mut obj = Map::new();
                    apply_rules(items, item, &item_at, &mut obj, errors);
                    list.push(Value::Object(obj));
                }
                Value::Array(list)
            }
            kind => {
                if found.len() > 1 {
                    errors.push(FieldError::new(
                        &path,
                        "repeated",
                        "this field takes one value",
                    ));
                    continue;
                }
                let text = match found.first() {
                    None => None,
                    Some(Node::Text(t)) => Some(t.trim()).filter(|t| !t.is_empty()),
                    Some(Node::Map(_)) => {
                        errors.push(FieldError::new(
                            &path,
                            "wrong_type",
                            "a value is expected, not an object",
                        ));
                        continue;
                    }
                };
                let Some(text) = text else {
                    if rule.required {
                        errors.push(FieldError::required(&path));
                    }
                    continue;
                };
                match convert(kind, text) {
                    Ok(v) => v,
                    Err((code, message)) => {
                        errors.push(FieldError::new(&path, code, message));
                        continue;
                    }
                }
            }
        };
        place(out, &rule.target, value);
    }
}

/// Follows `source` from `node`; the last segment may repeat (a list). Intermediate segments
/// must be single objects.
fn resolve<'a>(
    node: &'a Node,
    source: &[String],
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<&'a Node>> {
    let (last, parents) = source.split_last()?;
    let mut current = node;
    for seg in parents {
        let mut it = current.children(seg);
        match (it.next(), it.next()) {
            (None, _) => return Some(Vec::new()),
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    path,
                    "repeated",
                    format!("{seg} takes one value"),
                ));
                return None;
            }
            (Some(Node::Text(t)), None) if t.trim().is_empty() => return Some(Vec::new()),
            (Some(Node::Text(_)), None) => {
                errors.push(FieldError::new(
                    path,
                    "wrong_type",
                    format!("{seg} must be an object"),
                ));
                return None;
            }
            (Some(next), None) => current = next,
        }
    }
    Some(current.children(last).collect())
}

fn place(out: &mut Map<String, Value>, target: &[String], value: Value) {
    let Some((last, parents)) = target.split_last() else {
        return;
    };
    let mut current = out;
    for seg in parents {
        let entry = current
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        current = next;
    }
    current.insert(last.clone(), value);
}

type Problem = (&'static str, String);

fn parse_integer(text: &str) -> Result<i64, Problem> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(("invalid_format", "a whole number".into()));
    }
    text.parse()
        .map_err(|_| ("invalid_format", "a whole number".into()))
}

fn range_check<T: PartialOrd + std::fmt::Display>(
    v: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), Problem> {
    if let Some(lo) = min.filter(|lo| v < *lo) {
        return Err(("out_of_range", format!("at least {lo}")));
    }
    if let Some(hi) = max.filter(|hi| v > *hi) {
        return Err(("out_of_range", format!("at most {hi}")));
    }
    Ok(())
}

fn convert(kind: &FieldKind, text: &str) -> Result<Value, Problem> {
    match kind {
        FieldKind::Text {
            min_len,
            max_len,
            pattern,
        } => {
            let n = text.chars().count();
            if let Some(m) = min_len.filter(|m| n < *m) {
                return Err(("too_short", format!("at least {m} characters")));
            }
            if let Some(m) = max_len.filter(|m| n > *m) {
                return Err(("too_long", format!("at most {m} characters")));
            }
            if pattern.as_ref().is_some_and(|p| !p.is_match(text)) {
                return Err(("pattern", "does not have the expected form".into()));
            }
            Ok(Value::String(text.to_owned()))
        }
        FieldKind::Integer { min, max } => {
            let v = parse_integer(text)?;
            range_check(v, *min, *max)?;
            Ok(Value::from(v))
        }
        FieldKind::Money { min, max } => {
            let v =
                Vnd::parse(text).ok_or(("invalid_format", "whole VND, digits only".to_owned()))?;
            range_check(v.get(), *min, *max)?;
            Ok(Value::from(v.get()))
        }
        FieldKind::Decimal { min, max, scale } => {
            let (int, frac) = text.split_once('.').unwrap_or((text, ""));
            let int_digits = int.strip_prefix('-').unwrap_or(int);
            let shape = !int_digits.is_empty()
                && int_digits.len() <= 15
                && int_digits.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(text.contains('.') && frac.is_empty());
            if !shape {
                return Err(("invalid_format", "a decimal number such as 45.5".into()));
            }
            if frac.len() > *scale as usize {
                return Err((
                    "invalid_format",
                    format!("at most {scale} digits after the point"),
                ));
            }
            let v: f64 = text
                .parse()
                .map_err(|_| ("invalid_format", "a decimal number".to_owned()))?;
            range_check(v, *min, *max)?;
            let frac = frac.trim_end_matches('0');
            let int = int.trim_start_matches('0');
            let int = if int.is_empty() || int == "-" {
                format!("{int}0")
            } else {
                int.to_owned()
            };
            Ok(Value::String(if frac.is_empty() {
                int
            } else {
                format!("{int}.{frac}")
            }))
        }
        FieldKind::Date => parse_form_date(text)
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or(("invalid_format", "a date dd/MM/yyyy".into())),
        FieldKind::DateTime => parse_wire(text)
            .map(|t| Value::String(to_vn(t).to_rfc3339()))
            .ok_or((
                "invalid_format",
                format!(
                    "a time yyyyMMddHHmmss, e.g. {}",
                    format_wire(chrono::Utc::now())
                ),
            )),
        FieldKind::Enum { values } => values
            .iter()
            .find(|(code, _)| code == text)
            .map(|(code, _)| Value::String(code.clone()))
            .ok_or_else(|| {
                let codes: Vec<&str> = values.iter().map(|(c, _)| c.as_str()).collect();
                ("not_allowed", format!("one of {}", codes.join(", ")))
            }),
        FieldKind::Phone => normalize_phone(text)
            .map(Value::String)
            .ok_or(("invalid_format", "a Vietnamese phone number".into())),
        FieldKind::Email => {
            if is_email(text) {
                Ok(Value::String(text.to_owned()))
            } else {
                Err(("invalid_format", "an e-mail address".into()))
            }
        }
        FieldKind::Identity(kind) => {
            use crate::domain::applicant::IdentityKind::{OldId, PersonalId, TaxCode};
            let ok = match kind {
                Some(k) => k.accepts(text),
                None => [PersonalId, OldId, TaxCode].iter().any(|k| k.accepts(text)),
            };
            if ok {
                Ok(Value::String(text.to_owned()))
            } else {
                Err((
                    "invalid_format",
                    kind.map_or("an identity number", |k| k.expectation())
                        .to_owned(),
                ))
            }
        }
        FieldKind::List { .. } => Err(("wrong_type", "a list".into())),
    }
}
