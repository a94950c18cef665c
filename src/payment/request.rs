//! Requesting a payment of a dossier's fees: from status 2 or 4 the dossier moves to 6 with
//! the request in the same transaction; in 6 after a failed or expired payment a new request
//! is added. The payment page comes from PayGov's INIT or is a signed VNPAY URL.

use super::service::{system_officer, Created, PaymentError, Payments, Provider};
use super::{paygov, vnpay};
use crate::domain::dossier::FeeLine;
use crate::domain::lifecycle::Action;
use crate::domain::money::Vnd;
use crate::domain::status::Status;
use crate::domain::time::format_wire;
use crate::dossiers::plan::{rules_of, ActionInput, LifecycleError};
use crate::portal::sync::portal_procedure;
use crate::store::PaymentEvent;
use crate::store::{NewPayment, PaymentOp, StoredDossier};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Why a second payment request is refused while one is pending.
const ALREADY_PENDING: &str = "a payment of this dossier is already pending";

/// A fresh payment reference: `TT` + Vietnam time to the second + 6 random characters.
fn new_reference(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let tail: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("TT{}{tail}", &format_wire(now)[2..])
}

impl Payments {
    /// Requests a payment of the dossier's fees.
    pub async fn request(
        &self,
        code: &str,
        provider: Provider,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<Created, PaymentError> {
        let d = self
            .store
            .dossier_by_code(code)
            .await?
            .ok_or(PaymentError::NotFound)?;
        let status = Status::from_code(d.status);
        match status {
            Some(Status::Accepted | Status::Processing) => {}
            Some(Status::PaymentRequested) => {
                if self
                    .store
                    .payments_of(d.id)
                    .await?
                    .iter()
                    .any(|p| p.state == "pending")
                {
                    return Err(PaymentError::CannotPay(ALREADY_PENDING.into()));
                }
            }
            _ => {
                return Err(PaymentError::CannotPay(format!(
                    "a payment cannot be requested in status {}",
                    d.status
                )))
            }
        }
        let amount = match FeeLine::total(&d.fees) {
            Some(amount) if amount > Vnd::ZERO => amount,
            Some(_) => return Err(PaymentError::NoFees),
            None => {
                return Err(PaymentError::CannotPay(
                    "the fees add up past the largest amount".into(),
                ))
            }
        };
        let reference = new_reference(now);
        let info = vnpay::plain_text(&format!("Thanh toan phi ho so {code}"));
        let pay_url = match provider {
            Provider::Paygov => {
                self.paygov_init(&d, &reference, amount, &info, ip, now)
                    .await?
            }
            Provider::Vnpay => self.vnpay_url(&reference, amount, &info, ip, now),
        };
        let op = PaymentOp::Insert(NewPayment {
            reference: reference.clone(),
            provider: provider.name().into(),
            amount,
            fees: d.fees.clone(),
            pay_url: pay_url.clone(),
        });
        if status == Some(Status::PaymentRequested) {
            match self.op_only(d.id, &op, now.timestamp_millis()).await {
                Err(e) if e.is_second_pending_payment() => {
                    return Err(PaymentError::CannotPay(ALREADY_PENDING.into()))
                }
                other => other?,
            };
        } else {
            let input = ActionInput {
                action: Action::RequestPayment,
                officer: system_officer(&self.agency_name),
                note: Some(format!(
                    "Yêu cầu nộp phí, lệ phí trực tuyến qua {} ({amount} đồng)",
                    provider.name()
                )),
                new_due: None,
                counter: None,
                variant: None,
                step: None,
            };
            match self
                .lifecycle
                .act_with_payment(code, &input, None, Some(&op), now)
                .await
            {
                Ok(_) => {}
                Err(LifecycleError::InvalidTransition(m)) => {
                    return Err(PaymentError::CannotPay(m))
                }
                Err(LifecycleError::NotFound) => return Err(PaymentError::NotFound),
                Err(LifecycleError::Store(e)) if e.is_second_pending_payment() => {
                    return Err(PaymentError::CannotPay(ALREADY_PENDING.into()))
                }
                Err(LifecycleError::Store(e)) => return Err(PaymentError::Store(e)),
                Err(e) => return Err(PaymentError::CannotPay(e.to_string())),
            }
        }
        tracing::info!(dossier.code = %code, payment.reference = %reference, provider = provider.name(), amount = amount.get(), "payment requested");
        Ok(Created {
            reference,
            amount,
            pay_url,
            provider,
        })
    }

    async fn paygov_init(
        &self,
        d: &StoredDossier,
        reference: &str,
        amount: Vnd,
        info: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<String, PaymentError> {
        let time = format_wire(now);
        let amount_text = amount.to_string();
        let fields = paygov::InitFields {
            partner: &self.paygov.partner_code,
            reference,
            amount: &amount_text,
            info,
            time: &time,
            ip,
        };
        let procedure_name = rules_of(&self.mappings, d)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let fee_lines: Vec<Value> = d
            .fees
            .iter()
            .map(|l| {
                json!({
                    "LoaiPhiLePhi": if l.kind == "le_phi" { "2" } else { "1" },
                    "MaPhiLePhi": l.code,
                    "TenPhiLePhi": l.name,
                    "SoTien": l.amount,
                })
            })
            .collect();
        let body = json!({
            "LoaiBanTin": "INIT",
            "PhienBan": paygov::VERSION,
            "MaDoiTac": self.paygov.partner_code,
            "MaThamChieu": reference,
            "SoTien": amount_text,
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "1",
            "MaThietBi": "1",
            "NgonNgu": "vi-VN",
            "MaTienTe": "VND",
            "MaNganHang": "PAYMENT",
            "ThongTinGiaoDich": info,
            "ThoiGianGD": time,
            "Ip": ip,
            "ThongTinBienLai": {
                "MaHoSo": d.code,
                "MaTTHC": portal_procedure(&d.procedure_code, &d.code),
                "TenTTHC": procedure_name,
                "MaDonVi": self.agency_code,
                "TenDonVi": self.agency_name,
                "HoTenNguoiNop": d.applicant["name"],
                "PhiLePhi": fee_lines,
            },
            "MaXacThuc": paygov::init_checksum(&fields, self.paygov.secret.expose()),
        });
        let url = self.paygov.base_url.with_path("/init");
        let request = self
            .http
            .post(&url)
            .json(&body)
            .build()
            .map_err(|e| PaymentError::Provider(format!("INIT not built: {e}")))?;
        let raw = self
            .messages
            .send(&self.http, "paygov", request)
            .await
            .map_err(|e| PaymentError::Provider(format!("INIT not answered: {e}")))?
            .body;
        let pay_url = serde_json::from_slice::<Value>(&raw)
            .ok()
            .filter(|v| v["error_code"] == "0")
            .and_then(|v| {
                v["message"]
                    .as_str()
                    .and_then(|m| serde_json::from_str::<Value>(m).ok())
            })
            .and_then(|m| m["UrlThanhToan"].as_str().map(str::to_owned))
            .filter(|u| url::Url::parse(u).is_ok());
        let verdict = if pay_url.is_some() {
            "payment page given"
        } else {
            "refused or malformed"
        };
        self.keep_payment_event(
            PaymentEvent {
                reference: Some(reference),
                provider: "paygov",
                kind: "init_answer",
                raw: &raw,
                verified: true,
                verdict,
            },
            now,
        )
        .await;
        pay_url.ok_or_else(|| PaymentError::Provider("INIT gave no payment page".into()))
    }

    fn vnpay_url(
        &self,
        reference: &str,
        amount: Vnd,
        info: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> String {
        let mut p = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            p.insert(k.to_owned(), v);
        };
        put("vnp_Version", vnpay::VERSION.into());
        put("vnp_Command", "pay".into());
        put("vnp_TmnCode", self.vnpay.tmn_code.clone());
        put("vnp_Amount", vnpay::wire_amount(amount));
        put("vnp_CurrCode", "VND".into());
        put("vnp_TxnRef", reference.into());
        put("vnp_OrderInfo", info.into());
        put("vnp_OrderType", "other".into());
        put("vnp_Locale", "vn".into());
        put("vnp_ReturnUrl", self.vnpay.return_url.to_string());
        put("vnp_IpAddr", ip.into());
        put("vnp_CreateDate", format_wire(now));
        put("vnp_ExpireDate", format_wire(now + Duration::minutes(15)));
        vnpay::payment_url(
            self.vnpay.pay_url.as_str(),
            &p,
            self.vnpay.hash_secret.expose(),
        )
    }
}
