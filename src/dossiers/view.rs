//! The dossier as the internal API shows it: the answer of `GET /api/v1/dossiers/{MaHoSo}` and
//! of every lifecycle action (which renders it inside the action's transaction).

use super::plan::rules_of;
use super::steps::steps_view;
use crate::domain::dossier::FeeLine;
use crate::domain::status::Status;
use crate::domain::time::format_wire_millis;
use crate::mapping::{Mappings, Procedure, ProcedureKind};
use crate::store::StoredDossier;
use serde_json::{json, Value};

pub use crate::domain::time::wire_or_null as wire;

/// The Vietnamese name of a status code.
pub fn status_name(code: i64) -> &'static str {
    Status::from_code(code).map_or("", Status::name_vi)
}

/// Whether a dossier with this stored status can become overdue (`Status::clock_runs`).
pub fn clock_runs(status: i64) -> bool {
    Status::from_code(status).is_some_and(Status::clock_runs)
}

/// Whether a dossier is past its due time `now` with its clock running. A notice never is:
/// its `NgayHenTra` is the deemed-consent date, not a deadline the department misses (contract
/// section 5).
pub fn overdue(status: i64, due: Option<i64>, rules: Option<&Procedure>, now: i64) -> bool {
    let notice = rules.is_some_and(|p| p.kind == ProcedureKind::Notice);
    !notice && clock_runs(status) && due.is_some_and(|d| d < now)
}

/// The dossier as `GET /api/v1/dossiers/{MaHoSo}` shows it.
pub fn dossier_view(mappings: &Mappings, d: &StoredDossier) -> Value {
    let mapping = rules_of(mappings, d);
    let fee_total = FeeLine::total(&d.fees);
    let now = chrono::Utc::now().timestamp_millis();
    // A notice (silence is consent): its NgayHenTra is the deemed-consent date.
    let notice = mapping.is_some_and(|m| m.kind == ProcedureKind::Notice);
    let past_due = d.due_at.is_some_and(|due| due < now);
    let deemed_consent =
        notice && past_due && Status::from_code(d.status).is_some_and(Status::is_open);
    let (steps, extend_advised) = steps_view(mapping.map(AsRef::as_ref), d, now);
    json!({
        "MaHoSo": d.code,
        "MaHoSoQG": d.portal_id,
        "MaTTHC": d.procedure_code,
        "TenTTHC": mapping.map(|m| m.name.clone()),
        "TrangThaiHoSo": d.status,
        "TenTrangThaiHoSo": status_name(d.status),
        "KenhThucHien": d.channel,
        "NgayNopHoSo": wire(Some(d.submitted_at)),
        "NgayNhan": wire(Some(d.received_at)),
        "NgayTiepNhan": wire(d.accepted_at),
        "NgayHenTra": wire(d.due_at),
        "NgayKetThucXuLy": wire(d.finished_at),
        "NgayTra": wire(d.returned_at),
        "timeliness": d.timeliness,
        "overdue": overdue(d.status, d.due_at, mapping.map(AsRef::as_ref), now),
        "kind": mapping.map(|m| match m.kind {
            ProcedureKind::Approval => "approval",
            ProcedureKind::Notice => "notice",
        }),
        "deemed_consent": deemed_consent,
        "handling_unit": mapping.map(|m| m.handling_unit.clone()),
        "applicant": d.applicant,
        "summary": d.summary,
        "form": d.form,
        "documents": d.documents,
        "fees": d.fees,
        "fee_total": fee_total,
        "payments": d.payments.iter().map(|p| json!({
            "payment_ref": p.reference,
            "provider": p.provider,
            "amount": p.amount,
            "state": p.state,
            "pay_url": p.pay_url,
            "transaction": p.provider_txn.as_deref().and_then(|t| t.split_once(':')).map(|(_, t)| t),
            "requested_at": wire(Some(p.created_at)),
            "settled_at": wire(p.settled_at),
        })).collect::<Vec<_>>(),
        "progress": d.progress.iter().map(|p| json!({
            "action": p.action,
            "TrangThaiHoSo": p.status,
            "NguoiXuLy": p.officer_name,
            "ChucDanh": p.officer_title,
            "PhongBanXuLy": p.officer_unit,
            "NoiDungXuLy": p.note,
            "ThoiDiemXuLy": format_wire_millis(p.at),
        })).collect::<Vec<_>>(),
        "sync": {
            "pending": d.sync.pending,
            "delivered": d.sync.delivered,
            "dead": d.sync.dead,
            "last_delivered_at": wire(d.sync.last_delivered_at),
        },
        "mapping_version": d.mapping_version,
        // Its procedure's inter-agency steps (contract section 9), from the moment it is
        // received: each with its latest forwarding (`pending` before any).
        "steps": steps,
        "extend_advised": extend_advised,
        // The version of the procedure's rules this dossier is judged by (contract section 5).
        "rules": mapping.map(|m| json!({
            "version": m.version,
            "effective_from": m.effective_from.to_string(),
            "effective_until": m.effective_until.map(|day| day.to_string()),
            "legal_basis": m.legal_basis,
        })),
    })
}
