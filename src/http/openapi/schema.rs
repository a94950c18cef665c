//! The shapes of the internal API's bodies, for the OpenAPI document. Where a handler
//! serializes a Rust type (a document row, a fee line, a field error, a list item), that type
//! derives its schema itself; the answers built as JSON objects (`dossiers::view`, the outbox
//! and catalogue views) are described here, and `tests/api/openapi.rs` checks real answers
//! against these descriptions key by key, so neither can drift from the other.

// Descriptions only: never built, their fields never read.
#![allow(dead_code)]

use crate::domain::dossier::FeeLine;
use crate::domain::validation::FieldError;
use crate::store::DocumentRow;
use serde_json::Value;
use utoipa::{ToResponse, ToSchema};

/// `{"error_code":…,"message":…}`: every refusal of the internal API.
#[derive(ToSchema, ToResponse)]
#[response(description = "Refused; `error_code` says why")]
pub struct ErrorBody {
    /// Stable machine code (`NOT_FOUND`, `INVALID_TRANSITION`, `UNAUTHORIZED`, …).
    pub error_code: String,
    /// A sentence for the person reading it.
    pub message: Option<String>,
}

/// 422 `VALIDATION`: every problem of the body at once.
#[derive(ToSchema)]
pub struct ValidationBody {
    /// `VALIDATION`.
    pub error_code: String,
    /// One entry per problem.
    pub errors: Vec<FieldError>,
}

/// The officer who takes an action, as the portal's progress record names them.
#[derive(ToSchema)]
pub struct OfficerBody {
    /// `NguoiXuLy`.
    pub name: String,
    /// `ChucDanh`.
    pub title: String,
    /// `PhongBanXuLy`.
    pub unit: String,
}

/// One step of the lifecycle (contract section 5, "Actions and the lifecycle").
#[derive(ToSchema)]
pub struct ActionBody {
    /// `accept`, `reject`, `start_processing`, `request_supplement`, `receive_supplement`,
    /// `request_payment`, `extend`, `forward`, `complete`, `return_result`, `record_payment`,
    /// `withdraw`, `stop`.
    pub action: String,
    /// Who takes it.
    pub officer: OfficerBody,
    /// `NoiDungXuLy`: required by `reject`, `request_supplement`, `extend` and `stop`.
    pub note: Option<String>,
    /// `extend`: the new due time, `yyyyMMddHHmmss`, later than `NgayHenTra`.
    pub new_due: Option<String>,
    /// `record_payment`: `counter`.
    pub method: Option<String>,
    /// `record_payment`: the amount paid, equal to the fees due (VND).
    pub amount: Option<i64>,
    /// `record_payment`: the counter's receipt number, used once.
    pub receipt_no: Option<String>,
    /// `accept`: the procedure's variant whose longer processing time applies.
    pub variant: Option<String>,
    /// `forward` (status 4): the id of the procedure's inter-agency step to forward to its
    /// agency (contract section 9).
    pub step: Option<String>,
}

/// A payment request's body.
#[derive(ToSchema)]
pub struct PaymentOrder {
    /// `paygov` or `vnpay`.
    pub provider: String,
    /// The applicant's address, which the provider records (default `127.0.0.1`).
    pub client_ip: Option<String>,
}

/// 201: the payment request made at the provider.
#[derive(ToSchema)]
pub struct PaymentMade {
    /// The gateway's reference, sent to the provider as the order's id.
    pub payment_ref: String,
    /// The fees due (VND).
    pub amount: i64,
    /// Where the applicant pays.
    pub pay_url: String,
    /// `paygov` or `vnpay`.
    pub provider: String,
}

/// A payment of the dossier.
#[derive(ToSchema)]
pub struct PaymentView {
    /// The gateway's reference.
    pub payment_ref: String,
    /// `paygov`, `vnpay` or `counter`.
    pub provider: String,
    /// VND.
    pub amount: i64,
    /// `pending`, `paid`, `failed`, `expired`, `cancelled`.
    pub state: String,
    /// Where the applicant pays (none at the counter).
    pub pay_url: Option<String>,
    /// The provider's transaction number, once paid.
    pub transaction: Option<String>,
    /// `yyyyMMddHHmmss`.
    pub requested_at: String,
    /// `yyyyMMddHHmmss`, once settled.
    pub settled_at: Option<String>,
}

