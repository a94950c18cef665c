//! The department's working-time calendar: working days (weekdays, less days off, plus swapped
//! working days) and arithmetic in working time within an office's hours (`working_hours`).
//!
//! Years are data (`config/calendar/<year>.toml`, read by `config`, parsed by
//! `calendar_year`). Arithmetic that reaches a year with no file fails with
//! [`CalendarMissing`] rather than count weekdays alone (a Tết it does not know of would pass
//! unseen). All times are Vietnam wall-clock times (`NaiveDateTime` at UTC+7).

use super::working_hours::WorkingHours;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use std::collections::{BTreeMap, BTreeSet};

/// One working day is eight working hours.
pub const SECONDS_PER_WORKING_DAY: i64 = 8 * 3600;

/// How far ahead arithmetic looks before giving up (a guard against a calendar with no
/// working time at all): ten years.
const HORIZON_DAYS: i64 = 3660;

/// One year's exceptions.
#[derive(Debug, Clone, Default)]
pub struct YearRules {
    /// Weekdays that are off.
    pub off: BTreeSet<NaiveDate>,
    /// Weekend days that are worked.
    pub worked: BTreeSet<NaiveDate>,
    /// Whether the year's notice has been published (`status = "announced"`).
    pub confirmed: bool,
}

/// Working-time arithmetic reached a year that has no calendar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no working calendar for {year}: add config/calendar/{year}.toml")]
pub struct CalendarMissing {
    /// The year.
    pub year: i32,
}

/// The working calendar.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearRules>,
}

