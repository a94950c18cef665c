//! The national payment platform (PayGov): INIT, CONFIRM and QUERY checksums (`MaXacThuc`,
//! SHA-256 over `|`-joined fields with the secret appended).

use super::{hex_eq, pipe_sha256};

/// Protocol version the gateway speaks.
pub const VERSION: &str = "1.0.6";

/// The signed fields of an INIT request, in the contract's order.
#[derive(Debug, Clone)]
pub struct InitFields<'a> {
    /// `MaDoiTac`.
    pub partner: &'a str,
    /// `MaThamChieu`.
    pub reference: &'a str,
    /// `SoTien`.
    pub amount: &'a str,
    /// `ThongTinGiaoDich`.
    pub info: &'a str,
    /// `ThoiGianGD`.
    pub time: &'a str,
    /// `Ip`.
    pub ip: &'a str,
}

/// `MaXacThuc` of an INIT request.
pub fn init_checksum(f: &InitFields<'_>, secret: &str) -> String {
    pipe_sha256(
        &[
            "INIT",
            VERSION,
            f.partner,
            f.reference,
            f.amount,
            "PAY",
            "1",
            "1",
            "vi-VN",
            "VND",
            "PAYMENT",
            f.info,
            f.time,
            f.ip,
        ],
        secret,
    )
}

/// The signed fields of a CONFIRM callback, in the contract's order.
#[derive(Debug, Clone, Default)]
pub struct ConfirmFields {
    /// `LoaiBanTin`.
    pub kind: String,
    /// `MaLoi`.
    pub code: String,
    /// `MaDoiTac`.
    pub partner: String,
    /// `MaThamChieu`.
    pub reference: String,
    /// `SoTien`.
    pub amount: String,
    /// `MaTienTe`.
    pub currency: String,
    /// `MaGiaoDich`.
    pub transaction: String,
    /// `MaNganHang`.
    pub bank: String,
    /// `ThoiGianGD`.
    pub time: String,
    /// `ThongTinGiaoDich`.
    pub info: String,
}

/// `MaXacThuc` of a CONFIRM callback.
pub fn confirm_checksum(f: &ConfirmFields, secret: &str) -> String {
    pipe_sha256(
        &[
            &f.kind,
            &f.code,
            &f.partner,
            &f.reference,
            &f.amount,
            &f.currency,
            &f.transaction,
            &f.bank,
            &f.time,
            &f.info,
        ],
        secret,
    )
}

/// Whether a CONFIRM's `MaXacThuc` is right (constant time).
pub fn verify_confirm(f: &ConfirmFields, given: &str, secret: &str) -> bool {
    hex_eq(&confirm_checksum(f, secret), given)
}

/// `MaXacThuc` of the gateway's answer to a CONFIRM.
pub fn answer_checksum(
    code: &str,
    partner: &str,
    reference: &str,
    time: &str,
    secret: &str,
) -> String {
    pipe_sha256(&[code, partner, reference, time], secret)
}

/// `MaXacThuc` of a QUERY request.
pub fn query_checksum(partner: &str, reference: &str, time: &str, secret: &str) -> String {
    pipe_sha256(&["QUERY", VERSION, partner, reference, time], secret)
}
