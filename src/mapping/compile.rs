//! Turns one mapping file's TOML into a checked [`Procedure`]: every rule is validated here,
//! once, so applying a mapping to a submission never meets a bad rule.

use super::spec::{FeeSpec, FieldSpec, MappingFile};
use super::{CodeSource, DocumentComponent, FeeAmount, FeeVersion, Procedure, ProcedureKind};
use crate::domain::applicant::IdentityKind;
use crate::domain::codes::ProcedureCode;
use crate::domain::money::Vnd;
use chrono::NaiveDate;
use regex::Regex;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::Path;

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

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Compiles one file's bytes; every problem found is returned.
pub fn compile_file(file: &Path, bytes: &[u8]) -> Result<Procedure, Vec<String>> {
    let text = std::str::from_utf8(bytes).map_err(|_| vec!["the file is not UTF-8".to_owned()])?;
    let spec: MappingFile =
        toml::from_str(text).map_err(|e| vec![format!("not a valid mapping: {e}")])?;
    let mut errs = Vec::new();
    let p = &spec.procedure;

    let code = ProcedureCode::parse(&p.code)
        .map_err(|e| errs.push(format!("procedure.code {:?}: {e}", p.code)))
        .ok();
    let code_source = match p.code_source.as_str() {
        "catalogue" => Some(CodeSource::Catalogue),
        "example" => Some(CodeSource::Example),
        other => {
            errs.push(format!(
                "procedure.code_source {other:?}: use \"catalogue\" or \"example\""
            ));
            None
        }
    };
    if code_source == Some(CodeSource::Example) && p.code_note.is_none() {
        errs.push("procedure.code_note: an example code must say why it is one".into());
    }
    let kind = match p.kind.as_str() {
        "approval" => Some(ProcedureKind::Approval),
        "notice" => Some(ProcedureKind::Notice),
        other => {
            errs.push(format!(
                "procedure.kind {other:?}: use \"approval\" or \"notice\""
            ));
            None
        }
    };
    if p.processing_days == 0 || p.processing_days > 365 {
        errs.push(format!(
            "procedure.processing_days {}: 1 to 365 working days",
            p.processing_days
        ));
    }
    for (key, value) in [
        ("name", &p.name),
        ("field", &p.field),
        ("handling_unit", &p.handling_unit),
    ] {
        if value.trim().is_empty() {
            errs.push(format!("procedure.{key} is empty"));
        }
    }
    if parse_day(&p.effective_from).is_none() {
        errs.push(format!(
            "procedure.effective_from {:?}: a date YYYY-MM-DD",
            p.effective_from
        ));
    }

    let mut doc_codes = HashSet::new();
    for (i, d) in spec.documents.iter().enumerate() {
        if d.code.trim().is_empty() || d.name.trim().is_empty() {
            errs.push(format!("documents[{i}]: code and name are required"));
        }
        if !doc_codes.insert(d.code.as_str()) {
            errs.push(format!(
                "documents[{i}]: component {:?} is listed twice",
                d.code
            ));
        }
    }

    let fields = compile_fields(&spec.fields, "fields", &mut errs);
    check_targets(&fields, "", &mut errs);
    let integer_targets: HashSet<String> = fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Integer { .. }))
        .map(|f| f.target.join("."))
        .collect();
    let fees: Vec<FeeVersion> = spec
        .fees
        .iter()
        .enumerate()
        .filter_map(|(i, f)| compile_fee(i, f, &integer_targets, &mut errs))
        .collect();
    let mut versions = HashSet::new();
    for f in &fees {
        if !versions.insert((f.code.as_str(), f.effective_from)) {
            errs.push(format!(
                "fees: {:?} has two versions from {}",
                f.code, f.effective_from
            ));
        }
    }

    match (code, code_source, kind, errs.is_empty()) {
        (Some(code), Some(code_source), Some(kind), true) => Ok(Procedure {
            code,
            code_source,
            name: p.name.clone(),
            field: p.field.clone(),
            handling_unit: p.handling_unit.clone(),
            kind,
            processing_days: p.processing_days,
            legal_basis: p.legal_basis.clone(),
            documents: spec
                .documents
                .iter()
                .map(|d| DocumentComponent {
                    code: d.code.clone(),
                    name: d.name.clone(),
                    required: d.required,
                })
                .collect(),
            fees,
            fields,
            file: file.to_owned(),
            version: hex::encode(Sha256::digest(bytes)),
        }),
        _ => Err(errs),
    }
}