/// Saturday or Sunday.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// A calendar from parsed years.
    pub fn from_years(years: impl IntoIterator<Item = (i32, YearRules)>) -> Self {
        Self {
            years: years.into_iter().collect(),
        }
    }

    /// The years that have rules.
    pub fn years(&self) -> impl Iterator<Item = (&i32, &YearRules)> {
        self.years.iter()
    }

    /// The last year with a file, if any.
    pub fn last_year(&self) -> Option<i32> {
        self.years.keys().next_back().copied()
    }

    /// Whether `d`'s year has a file.
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.years.contains_key(&d.year())
    }

    /// `Ok` if `d`'s year has a file.
    fn covered(&self, d: NaiveDate) -> Result<(), CalendarMissing> {
        if self.covers(d) {
            Ok(())
        } else {
            Err(CalendarMissing { year: d.year() })
        }
    }

    /// Whether `d` is a working day (by weekdays alone in a year without a file: arithmetic
    /// refuses such years, see [`CalendarMissing`]).
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        let rules = self.years.get(&d.year());
        if rules.is_some_and(|r| r.worked.contains(&d)) {
            return true;
        }
        !is_weekend(d) && !rules.is_some_and(|r| r.off.contains(&d))
    }

    /// The moment `seconds` of working time after `start`. With zero seconds, the next working
    /// moment at or after `start`. The result always lies in a working period of a working day
    /// (a period's end counts as inside it). Fails if it reaches a year without a file.
    pub fn add_working_time(
        &self,
        hours: &WorkingHours,
        start: NaiveDateTime,
        seconds: i64,
    ) -> Result<NaiveDateTime, CalendarMissing> {
        let mut left = seconds.max(0);
        let mut day = start.date();
        for _ in 0..HORIZON_DAYS {
            self.covered(day)?;
            if self.is_working_day(day) {
                for &(ps, pe) in hours.periods() {
                    let from = if day == start.date() {
                        ps.max(start.time())
                    } else {
                        ps
                    };
                    // A period's end still counts as inside it, but has no time left to give.
                    if from > pe || (from == pe && left > 0) {
                        continue;
                    }
                    let available = (pe - from).num_seconds();
                    if left <= available {
                        return Ok(day.and_time(from) + Duration::seconds(left));
                    }
                    left -= available;
                }
            }
            day = day.succ_opt().unwrap_or(day);
        }
        Ok(start + Duration::seconds(seconds))
    }

    /// The due moment for a processing time of `days` working days counted from `start`.
    pub fn due(
        &self,
        hours: &WorkingHours,
        start: NaiveDateTime,
        days: u32,
    ) -> Result<NaiveDateTime, CalendarMissing> {
        self.add_working_time(hours, start, i64::from(days) * SECONDS_PER_WORKING_DAY)
    }

    /// Working seconds in `[from, to)`. Fails if the span reaches a year without a file.
    pub fn working_time_between(
        &self,
        hours: &WorkingHours,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<i64, CalendarMissing> {
        if to <= from {
            return Ok(0);
        }
        let mut total = 0;
        let mut day = from.date();
        let mut guard = 0;
        while day <= to.date() && guard < HORIZON_DAYS {
            self.covered(day)?;
            if self.is_working_day(day) {
                for &(ps, pe) in hours.periods() {
                    let a = day.and_time(ps).max(from);
                    let b = day.and_time(pe).min(to);
                    if b > a {
                        total += (b - a).num_seconds();
                    }
                }
            }
            day = day.succ_opt().unwrap_or(day);
            guard += 1;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar_year::parse_year;
    use proptest::prelude::*;

    /// The shipped years, parsed as the gateway parses them.
    fn calendar() -> Calendar {
        let files = [
            include_str!("../../config/calendar/2026.toml"),
            include_str!("../../config/calendar/2027.toml"),
        ];
        Calendar::from_years(
            files
                .iter()
                .map(|text| parse_year(text).unwrap_or_else(|e| panic!("{e}"))),
        )
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn inside_working_hours(c: &Calendar, h: &WorkingHours, t: NaiveDateTime) -> bool {
        c.is_working_day(t.date())
            && h.periods()
                .iter()
                .any(|&(s, e)| t.time() >= s && t.time() <= e)
    }

    #[test]
    fn three_working_days_from_friday_before_tet_skip_the_whole_break() {
        let c = calendar();
        let due = c.due(&WorkingHours::department(), at("2026-02-13 16:00"), 3);
        // Fri 1h, Mon 23 8h, Tue 24 8h, Wed 25 4h + 3h.
        assert_eq!(due, Ok(at("2026-02-25 16:00")));
    }

    #[test]
    fn a_dossier_accepted_out_of_hours_starts_at_the_next_working_moment() {
        let c = calendar();
        let h = WorkingHours::department();
        assert_eq!(
            c.add_working_time(&h, at("2026-11-27 18:30"), 0),
            Ok(at("2026-11-30 07:30"))
        );
        assert_eq!(
            c.add_working_time(&h, at("2026-11-27 12:00"), 0),
            Ok(at("2026-11-27 13:00"))
        );
        assert_eq!(
            c.due(&h, at("2026-11-27 06:00"), 1),
            Ok(at("2026-11-27 17:00"))
        );
        assert_eq!(
            c.due(&h, at("2026-11-27 17:00"), 1),
            Ok(at("2026-11-30 17:00"))
        );
        assert_eq!(
            c.add_working_time(&h, at("2026-12-04 17:00"), 0),
            Ok(at("2026-12-04 17:00")),
            "a due time stays put"
        );
    }

    #[test]
    fn swapped_saturdays_are_worked_and_swapped_days_are_off() {
        let c = calendar();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        assert!(
            c.is_working_day(d("2026-01-10")),
            "Sat 10 Jan 2026 is worked"
        );
        assert!(!c.is_working_day(d("2026-01-02")), "Fri 2 Jan 2026 is off");
        assert!(c.is_working_day(d("2026-08-22")));
        assert!(!c.is_working_day(d("2026-08-31")));
        assert!(
            !c.is_working_day(d("2026-04-27")),
            "Hùng Kings made up on Monday"
        );
        assert!(
            !c.is_working_day(d("2027-05-03")),
            "1 May 2027 is a Saturday: made up on Monday"
        );
        assert!(
            c.is_working_day(d("2026-11-23")),
            "the proposed 23 Nov swap is not applied"
        );
        // 2 working days from Thu 31 Dec 2026 16:00: Dec 31 1h, Jan 1 off, weekend, Mon 4 8h, Tue 5 7h.
        assert_eq!(
            c.due(&WorkingHours::department(), at("2026-12-31 16:00"), 2),
            Ok(at("2027-01-05 16:00"))
        );
    }

    #[test]
    fn working_time_between_counts_only_working_periods() {
        let c = calendar();
        let h = WorkingHours::department();
        assert_eq!(
            c.working_time_between(&h, at("2026-11-27 11:00"), at("2026-11-27 14:00")),
            Ok(3600 + 1800)
        );
        assert_eq!(
            c.working_time_between(&h, at("2026-11-27 16:00"), at("2026-11-30 08:30")),
            Ok(7200)
        );
        assert_eq!(
            c.working_time_between(&h, at("2026-11-28 08:00"), at("2026-11-29 16:00")),
            Ok(0)
        );
    }

    fn any_moment() -> impl Strategy<Value = NaiveDateTime> {
        (0i64..(2 * 366 * 24 * 60)).prop_map(|m| at("2026-01-01 00:00") + Duration::minutes(m))
    }

    #[test]
    fn arithmetic_that_reaches_a_year_without_a_file_is_refused() {
        let c = calendar();
        let h = WorkingHours::department();
        // 40 working days from mid-December 2027 reach 2028, which has no file: Tết 2028 is
        // unknown, so no date is given.
        assert_eq!(
            c.due(&h, at("2027-12-15 09:00"), 40),
            Err(CalendarMissing { year: 2028 })
        );
        assert_eq!(
            c.working_time_between(&h, at("2027-12-30 09:00"), at("2028-01-03 09:00")),
            Err(CalendarMissing { year: 2028 })
        );
        assert_eq!(c.last_year(), Some(2027));
        assert!(c.covers(NaiveDate::from_ymd_opt(2027, 12, 31).unwrap_or_default()));
    }

    proptest! {
        // Over 2026 and 2027, whose files ship: a due time lies inside working hours and is
        // exactly the working time asked, unless it would reach 2028, which is then refused.
        #[test]
        fn a_due_time_is_inside_working_hours_or_refused_past_the_last_file(start in any_moment(), days in 1u32..40) {
            let c = calendar();
            let h = WorkingHours::department();
            match c.due(&h, start, days) {
                Ok(due) => {
                    prop_assert!(inside_working_hours(&c, &h, due), "{start} + {days} wd = {due}");
                    prop_assert_eq!(c.working_time_between(&h, start, due), Ok(i64::from(days) * SECONDS_PER_WORKING_DAY));
                }
                Err(missing) => prop_assert_eq!(missing, CalendarMissing { year: 2028 }),
            }
        }

        #[test]
        fn more_working_days_never_give_an_earlier_due_time(start in any_moment(), days in 0u32..40, more in 1u32..10) {
            let c = calendar();
            let h = WorkingHours::department();
            if let (Ok(later), Ok(earlier)) = (c.due(&h, start, days + more), c.due(&h, start, days)) {
                prop_assert!(later > earlier);
            }
        }
    }
}
