//! Procedure mappings: the declarative files under `mappings/`, compiled into rules that turn
//! a submission's `DuLieuBieuMau` into the department's dossier model, plus each procedure's
//! documents, fees and processing time.
//!
//! Files are read at start (no rebuild needed to change one); every problem in every file is
//! reported with the file's name, so `motcua mappings check` can list them all at once. A file
//! holds its procedure's dated versions; each compiles to a [`Procedure`] of its own, and a
//! dossier is judged by the one in force the day it arrived ([`Mappings`]).

mod apply;
mod compile;
pub mod field;
mod set;
pub mod spec;
pub mod steps;
mod versions;

pub use field::{FieldKind, FieldRule};
pub use set::Mappings;

use crate::domain::codes::ProcedureCode;
use crate::domain::dossier::FeeLine;
use crate::domain::money::Vnd;
use crate::domain::validation::FieldError;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Whether the procedure's code was seen in a published source or stands in for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSource {
    /// Taken from a published catalogue page.
    Catalogue,
    /// An example: no published code was found; replace it before production use.
    Example,
}

/// Approval (a decision is issued) or notice (silence is consent when the time runs out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcedureKind {
    /// The department decides.
    Approval,
    /// The applicant may proceed at the deadline unless told otherwise.
    Notice,
}

/// A document component of a procedure.
#[derive(Debug, Clone)]
pub struct DocumentComponent {
    /// `MaThanhPhanHoSo`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Must be attached.
    pub required: bool,
}

/// A processing time the procedure provides for a case (`[[variants]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name in the API.
    pub code: String,
    /// What it is.
    pub name: String,
    /// Processing time in working days.
    pub processing_days: u32,
    /// The legal text that provides it.
    pub legal_basis: String,
}

/// How a fee version computes its amount.
#[derive(Debug, Clone)]
pub enum FeeAmount {
    /// A fixed amount.
    Fixed(Vnd),
    /// So much per unit, counted by an integer field, with an optional cap.
    PerUnit {
        /// Amount per unit.
        each: Vnd,
        /// Target path of the counting field.
        unit: String,
        /// Cap.
        max: Option<Vnd>,
    },
    /// Bands of units.
    Tiers {
        /// Target path of the counting field.
        unit: String,
        /// `(up_to, amount)`, the last band unbounded.
        bands: Vec<(Option<i64>, Vnd)>,
    },
}

/// One dated version of a fee line.
#[derive(Debug, Clone)]
pub struct FeeVersion {
    /// `phi` or `le_phi`.
    pub kind: String,
    /// Fee code.
    pub code: String,
    /// Fee name.
    pub name: String,
    /// Legal basis.
    pub legal_basis: String,
    /// In force from this day.
    pub effective_from: NaiveDate,
    /// Due only when this `enum` field (target path) holds this value.
    pub when: Option<(String, String)>,
    /// The amount rule.
    pub amount: FeeAmount,
}

/// A compiled procedure mapping.
#[derive(Debug, Clone)]
pub struct Procedure {
    /// Code stem.
    pub code: ProcedureCode,
    /// Where the code comes from.
    pub code_source: CodeSource,
    /// Where the code (or the lack of one) was seen.
    pub code_note: Option<String>,
    /// Official name.
    pub name: String,
    /// Lĩnh vực.
    pub field: String,
    /// Handling unit.
    pub handling_unit: String,
    /// Approval or notice.
    pub kind: ProcedureKind,
    /// Processing time in working days.
    pub processing_days: u32,
    /// Longer processing times the procedure provides for some cases.
    pub variants: Vec<Variant>,
    /// Legal texts.
    pub legal_basis: Vec<String>,
    /// Document components.
    pub documents: Vec<DocumentComponent>,
    /// Fee versions.
    pub fees: Vec<FeeVersion>,
    /// Form field rules.
    pub fields: Vec<FieldRule>,
    /// Parts other agencies act on (contract section 9), in the file's order.
    pub steps: Vec<steps::Step>,
    /// The file it came from.
    pub file: PathBuf,
    /// First day these rules are in force.
    pub effective_from: NaiveDate,
    /// Last day they are, where a later version or a text ends them.
    pub effective_until: Option<NaiveDate>,
    /// The version's id: the SHA-256 of `text`, recorded on each dossier judged by it.
    pub version: String,
    /// The version's rules as the store keeps them (canonical JSON).
    pub text: String,
}

