//! Turns one mapping file's TOML into checked [`Procedure`]s, one per dated version: every
//! rule is validated here, once, so applying a mapping to a submission never meets a bad rule.
//! A version the store kept (its canonical JSON) compiles the same way.

use super::field::{check_targets, compile_fields, FieldKind};
use super::spec::{FeeSpec, MappingFile};
use super::steps::compile_steps;
use super::versions::{expand, parse_day, DatedSpec};
use super::{
    CodeSource, DocumentComponent, FeeAmount, FeeVersion, Procedure, ProcedureKind, Variant,
};
use crate::domain::codes::ProcedureCode;
use crate::domain::money::Vnd;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Every version of one mapping file, oldest first.
pub fn compile_file(file: &Path, bytes: &[u8]) -> Result<Vec<Procedure>, Vec<String>> {
    let text = std::str::from_utf8(bytes).map_err(|_| vec!["the file is not UTF-8".to_owned()])?;
    let spec: MappingFile =
        toml::from_str(text).map_err(|e| vec![format!("not a valid mapping: {e}")])?;
    let mut errs = Vec::new();
    let mut procedures = Vec::new();
    for dated in expand(spec)? {
        match compile_version(file, &dated) {
            Ok(p) => procedures.push(p),
            // The first version's problems are named as the file names them; a later
            // version's carry its place in `[[versions]]`.
            Err(e) if dated.at == "procedure" => errs.extend(e),
            Err(e) => errs.extend(e.into_iter().map(|e| format!("{}: {e}", dated.at))),
        }
    }
    if errs.is_empty() {
        Ok(procedures)
    } else {
        Err(errs)
    }
}

/// A version the store kept under `id` (the SHA-256 of `text`, checked here).
pub fn compile_stored(id: &str, text: &str) -> Result<Procedure, Vec<String>> {
    if hex::encode(Sha256::digest(text.as_bytes())) != id {
        return Err(vec![format!(
            "the kept text of rules {id} does not match its id"
        )]);
    }
    let spec: MappingFile =
        serde_json::from_str(text).map_err(|e| vec![format!("kept rules {id}: {e}")])?;
    let mut versions = expand(spec)?;
    let (Some(mut dated), true) = (versions.pop(), versions.is_empty()) else {
        return Err(vec![format!("kept rules {id} hold more than one version")]);
    };
    // The kept text is the version's identity, whatever this build would write for it.
    dated.id = id.to_owned();
    dated.text = text.to_owned();
    compile_version(Path::new("(kept rules)"), &dated)
}

fn compile_version(file: &Path, dated: &DatedSpec) -> Result<Procedure, Vec<String>> {
    let spec = &dated.spec;
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
    let steps = compile_steps(
        &spec.steps,
        &fields.iter().map(|f| f.target.join(".")).collect(),
        &doc_codes,
        &mut errs,
    );
    let targets = FeeTargets {
        // A unit is counted by an integer field, or by the items of a list (the rooms listed,
        // not a number declared beside them).
        counts: fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Integer { .. } | FieldKind::List { .. }))
            .map(|f| f.target.join("."))
            .collect(),
        choices: fields
            .iter()
            .filter_map(|f| match &f.kind {
                FieldKind::Enum { values } => Some((
                    f.target.join("."),
                    values.iter().map(|(code, _)| code.clone()).collect(),
                )),
                _ => None,
            })
            .collect(),
    };
    let fees: Vec<FeeVersion> = spec
        .fees
        .iter()
        .enumerate()
        .filter_map(|(i, f)| compile_fee(i, f, &targets, &mut errs))
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

    let mut variant_codes = HashSet::new();
    for (i, v) in spec.variants.iter().enumerate() {
        if v.code.trim().is_empty() || v.name.trim().is_empty() || v.legal_basis.trim().is_empty() {
            errs.push(format!(
                "variants[{i}]: code, name and legal_basis are required"
            ));
        }
        if !variant_codes.insert(v.code.as_str()) {
            errs.push(format!("variants[{i}]: {:?} is listed twice", v.code));
        }
        if v.processing_days <= p.processing_days || v.processing_days > 365 {
            errs.push(format!(
                "variants[{i}] ({}): processing_days {} must be longer than the procedure's {} and at most 365",
                v.code, v.processing_days, p.processing_days
            ));
        }
    }

    match (code, code_source, kind, errs.is_empty()) {
        (Some(code), Some(code_source), Some(kind), true) => Ok(Procedure {
            code,
            code_source,
            code_note: p.code_note.clone(),
            name: p.name.clone(),
            field: p.field.clone(),
            handling_unit: p.handling_unit.clone(),
            kind,
            processing_days: p.processing_days,
            variants: spec
                .variants
                .iter()
                .map(|v| Variant {
                    code: v.code.clone(),
                    name: v.name.clone(),
                    processing_days: v.processing_days,
                    legal_basis: v.legal_basis.clone(),
                })
                .collect(),
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
            steps,
            file: file.to_owned(),
            effective_from: dated.from,
            effective_until: dated.until,
            version: dated.id.clone(),
            text: dated.text.clone(),
        }),
        _ => Err(errs),
    }
}

/// What a fee line may name: the fields that count units, and the `enum` fields (with their
/// values) that a `when` may test.
struct FeeTargets {
    counts: HashSet<String>,
    choices: HashMap<String, Vec<String>>,
}

fn compile_fee(
    i: usize,
    f: &FeeSpec,
    targets: &FeeTargets,
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
        Some(u) if targets.counts.contains(u) => Some(u.clone()),
        Some(u) => {
            errs.push(format!(
                "{at}: unit {u:?} is not the target of an integer or list field"
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
    let when = f.when.as_ref().and_then(|w| {
        match targets.choices.get(&w.field) {
            Some(values) if values.contains(&w.equals) => {
                return Some((w.field.clone(), w.equals.clone()))
            }
            Some(_) => errs.push(format!(
                "{at}: when {:?} is not one of the values of {:?}",
                w.equals, w.field
            )),
            None => errs.push(format!(
                "{at}: when {:?} is not the target of an enum field",
                w.field
            )),
        }
        None
    });
    if errs.len() > before {
        return None;
    }
    Some(FeeVersion {
        when,
        kind: f.kind.clone(),
        code: f.code.clone(),
        name: f.name.clone(),
        legal_basis: f.legal_basis.clone(),
        effective_from: effective_from?,
        amount: amount?,
    })
}
