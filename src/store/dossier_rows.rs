//! A stored dossier as the store reads it back: the dossier whole with its documents, progress
//! records, sync summary and payments; an item of the paged list, and the list's filters.

use serde::Serialize;

/// A document row as the read API shows it. (Deserialized only from the positional arrays of
/// `Store::dossier_select`, in field order.)
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DocumentRow {
    /// Row id.
    pub id: i64,
    /// `MaThanhPhanHoSo`.
    #[serde(rename = "MaThanhPhanHoSo")]
    pub component: String,
    /// `TenTepDinhKem`.
    #[serde(rename = "TenTepDinhKem")]
    pub file_name: String,
    /// `MaHash`.
    #[serde(rename = "MaHash")]
    pub sha256: String,
    /// `KichThuoc`.
    #[serde(rename = "KichThuoc")]
    pub size: i64,
    /// `pending`, `stored`, …
    pub state: String,
    /// Why the last fetch failed or the document was refused (none once stored).
    pub reason: Option<String>,
    /// For a result an agency sent back: the forwarding (`ref`) it answers.
    pub step: Option<String>,
}

/// Where the dossier's messages to the portal stand.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxSummary {
    /// Waiting to be delivered.
    pub pending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Given up on, awaiting an operator.
    pub dead: i64,
    /// Last delivery (ms), if any.
    pub last_delivered_at: Option<i64>,
}

/// A whole stored dossier.
#[derive(Debug, Clone)]
pub struct StoredDossier {
    /// Row id.
    pub id: i64,
    /// `MaHoSo`.
    pub code: String,
    /// `MaHoSoQG`.
    pub portal_id: String,
    /// `MaTTHC` stem.
    pub procedure_code: String,
    /// Status code.
    pub status: i64,
    /// Channel code.
    pub channel: i64,
    /// `NgayNopHoSo` (ms).
    pub submitted_at: i64,
    /// `NgayNhan` (ms).
    pub received_at: i64,
    /// `NgayTiepNhan` (ms).
    pub accepted_at: Option<i64>,
    /// `NgayHenTra` (ms).
    pub due_at: Option<i64>,
    /// `NgayKetThucXuLy` (ms).
    pub finished_at: Option<i64>,
    /// `NgayTra` (ms).
    pub returned_at: Option<i64>,
    /// Timeliness once finished.
    pub timeliness: Option<String>,
    /// Applicant (JSON).
    pub applicant: serde_json::Value,
    /// Mapped form (JSON).
    pub form: serde_json::Value,
    /// Fee lines, frozen at arrival.
    pub fees: Vec<crate::domain::dossier::FeeLine>,
    /// `TrichYeuHoSo`.
    pub summary: Option<String>,
    /// Mapping version used.
    pub mapping_version: String,
    /// Documents.
    pub documents: Vec<DocumentRow>,
    /// Progress history, oldest first.
    pub progress: Vec<crate::domain::dossier::Progress>,
    /// Sync state towards the portal.
    pub sync: OutboxSummary,
    /// Status when payment was requested (to return to once paid).
    pub status_before_payment: Option<i64>,
    /// Whether the one extension was used.
    pub extended: bool,
    /// When the supplement was requested (ms), while in status 5.
    pub supplement_requested_at: Option<i64>,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: i64,
    /// Payment requests, oldest first.
    pub payments: Vec<super::PaymentRow>,
    /// Forwardings of its inter-agency steps, oldest first.
    pub steps: Vec<super::StepRow>,
}

/// One item of the paged list.
#[derive(Debug, Clone)]
pub struct DossierSummary {
    /// Row id (the cursor).
    pub id: i64,
    /// `MaHoSo`.
    pub code: String,
    /// `MaHoSoQG`.
    pub portal_id: String,
    /// `MaTTHC`.
    pub procedure_code: String,
    /// Status.
    pub status: i64,
    /// `NgayNhan` (ms).
    pub received_at: i64,
    /// `NgayHenTra` (ms).
    pub due_at: Option<i64>,
    /// The applicant's name (`HoTen`).
    pub applicant: String,
}

/// Filters of the paged list; all optional.
#[derive(Debug, Clone, Default)]
pub struct DossierFilter {
    /// Only this status.
    pub status: Option<i64>,
    /// Only this procedure.
    pub procedure: Option<String>,
    /// Received at or after (ms).
    pub from: Option<i64>,
    /// Received before (ms).
    pub to: Option<i64>,
    /// Only ids below this (the previous page's last id).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Only the dossier with this code or portal id.
    pub code: Option<String>,
    /// Only dossiers whose applicant's name has a word starting with each of these (folded:
    /// `domain::search`).
    pub words: Vec<String>,
    /// The officers' order, overdue first: which part (`store::listing`).
    pub overdue: Option<super::OverdueFirst>,
}
