//! A dossier as the department's model holds it: what intake builds and the store keeps.

use super::applicant::Applicant;
use super::codes::{PortalDossierId, ProcedureCode};
use super::money::Vnd;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// How the dossier was filed (`KenhThucHien`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "i64")]
pub enum Channel {
    /// 1 — in person at the counter.
    InPerson,
    /// 2 — online through the portal.
    Online,
    /// 3 — by the public postal service.
    Post,
}

impl Channel {
    /// From the portal's number.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "1" => Self::InPerson,
            "2" => Self::Online,
            "3" => Self::Post,
            _ => return None,
        })
    }

    /// The portal's number.
    pub fn code(self) -> i64 {
        match self {
            Self::InPerson => 1,
            Self::Online => 2,
            Self::Post => 3,
        }
    }
}

impl From<Channel> for i64 {
    fn from(c: Channel) -> i64 {
        c.code()
    }
}

/// A document the applicant attached (`TepDinhKem`); fetched after the dossier is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentRef {
    /// Dossier component code (`MaThanhPhanHoSo`).
    pub component: String,
    /// Original file name (`TenTepDinhKem`).
    pub file_name: String,
    /// Where to fetch it (`DuongDanTaiTepTin`).
    pub url: String,
    /// SHA-256, lower-case hex (`MaHash`).
    pub sha256: String,
    /// Size in bytes (`KichThuoc`).
    pub size: i64,
}

/// One fee line due for a dossier, frozen at arrival with its legal basis. (Read back from
/// the store as it was written.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FeeLine {
    /// `phi` (fee) or `le_phi` (charge).
    pub kind: String,
    /// Fee code.
    pub code: String,
    /// Fee name in Vietnamese.
    pub name: String,
    /// Amount due.
    #[schema(value_type = i64)]
    pub amount: Vnd,
    /// The legal text that sets it.
    pub legal_basis: String,
    /// The day the rate took effect.
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
}

impl FeeLine {
    /// What a dossier's lines add up to; `None` past the largest amount.
    pub fn total(lines: &[FeeLine]) -> Option<Vnd> {
        Vnd::total(lines.iter().map(|l| l.amount))
    }
}

/// A dossier built from a verified, mapped portal submission, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewDossier {
    /// The portal's id, the idempotency key.
    pub portal_id: PortalDossierId,
    /// The procedure's code stem.
    pub procedure: ProcedureCode,
    /// How it was filed.
    pub channel: Channel,
    /// `NgayNopHoSo`.
    pub submitted_at: DateTime<Utc>,
    /// The applicant.
    pub applicant: Applicant,
    /// `TrichYeuHoSo`.
    pub summary: Option<String>,
    /// Attached documents, to be fetched.
    pub documents: Vec<DocumentRef>,
    /// The form data in the department's model (what the mapping produced).
    pub form: serde_json::Value,
    /// Fee lines in force at arrival.
    pub fees: Vec<FeeLine>,
    /// Version of the mapping that produced `form` (its file's SHA-256).
    pub mapping_version: String,
    /// SHA-256 of the submission's canonical content: equal for the same fields and values.
    pub content_hash: String,
}

/// A progress record (one hand-off on the control slip): written with each change, read back
/// in the dossier's timeline (deserialized from the store's positional arrays, in field order).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Progress {
    /// The action or event, e.g. `received`.
    pub action: String,
    /// Status after it.
    pub status: i64,
    /// Who.
    pub officer_name: String,
    /// Their title.
    pub officer_title: String,
    /// Their unit.
    pub officer_unit: String,
    /// What was done or why.
    pub note: Option<String>,
    /// When (ms since epoch).
    pub at: i64,
}

/// Every state a dossier's document can be in (contract section 6): `pending` until fetched,
/// then `stored`, or why not.
pub const DOCUMENT_STATES: &[&str] = &[
    "pending",
    "stored",
    "hash_mismatch",
    "too_large",
    "host_not_allowed",
    "failed",
];
