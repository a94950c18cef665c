//! The city's monthly indicators (contract section 7; their definitions and the decisions
//! behind them are in docs/DOMAIN-RULES.md, "The city's monthly indicators"): the month's
//! bounds in Vietnam time, the figures of one procedure, and their sum over every procedure.
//! Pure: the store counts, this adds up and divides.

use super::time::vn_offset;
use chrono::{DateTime, Datelike as _, NaiveDate, TimeZone, Utc};
use serde::Serialize;

/// A calendar month, Vietnam time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// Reads `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        Some(Self { first })
    }

    /// The month `at` falls in, Vietnam time.
    pub fn of(at: DateTime<Utc>) -> Self {
        let day = super::time::vn_date(at);
        Self {
            first: day.with_day0(0).unwrap_or(day),
        }
    }

    /// `YYYY-MM`.
    pub fn label(&self) -> String {
        self.first.format("%Y-%m").to_string()
    }

    /// The first moment of the month and of the next (ms), Vietnam time.
    pub fn bounds(&self) -> (i64, i64) {
        let next = self
            .first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(self.first);
        let start = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|t| vn_offset().from_local_datetime(&t).single())
                .map_or(0, |t| t.timestamp_millis())
        };
        (start(self.first), start(next))
    }
}

/// A share: `count` of `of`, and their quotient (null when `of` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Share {
    /// Dossiers that meet the condition.
    pub count: i64,
    /// Dossiers counted.
    pub of: i64,
    /// `count / of`, rounded to four places; null when `of` is 0.
    pub share: Option<f64>,
}

impl Share {
    /// `count` of `of`.
    pub fn new(count: i64, of: i64) -> Self {
        let share = (of > 0).then(|| ((count as f64 / of as f64) * 10_000.0).round() / 10_000.0);
        Self { count, of, share }
    }

    fn add(self, other: Self) -> Self {
        Self::new(self.count + other.count, self.of + other.of)
    }
}

/// Dossiers received in the month, by `KenhThucHien`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Received {
    /// 1: at the counter.
    pub in_person: i64,
    /// 2: online.
    pub online: i64,
    /// 3: by post.
    pub post: i64,
    /// All of them.
    pub total: i64,
}

impl Received {
    /// Counts `n` dossiers of channel `channel`.
    pub fn count(&mut self, channel: i64, n: i64) {
        match channel {
            1 => self.in_person += n,
            2 => self.online += n,
            3 => self.post += n,
            _ => {}
        }
        self.total += n;
    }
}

/// Dossiers finished in the month, by timeliness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Finished {
    /// `truoc_han`.
    pub early: i64,
    /// `dung_han`.
    pub on_time: i64,
    /// `qua_han`.
    pub late: i64,
    /// All of them.
    pub total: i64,
}

impl Finished {
    /// Counts `n` dossiers finished with `timeliness`.
    pub fn count(&mut self, timeliness: &str, n: i64) {
        match timeliness {
            "truoc_han" => self.early += n,
            "dung_han" => self.on_time += n,
            "qua_han" => self.late += n,
            _ => {}
        }
        self.total += n;
    }
}

/// One procedure's figures for the month (or their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Received in the month, by channel.
    pub received: Received,
    /// Finished in the month, by timeliness.
    pub finished: Finished,
    /// Notices whose deemed-consent date fell in the month with no rejection.
    pub deemed_consent: i64,
    /// Open at the month's end (now, for the month under way).
    pub open_at_end: i64,
    /// Of those, overdue with the clock running (never a notice).
    pub overdue_at_end: i64,
    /// Received in the month with every status message delivered to the portal.
    pub synced: Share,
    /// Received in the month owing fees, paid through PayGov or VNPAY.
    pub paid_online: Share,
    /// Received in the month listing documents, every one stored.
    pub documents_stored: Share,
}

impl Figures {
    /// The sum of two procedures' figures.
    pub fn add(&self, o: &Self) -> Self {
        let r = |a: Received, b: Received| Received {
            in_person: a.in_person + b.in_person,
            online: a.online + b.online,
            post: a.post + b.post,
            total: a.total + b.total,
        };
        let f = |a: Finished, b: Finished| Finished {
            early: a.early + b.early,
            on_time: a.on_time + b.on_time,
            late: a.late + b.late,
            total: a.total + b.total,
        };
        Self {
            received: r(self.received, o.received),
            finished: f(self.finished, o.finished),
            deemed_consent: self.deemed_consent + o.deemed_consent,
            open_at_end: self.open_at_end + o.open_at_end,
            overdue_at_end: self.overdue_at_end + o.overdue_at_end,
            synced: self.synced.add(o.synced),
            paid_online: self.paid_online.add(o.paid_online),
            documents_stored: self.documents_stored.add(o.documents_stored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(month: u32, day: u32, h: u32, min: u32, sec: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(2026, month, day, h, min, sec).single()
    }

    #[test]
    fn a_month_runs_from_its_first_midnight_to_the_next_vietnam_time() {
        let m = Month::parse("2026-12");
        // 2026-12-01 00:00 +07 is 2026-11-30 17:00 UTC.
        let from = utc(11, 30, 17, 0, 0).map(|t| t.timestamp_millis());
        let to = utc(12, 31, 17, 0, 0).map(|t| t.timestamp_millis());
        assert_eq!(m.map(|m| m.bounds()), from.zip(to));
        assert_eq!(m.map(|m| m.label()).as_deref(), Some("2026-12"));
        assert_eq!(utc(11, 30, 17, 0, 0).map(Month::of), m);
        let before = utc(11, 30, 16, 59, 59).map(|t| Month::of(t).label());
        assert_eq!(before.as_deref(), Some("2026-11"));
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn shares_keep_their_counts_and_add_by_counts() {
        assert_eq!(Share::new(1, 3).share, Some(0.3333));
        assert_eq!(Share::new(0, 0).share, None);
        assert_eq!(Share::new(2, 3).add(Share::new(0, 0)), Share::new(2, 3));
        assert_eq!(Share::new(1, 2).add(Share::new(1, 4)).share, Some(0.3333));
    }
}
