//! Every procedure's dated versions: the one in force on a day (intake, the catalogue), and the
//! one a dossier was judged by (every later step), found by the id the dossier recorded — among
//! the files loaded now, or among the versions the store kept from earlier files.

use super::compile::{compile_file, compile_stored};
use super::{MappingProblem, Procedure, ProcedureKind};
use crate::domain::codes::ProcedureCode;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every procedure the gateway knows, by code stem, each with its versions oldest first.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    procedures: BTreeMap<ProcedureCode, Vec<Arc<Procedure>>>,
    /// Every version by id: those of the files, and those the store kept ([`Mappings::adopt`]).
    by_id: HashMap<String, Arc<Procedure>>,
}

impl Mappings {
    /// Loads every `*.toml` file of `dir`; all problems in all files are returned together.
    /// A procedure's versions live in one file: a second file with the same code is refused.
    pub fn load_dir(dir: &Path) -> Result<Self, Vec<MappingProblem>> {
        let problem = |file: &Path, problem: String| MappingProblem {
            file: file.to_owned(),
            problem,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| vec![problem(dir, format!("cannot read the folder: {e}"))])?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(vec![problem(dir, "no *.toml mapping files".into())]);
        }
        let mut problems = Vec::new();
        let mut mappings = Self::default();
        for file in files {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(problem(&file, format!("cannot read: {e}")));
                    continue;
                }
            };
            let versions = match compile_file(&file, &bytes) {
                Ok(v) => v,
                Err(errs) => {
                    problems.extend(errs.into_iter().map(|e| problem(&file, e)));
                    continue;
                }
            };
            let Some(code) = versions.first().map(|p| p.code.clone()) else {
                continue;
            };
            if let Some(other) = mappings.procedures.get(&code).and_then(|v| v.first()) {
                problems.push(problem(
                    &file,
                    format!(
                        "procedure {code} is already mapped by {}: its versions belong in one file",
                        other.file.display()
                    ),
                ));
                continue;
            }
            let versions: Vec<Arc<Procedure>> = versions.into_iter().map(Arc::new).collect();
            for v in &versions {
                mappings.by_id.insert(v.version.clone(), v.clone());
            }
            mappings.procedures.insert(code, versions);
        }
        if problems.is_empty() {
            Ok(mappings)
        } else {
            Err(problems)
        }
    }

    /// Takes in the versions the store kept (`(id, text)`) that no file loaded now holds, so a
    /// dossier judged by one of them keeps it. Returns the problems of those that no longer
    /// compile: their dossiers fall back to the version in force the day they arrived.
    pub fn adopt(&mut self, kept: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let mut problems = Vec::new();
        for (id, text) in kept {
            if self.by_id.contains_key(&id) {
                continue;
            }
            match compile_stored(&id, &text) {
                Ok(p) => {
                    self.by_id.insert(id, Arc::new(p));
                }
                Err(errs) => problems.extend(errs),
            }
        }
        problems
    }

    /// The version of procedure `code` in force on `day`, if any is.
    pub fn in_force(&self, code: &ProcedureCode, day: NaiveDate) -> Option<&Arc<Procedure>> {
        self.procedures
            .get(code)?
            .iter()
            .rev()
            .find(|p| p.in_force_on(day))
    }

    /// The rules a dossier of `code` is judged by: the version of id `version` it recorded at
    /// intake, or, for a dossier whose version is known nowhere (stored before versions were
    /// kept), the one in force on `received`, the day it arrived.
    pub fn judged_by(
        &self,
        code: &ProcedureCode,
        version: &str,
        received: NaiveDate,
    ) -> Option<&Arc<Procedure>> {
        self.by_id
            .get(version)
            .filter(|p| p.code == *code)
            .or_else(|| self.in_force(code, received))
    }

    /// The versions of procedure `code`, oldest first (empty if none is mapped).
    pub fn versions(&self, code: &ProcedureCode) -> &[Arc<Procedure>] {
        self.procedures.get(code).map_or(&[], Vec::as_slice)
    }

    /// Each procedure's versions, by code.
    pub fn iter(&self) -> impl Iterator<Item = (&ProcedureCode, &[Arc<Procedure>])> {
        self.procedures.iter().map(|(c, v)| (c, v.as_slice()))
    }

    /// The codes of the procedures that are notices (in any version): their dossiers are
    /// never overdue.
    pub fn notice_codes(&self) -> Vec<String> {
        self.iter()
            .filter(|(_, versions)| versions.iter().any(|p| p.kind == ProcedureKind::Notice))
            .map(|(code, _)| code.as_str().to_owned())
            .collect()
    }

    /// Every version that the files loaded now hold.
    pub fn loaded_versions(&self) -> impl Iterator<Item = &Arc<Procedure>> {
        self.procedures.values().flatten()
    }

    /// How many procedures are mapped.
    pub fn len(&self) -> usize {
        self.procedures.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.procedures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Mappings {
        Mappings::load_dir(Path::new("mappings")).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn karaoke() -> ProcedureCode {
        ProcedureCode::parse("1.001029").unwrap_or_else(|e| panic!("{e}"))
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_version_in_force_is_the_one_whose_days_hold_the_day() {
        let m = shipped();
        let from = |d: &str| m.in_force(&karaoke(), day(d)).map(|p| p.effective_from);
        assert_eq!(from("2025-11-16"), Some(day("2024-11-19")));
        assert_eq!(from("2025-11-17"), Some(day("2025-11-17")));
        assert_eq!(from("2026-01-04"), Some(day("2025-11-17")));
        assert_eq!(from("2026-01-05"), Some(day("2026-01-05")));
        assert_eq!(from("2024-11-18"), None, "before the first version");
    }

    #[test]
    fn a_kept_version_is_adopted_and_a_tampered_one_is_refused() {
        let m = shipped();
        let old = m.versions(&karaoke())[0].clone();
        // A gateway whose files no longer hold the old version: only the kept text knows it.
        let mut later = Mappings::default();
        assert!(later
            .judged_by(&karaoke(), &old.version, day("2026-11-30"))
            .is_none());
        let tampered = old.text.replace("4000000", "400000");
        let problems = later.adopt([
            (old.version.clone(), old.text.clone()),
            ("f".repeat(64), tampered),
        ]);
        assert_eq!(
            problems,
            [format!(
                "the kept text of rules {} does not match its id",
                "f".repeat(64)
            )]
        );
        let Some(adopted) = later.judged_by(&karaoke(), &old.version, day("2026-11-30")) else {
            panic!("the kept version is found by its id");
        };
        assert_eq!(
            (
                adopted.effective_from,
                adopted.version.as_str(),
                adopted.fees.len()
            ),
            (old.effective_from, old.version.as_str(), 1)
        );
        // Adopted versions are never offered to new dossiers.
        assert!(later.in_force(&karaoke(), day("2025-06-01")).is_none());
    }
}
