//! A procedure's inter-agency steps (một cửa liên thông, contract section 9), checked once when
//! a mapping compiles: each step names what it is, the agency that acts, its working days, the
//! form fields and document components that agency receives, and the steps it waits for. The
//! agency itself is the configuration's; [`unknown_agencies`] holds the two together.

use super::spec::StepSpec;
use super::Mappings;
use std::collections::{BTreeMap, HashSet};

/// One step of a procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Unique in the procedure.
    pub id: String,
    /// The agency's e-ID (`[[agencies]]`).
    pub agency: String,
    /// What the agency does.
    pub name: String,
    /// Working days the agency has.
    pub working_days: u32,
    /// Form fields (targets, dotted) the agency receives.
    pub fields: Vec<String>,
    /// Document components the agency receives.
    pub documents: Vec<String>,
    /// Steps done before this one is forwarded.
    pub after: Vec<String>,
    /// The text that makes the agency act.
    pub legal_basis: String,
}

/// The steps of `specs`, every problem pushed on `errs`: `fields` are the form's targets and
/// `documents` its component codes.
pub fn compile_steps(
    specs: &[StepSpec],
    fields: &HashSet<String>,
    documents: &HashSet<&str>,
    errs: &mut Vec<String>,
) -> Vec<Step> {
    let ids: HashSet<&str> = specs.iter().map(|s| s.id.as_str()).collect();
    let mut seen = HashSet::new();
    for (i, s) in specs.iter().enumerate() {
        let at = format!("steps[{i}]");
        let id_ok = !s.id.is_empty()
            && s.id.len() <= 40
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            errs.push(format!(
                "{at}: id {:?}: 1 to 40 lower-case letters, digits and '-'",
                s.id
            ));
        }
        if !seen.insert(s.id.as_str()) {
            errs.push(format!("{at}: id {:?} is used twice", s.id));
        }
        if crate::domain::codes::AgencyCode::parse(&s.agency).is_err() {
            errs.push(format!(
                "{at}: agency {:?}: an agency e-ID looks like 000.00.12.H29",
                s.agency
            ));
        }
        if s.name.trim().is_empty() || s.legal_basis.trim().is_empty() {
            errs.push(format!("{at}: name and legal_basis are required"));
        }
        if s.working_days == 0 || s.working_days > 365 {
            errs.push(format!(
                "{at}: working_days {}: 1 to 365 working days",
                s.working_days
            ));
        }
        for f in s.fields.iter().filter(|f| !fields.contains(f.as_str())) {
            errs.push(format!("{at}: field {f:?} is not a field of the form"));
        }
        for d in s
            .documents
            .iter()
            .filter(|d| !documents.contains(d.as_str()))
        {
            errs.push(format!(
                "{at}: document {d:?} is not a component of the dossier"
            ));
        }
        for a in &s.after {
            if a == &s.id {
                errs.push(format!("{at}: a step cannot wait for itself"));
            } else if !ids.contains(a.as_str()) {
                errs.push(format!("{at}: after {a:?}: no such step"));
            }
        }
    }
    if let Some(cycle) = cycle(specs) {
        errs.push(format!("steps: a circle in `after`: {}", cycle.join(" → ")));
    }
    specs
        .iter()
        .map(|s| Step {
            id: s.id.clone(),
            agency: s.agency.clone(),
            name: s.name.clone(),
            working_days: s.working_days,
            fields: s.fields.clone(),
            documents: s.documents.clone(),
            after: s.after.clone(),
            legal_basis: s.legal_basis.clone(),
        })
        .collect()
}

/// A circle among the steps' `after`, as the ids round it (the first again at the end).
fn cycle(specs: &[StepSpec]) -> Option<Vec<String>> {
    let after: BTreeMap<&str, Vec<&str>> = specs
        .iter()
        .map(|s| {
            let known = s.after.iter().map(String::as_str).filter(|a| *a != s.id);
            (s.id.as_str(), known.collect())
        })
        .collect();
    // Depth first; `path` is the walk from the start, `done` the steps known to end.
    fn walk<'a>(
        at: &'a str,
        after: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut HashSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            let mut round: Vec<String> = path[start..].iter().map(|s| (*s).to_owned()).collect();
            round.push(at.to_owned());
            return Some(round);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at);
        for next in after.get(at).into_iter().flatten() {
            if let Some(c) = walk(next, after, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at);
        None
    }
    let mut done = HashSet::new();
    after
        .keys()
        .find_map(|start| walk(start, &after, &mut Vec::new(), &mut done))
}

/// Every step of every loaded version whose agency is not among `agencies` (the configuration's
/// `[[agencies]]` codes), as a problem naming the file and step.
pub fn unknown_agencies(mappings: &Mappings, agencies: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for p in mappings.loaded_versions() {
        for s in p
            .steps
            .iter()
            .filter(|s| !agencies.contains(&s.agency.as_str()))
        {
            problems.push(format!(
                "{}: step {:?}: agency {} is not among the configuration's [[agencies]]",
                p.file.display(),
                s.id,
                s.agency
            ));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, after: &[&str]) -> StepSpec {
        StepSpec {
            id: id.into(),
            agency: "000.00.25.H29".into(),
            name: "Thẩm định".into(),
            working_days: 5,
            fields: vec!["business.name".into()],
            documents: vec!["TP01".into()],
            after: after.iter().map(|a| (*a).to_owned()).collect(),
            legal_basis: "Nghị định 297/2025/NĐ-CP".into(),
        }
    }

    fn problems(specs: &[StepSpec]) -> Vec<String> {
        let fields: HashSet<String> = ["business.name".to_owned()].into();
        let documents: HashSet<&str> = ["TP01"].into();
        let mut errs = Vec::new();
        compile_steps(specs, &fields, &documents, &mut errs);
        errs
    }

    #[test]
    fn parallel_and_ordered_steps_compile() {
        let specs = [step("a", &[]), step("b", &[]), step("c", &["a", "b"])];
        assert_eq!(problems(&specs), Vec::<String>::new());
    }

    #[test]
    fn each_broken_step_is_named() {
        let mut bad = step("Bad id", &["nowhere"]);
        bad.agency = "police".into();
        bad.working_days = 0;
        bad.fields = vec!["owner.secret".into()];
        bad.documents = vec!["TP09".into()];
        assert_eq!(
            problems(&[bad, step("a", &["a"]), step("a", &[])]),
            [
                "steps[0]: id \"Bad id\": 1 to 40 lower-case letters, digits and '-'",
                "steps[0]: agency \"police\": an agency e-ID looks like 000.00.12.H29",
                "steps[0]: working_days 0: 1 to 365 working days",
                "steps[0]: field \"owner.secret\" is not a field of the form",
                "steps[0]: document \"TP09\" is not a component of the dossier",
                "steps[0]: after \"nowhere\": no such step",
                "steps[1]: a step cannot wait for itself",
                "steps[2]: id \"a\" is used twice",
            ]
        );
    }

    #[test]
    fn a_circle_in_after_is_named_round() {
        let specs = [step("a", &["c"]), step("b", &["a"]), step("c", &["b"])];
        assert_eq!(
            problems(&specs),
            ["steps: a circle in `after`: a → c → b → a"]
        );
        assert_eq!(problems(&[step("a", &[]), step("b", &["a"])]).len(), 0);
    }
}
