//! The applicant (`ChuHoSo`): who they are, how they are identified, and how their identity
//! and phone numbers are checked and masked for logs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Kind of applicant (`LoaiDoiTuong`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    /// 1 — a citizen.
    Citizen,
    /// 2 — an enterprise.
    Enterprise,
    /// 3 — an agency.
    Agency,
    /// 4 — other.
    Other,
}

impl ApplicantKind {
    /// From the portal's number.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "1" => Self::Citizen,
            "2" => Self::Enterprise,
            "3" => Self::Agency,
            "4" => Self::Other,
            _ => return None,
        })
    }
}

/// Kind of identity number (`LoaiDinhDanh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// 1 — the 12-digit personal identification number (CCCD / định danh cá nhân).
    PersonalId,
    /// 2 — the old 9-digit identity card number (CMND).
    OldId,
    /// 3 — an enterprise tax code.
    TaxCode,
}

impl IdentityKind {
    /// From the portal's number.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "1" => Self::PersonalId,
            "2" => Self::OldId,
            "3" => Self::TaxCode,
            _ => return None,
        })
    }

    /// Whether `number` has this kind's shape. Tax codes are 10 digits, optionally with a
    /// 3-digit branch suffix (`0301234567-001`); since July 2025 a 12-digit personal id also
    /// serves as the tax code of a household business, so 12 digits are accepted too.
    pub fn accepts(self, number: &str) -> bool {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Self::PersonalId => digits(number, 12),
            Self::OldId => digits(number, 9),
            Self::TaxCode => match number.split_once('-') {
                Some((main, branch)) => digits(main, 10) && digits(branch, 3),
                None => digits(number, 10) || digits(number, 12),
            },
        }
    }

    /// What the number must look like, for error messages.
    pub fn expectation(self) -> &'static str {
        match self {
            Self::PersonalId => "a personal identification number has 12 digits",
            Self::OldId => "an old identity card number has 9 digits",
            Self::TaxCode => "a tax code has 10 digits, optionally -NNN, or 12 digits",
        }
    }
}

/// Masks all but the last `keep` characters: identity and phone numbers in logs.
pub fn mask(text: &str, keep: usize) -> String {
    let count = text.chars().count();
    let hidden = count.saturating_sub(keep);
    text.chars()
        .enumerate()
        .map(|(i, c)| if i < hidden { '*' } else { c })
        .collect()
}

/// Normalises a Vietnamese phone number to its `0…` form; `None` if it is not one.
/// Spaces, dots and dashes are ignored; `+84` and `84` prefixes become `0`.
pub fn normalize_phone(text: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+84") {
        rest.to_owned()
    } else if let Some(rest) = compact
        .strip_prefix("84")
        .filter(|r| r.len() >= 9 && !r.starts_with('0'))
    {
        rest.to_owned()
    } else {
        compact.strip_prefix('0')?.to_owned()
    };
    let ok = (9..=10).contains(&national.len())
        && national.bytes().all(|b| b.is_ascii_digit())
        && !national.starts_with('0');
    ok.then(|| format!("0{national}"))
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The applicant's address (`DiaChi`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    /// Province code (`MaTinh`).
    pub province: Option<String>,
    /// District code (`MaHuyen`); districts were abolished in mid-2025 but older data has them.
    pub district: Option<String>,
    /// Ward or commune code (`MaXa`).
    pub ward: Option<String>,
    /// Street address (`ChiTiet`).
    pub detail: Option<String>,
}

/// The applicant as the department's model keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// Full name (`HoTen`).
    pub name: String,
    /// Kind of applicant.
    pub kind: ApplicantKind,
    /// Kind of identity number.
    pub id_kind: IdentityKind,
    /// The identity number itself; never logged unmasked.
    pub id_number: String,
    /// Phone, normalised to `0…`.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Address.
    pub address: Option<Address>,
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("kind", &self.kind)
            .field("id_kind", &self.id_kind)
            .field("id_number", &mask(&self.id_number, 3))
            .field("phone", &self.phone.as_deref().map(|p| mask(p, 3)))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("province", &self.province)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_are_checked_by_kind() {
        assert!(IdentityKind::PersonalId.accepts("079203001234"));
        assert!(!IdentityKind::PersonalId.accepts("07920300123"));
        assert!(IdentityKind::OldId.accepts("025123456"));
        assert!(IdentityKind::TaxCode.accepts("0301234567"));
        assert!(IdentityKind::TaxCode.accepts("0301234567-001"));
        assert!(!IdentityKind::TaxCode.accepts("0301234567-1"));
    }

    #[test]
    fn masking_keeps_only_the_tail() {
        assert_eq!(mask("079203001234", 3), "*********234");
        assert_eq!(mask("12", 3), "12");
    }

    #[test]
    fn debug_output_never_shows_the_identity_number() {
        let a = Applicant {
            name: "Nguyễn Văn A".into(),
            kind: ApplicantKind::Citizen,
            id_kind: IdentityKind::PersonalId,
            id_number: "079203001234".into(),
            phone: Some("0901234567".into()),
            email: None,
            address: None,
        };
        let shown = format!("{a:?}");
        assert!(!shown.contains("079203001234"), "{shown}");
        assert!(!shown.contains("0901234567"), "{shown}");
        assert!(!shown.contains("Nguyễn"), "{shown}");
    }

    #[test]
    fn phones_normalise_to_the_national_form() {
        assert_eq!(
            normalize_phone("+84 901 234 567").as_deref(),
            Some("0901234567")
        );
        assert_eq!(
            normalize_phone("0901.234.567").as_deref(),
            Some("0901234567")
        );
        assert_eq!(
            normalize_phone("84901234567").as_deref(),
            Some("0901234567")
        );
        assert_eq!(
            normalize_phone("02838123456").as_deref(),
            Some("02838123456")
        );
        assert!(normalize_phone("12345").is_none());
        assert!(normalize_phone("0901abc567").is_none());
    }

    #[test]
    fn emails_are_plausible() {
        assert!(is_email("a@b.vn"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.vn"));
        assert!(!is_email("@c.vn"));
    }
}
