//! The payment service: payment requests (PayGov INIT or a signed VNPAY URL), the providers'
//! callbacks in the contract's order of checks, and settlement — once — with the dossier's
//! return from status 6 and the portal's sync in the same transaction.

use super::{paygov, vnpay};
use crate::audit::log::MessageLog;
use crate::config::{Config, PaygovConfig, VnpayConfig};
use crate::domain::dossier::FeeLine;
use crate::domain::lifecycle::Action;
use crate::domain::money::Vnd;
use crate::domain::status::Status;
use crate::domain::time::format_wire;
use crate::dossiers::lifecycle::{ActionInput, Lifecycle, LifecycleError, Officer};
use crate::mapping::Mappings;
use crate::store::{
    NewPayment, PaymentEvent, PaymentOp, PaymentRow, Store, StoreError, StoredDossier,
};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A payment provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// The national payment platform.
    Paygov,
    /// VNPAY.
    Vnpay,
}

impl Provider {
    /// From the API's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "paygov" => Some(Self::Paygov),
            "vnpay" => Some(Self::Vnpay),
            _ => None,
        }
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Paygov => "paygov",
            Self::Vnpay => "vnpay",
        }
    }
}

/// A payment request made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The reference.
    pub reference: String,
    /// What is paid.
    pub amount: Vnd,
    /// Where the applicant pays.
    pub pay_url: String,
    /// The provider.
    pub provider: Provider,
}

/// Why a payment request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// No such dossier.
    #[error("dossier not found")]
    NotFound,
    /// The dossier's status does not allow a payment, or one is pending already.
    #[error("{0}")]
    CannotPay(String),
    /// The procedure has no fees.
    #[error("this dossier has no fees to pay")]
    NoFees,
    /// The provider did not give a payment page.
    #[error("payment provider: {0}")]
    Provider(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a payment ended, as a callback or a reconciliation query says.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// Paid (else failed).
    pub paid: bool,
    /// The provider's transaction id.
    pub transaction: Option<String>,
}

/// The result of settling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Recorded now.
    Recorded,
    /// It was no longer pending.
    NotPending,
    /// The provider's transaction id is already used by another payment.
    TransactionReused,
}

/// The payment service.
#[derive(Clone)]
pub struct Payments {
    pub(crate) store: Store,
    pub(crate) lifecycle: Lifecycle,
    mappings: Arc<Mappings>,
    pub(crate) paygov: PaygovConfig,
    pub(crate) vnpay: VnpayConfig,
    pub(crate) http: reqwest::Client,
    /// Where every call to a provider and its answer are recorded.
    pub(crate) messages: MessageLog,
    agency_name: String,
}

fn system_officer(unit: &str) -> Officer {
    Officer {
        name: "Hệ thống thanh toán trực tuyến".into(),
        title: "Hệ thống".into(),
        unit: unit.to_owned(),
    }
}

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
    /// A payment operation with no change of status, then the dossier's kept status read
    /// dropped (its payments changed).
    async fn op_only(&self, dossier_id: i64, op: &PaymentOp, ms: i64) -> Result<bool, StoreError> {
        let applied = self.store.payment_op_only(dossier_id, op, ms).await;
        self.lifecycle.forget(dossier_id);
        applied
    }

    /// The service.
    pub fn new(
        store: Store,
        lifecycle: Lifecycle,
        mappings: Arc<Mappings>,
        config: &Config,
        messages: MessageLog,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            lifecycle,
            mappings,
            paygov: config.paygov.clone(),
            vnpay: config.vnpay.clone(),
            http: reqwest::Client::builder()
                .timeout(config.outbox.timeout.0)
                .build()?,
            messages,
            agency_name: config.agency.name.clone(),
        })
    }

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
                    return Err(PaymentError::CannotPay(
                        "a payment of this dossier is already pending".into(),
                    ));
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
            self.op_only(d.id, &op, now.timestamp_millis()).await?;
        } else {
            let input = ActionInput {
                action: Action::RequestPayment,
                officer: system_officer(&self.agency_name),
                note: Some(format!(
                    "Yêu cầu nộp phí, lệ phí trực tuyến qua {} ({amount} đồng)",
                    provider.name()
                )),
                new_due: None,
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
        let procedure_name = crate::domain::codes::ProcedureCode::parse(&d.procedure_code)
            .ok()
            .and_then(|c| self.mappings.get(&c))
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
                "MaTTHC": d.procedure_code,
                "TenTTHC": procedure_name,
                "MaDonVi": "",
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
        self.audit(
            Some(reference),
            "paygov",
            "init_answer",
            &raw,
            true,
            verdict,
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

    /// Keeps a provider message as received; an audit failure is logged, never hidden.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn audit(
        &self,
        reference: Option<&str>,
        provider: &str,
        kind: &str,
        raw: &[u8],
        verified: bool,
        verdict: &str,
        now: DateTime<Utc>,
    ) {
        let event = PaymentEvent {
            reference,
            provider,
            kind,
            raw,
            verified,
            verdict,
        };
        if let Err(e) = self
            .store
            .record_payment_event(&event, now.timestamp_millis())
            .await
        {
            tracing::error!(error = %e, provider, kind, "a provider message could not be audited");
        }
    }

    /// The payment with this reference.
    pub async fn payment(&self, reference: &str) -> Result<Option<PaymentRow>, StoreError> {
        self.store.payment(reference).await
    }

    /// Settles a pending payment once: paid returns the dossier to its status before 6 (with the
    /// portal's sync); failed leaves the dossier in 6 so a new payment can be requested.
    pub async fn settle(
        &self,
        p: &PaymentRow,
        outcome: &Settlement,
        now: DateTime<Utc>,
    ) -> Result<Settled, StoreError> {
        let op = PaymentOp::Settle {
            reference: p.reference.clone(),
            state: if outcome.paid { "paid" } else { "failed" },
            provider_txn: outcome
                .transaction
                .as_ref()
                .map(|t| format!("{}:{t}", p.provider)),
        };
        let ms = now.timestamp_millis();
        let only = |r: Result<bool, StoreError>| match r {
            Ok(true) => Ok(Settled::Recorded),
            Ok(false) => Ok(Settled::NotPending),
            Err(StoreError::Duplicate(_)) => Ok(Settled::TransactionReused),
            Err(e) => Err(e),
        };
        if !outcome.paid {
            return only(self.op_only(p.dossier_id, &op, ms).await);
        }
        let input = ActionInput {
            action: Action::ConfirmPayment,
            officer: system_officer(&self.agency_name),
            note: Some(format!(
                "Đã nộp phí, lệ phí {} đồng qua {} (mã giao dịch {})",
                p.amount,
                p.provider,
                outcome.transaction.as_deref().unwrap_or("-")
            )),
            new_due: None,
        };
        match self
            .lifecycle
            .act_with_payment(&p.dossier, &input, None, Some(&op), now)
            .await
        {
            Ok(_) => Ok(Settled::Recorded),
            Err(LifecycleError::PaymentNotPending) => Ok(Settled::NotPending),
            // The dossier left status 6 meanwhile (withdrawn, stopped): the money is still recorded.
            Err(LifecycleError::InvalidTransition(_)) => {
                only(self.op_only(p.dossier_id, &op, ms).await)
            }
            Err(LifecycleError::Store(StoreError::Duplicate(_))) => Ok(Settled::TransactionReused),
            Err(LifecycleError::Store(e)) => Err(e),
            Err(e) => Err(StoreError::Corrupt(e.to_string())),
        }
    }
}