impl Procedure {
    /// Whether these rules are in force on `day`.
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_until.is_none_or(|u| day <= u)
    }

    /// For each fee code, the newest version in force on `day`, by code.
    pub fn fees_in_force(&self, day: NaiveDate) -> Vec<&FeeVersion> {
        let mut newest: BTreeMap<&str, &FeeVersion> = BTreeMap::new();
        for v in self.fees.iter().filter(|v| v.effective_from <= day) {
            let slot = newest.entry(v.code.as_str()).or_insert(v);
            if v.effective_from > slot.effective_from {
                *slot = v;
            }
        }
        newest.into_values().collect()
    }

    /// The fee lines due for a dossier that arrived on `day` with mapped `form` data: for each
    /// fee code, the newest version in force that day. Lines that come to zero are left out; a
    /// line past the largest amount is a problem with the count it multiplies (never a zero fee).
    pub fn fees_for(
        &self,
        form: &serde_json::Value,
        day: NaiveDate,
    ) -> Result<Vec<FeeLine>, FieldError> {
        let mut lines = Vec::new();
        for v in self.fees_in_force(day) {
            if let Some((field, value)) = &v.when {
                if lookup(form, field).and_then(serde_json::Value::as_str) != Some(value) {
                    continue;
                }
            }
            let line = {
                // An integer field's value, or how many items a list holds.
                let count = |unit: &str| match lookup(form, unit) {
                    Some(serde_json::Value::Array(items)) => {
                        i64::try_from(items.len()).unwrap_or(i64::MAX)
                    }
                    Some(v) => v.as_i64().unwrap_or(0),
                    None => 0,
                };
                let amount = match &v.amount {
                    FeeAmount::Fixed(a) => *a,
                    FeeAmount::PerUnit { each, unit, max } => {
                        let total = each.checked_mul(count(unit)).ok_or_else(|| {
                            FieldError::new(
                                unit.as_str(),
                                "fee_overflow",
                                format!("the fee {} is out of range for this {unit}", v.code),
                            )
                        })?;
                        max.map_or(total, |m| total.min(m))
                    }
                    FeeAmount::Tiers { unit, bands } => {
                        let n = count(unit);
                        if n <= 0 {
                            Vnd::ZERO
                        } else {
                            bands
                                .iter()
                                .find(|(up_to, _)| up_to.is_none_or(|u| n <= u))
                                .map_or(Vnd::ZERO, |(_, a)| *a)
                        }
                    }
                };
                (amount > Vnd::ZERO).then(|| FeeLine {
                    kind: v.kind.clone(),
                    code: v.code.clone(),
                    name: v.name.clone(),
                    amount,
                    legal_basis: v.legal_basis.clone(),
                    effective_from: v.effective_from,
                })
            };
            lines.extend(line);
        }
        lines.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(lines)
    }
}

fn lookup<'a>(value: &'a serde_json::Value, dotted: &str) -> Option<&'a serde_json::Value> {
    dotted.split('.').try_fold(value, |v, key| v.get(key))
}

