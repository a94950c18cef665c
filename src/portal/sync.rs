//! Outbound messages about a dossier: the portal's status sync (`CapNhatTienDoHoSoMC`) and the
//! push of a new dossier to the department's one-stop software.

use crate::domain::codes::{DossierCode, ProcedureCode};
use crate::domain::dossier::Progress;
use crate::domain::time::{format_wire_millis, wire_or_null as wire};
use serde_json::json;

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

/// The body of one status sync to the portal.
pub fn status_sync(
    code: &str,
    portal_id: &str,
    procedure: &str,
    status: i64,
    dates: SyncDates,
    progress: &Progress,
) -> String {
    json!({
        "service": "CapNhatTienDoHoSoMC",
        "MaHoSo": code,
        "MaHoSoQG": portal_id,
        "MaTTHC": procedure,
        "TrangThaiHoSo": status,
        "NgayTiepNhan": wire(dates.accepted_at),
        "NgayHenTra": wire(dates.due_at),
        "NgayKetThucXuLy": wire(dates.finished_at),
        "NgayTra": wire(dates.returned_at),
        "TienDo": {
            "NguoiXuLy": progress.officer_name,
            "ChucDanh": progress.officer_title,
            "PhongBanXuLy": progress.officer_unit,
            "NoiDungXuLy": progress.note,
            "ThoiDiemXuLy": format_wire_millis(progress.at),
        }
    })
    .to_string()
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
}
