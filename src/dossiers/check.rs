//! `motcua mappings check`: load every mapping, then run every fixture through intake
//! (parsing, envelope, mapping) and name the file and the problem for anything wrong.
//!
//! Each fixture is judged by the version of its procedure in force on its `NgayNopHoSo`, so an
//! old version is checked with fixtures of its own days. Valid fixtures must be accepted; every
//! mapped procedure must have at least one valid XML and one valid JSON fixture, and every
//! version at least one valid fixture. Invalid fixtures are named `<status>-<reason>.<ext>` and must be
//! rejected with that status (400 or 422: the statuses a body alone decides).

use super::intake::{BodyFormat, Intake, IntakeError, RulesDay};
use crate::domain::codes::ProcedureCode;
use crate::mapping::steps::unknown_agencies;
use crate::mapping::Mappings;
use chrono::Utc;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The outcome of a check.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Procedures loaded.
    pub procedures: usize,
    /// Dated versions of their rules.
    pub versions: usize,
    /// Valid fixtures accepted.
    pub valid_ok: usize,
    /// Invalid fixtures rejected as named.
    pub invalid_ok: usize,
    /// Every problem, as `file: problem`.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

fn format_of(path: &Path) -> Option<BodyFormat> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("xml") => Some(BodyFormat::Xml),
        Some("json") => Some(BodyFormat::Json),
        _ => None,
    }
}

fn files_in(dir: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files
        }
        Err(e) => {
            problems.push(format!("{}: cannot read the folder: {e}", dir.display()));
            Vec::new()
        }
    }
}

/// Checks the mappings in `mappings_dir` against the fixtures in `fixtures_dir` (which holds
/// `valid/` and `invalid/`) and every step's agency against `agencies` (the configuration's
/// codes), telling `progress` of each fixture done: `(done, of)`.
pub fn check_with(
    mappings_dir: &Path,
    fixtures_dir: &Path,
    agencies: &[&str],
    progress: &mut dyn FnMut(usize, usize),
) -> CheckReport {
    let mut report = CheckReport::default();
    let mappings = match Mappings::load_dir(mappings_dir) {
        Ok(m) => m,
        Err(problems) => {
            report.problems = problems.iter().map(ToString::to_string).collect();
            return report;
        }
    };
    // The mappings alone cannot know the agencies: the configuration names them.
    report
        .problems
        .extend(unknown_agencies(&mappings, agencies));
    report.procedures = mappings.len();
    report.versions = mappings.loaded_versions().count();
    let now = Utc::now();
    let mut coverage: BTreeMap<ProcedureCode, (usize, usize)> =
        mappings.iter().map(|(c, _)| (c.clone(), (0, 0))).collect();
    let mut versions_seen: BTreeMap<String, usize> = BTreeMap::new();

    let valid = files_in(&fixtures_dir.join("valid"), &mut report.problems);
    let invalid = files_in(&fixtures_dir.join("invalid"), &mut report.problems);
    let total = valid.len() + invalid.len();
    let mut done = 0;
    for file in valid {
        done += 1;
        progress(done, total);
        let Some(format) = format_of(&file) else {
            report.problems.push(format!(
                "{}: a fixture ends in .xml or .json",
                file.display()
            ));
            continue;
        };
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                report.problems.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        match Intake::build_under(&mappings, format, &bytes, now, RulesDay::Submitted) {
            Ok(d) => {
                report.valid_ok += 1;
                *versions_seen.entry(d.mapping_version.clone()).or_default() += 1;
                if let Some(c) = coverage.get_mut(&d.procedure) {
                    match format {
                        BodyFormat::Xml => c.0 += 1,
                        BodyFormat::Json => c.1 += 1,
                    }
                }
            }
            Err(IntakeError::Invalid(errors)) => {
                for e in errors {
                    report.problems.push(format!(
                        "{}: {} {}: {}",
                        file.display(),
                        e.field,
                        e.code,
                        e.message
                    ));
                }
            }
            Err(e) => report.problems.push(format!("{}: {e}", file.display())),
        }
    }
    for (code, (xml, json)) in &coverage {
        let versions = mappings.versions(code);
        let file = versions
            .first()
            .map(|p| p.file.display().to_string())
            .unwrap_or_default();
        if *xml == 0 || *json == 0 {
            report.problems.push(format!(
                "{file}: procedure {code} needs a valid XML and a valid JSON fixture (has {xml} XML, {json} JSON)"
            ));
        }
        for v in versions
            .iter()
            .filter(|v| !versions_seen.contains_key(&v.version))
        {
            report.problems.push(format!(
                "{file}: the version of {code} from {} has no valid fixture submitted in its days",
                v.effective_from
            ));
        }
    }

    for file in invalid {
        done += 1;
        progress(done, total);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let expected = name.split('-').next().unwrap_or_default();
        let (Some(format), "400" | "422") = (format_of(&file), expected) else {
            report.problems.push(format!(
                "{}: an invalid fixture is named 400-<reason> or 422-<reason>, ending in .xml or .json",
                file.display()
            ));
            continue;
        };
        let bytes = std::fs::read(&file).unwrap_or_default();
        let got = match Intake::build_under(&mappings, format, &bytes, now, RulesDay::Submitted) {
            Ok(_) => "accepted",
            Err(IntakeError::Malformed(_)) => "400",
            Err(IntakeError::Invalid(_)) => "422",
            Err(_) => "other",
        };
        if got == expected {
            report.invalid_ok += 1;
        } else {
            report.problems.push(format!(
                "{}: expected {expected}, got {got}",
                file.display()
            ));
        }
    }
    report
}