/// A progress record, as sent to the portal.
#[derive(ToSchema)]
pub struct ProgressView {
    /// The action that made it.
    pub action: String,
    /// The status it led to.
    #[schema(rename = "TrangThaiHoSo")]
    pub status: i64,
    /// Officer's name.
    #[schema(rename = "NguoiXuLy")]
    pub officer: String,
    /// Officer's title.
    #[schema(rename = "ChucDanh")]
    pub title: String,
    /// Officer's unit.
    #[schema(rename = "PhongBanXuLy")]
    pub unit: String,
    /// The note.
    #[schema(rename = "NoiDungXuLy")]
    pub note: Option<String>,
    /// `yyyyMMddHHmmss`.
    #[schema(rename = "ThoiDiemXuLy")]
    pub at: String,
}

/// Where the dossier's status messages to the portal stand.
#[derive(ToSchema)]
pub struct SyncView {
    /// Waiting to be delivered.
    pub pending: i64,
    /// Delivered and confirmed.
    pub delivered: i64,
    /// Given up on, awaiting an operator.
    pub dead: i64,
    /// `yyyyMMddHHmmss` of the last delivery.
    pub last_delivered_at: Option<String>,
}

/// The version of the procedure's rules the dossier is judged by, for its whole life.
#[derive(ToSchema)]
pub struct RulesView {
    /// SHA-256 of the version's canonical text.
    pub version: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// `YYYY-MM-DD`, when a later version replaced it.
    pub effective_until: Option<String>,
    /// The legal texts.
    pub legal_basis: Value,
}

/// A dossier, whole (`GET /api/v1/dossiers/{MaHoSo}` and every action's answer).
#[derive(ToSchema)]
pub struct Dossier {
    /// The department's dossier code.
    #[schema(rename = "MaHoSo")]
    pub code: String,
    /// The portal's dossier id.
    #[schema(rename = "MaHoSoQG")]
    pub portal_id: String,
    /// The procedure's code.
    #[schema(rename = "MaTTHC")]
    pub procedure: String,
    /// The procedure's name.
    #[schema(rename = "TenTTHC")]
    pub procedure_name: Option<String>,
    /// The portal's status code (1–10).
    #[schema(rename = "TrangThaiHoSo")]
    pub status: i64,
    /// The status's name.
    #[schema(rename = "TenTrangThaiHoSo")]
    pub status_name: String,
    /// `KenhThucHien`.
    #[schema(rename = "KenhThucHien")]
    pub channel: i64,
    /// `yyyyMMddHHmmss`.
    #[schema(rename = "NgayNopHoSo")]
    pub submitted: String,
    /// `yyyyMMddHHmmss`.
    #[schema(rename = "NgayNhan")]
    pub received: String,
    /// `yyyyMMddHHmmss`, once accepted.
    #[schema(rename = "NgayTiepNhan")]
    pub accepted: Option<String>,
    /// `yyyyMMddHHmmss`: the due time (for a notice, the deemed-consent time).
    #[schema(rename = "NgayHenTra")]
    pub due: Option<String>,
    /// `yyyyMMddHHmmss`, once processing finished.
    #[schema(rename = "NgayKetThucXuLy")]
    pub finished: Option<String>,
    /// `yyyyMMddHHmmss`, once the result was returned.
    #[schema(rename = "NgayTra")]
    pub returned: Option<String>,
    /// `truoc_han`, `dung_han` or `qua_han`, once finished.
    pub timeliness: Option<String>,
    /// Past its due time with the clock running.
    pub overdue: bool,
    /// `approval` or `notice`.
    pub kind: Option<String>,
    /// A notice whose deemed-consent date passed with no rejection.
    pub deemed_consent: bool,
    /// The unit that handles the procedure.
    pub handling_unit: Option<String>,
    /// The applicant (`ChuHoSo`, identity number as given).
    pub applicant: Value,
    /// `TrichYeuHoSo`.
    pub summary: Option<String>,
    /// The form, mapped by the procedure's mapping.
    pub form: Value,
    /// The dossier's files.
    pub documents: Vec<DocumentRow>,
    /// Fee lines, frozen at arrival.
    pub fees: Vec<FeeLine>,
    /// Their sum (VND).
    pub fee_total: Option<i64>,
    /// Payments, oldest first.
    pub payments: Vec<PaymentView>,
    /// Progress records, oldest first.
    pub progress: Vec<ProgressView>,
    /// Status sync to the portal.
    pub sync: SyncView,
    /// The mapping file's version at intake.
    pub mapping_version: String,
    /// Its procedure's inter-agency steps (contract section 9), in the rules' order: `id`,
    /// `agency` (e-ID), `name`, `working_days`, `after`, `state` (`pending` until forwarded,
    /// then `forwarded`, `received`, `processing`, `done` or `refused`), the latest
    /// forwarding's `ref`, `forwarded_at`, `HanXuLy` and `finished_at` (`yyyyMMddHHmmss`, else
    /// null), `late`, `beyond_due` (open and running past `NgayHenTra`), the agency's last
    /// `NguoiXuLy`, `NoiDung` and `SoVanBan`, and the `earlier` forwardings of a step sent
    /// again.
    pub steps: Vec<Value>,
    /// An open step runs past `NgayHenTra` and the one extension is unused: the officer should
    /// consider `extend` (forwarding never moves the citizen's date).
    pub extend_advised: bool,
    /// The rules the dossier is judged by.
    pub rules: Option<RulesView>,
}

