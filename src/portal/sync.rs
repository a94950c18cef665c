//! Outbound messages about a dossier: the portal's status sync (`CapNhatTienDoHoSoMC`) and the
//! push of a new dossier to the department's one-stop software.

use crate::domain::codes::{DossierCode, ProcedureCode};
use crate::domain::dossier::Progress;
use crate::domain::time::format_wire_millis;
use serde::Serialize;

/// The longest values the portal takes in a sync's `TienDo`, in characters: `NguoiXuLy`,
/// `ChucDanh`, `PhongBanXuLy`, `NoiDungXuLy`. An action whose officer or note is longer is
/// refused when it is taken (422 naming the field), never at delivery, where a refused sync
/// would go dead and hold back the dossier's later ones. `NguoiXuLy`'s 50 is the portal's; the
/// others are the gateway's reading of the portal's forms, kept here in one place to change.
pub const TIEN_DO_LIMITS: TienDoLimits = TienDoLimits {
    officer_name: 50,
    officer_title: 100,
    officer_unit: 250,
    note: 2000,
};

/// See [`TIEN_DO_LIMITS`].
#[derive(Debug, Clone, Copy)]
pub struct TienDoLimits {
    /// `NguoiXuLy`.
    pub officer_name: usize,
    /// `ChucDanh`.
    pub officer_title: usize,
    /// `PhongBanXuLy`.
    pub officer_unit: usize,
    /// `NoiDungXuLy`.
    pub note: usize,
}

/// Destination name of the city portal in the outbox.
pub const PORTAL: &str = "portal";
/// Destination name of the department's one-stop software in the outbox.
pub const ONESTOP: &str = "onestop";

/// The dossier's dates at the moment of a change (ms since epoch).
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncDates {
    /// `NgayTiepNhan`.
    pub accepted_at: Option<i64>,
    /// `NgayHenTra`.
    pub due_at: Option<i64>,
    /// `NgayKetThucXuLy`.
    pub finished_at: Option<i64>,
    /// `NgayTra`.
    pub returned_at: Option<i64>,
}

/// `MaTTHC` as the portal writes it for the dossier `code`: the stored stem with the province of
/// the agency that owns the dossier, `1.001029.000.00.00.H29` (the stem itself if either does
/// not parse).
pub fn portal_procedure(stem: &str, code: &str) -> String {
    match (ProcedureCode::parse(stem), DossierCode::parse(code)) {
        (Ok(procedure), Ok(code)) => procedure.with_province(code.province()),
        _ => stem.to_owned(),
    }
}

/// The body of one status sync to the portal, written as it is serialised
/// (`serde_json::to_string`): fields in this order, absent dates as `null`.
#[derive(Debug, Serialize)]
pub struct StatusSync<'a> {
    service: &'static str,
    #[serde(rename = "MaHoSo")]
    code: &'a str,
    #[serde(rename = "MaHoSoQG")]
    portal_id: &'a str,
    #[serde(rename = "MaTTHC")]
    procedure: &'a str,
    #[serde(rename = "TrangThaiHoSo")]
    status: i64,
    #[serde(rename = "NgayTiepNhan")]
    accepted_at: Option<String>,
    #[serde(rename = "NgayHenTra")]
    due_at: Option<String>,
    #[serde(rename = "NgayKetThucXuLy")]
    finished_at: Option<String>,
    #[serde(rename = "NgayTra")]
    returned_at: Option<String>,
    #[serde(rename = "TienDo")]
    progress: TienDo<'a>,
}

/// A sync's `TienDo`: who did what, when.
#[derive(Debug, Serialize)]
struct TienDo<'a> {
    #[serde(rename = "NguoiXuLy")]
    officer_name: &'a str,
    #[serde(rename = "ChucDanh")]
    officer_title: &'a str,
    #[serde(rename = "PhongBanXuLy")]
    officer_unit: &'a str,
    #[serde(rename = "NoiDungXuLy")]
    note: Option<&'a str>,
    #[serde(rename = "ThoiDiemXuLy")]
    at: String,
}

/// One status sync to the portal (its body is this, serialised).
pub fn status_sync<'a>(
    code: &'a str,
    portal_id: &'a str,
    procedure: &'a str,
    status: i64,
    dates: SyncDates,
    progress: &'a Progress,
) -> StatusSync<'a> {
    let wire = |at: Option<i64>| at.map(format_wire_millis);
    StatusSync {
        service: "CapNhatTienDoHoSoMC",
        code,
        portal_id,
        procedure,
        status,
        accepted_at: wire(dates.accepted_at),
        due_at: wire(dates.due_at),
        finished_at: wire(dates.finished_at),
        returned_at: wire(dates.returned_at),
        progress: TienDo {
            officer_name: &progress.officer_name,
            officer_title: &progress.officer_title,
            officer_unit: &progress.officer_unit,
            note: progress.note.as_deref(),
            at: format_wire_millis(progress.at),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_procedure_goes_out_in_the_province_form_of_the_dossier_s_agency() {
        assert_eq!(
            portal_procedure("1.001029", "000.00.12.H29-261130-0001"),
            "1.001029.000.00.00.H29"
        );
        assert_eq!(
            portal_procedure("1.001029.000.00.00.H29", "000.00.12.H41-261130-0001"),
            "1.001029.000.00.00.H41"
        );
        assert_eq!(portal_procedure("1.001029", "not a code"), "1.001029");
    }

    /// The text a sync goes out as: the portal's field names in this order, an absent date and
    /// an absent note as `null`, times as `yyyyMMddHHmmss` in Vietnam time.
    #[test]
    fn a_sync_is_written_field_by_field_as_the_portal_reads_it() -> Result<(), serde_json::Error> {
        let progress = Progress {
            action: "accepted".into(),
            status: 2,
            officer_name: "Lê Thị \"Hoa\"".into(),
            officer_title: "Chuyên viên".into(),
            officer_unit: "Bộ phận Một cửa".into(),
            note: None,
            // 2025-12-02 09:30:00 in Vietnam.
            at: 1_764_642_600_000,
        };
        let dates = SyncDates {
            accepted_at: Some(1_764_642_600_000),
            ..SyncDates::default()
        };
        let sync = status_sync("C-1", "QG-1", "1.001029.000.00.00.H29", 2, dates, &progress);
        assert_eq!(
            serde_json::to_string(&sync)?,
            concat!(
                r#"{"service":"CapNhatTienDoHoSoMC","MaHoSo":"C-1","MaHoSoQG":"QG-1","#,
                r#""MaTTHC":"1.001029.000.00.00.H29","TrangThaiHoSo":2,"#,
                r#""NgayTiepNhan":"20251202093000","NgayHenTra":null,"NgayKetThucXuLy":null,"#,
                r#""NgayTra":null,"TienDo":{"NguoiXuLy":"Lê Thị \"Hoa\"","#,
                r#""ChucDanh":"Chuyên viên","PhongBanXuLy":"Bộ phận Một cửa","#,
                r#""NoiDungXuLy":null,"ThoiDiemXuLy":"20251202093000"}}"#
            )
        );
        Ok(())
    }
}
