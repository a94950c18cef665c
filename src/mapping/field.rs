//! A mapping's form fields: what each holds and how it is checked ([`FieldRule`]), compiled and
//! checked once from the file's `[[fields]]` (paths, types, lengths, patterns, ranges,
//! allowed values, repeated groups) so that applying a mapping never meets a bad rule.

use super::spec::FieldSpec;
use crate::domain::applicant::IdentityKind;
use regex::Regex;
use std::collections::HashSet;

/// What a form field holds and how it is checked.
#[derive(Debug, Clone)]
pub enum FieldKind {
    /// Free text.
    Text {
        /// Shortest, in characters.
        min_len: Option<usize>,
        /// Longest, in characters.
        max_len: Option<usize>,
        /// Whole-text pattern.
        pattern: Option<Regex>,
    },
    /// A whole number.
    Integer {
        /// Smallest.
        min: Option<i64>,
        /// Largest.
        max: Option<i64>,
    },
    /// A decimal number, kept as normalised text so no precision is lost.
    Decimal {
        /// Smallest.
        min: Option<f64>,
        /// Largest.
        max: Option<f64>,
        /// Most digits after the point.
        scale: u32,
    },
    /// Whole VND.
    Money {
        /// Smallest.
        min: Option<i64>,
        /// Largest.
        max: Option<i64>,
    },
    /// A calendar date written `dd/MM/yyyy`.
    Date,
    /// A moment written `yyyyMMddHHmmss` (Vietnam time).
    DateTime,
    /// One of a fixed set of codes.
    Enum {
        /// `(code, label)`.
        values: Vec<(String, String)>,
    },
    /// A Vietnamese phone number.
    Phone,
    /// An e-mail address.
    Email,
    /// An identity number of a given kind, or of any kind.
    Identity(Option<IdentityKind>),
    /// Repeated items, each with its own fields.
    List {
        /// Item rules, read relative to each item.
        items: Vec<FieldRule>,
        /// Fewest items.
        min_items: Option<usize>,
        /// Most items.
        max_items: Option<usize>,
    },
}

/// One compiled field rule.
#[derive(Debug, Clone)]
pub struct FieldRule {
    /// Source path segments in `DuLieuBieuMau`.
    pub source: Vec<String>,
    /// Target path segments in the model.
    pub target: Vec<String>,
    /// Label on the paper form.
    pub label: Option<String>,
    /// Must be present.
    pub required: bool,
    /// Type and checks.
    pub kind: FieldKind,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Compiles one file's bytes; every problem found is returned.
/// Compiles a list of field specs found at `at` (for messages); problems go to `errs`.
pub(super) fn compile_fields(
    specs: &[FieldSpec],
    at: &str,
    errs: &mut Vec<String>,
) -> Vec<FieldRule> {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| compile_field(s, &format!("{at}[{i}] ({})", s.source), errs))
        .collect()
}

/// Compiles one field spec.
fn compile_field(s: &FieldSpec, at: &str, errs: &mut Vec<String>) -> Option<FieldRule> {
    let before = errs.len();
    let source: Vec<String> = s.source.split('/').map(str::to_owned).collect();
    if !source.iter().all(|seg| valid_segment(seg)) {
        errs.push(format!("{at}: source {:?}: names separated by /", s.source));
    }
    let target: Vec<String> = s.target.split('.').map(str::to_owned).collect();
    if !target.iter().all(|seg| valid_segment(seg)) {
        errs.push(format!(
            "{at}: target {:?}: names separated by dots",
            s.target
        ));
    }
    check_keys(s, at, errs);
    let kind = compile_kind(s, at, errs)?;
    (errs.len() == before).then(|| FieldRule {
        source,
        target,
        label: s.label.clone(),
        required: s.required,
        kind,
    })
}

/// Checks that every key given applies to the field's type, and that `min` is not above `max`.
fn check_keys(s: &FieldSpec, at: &str, errs: &mut Vec<String>) {
    let allowed: &[&str] = match s.kind.as_str() {
        "text" => &["min_len", "max_len", "pattern"],
        "integer" | "money" => &["min", "max"],
        "decimal" => &["min", "max", "scale"],
        "date" => &["format"],
        "enum" => &["values"],
        "identity" => &["identity"],
        "list" => &["items", "min_items", "max_items"],
        "phone" | "email" => &[],
        other => {
            errs.push(format!("{at}: unknown type {other:?}"));
            &[]
        }
    };
    let given = [
        ("min_len", s.min_len.is_some()),
        ("max_len", s.max_len.is_some()),
        ("pattern", s.pattern.is_some()),
        ("min", s.min.is_some()),
        ("max", s.max.is_some()),
        ("scale", s.scale.is_some()),
        ("format", s.format.is_some()),
        ("values", !s.values.is_empty()),
        ("identity", s.identity.is_some()),
        ("items", !s.items.is_empty()),
        ("min_items", s.min_items.is_some()),
        ("max_items", s.max_items.is_some()),
    ];
    for (key, present) in given {
        if present && !allowed.contains(&key) {
            errs.push(format!("{at}: `{key}` does not apply to type {:?}", s.kind));
        }
    }
    if let (Some(lo), Some(hi)) = (s.min, s.max) {
        if lo > hi {
            errs.push(format!("{at}: min is above max"));
        }
    }
}

