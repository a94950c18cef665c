//! Money in whole Vietnamese đồng.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in whole VND, never negative. VNPAY's ×100 exists only on its own wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(into = "i64", try_from = "i64")]
pub struct Vnd(i64);

impl From<Vnd> for i64 {
    fn from(v: Vnd) -> i64 {
        v.0
    }
}

/// An integer that is not an amount: negative, or past [`MAX_VND`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an amount in VND (0 to 1,000,000,000,000)")]
pub struct NotVnd(pub i64);

impl TryFrom<i64> for Vnd {
    type Error = NotVnd;
    fn try_from(amount: i64) -> Result<Self, NotVnd> {
        Vnd::new(amount).ok_or(NotVnd(amount))
    }
}

/// The largest amount the gateway accepts: a trillion đồng, far above any fee.
pub const MAX_VND: i64 = 1_000_000_000_000;

impl Vnd {
    /// Zero đồng.
    pub const ZERO: Vnd = Vnd(0);

    /// An amount from an integer; `None` when negative or absurdly large.
    pub fn new(amount: i64) -> Option<Self> {
        (0..=MAX_VND).contains(&amount).then_some(Self(amount))
    }

    /// Parses a whole-đồng amount written as digits only (no sign, separators or decimals).
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 13 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<i64>().ok().and_then(Self::new)
    }

    /// The amount as an integer.
    pub fn get(self) -> i64 {
        self.0
    }

    /// Sum of two amounts, `None` past the maximum.
    pub fn checked_add(self, other: Vnd) -> Option<Vnd> {
        self.0.checked_add(other.0).and_then(Self::new)
    }

    /// The amount times a count, `None` past the maximum.
    pub fn checked_mul(self, count: i64) -> Option<Vnd> {
        self.0.checked_mul(count).and_then(Self::new)
    }

    /// The sum of `amounts`, `None` past the maximum.
    pub fn total(amounts: impl IntoIterator<Item = Vnd>) -> Option<Vnd> {
        amounts
            .into_iter()
            .try_fold(Vnd::ZERO, |sum, a| sum.checked_add(a))
    }
}

impl fmt::Display for Vnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An amount as Vietnamese write it: `3.000.000 đồng`.
pub fn dong(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    format!("{out} đồng")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_dots() {
        assert_eq!(dong(3_000_000), "3.000.000 đồng");
        assert_eq!(dong(500), "500 đồng");
        assert_eq!(dong(12_500), "12.500 đồng");
    }

    #[test]
    fn amounts_add_up_to_the_maximum_and_no_further() {
        let big = Vnd::new(MAX_VND - 1).unwrap_or_default();
        let one = Vnd::new(1).unwrap_or_default();
        assert_eq!(Vnd::total([big, one]).map(Vnd::get), Some(MAX_VND));
        assert_eq!(Vnd::total([big, one, one]), None);
        assert_eq!(Vnd::total([]), Some(Vnd::ZERO));
        assert_eq!(Vnd::try_from(-1), Err(NotVnd(-1)));
        assert_eq!(
            serde_json::from_str::<Vnd>("-5").map_err(|e| e.to_string()),
            Err("-5 is not an amount in VND (0 to 1,000,000,000,000)".into())
        );
    }

    #[test]
    fn only_plain_whole_dong_parse() {
        assert_eq!(Vnd::parse("1000000").map(Vnd::get), Some(1_000_000));
        for bad in ["", "-1", "1.5", "1,000", " 1", "99999999999999"] {
            assert!(Vnd::parse(bad).is_none(), "{bad}");
        }
    }
}
