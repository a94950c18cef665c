//! Identifiers: the agency e-ID, the department's dossier code `MaHoSo`, the procedure code
//! `MaTTHC` and the portal's dossier id `MaHoSoQG`. Each is built only by parsing.

use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;
use thiserror::Error;

/// A code that did not parse; the message says what was expected.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct CodeError(pub &'static str);

/// The agency's e-ID, e.g. `000.00.12.H29` (HCMC agencies end in `H29`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AgencyCode(String);

impl AgencyCode {
    /// Parses `ddd.dd.dd.Xdd`.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let b = text.as_bytes();
        let shape = b.len() == 13
            && b[..3].iter().all(u8::is_ascii_digit)
            && b[3] == b'.'
            && b[4..6].iter().all(u8::is_ascii_digit)
            && b[6] == b'.'
            && b[7..9].iter().all(u8::is_ascii_digit)
            && b[9] == b'.'
            && b[10].is_ascii_uppercase()
            && b[11..].iter().all(u8::is_ascii_digit);
        if shape {
            Ok(Self(text.to_owned()))
        } else {
            Err(CodeError("an agency e-ID looks like 000.00.12.H29"))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province suffix, e.g. `H29`.
    pub fn province(&self) -> &str {
        &self.0[10..]
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = CodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The department's dossier code `<agency>-<yyMMdd>-<NNNN>` (a fifth digit past 9999).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DossierCode(String);

impl DossierCode {
    /// The code of the `sequence`-th dossier that arrived on `day` (Vietnam date).
    pub fn new(agency: &AgencyCode, day: NaiveDate, sequence: u32) -> Self {
        Self(format!(
            "{}-{}-{:04}",
            agency,
            day.format("%y%m%d"),
            sequence
        ))
    }

    /// Parses a code given by a caller (the internal API's path).
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        const MSG: &str = "a dossier code looks like 000.00.12.H29-261127-0001";
        let (agency, rest) = text.split_at_checked(13).ok_or(CodeError(MSG))?;
        AgencyCode::parse(agency).map_err(|_| CodeError(MSG))?;
        let rest = rest.strip_prefix('-').ok_or(CodeError(MSG))?;
        let (day, seq) = rest.split_once('-').ok_or(CodeError(MSG))?;
        let day_ok = day.len() == 6 && day.bytes().all(|b| b.is_ascii_digit());
        let seq_ok = (4..=6).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit());
        if day_ok && seq_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(CodeError(MSG))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province suffix of the agency that owns it, e.g. `H29`.
    pub fn province(&self) -> &str {
        // Parsed: the first 13 bytes are an agency e-ID, whose last three are its province.
        self.0.get(10..13).unwrap_or_default()
    }
}

impl fmt::Display for DossierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A national procedure code stem such as `1.001029`.
///
/// The portal may send the stem or the province form `1.001029.000.00.00.H29`; both parse to
/// the stem, which is what mappings and the store keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProcedureCode(String);

impl ProcedureCode {
    /// Parses `d.dddddd`, optionally followed by `.000.00.00.Xdd`.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        const MSG: &str = "a procedure code looks like 1.001029 or 1.001029.000.00.00.H29";
        let stem = text.get(..8).ok_or(CodeError(MSG))?;
        let b = stem.as_bytes();
        let stem_ok =
            b[0].is_ascii_digit() && b[1] == b'.' && b[2..].iter().all(u8::is_ascii_digit);
        if !stem_ok {
            return Err(CodeError(MSG));
        }
        match &text[8..] {
            "" => Ok(Self(stem.to_owned())),
            suffix => {
                let s = suffix.as_bytes();
                let suffix_ok = s.len() == 14
                    && s.starts_with(b".000.00.00.")
                    && s[11].is_ascii_uppercase()
                    && s[12..].iter().all(u8::is_ascii_digit);
                if suffix_ok {
                    Ok(Self(stem.to_owned()))
                } else {
                    Err(CodeError(MSG))
                }
            }
        }
    }

    /// The stem as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province form, e.g. `1.001029.000.00.00.H29`.
    pub fn with_province(&self, province: &str) -> String {
        format!("{}.000.00.00.{}", self.0, province)
    }
}

impl fmt::Display for ProcedureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The portal's dossier id `MaHoSoQG`: 1–50 visible characters, the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PortalDossierId(String);

impl PortalDossierId {
    /// Parses 1–50 characters with no whitespace or control characters.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let count = text.chars().count();
        if (1..=50).contains(&count) && !text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(CodeError("MaHoSoQG is 1 to 50 characters without spaces"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PortalDossierId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_codes_carry_agency_day_and_four_digits() {
        let agency = AgencyCode::parse("000.00.12.H29").map_err(|e| e.to_string());
        let Ok(agency) = agency else {
            panic!("agency code")
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default();
        assert_eq!(
            DossierCode::new(&agency, day, 1).as_str(),
            "000.00.12.H29-261127-0001"
        );
        assert_eq!(
            DossierCode::new(&agency, day, 10000).as_str(),
            "000.00.12.H29-261127-10000"
        );
        assert!(DossierCode::parse("000.00.12.H29-261127-0001").is_ok());
        assert!(DossierCode::parse("000.00.12.H29-261127-01").is_err());
        assert!(DossierCode::parse("x").is_err());
        assert!(DossierCode::parse("000.00.12.H29-261127-0001'--").is_err());
    }

    #[test]
    fn procedure_codes_parse_to_their_stem() {
        let code = ProcedureCode::parse("1.001029.000.00.00.H29").map(|c| c.as_str().to_owned());
        assert_eq!(code.as_deref(), Ok("1.001029"));
        assert!(ProcedureCode::parse("1.001029").is_ok());
        for bad in [
            "",
            "1.00102",
            "1.001029.000.00.00.h29",
            "1.001029.000",
            "a.001029",
            "1.0010299",
        ] {
            assert!(ProcedureCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn agency_codes_have_a_fixed_shape() {
        assert!(AgencyCode::parse("000.00.12.H29").is_ok());
        assert!(AgencyCode::parse("000.00.12.h29").is_err());
        assert!(AgencyCode::parse("000.00.12.H2").is_err());
    }
}
