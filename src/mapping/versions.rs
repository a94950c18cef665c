//! A mapping file's dated versions: the file's own rules are the first version, and each
//! `[[versions]]` entry is laid over the version before it. The days must follow one another
//! with no overlap; each version is then a whole [`MappingFile`] of its own, with the canonical
//! text (JSON) that the store keeps and the id (its SHA-256) that a dossier records.

use super::spec::{MappingFile, VersionSpec};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// One version of a procedure's rules, whole.
#[derive(Debug, Clone)]
pub struct DatedSpec {
    /// Where errors in it are reported (`procedure` for the first version, `versions[i]` after).
    pub at: String,
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force: its own `effective_until`, else the day before the next version.
    pub until: Option<NaiveDate>,
    /// The rules.
    pub spec: MappingFile,
    /// The rules as the store keeps them.
    pub text: String,
    /// SHA-256 of `text`, hex: the version's id.
    pub id: String,
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The canonical text of one version's rules and its id.
pub fn canonical(spec: &MappingFile) -> Result<(String, String), String> {
    let text = serde_json::to_string(spec).map_err(|e| format!("cannot serialise: {e}"))?;
    let id = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((text, id))
}

fn laid_over(before: &MappingFile, v: &VersionSpec) -> MappingFile {
    let mut next = before.clone();
    let p = &mut next.procedure;
    p.effective_from.clone_from(&v.effective_from);
    p.effective_until.clone_from(&v.effective_until);
    let replace = |slot: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            slot.clone_from(value);
        }
    };
    replace(&mut p.name, &v.name);
    replace(&mut p.field, &v.field);
    replace(&mut p.handling_unit, &v.handling_unit);
    replace(&mut p.kind, &v.kind);
    if let Some(days) = v.processing_days {
        p.processing_days = days;
    }
    if let Some(basis) = &v.legal_basis {
        p.legal_basis.clone_from(basis);
    }
    if v.published_by.is_some() {
        p.published_by.clone_from(&v.published_by);
    }
    if let Some(documents) = &v.documents {
        next.documents.clone_from(documents);
    }
    if let Some(fees) = &v.fees {
        next.fees.clone_from(fees);
    }
    if let Some(fields) = &v.fields {
        next.fields.clone_from(fields);
    }
    if let Some(variants) = &v.variants {
        next.variants.clone_from(variants);
    }
    if let Some(steps) = &v.steps {
        next.steps.clone_from(steps);
    }
    next
}