/// What the field holds and how it is checked, from its type and the keys that go with it;
/// `None` for an unknown type (already reported by `check_keys`).
fn compile_kind(s: &FieldSpec, at: &str, errs: &mut Vec<String>) -> Option<FieldKind> {
    let whole = |v: Option<f64>, key: &str, errs: &mut Vec<String>| {
        v.and_then(|x| {
            if x.fract() == 0.0 && x.abs() < 9.0e15 {
                Some(x as i64)
            } else {
                errs.push(format!("{at}: {key} must be a whole number"));
                None
            }
        })
    };
    let kind = match s.kind.as_str() {
        "text" => {
            let pattern = s.pattern.as_ref().and_then(|p| {
                Regex::new(&format!("^(?:{p})$"))
                    .map_err(|e| errs.push(format!("{at}: pattern does not compile: {e}")))
                    .ok()
            });
            if let (Some(lo), Some(hi)) = (s.min_len, s.max_len) {
                if lo > hi {
                    errs.push(format!("{at}: min_len is above max_len"));
                }
            }
            FieldKind::Text {
                min_len: s.min_len,
                max_len: s.max_len,
                pattern,
            }
        }
        "integer" => FieldKind::Integer {
            min: whole(s.min, "min", errs),
            max: whole(s.max, "max", errs),
        },
        "money" => FieldKind::Money {
            min: whole(s.min, "min", errs),
            max: whole(s.max, "max", errs),
        },
        "decimal" => FieldKind::Decimal {
            min: s.min,
            max: s.max,
            scale: s.scale.unwrap_or(2).min(9),
        },
        "date" => match s.format.as_deref() {
            None | Some("dd/MM/yyyy") => FieldKind::Date,
            Some("yyyyMMddHHmmss") => FieldKind::DateTime,
            Some(other) => {
                errs.push(format!(
                    "{at}: format {other:?}: use dd/MM/yyyy or yyyyMMddHHmmss"
                ));
                FieldKind::Date
            }
        },
        "enum" => {
            if s.values.is_empty() {
                errs.push(format!("{at}: an enum needs values"));
            }
            let mut seen = HashSet::new();
            for v in &s.values {
                if !seen.insert(v.code.as_str()) {
                    errs.push(format!("{at}: value {:?} is listed twice", v.code));
                }
            }
            FieldKind::Enum {
                values: s
                    .values
                    .iter()
                    .map(|v| (v.code.clone(), v.label.clone()))
                    .collect(),
            }
        }
        "phone" => FieldKind::Phone,
        "email" => FieldKind::Email,
        "identity" => FieldKind::Identity(match s.identity.as_deref() {
            None | Some("any") => None,
            Some("personal_id") => Some(IdentityKind::PersonalId),
            Some("old_id") => Some(IdentityKind::OldId),
            Some("tax_code") => Some(IdentityKind::TaxCode),
            Some(other) => {
                errs.push(format!(
                    "{at}: identity {other:?}: personal_id, old_id, tax_code or any"
                ));
                None
            }
        }),
        "list" => {
            if s.items.is_empty() {
                errs.push(format!("{at}: a list needs items"));
            }
            let items = compile_fields(&s.items, &format!("{at}.items"), errs);
            check_targets(&items, &format!("{at}.items: "), errs);
            FieldKind::List {
                items,
                min_items: s.min_items,
                max_items: s.max_items,
            }
        }
        _ => return None,
    };
    Some(kind)
}

/// Targets must be unique, and none may be a prefix of another (it would be both a value and
/// an object). Sources must be unique too.
pub(super) fn check_targets(fields: &[FieldRule], at: &str, errs: &mut Vec<String>) {
    let mut sources = HashSet::new();
    for f in fields {
        if !sources.insert(f.source.join("/")) {
            errs.push(format!(
                "{at}source {:?} is mapped twice",
                f.source.join("/")
            ));
        }
    }
    for (i, a) in fields.iter().enumerate() {
        for b in &fields[i + 1..] {
            let n = a.target.len().min(b.target.len());
            if a.target[..n] == b.target[..n] {
                errs.push(format!(
                    "{at}targets {:?} and {:?} collide",
                    a.target.join("."),
                    b.target.join(".")
                ));
            }
        }
    }
}
