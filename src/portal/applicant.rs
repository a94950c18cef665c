//! The envelope's `ChuHoSo`: the applicant, a citizen or an organisation, with the identity
//! number, phone, e-mail and address the portal gives, each checked and every problem kept.

use super::fields::Fields;
use super::tree::Malformed;
use crate::domain::applicant::{
    is_email, normalize_phone, Address, Applicant, ApplicantKind, IdentityKind,
};
use crate::domain::validation::FieldError;

/// Longest `HoTen` accepted.
pub const MAX_NAME_CHARS: usize = 200;

/// Reads `ChuHoSo` through its field view; `None` when any of its values is missing or invalid
/// (each problem recorded in `errors`).
pub(super) fn read_applicant(
    f: &Fields<'_>,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Applicant>, Malformed> {
    let before = errors.len();
    let name = f.required_text("HoTen", errors)?;
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        errors.push(FieldError::new(
            f.path("HoTen"),
            "too_long",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let kind = f.required_text("LoaiDoiTuong", errors)?.and_then(|t| {
        ApplicantKind::from_code(t)
            .ok_or_else(|| {
                errors.push(FieldError::new(
                    f.path("LoaiDoiTuong"),
                    "not_allowed",
                    "LoaiDoiTuong is 1 to 4",
                ))
            })
            .ok()
    });
    let id_kind = f.required_text("LoaiDinhDanh", errors)?.and_then(|t| {
        IdentityKind::from_code(t)
            .ok_or_else(|| {
                errors.push(FieldError::new(
                    f.path("LoaiDinhDanh"),
                    "not_allowed",
                    "LoaiDinhDanh is 1 to 3",
                ))
            })
            .ok()
    });
    let id_number = f.required_text("SoDinhDanh", errors)?;
    if let (Some(k), Some(n)) = (id_kind, id_number) {
        if !k.accepts(n) {
            errors.push(FieldError::new(
                f.path("SoDinhDanh"),
                "invalid_format",
                k.expectation(),
            ));
        }
    }
    let phone = f.text("SoDienThoai")?.and_then(|p| {
        normalize_phone(p)
            .ok_or_else(|| {
                errors.push(FieldError::new(
                    f.path("SoDienThoai"),
                    "invalid_format",
                    "not a Vietnamese phone number",
                ))
            })
            .ok()
    });
    let email = f.text("Email")?;
    if email.is_some_and(|e| !is_email(e)) {
        errors.push(FieldError::new(
            f.path("Email"),
            "invalid_format",
            "not an e-mail address",
        ));
    }
    let address = match f.map("DiaChi")? {
        Some(node) => {
            let a = Fields::new(node, "ChuHoSo.DiaChi.");
            Some(Address {
                province: a.text("MaTinh")?.map(str::to_owned),
                district: a.text("MaHuyen")?.map(str::to_owned),
                ward: a.text("MaXa")?.map(str::to_owned),
                detail: a.text("ChiTiet")?.map(str::to_owned),
            })
        }
        None => None,
    };
    if errors.len() > before {
        return Ok(None);
    }
    Ok(match (name, kind, id_kind, id_number) {
        (Some(name), Some(kind), Some(id_kind), Some(id_number)) => Some(Applicant {
            name: name.to_owned(),
            kind,
            id_kind,
            id_number: id_number.to_owned(),
            phone,
            email: email.map(str::to_owned),
            address,
        }),
        _ => None,
    })
}