/// A problem with one mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::Path;

    const KARAOKE: &str = include_str!("../../mappings/1.001029-karaoke.toml");

    fn compiled(text: &str) -> Vec<Procedure> {
        let file = Path::new("mappings/1.001029-karaoke.toml");
        compile::compile_file(file, text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The version of `versions` in force on `on`.
    fn on(versions: &[Procedure], on: &str) -> Procedure {
        let on = day(on);
        let found = versions.iter().rev().find(|p| p.in_force_on(on));
        found
            .cloned()
            .unwrap_or_else(|| panic!("no version in force on {on}"))
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_karaoke_fee_counts_the_rooms_listed_not_the_number_declared() {
        let versions = compiled(KARAOKE);
        let rooms = |n: usize| {
            let listed: Vec<_> = (0..n)
                .map(|i| serde_json::json!({"name": format!("P{i}"), "area_m2": "25"}))
                .collect();
            // Declared: one room, whatever is listed.
            serde_json::json!({ "rooms_count": 1, "rooms": listed })
        };
        let amounts =
            |lines: Vec<FeeLine>| lines.iter().map(|l| l.amount.get()).collect::<Vec<_>>();
        let fee = |n| {
            let on_day = day("2026-11-30");
            on(&versions, "2026-11-30")
                .fees_for(&rooms(n), on_day)
                .map(amounts)
        };
        assert_eq!(fee(3), Ok(vec![3_000_000]));
        assert_eq!(fee(9), Ok(vec![6_000_000]), "capped at the maximum");
        // Under Circular 01/2021, in force before 05/01/2026: by bands of rooms listed.
        let before = |n| {
            let on_day = day("2025-12-01");
            on(&versions, "2025-12-01")
                .fees_for(&rooms(n), on_day)
                .map(amounts)
        };
        assert_eq!(before(3), Ok(vec![4_000_000]));
        assert_eq!(before(4), Ok(vec![6_000_000]));
        assert_eq!(before(6), Ok(vec![12_000_000]));
    }

    #[test]
    fn a_variant_not_longer_than_the_procedure_s_time_is_refused() {
        let text = include_str!("../../mappings/1.003784-nhap-khau-van-hoa-pham.toml");
        let file = Path::new("mappings/1.003784-nhap-khau-van-hoa-pham.toml");
        let Ok(p) = compile::compile_file(file, text.as_bytes()) else {
            panic!("the shipped mapping compiles");
        };
        assert_eq!(p.iter().map(|v| v.variants.len()).collect::<Vec<_>>(), [1]);
        let short = text.replacen("processing_days = 10", "processing_days = 2", 1);
        let Err(problems) = compile::compile_file(file, short.as_bytes()) else {
            panic!("a variant of 2 days beside a procedure of 2 compiled");
        };
        assert_eq!(
            problems,
            ["variants[0] (lay_y_kien_bo_nganh): processing_days 2 must be longer than the procedure's 2 and at most 365"]
        );
    }

    #[test]
    fn a_fee_past_the_largest_amount_is_a_problem_not_a_zero_fee() {
        // The karaoke fee counted by an integer field instead, to reach absurd counts.
        let text = KARAOKE.replace("unit = \"rooms\"", "unit = \"rooms_count\"");
        let k = on(&compiled(&text), "2026-11-30");
        let fees = |rooms: i64| {
            k.fees_for(
                &serde_json::json!({ "rooms_count": rooms }),
                day("2026-11-30"),
            )
        };
        for absurd in [2_000_000_000_000, -1] {
            let Err(problem) = fees(absurd) else {
                panic!("{absurd} rooms gave a fee");
            };
            assert_eq!(
                (problem.field.as_str(), problem.code),
                ("rooms_count", "fee_overflow"),
                "{absurd}"
            );
        }
    }

    #[test]
    fn a_fee_s_condition_must_name_an_enum_field_and_one_of_its_values() {
        let text = include_str!("../../mappings/9.900009-dieu-chinh-karaoke.toml");
        let file = Path::new("mappings/9.900009-dieu-chinh-karaoke.toml");
        let problems = |text: String| compile::compile_file(file, text.as_bytes()).err();
        assert_eq!(problems(text.to_owned()), None);
        assert_eq!(
            problems(text.replace("equals = \"1\"", "equals = \"yes\"")),
            Some(vec![
                "fees[0] (PHI_DC_KARAOKE_CHU): when \"yes\" is not one of the values of \"change.owner\"".to_owned()
            ])
        );
        assert_eq!(
            problems(text.replace("field = \"change.owner\"", "field = \"licence.number\"")),
            Some(vec![
                "fees[0] (PHI_DC_KARAOKE_CHU): when \"licence.number\" is not the target of an enum field".to_owned()
            ])
        );
    }
}
