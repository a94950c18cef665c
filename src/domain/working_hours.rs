//! An office's working hours: its working periods of the day, e.g. 07:30–11:30 and
//! 13:00–17:00, as configured (`calendar.working_hours`, and per office) and checked when read.
//! The calendar (`calendar`) counts working time within them.

use chrono::NaiveTime;

/// An office's working periods, e.g. 07:30–11:30 and 13:00–17:00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    periods: Vec<(NaiveTime, NaiveTime)>,
}

/// Why a list of working periods was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// A period is not `HH:MM-HH:MM`.
    #[error("{0:?}: a period is HH:MM-HH:MM")]
    Shape(String),
    /// A period ends before it starts.
    #[error("{0:?}: ends before it starts")]
    Backwards(String),
    /// A period starts before the one before it ends.
    #[error("{0:?}: periods must be in order and not overlap")]
    Overlap(String),
    /// No period at all.
    #[error("at least one working period is needed")]
    Empty,
}

impl WorkingHours {
    /// Parses periods written `HH:MM-HH:MM`; they must be ordered and must not overlap.
    pub fn parse(periods: &[String]) -> Result<Self, HoursError> {
        let mut out = Vec::new();
        for p in periods {
            let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M");
            let (start, end) = match p.split_once('-').map(|(a, b)| (time(a), time(b))) {
                Some((Ok(start), Ok(end))) => (start, end),
                _ => return Err(HoursError::Shape(p.clone())),
            };
            if end <= start {
                return Err(HoursError::Backwards(p.clone()));
            }
            if out.last().is_some_and(|(_, prev_end)| start < *prev_end) {
                return Err(HoursError::Overlap(p.clone()));
            }
            out.push((start, end));
        }
        if out.is_empty() {
            return Err(HoursError::Empty);
        }
        Ok(Self { periods: out })
    }

    /// The department's hours: 07:30–11:30 and 13:00–17:00.
    pub fn department() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        Self {
            periods: vec![(t(7, 30), t(11, 30)), (t(13, 0), t(17, 0))],
        }
    }

    /// The periods.
    pub fn periods(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.periods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_periods_are_refused_with_their_reason() {
        let parse = |periods: &[&str]| {
            WorkingHours::parse(&periods.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(
            parse(&["07:30-11:30", "13:00-17:00"]),
            Ok(WorkingHours::department())
        );
        assert_eq!(
            parse(&["7h30-11h30"]),
            Err(HoursError::Shape("7h30-11h30".into()))
        );
        assert_eq!(parse(&["07:30"]), Err(HoursError::Shape("07:30".into())));
        assert_eq!(
            parse(&["11:30-07:30"]),
            Err(HoursError::Backwards("11:30-07:30".into()))
        );
        assert_eq!(
            parse(&["07:30-12:00", "11:00-17:00"]),
            Err(HoursError::Overlap("11:00-17:00".into()))
        );
        assert_eq!(parse(&[]), Err(HoursError::Empty));
    }
}