fn compile_fee(
    i: usize,
    f: &FeeSpec,
    integer_targets: &HashSet<String>,
    errs: &mut Vec<String>,
) -> Option<FeeVersion> {
    let at = format!("fees[{i}] ({})", f.code);
    let before = errs.len();
    if !matches!(f.kind.as_str(), "phi" | "le_phi") {
        errs.push(format!(
            "{at}: kind {:?}: use \"phi\" or \"le_phi\"",
            f.kind
        ));
    }
    let effective_from = parse_day(&f.effective_from);
    if effective_from.is_none() {
        errs.push(format!(
            "{at}: effective_from {:?}: a date YYYY-MM-DD",
            f.effective_from
        ));
    }
    let vnd = |v: i64, what: &str, errs: &mut Vec<String>| {
        Vnd::new(v).or_else(|| {
            errs.push(format!("{at}: {what} {v} is not an amount in VND"));
            None
        })
    };
    let mut unit = || match &f.unit {
        Some(u) if integer_targets.contains(u) => Some(u.clone()),
        Some(u) => {
            errs.push(format!(
                "{at}: unit {u:?} is not the target of an integer field"
            ));
            None
        }
        None => {
            errs.push(format!("{at}: a per-unit or tiered fee needs `unit`"));
            None
        }
    };
    let amount = match (f.amount, f.per_unit, f.tiers.is_empty()) {
        (Some(a), None, true) => vnd(a, "amount", errs).map(FeeAmount::Fixed),
        (None, Some(each), true) => {
            let unit = unit();
            let each = vnd(each, "per_unit", errs);
            let max = f.max.and_then(|m| vnd(m, "max", errs));
            match (unit, each) {
                (Some(unit), Some(each)) => Some(FeeAmount::PerUnit { each, unit, max }),
                _ => None,
            }
        }
        (None, None, false) => {
            let unit = unit();
            let mut bands = Vec::new();
            for (j, t) in f.tiers.iter().enumerate() {
                let last = j + 1 == f.tiers.len();
                if t.up_to.is_none() != last {
                    errs.push(format!("{at}: only the last tier has no up_to"));
                }
                if let Some(a) = vnd(t.amount, "tier amount", errs) {
                    bands.push((t.up_to, a));
                }
            }
            let ascending = bands.windows(2).all(|w| match (w[0].0, w[1].0) {
                (Some(a), Some(b)) => a < b,
                _ => true,
            });
            if !ascending {
                errs.push(format!("{at}: tiers must rise"));
            }
            unit.map(|unit| FeeAmount::Tiers { unit, bands })
        }
        _ => {
            errs.push(format!(
                "{at}: give exactly one of amount, per_unit or tiers"
            ));
            None
        }
    };
    if errs.len() > before {
        return None;
    }
    Some(FeeVersion {
        kind: f.kind.clone(),
        code: f.code.clone(),
        name: f.name.clone(),
        legal_basis: f.legal_basis.clone(),
        effective_from: effective_from?,
        amount: amount?,
    })
}

fn compile_fields(specs: &[FieldSpec], at: &str, errs: &mut Vec<String>) -> Vec<FieldRule> {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| compile_field(s, &format!("{at}[{i}] ({})", s.source), errs))
        .collect()
}

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
    (errs.len() == before).then(|| FieldRule {
        source,
        target,
        label: s.label.clone(),
        required: s.required,
        kind,
    })
}

/// Targets must be unique, and none may be a prefix of another (it would be both a value and
/// an object). Sources must be unique too.
fn check_targets(fields: &[FieldRule], at: &str, errs: &mut Vec<String>) {
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
