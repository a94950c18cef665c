//! Vietnam time (UTC+7, no daylight saving) and the partners' `yyyyMMddHHmmss` wire format.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

/// The wire format of every partner timestamp.
pub const WIRE_FORMAT: &str = "%Y%m%d%H%M%S";

/// Vietnam's offset from UTC.
pub fn vn_offset() -> FixedOffset {
    // 7 hours east is always in range, so the fallback is never taken.
    FixedOffset::east_opt(7 * 3600).unwrap_or(Utc.fix())
}

/// A UTC instant seen on a Vietnamese wall clock.
pub fn to_vn(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&vn_offset())
}

/// Formats an instant as `yyyyMMddHHmmss` in Vietnam time. Written field by field: chrono's
/// `format` parses its pattern on every call, which stood out in a list page's profile (two
/// timestamps per item; docs/PERFORMANCE.md).
pub fn format_wire(at: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let vn = to_vn(at);
    if !(0..=9999).contains(&vn.year()) {
        return vn.format(WIRE_FORMAT).to_string();
    }
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        vn.year(),
        vn.month(),
        vn.day(),
        vn.hour(),
        vn.minute(),
        vn.second()
    )
}

/// Formats milliseconds since the Unix epoch as `yyyyMMddHHmmss` in Vietnam time.
pub fn format_wire_millis(millis: i64) -> String {
    from_millis(millis).map(format_wire).unwrap_or_default()
}

/// A stored moment (ms) as the wire writes it, `yyyyMMddHHmmss`, or null.
pub fn wire_or_null(millis: Option<i64>) -> serde_json::Value {
    millis.map_or(serde_json::Value::Null, |m| {
        serde_json::Value::String(format_wire_millis(m))
    })
}

/// A moment as people read it on the department's pages: `dd/MM/yyyy HH:mm`, Vietnam time.
pub fn format_people_millis(millis: i64) -> String {
    from_millis(millis)
        .map(|t| to_vn(t).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch to an instant (None when out of chrono's range).
pub fn from_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(millis)
}

/// Parses `yyyyMMddHHmmss` read as Vietnam time; `None` if it is not a real moment (a 60th
/// second, which chrono would read as a leap second, included).
pub fn parse_wire(text: &str) -> Option<DateTime<Utc>> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) || &text[12..] >= "60" {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(text, WIRE_FORMAT).ok()?;
    vn_offset()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Which end of a time range a bound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The range starts at the bound (`from`, `since`).
    Start,
    /// The range ends with the bound (`to`).
    End,
}

/// A bound of a time range as callers write it (`from`/`to` of the dossier list, `since` of an
/// outbox selection, `--from`/`--to` of the log's export): `yyyyMMdd`, a whole Vietnam day, or
/// `yyyyMMddHHmmss`, one second of Vietnam time. As a start, the first instant of what it
/// names; as an end, the first instant after it — so a range `[start, end)` holds the whole day
/// or second the caller named at either end. `None` if it is neither form or no real time.
pub fn parse_bound(text: &str, edge: Edge) -> Option<DateTime<Utc>> {
    let (start, length) = if text.len() == 8 {
        (
            parse_wire(&format!("{text}000000"))?,
            chrono::Duration::days(1),
        )
    } else {
        (parse_wire(text)?, chrono::Duration::seconds(1))
    };
    Some(match edge {
        Edge::Start => start,
        Edge::End => start + length,
    })
}

/// Parses `dd/MM/yyyy` (the form fields' date format); `None` if it is not a real date.
pub fn parse_form_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[2] != b'/' || bytes[5] != b'/' {
        return None;
    }
    NaiveDate::parse_from_str(text, "%d/%m/%Y").ok()
}

/// The Vietnamese calendar date of an instant.
pub fn vn_date(at: DateTime<Utc>) -> NaiveDate {
    to_vn(at).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_written_as_chrono_would() {
        let mut t: i64 = -62_135_596_800_000; // 0001-01-01
        while t < 253_402_300_799_000 {
            // 9999-12-31
            let Some(at) = from_millis(t) else {
                panic!("{t} is in chrono's range")
            };
            assert_eq!(
                format_wire(at),
                to_vn(at).format(WIRE_FORMAT).to_string(),
                "{t}"
            );
            t += 86_400_000 * 97 + 3_600_000 * 5 + 60_000 * 7 + 13_000;
        }
        assert_eq!(format_wire_millis(1_795_773_600_000), "20261127170000");
    }

    #[test]
    fn wire_times_are_read_and_written_in_vietnam_time() {
        let at = parse_wire("20261127080000").map(|t| t.to_rfc3339());
        assert_eq!(at.as_deref(), Some("2026-11-27T01:00:00+00:00"));
        let back = parse_wire("20261127080000").map(format_wire);
        assert_eq!(back.as_deref(), Some("20261127080000"));
    }

    #[test]
    fn a_bound_covers_the_whole_day_or_second_it_names_at_either_end() {
        let vn = |s: &str| parse_wire(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(
            parse_bound("20261130", Edge::Start),
            Some(vn("20261130000000"))
        );
        assert_eq!(
            parse_bound("20261130", Edge::End),
            Some(vn("20261201000000"))
        );
        assert_eq!(
            parse_bound("20261231", Edge::End),
            Some(vn("20270101000000"))
        );
        assert_eq!(
            parse_bound("20261130083000", Edge::Start),
            Some(vn("20261130083000"))
        );
        assert_eq!(
            parse_bound("20261130083000", Edge::End),
            Some(vn("20261130083001"))
        );
        for bad in [
            "2026-11-30",
            "20261131",
            "2026113",
            "20261130083060",
            "",
            "x",
        ] {
            assert_eq!(parse_bound(bad, Edge::Start), None, "{bad:?}");
        }
    }

    #[test]
    fn impossible_wire_times_are_refused() {
        for bad in [
            "20260230120000",
            "20261130235960",
            "2026113012000",
            "2026-11-27 08:00",
            "20261127246000",
            "+0261127080000",
        ] {
            assert!(parse_wire(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn form_dates_are_day_month_year() {
        assert_eq!(
            parse_form_date("29/02/2028")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2028-02-29")
        );
        assert!(parse_form_date("29/02/2027").is_none());
        assert!(parse_form_date("2027-02-01").is_none());
        assert!(parse_form_date("1/2/2027").is_none());
    }
}