/// One attempt at delivering a message.
#[derive(ToSchema)]
pub struct AttemptView {
    /// 1, 2, …
    pub attempt: i64,
    /// The worker (instance) that made it.
    pub worker: Option<String>,
    /// `yyyyMMddHHmmss`.
    pub at: Option<String>,
    /// How long it took.
    pub latency_ms: Option<i64>,
    /// The partner's HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// `delivered`, `retry`, `refused`, …
    pub outcome: String,
    /// What went wrong.
    pub error: Option<String>,
}

/// A message of the outbox.
#[derive(ToSchema)]
pub struct OutboxMessage {
    /// Its id, for replay and discard.
    pub id: i64,
    /// `portal` or `onestop`.
    pub destination: String,
    /// The dossier it concerns.
    pub dossier: Option<String>,
    /// What it says.
    pub kind: String,
    /// `pending`, `dead`, `delivered` or `discarded`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// `yyyyMMddHHmmss`.
    pub created_at: Option<String>,
    /// `yyyyMMddHHmmss`.
    pub next_attempt_at: Option<String>,
    /// `yyyyMMddHHmmss`.
    pub delivered_at: Option<String>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Every attempt.
    pub attempt_log: Vec<AttemptView>,
}

/// A page of outbox messages.
#[derive(ToSchema)]
pub struct OutboxPage {
    /// The messages.
    pub items: Vec<OutboxMessage>,
    /// Give it as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// An operator's decision on one dead message.
#[derive(ToSchema)]
pub struct Decided {
    /// The message.
    pub id: i64,
    /// Its state now.
    pub state: String,
}

/// A decision on many dead messages: every condition given applies; `all: true` when none is.
#[derive(ToSchema)]
pub struct Selection {
    /// `portal` or `onestop`.
    pub destination: Option<String>,
    /// One dossier's messages.
    pub dossier: Option<String>,
    /// Messages that died since this time (`yyyyMMdd` or `yyyyMMddHHmmss`).
    pub since: Option<String>,
    /// Every dead message.
    pub all: Option<bool>,
}

/// How many messages a bulk decision moved: `{"replayed": n}` or `{"discarded": n}`.
#[derive(ToSchema)]
pub struct BulkDecided {
    /// Replayed (on `…/replay`).
    pub replayed: Option<i64>,
    /// Discarded (on `…/discard`).
    pub discarded: Option<i64>,
}

/// The catalogue on a day.
#[derive(ToSchema)]
pub struct Catalogue {
    /// `YYYY-MM-DD`: the day whose rules are shown.
    pub at: String,
    /// Each procedure with a version in force that day.
    pub items: Vec<CatalogueProcedure>,
}

/// A procedure of the catalogue, under the version of its rules in force on the day.
#[derive(ToSchema)]
pub struct CatalogueProcedure {
    /// Its code, as the department writes it.
    #[schema(rename = "MaTTHC")]
    pub code: String,
    /// Its code in the portal's provincial form.
    #[schema(rename = "MaTTHC_portal")]
    pub portal_code: String,
    /// No published catalogue page was found for the code: a stand-in.
    pub stand_in: bool,
    /// Why the code is a stand-in, or where it comes from.
    pub code_note: Option<String>,
    /// The version's id.
    pub version: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// `YYYY-MM-DD`.
    pub effective_until: Option<String>,
    /// Every version's days.
    pub versions: Vec<Value>,
    /// Vietnamese name.
    pub name: String,
    /// Field (lĩnh vực).
    pub field: String,
    /// `approval` or `notice`.
    pub kind: String,
    /// Working days.
    pub processing_days: i64,
    /// Variants with their own processing time.
    pub variants: Vec<Value>,
    /// The unit that handles it.
    pub handling_unit: String,
    /// The legal texts.
    pub legal_basis: Value,
    /// Documents the dossier holds (`required` or not).
    pub documents: Vec<Value>,
    /// Fee lines in force that day.
    pub fees: Vec<Value>,
    /// Parts other agencies act on (contract section 9): `id`, `agency` (its e-ID), `name`,
    /// `working_days`, the `fields` and `documents` it receives, `after` (steps done first),
    /// `legal_basis`.
    pub steps: Vec<Value>,
}

/// A probe's answer.
#[derive(ToSchema)]
pub struct Probe {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
}