/// Every version of a file, oldest first, or every problem with their days.
pub fn expand(mut file: MappingFile) -> Result<Vec<DatedSpec>, Vec<String>> {
    let later = std::mem::take(&mut file.versions);
    let mut specs = vec![("procedure".to_owned(), file)];
    for (i, v) in later.iter().enumerate() {
        let Some((_, before)) = specs.last() else {
            break;
        };
        let next = laid_over(before, v);
        specs.push((format!("versions[{i}]"), next));
    }
    let mut errs = Vec::new();
    let mut dated: Vec<DatedSpec> = Vec::new();
    for (at, spec) in specs {
        let p = &spec.procedure;
        let from = parse_day(&p.effective_from);
        if from.is_none() {
            errs.push(format!(
                "{at}.effective_from {:?}: a date YYYY-MM-DD",
                p.effective_from
            ));
        }
        let until = match &p.effective_until {
            None => None,
            Some(text) => {
                let day = parse_day(text);
                if day.is_none() {
                    errs.push(format!("{at}.effective_until {text:?}: a date YYYY-MM-DD"));
                }
                day
            }
        };
        let Some(from) = from else { continue };
        if let Some(until) = until.filter(|u| *u < from) {
            errs.push(format!(
                "{at}: in force until {until}, before its effective_from {from}"
            ));
        }
        if let Some(before) = dated.last_mut() {
            if from <= before.from {
                errs.push(format!(
                    "{at}: effective_from {from} must come after the version before ({})",
                    before.from
                ));
            } else if let Some(end) = before.until.filter(|end| *end >= from) {
                errs.push(format!(
                    "{at}: from {from} overlaps {}, in force until {end}",
                    before.at
                ));
            } else if before.until.is_none() {
                before.until = from.pred_opt();
            }
        }
        match canonical(&spec) {
            Ok((text, id)) => dated.push(DatedSpec {
                at,
                from,
                until,
                spec,
                text,
                id,
            }),
            Err(e) => errs.push(format!("{at}: {e}")),
        }
    }
    if errs.is_empty() {
        Ok(dated)
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KARAOKE: &str = include_str!("../../mappings/1.001029-karaoke.toml");

    fn file(text: &str) -> MappingFile {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn expanded(text: &str) -> Vec<DatedSpec> {
        expand(file(text)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn day(text: &str) -> Option<NaiveDate> {
        parse_day(text)
    }

    #[test]
    fn a_version_replaces_what_it_names_and_carries_the_rest_over() {
        let [old, linked, new] = <[DatedSpec; 3]>::try_from(expanded(KARAOKE))
            .unwrap_or_else(|v| panic!("{} versions", v.len()));
        let days = |s: &DatedSpec| (s.from, s.until);
        assert_eq!(
            days(&old),
            (day("2024-11-19").unwrap_or_default(), day("2025-11-16"))
        );
        assert_eq!(
            days(&linked),
            (day("2025-11-17").unwrap_or_default(), day("2026-01-04"))
        );
        assert_eq!(days(&new), (day("2026-01-05").unwrap_or_default(), None));
        // Named: the fee lines, the legal basis, the documents and the steps, replaced whole.
        let fee_bases = |s: &DatedSpec| -> Vec<String> {
            s.spec.fees.iter().map(|f| f.legal_basis.clone()).collect()
        };
        assert_eq!(fee_bases(&old), ["Thông tư 01/2021/TT-BTC"]);
        assert_eq!(fee_bases(&linked), ["Thông tư 01/2021/TT-BTC"]);
        assert_eq!(fee_bases(&new), ["Thông tư 110/2025/TT-BTC"]);
        assert_eq!(new.spec.procedure.legal_basis.len(), 4);
        let required =
            |s: &DatedSpec| -> Vec<bool> { s.spec.documents.iter().map(|d| d.required).collect() };
        assert_eq!(required(&old), [true, true, false]);
        assert_eq!(required(&linked), [true, false, false]);
        let steps = |s: &DatedSpec| -> Vec<String> {
            s.spec.steps.iter().map(|st| st.id.clone()).collect()
        };
        assert_eq!(steps(&old), Vec::<String>::new());
        assert_eq!(steps(&linked), ["nghiem-thu-pccc", "an-ninh-trat-tu"]);
        // Not named: carried over as they were.
        assert_eq!(steps(&new), steps(&linked));
        assert_eq!(required(&new), required(&linked));
        assert_eq!(
            (
                old.spec.procedure.processing_days,
                linked.spec.procedure.processing_days,
                new.spec.procedure.processing_days
            ),
            (5, 16, 16)
        );
        assert_eq!(new.spec.fields.len(), old.spec.fields.len());
        assert!(new.spec.versions.is_empty() && old.spec.versions.is_empty());
        assert!(old.id != linked.id && linked.id != new.id && old.id != new.id);
    }

    #[test]
    fn a_version_s_id_does_not_change_when_a_later_one_is_added() {
        let before = expanded(KARAOKE);
        let added = format!(
            "{KARAOKE}\n[[versions]]\neffective_from = \"2027-03-01\"\nprocessing_days = 7\n"
        );
        let after = expanded(&added);
        assert_eq!(after.len(), 4);
        assert_eq!(
            before.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            after[..3].iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            "a dossier's recorded id still names its version"
        );
        assert_eq!(after[2].until, day("2027-02-28"));
        assert_eq!(after[3].spec.procedure.processing_days, 7);
    }

    #[test]
    fn versions_out_of_order_or_overlapping_are_refused() {
        let problems = |text: String| expand(file(&text)).err().unwrap_or_default();
        let same_day = KARAOKE.replace(
            "[[versions]]\neffective_from = \"2026-01-05\"",
            "[[versions]]\neffective_from = \"2025-11-17\"",
        );
        assert_eq!(
            problems(same_day),
            ["versions[1]: effective_from 2025-11-17 must come after the version before (2025-11-17)"]
        );
        let overlapping = KARAOKE.replace(
            "effective_from = \"2024-11-19\"\n",
            "effective_from = \"2024-11-19\"\neffective_until = \"2026-02-01\"\n",
        );
        assert_eq!(
            problems(overlapping),
            ["versions[0]: from 2025-11-17 overlaps procedure, in force until 2026-02-01"]
        );
        let backwards = KARAOKE.replace(
            "effective_from = \"2024-11-19\"\n",
            "effective_from = \"2024-11-19\"\neffective_until = \"2024-01-01\"\n",
        );
        assert_eq!(
            problems(backwards),
            ["procedure: in force until 2024-01-01, before its effective_from 2024-11-19"]
        );
        let not_a_day = KARAOKE.replace(
            "[[versions]]\neffective_from = \"2026-01-05\"",
            "[[versions]]\neffective_from = \"05/01/2026\"",
        );
        assert_eq!(
            problems(not_a_day),
            ["versions[1].effective_from \"05/01/2026\": a date YYYY-MM-DD"]
        );
    }

    #[test]
    fn a_gap_an_ending_leaves_is_kept_as_written() {
        let ended = KARAOKE.replace(
            "effective_from = \"2024-11-19\"\n",
            "effective_from = \"2024-11-19\"\neffective_until = \"2025-11-05\"\n",
        );
        let versions = expanded(&ended);
        assert_eq!(
            versions
                .iter()
                .map(|v| (v.from, v.until))
                .collect::<Vec<_>>(),
            [
                (day("2024-11-19").unwrap_or_default(), day("2025-11-05")),
                (day("2025-11-17").unwrap_or_default(), day("2026-01-04")),
                (day("2026-01-05").unwrap_or_default(), None)
            ]
        );
    }
}
