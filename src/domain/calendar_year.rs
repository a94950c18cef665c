//! One year of the working calendar, as its file (`config/calendar/<year>.toml`) states it:
//! the weekdays that are off and the weekend days that are worked, each with its name, source
//! and certainty. Parsed from text; reading the folder is `config`'s.

use super::calendar::{is_weekend, YearRules};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    status: String,
    #[serde(default)]
    off: Vec<DayEntry>,
    #[serde(default)]
    worked: Vec<DayEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayEntry {
    date: NaiveDate,
    name: String,
    source: String,
    certainty: String,
}

/// Why a year file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YearError {
    /// Not TOML of the year file's shape.
    #[error("{0}")]
    Shape(String),
    /// `status` is neither `announced` nor `provisional`.
    #[error("status {0:?}: \"announced\" or \"provisional\"")]
    Status(String),
    /// A date outside the file's year.
    #[error("{date} is not in {year}")]
    OtherYear {
        /// The date.
        date: NaiveDate,
        /// The file's year.
        year: i32,
    },
    /// A day without its name or source.
    #[error("{0}: name and source are required")]
    Unsourced(NaiveDate),
    /// A certainty other than the three known.
    #[error("{0}: certainty is confirmed, secondary or provisional")]
    Certainty(NaiveDate),
    /// A weekday listed as a swapped working day.
    #[error("{0}: only a weekend day can be a swapped working day")]
    WorkedWeekday(NaiveDate),
    /// A day listed twice in one list.
    #[error("{0} is listed twice")]
    Twice(NaiveDate),
    /// A day both off and worked.
    #[error("{0} is both off and worked")]
    OffAndWorked(NaiveDate),
}

/// Parses one year file: its year and its exceptions.
pub fn parse_year(text: &str) -> Result<(i32, YearRules), YearError> {
    let file: YearFile = toml::from_str(text).map_err(|e| YearError::Shape(e.to_string()))?;
    let confirmed = match file.status.as_str() {
        "announced" => true,
        "provisional" => false,
        other => return Err(YearError::Status(other.to_owned())),
    };
    let mut rules = YearRules {
        confirmed,
        ..YearRules::default()
    };
    for (list, worked) in [(&file.off, false), (&file.worked, true)] {
        for e in list {
            if e.date.year() != file.year {
                return Err(YearError::OtherYear {
                    date: e.date,
                    year: file.year,
                });
            }
            if e.name.trim().is_empty() || e.source.trim().is_empty() {
                return Err(YearError::Unsourced(e.date));
            }
            if !matches!(
                e.certainty.as_str(),
                "confirmed" | "secondary" | "provisional"
            ) {
                return Err(YearError::Certainty(e.date));
            }
            let fresh = if worked {
                if !is_weekend(e.date) {
                    return Err(YearError::WorkedWeekday(e.date));
                }
                rules.worked.insert(e.date)
            } else {
                rules.off.insert(e.date)
            };
            if !fresh {
                return Err(YearError::Twice(e.date));
            }
        }
    }
    if let Some(d) = rules.off.intersection(&rules.worked).next() {
        return Err(YearError::OffAndWorked(*d));
    }
    Ok((file.year, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn bad_year_files_are_refused_with_their_reason() {
        let head = "year = 2026\nstatus = \"announced\"\n";
        let entry = |kind: &str, date: &str| {
            format!("[[{kind}]]\ndate = \"{date}\"\nname = \"x\"\nsource = \"y\"\ncertainty = \"confirmed\"\n")
        };
        let refused = |text: String| match parse_year(&text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        };
        assert_eq!(
            refused(format!("{head}{}", entry("off", "2027-01-01"))),
            YearError::OtherYear {
                date: day("2027-01-01"),
                year: 2026
            }
        );
        assert_eq!(
            refused(format!("{head}{}", entry("worked", "2026-01-05"))),
            YearError::WorkedWeekday(day("2026-01-05"))
        );
        assert_eq!(
            refused(format!(
                "{head}{}{}",
                entry("off", "2026-01-05"),
                entry("off", "2026-01-05")
            )),
            YearError::Twice(day("2026-01-05"))
        );
        assert_eq!(
            refused(format!(
                "{head}{}{}",
                entry("off", "2026-01-10"),
                entry("worked", "2026-01-10")
            )),
            YearError::OffAndWorked(day("2026-01-10"))
        );
        assert_eq!(
            refused("year = 2026\nstatus = \"maybe\"\n".into()),
            YearError::Status("maybe".into())
        );
        assert_eq!(
            refused(format!("{head}{}", entry("off", "2026-01-05")).replace("confirmed", "rumour")),
            YearError::Certainty(day("2026-01-05"))
        );
        assert!(matches!(
            refused("year = \"x\"".into()),
            YearError::Shape(_)
        ));
    }

    #[test]
    fn a_good_year_file_gives_its_days() {
        let text = "year = 2026\nstatus = \"provisional\"\n\
            [[off]]\ndate = \"2026-01-02\"\nname = \"n\"\nsource = \"s\"\ncertainty = \"secondary\"\n\
            [[worked]]\ndate = \"2026-01-10\"\nname = \"n\"\nsource = \"s\"\ncertainty = \"confirmed\"\n";
        let (year, rules) = parse_year(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(year, 2026);
        assert!(!rules.confirmed);
        assert_eq!(
            rules.off.iter().copied().collect::<Vec<_>>(),
            [day("2026-01-02")]
        );
        assert_eq!(
            rules.worked.iter().copied().collect::<Vec<_>>(),
            [day("2026-01-10")]
        );
    }
}
