//! The providers' server-to-server confirmations, checked in the contract's order:
//! signature → reference → amount → still pending → record once → answer with the provider's
//! own codes. The signature is checked first and apart (`paygov_read`, `vnpay_read`), so that
//! the edge can record an unsigned message cut and spend the providers' rate budget only on
//! signed ones (contract section 8). A signed message is kept in its payment's history with its
//! verdict; an unsigned one is kept nowhere but the message log. A rejected confirmation
//! changes nothing.

use super::paygov::{self, ConfirmFields};
use super::service::{Payments, Settled, Settlement};
use super::vnpay;
use crate::domain::money::Vnd;
use crate::domain::time::format_wire;
use crate::store::PaymentEvent;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn text(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A PayGov CONFIRM as read: its signed fields, and whether its checksum held.
#[derive(Debug, Clone)]
pub struct PaygovConfirm {
    fields: ConfirmFields,
    /// Whether `MaXacThuc` is right.
    pub verified: bool,
}

/// A VNPAY IPN as read: its parameters (if the query could be read), and whether its hash held.
#[derive(Debug, Clone)]
pub struct VnpayIpn {
    params: Option<BTreeMap<String, String>>,
    /// Whether `vnp_SecureHash` is right.
    pub verified: bool,
}

impl Payments {
    /// Reads a CONFIRM body and checks its checksum; stores nothing.
    pub fn paygov_read(&self, raw: &[u8]) -> PaygovConfirm {
        let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
        let f = ConfirmFields {
            kind: text(&v, "LoaiBanTin"),
            code: text(&v, "MaLoi"),
            partner: text(&v, "MaDoiTac"),
            reference: text(&v, "MaThamChieu"),
            amount: text(&v, "SoTien"),
            currency: text(&v, "MaTienTe"),
            transaction: text(&v, "MaGiaoDich"),
            bank: text(&v, "MaNganHang"),
            time: text(&v, "ThoiGianGD"),
            info: text(&v, "ThongTinGiaoDich"),
        };
        let secret = self.paygov.secret.expose();
        let verified = v.is_object() && paygov::verify_confirm(&f, &text(&v, "MaXacThuc"), secret);
        PaygovConfirm {
            fields: f,
            verified,
        }
    }

    /// The signed answer to a CONFIRM read by [`Payments::paygov_read`] from `raw`.
    pub async fn paygov_confirm(
        &self,
        confirm: &PaygovConfirm,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Value {
        let (f, verified) = (&confirm.fields, confirm.verified);
        let secret = self.paygov.secret.expose();
        let (code, description) = self.paygov_decide(f, verified, now).await;
        if verified {
            self.keep_payment_event(
                PaymentEvent {
                    reference: Some(&f.reference)
                        .filter(|r| !r.is_empty())
                        .map(String::as_str),
                    provider: "paygov",
                    kind: "confirm",
                    raw,
                    verified,
                    verdict: description,
                },
                now,
            )
            .await;
        }
        // The reference came from the body: logged escaped (Debug), so that a line break in it
        // cannot write a line of its own.
        tracing::info!(payment.reference = ?f.reference, verified, result = code, "PayGov confirmation");
        // Only a verified reference is echoed and signed: the gateway does not sign what a
        // stranger chose.
        let reference = if verified { f.reference.as_str() } else { "" };
        let time = format_wire(now);
        json!({
            "MaLoi": code,
            "MoTaLoi": description,
            "MaDoiTac": self.paygov.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": time,
            "MaXacThuc": paygov::answer_checksum(code, &self.paygov.partner_code, reference, &time, secret),
        })
    }

    async fn paygov_decide(
        &self,
        f: &ConfirmFields,
        verified: bool,
        now: DateTime<Utc>,
    ) -> (&'static str, &'static str) {
        if !verified {
            return ("99", "Invalid signature");
        }
        if f.kind != "CONFIRM" || f.partner != self.paygov.partner_code {
            return ("99", "Not a confirmation for this partner");
        }
        let p = match self.payment(&f.reference).await {
            Ok(Some(p)) if p.provider == "paygov" => p,
            Ok(_) => return ("99", "Unknown reference"),
            Err(e) => {
                tracing::error!(error = %e, "PayGov confirmation not recorded: the payment could not be read");
                return ("99", "Temporarily unable to record");
            }
        };
        if Vnd::parse(&f.amount) != Some(p.amount) {
            return ("99", "Amount differs from the request");
        }
        if f.currency != "VND" {
            return ("99", "Currency differs from the request");
        }
        let txn = format!("paygov:{}", f.transaction);
        let repeat = |p: &crate::store::PaymentRow| {
            p.state == "paid" && p.provider_txn.as_deref() == Some(txn.as_str())
        };
        // A payment that expired unpaid and is now confirmed paid is recorded as paid: the
        // citizen's money was taken (contract section 4).
        let late = p.state == "expired" && f.code == "00";
        if p.state != "pending" && !late {
            return if repeat(&p) {
                ("00", "Already recorded")
            } else if p.state == "paid" {
                ("99", "Reference already paid by another transaction")
            } else {
                ("99", "Reference is no longer pending")
            };
        }
        if f.transaction.is_empty() {
            return ("99", "No transaction id");
        }
        let outcome = Settlement {
            paid: f.code == "00",
            transaction: Some(f.transaction.clone()),
        };
        match self.settle(&p, &outcome, now).await {
            Ok(Settled::Recorded) => (
                "00",
                if outcome.paid {
                    "Confirmed"
                } else {
                    "Failure recorded"
                },
            ),
            Ok(Settled::TransactionReused) => {
                ("99", "Transaction id already used for another reference")
            }
            Ok(Settled::NotPending) => match self.payment(&f.reference).await {
                Ok(Some(now_p)) if repeat(&now_p) => ("00", "Already recorded"),
                _ => ("99", "Reference already paid by another transaction"),
            },
            Err(e) => {
                tracing::error!(error = %e, "PayGov confirmation not recorded");
                ("99", "Temporarily unable to record")
            }
        }
    }

    /// Reads an IPN's query and checks its hash; stores nothing.
    pub fn vnpay_read(&self, query: &str) -> VnpayIpn {
        let params = vnpay::parse_query(query);
        let verified = params
            .as_ref()
            .is_some_and(|p| vnpay::verify(p, self.vnpay.hash_secret.expose()));
        VnpayIpn { params, verified }
    }

    /// The answer to an IPN read by [`Payments::vnpay_read`] from `query`:
    /// `(RspCode, Message)`.
    pub async fn vnpay_ipn(
        &self,
        ipn: &VnpayIpn,
        query: &str,
        now: DateTime<Utc>,
    ) -> (&'static str, &'static str) {
        let answer = match &ipn.params {
            Some(p) if ipn.verified => self.vnpay_decide(p, now).await,
            _ => ("97", "Invalid signature"),
        };
        let reference = ipn
            .params
            .as_ref()
            .and_then(|p| p.get("vnp_TxnRef"))
            .map(String::as_str);
        if ipn.verified {
            self.keep_payment_event(
                PaymentEvent {
                    reference,
                    provider: "vnpay",
                    kind: "ipn",
                    raw: query.as_bytes(),
                    verified: true,
                    verdict: answer.1,
                },
                now,
            )
            .await;
        }
        tracing::info!(
            payment.reference = ?reference.unwrap_or("-"),
            verified = ipn.verified,
            result = answer.0,
            "VNPAY IPN"
        );
        answer
    }

    async fn vnpay_decide(
        &self,
        params: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> (&'static str, &'static str) {
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
        if get("vnp_TmnCode") != self.vnpay.tmn_code {
            return ("01", "Order not found");
        }
        let p = match self.payment(get("vnp_TxnRef")).await {
            Ok(Some(p)) if p.provider == "vnpay" => p,
            Ok(_) => return ("01", "Order not found"),
            Err(e) => {
                tracing::error!(error = %e, "VNPAY IPN not recorded: the payment could not be read");
                return ("99", "Unknown error");
            }
        };
        // An amount in another currency is not the amount asked. VNPAY's IPN need not repeat
        // `vnp_CurrCode` (the terminal takes VND only); when it does, it must be VND.
        let currency = get("vnp_CurrCode");
        if super::vnpay::amount_from_wire(get("vnp_Amount")) != Some(p.amount)
            || !(currency.is_empty() || currency == "VND")
        {
            return ("04", "Invalid amount");
        }
        let outcome = Settlement {
            paid: get("vnp_ResponseCode") == "00" && get("vnp_TransactionStatus") == "00",
            transaction: Some(get("vnp_TransactionNo").to_owned()).filter(|t| !t.is_empty()),
        };
        // As for PayGov: an expired payment confirmed paid is recorded, never refused.
        let late = p.state == "expired" && outcome.paid;
        if p.state != "pending" && !late {
            return ("02", "Order already confirmed");
        }
        match self.settle(&p, &outcome, now).await {
            Ok(Settled::Recorded) => ("00", "Confirm Success"),
            Ok(Settled::NotPending) => ("02", "Order already confirmed"),
            Ok(Settled::TransactionReused) => ("99", "Unknown error"),
            Err(e) => {
                tracing::error!(error = %e, "VNPAY IPN not recorded");
                ("99", "Unknown error")
            }
        }
    }

    /// What the citizen's browser is shown when VNPAY sends it back (`vnp_ReturnUrl`): read
    /// from the signed parameters and the payment as stored, never settling anything (only the
    /// IPN and reconciliation do).
    pub async fn vnpay_return(&self, query: &str) -> ReturnView {
        let ipn = self.vnpay_read(query);
        let Some(params) = ipn.params.filter(|_| ipn.verified) else {
            return ReturnView::Unverified;
        };
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
        let p = match self.payment(get("vnp_TxnRef")).await {
            Ok(Some(p)) if p.provider == "vnpay" => p,
            Ok(_) => return ReturnView::Unknown,
            Err(e) => {
                tracing::error!(error = %e, "a VNPAY return could not be looked up");
                return ReturnView::Unavailable;
            }
        };
        let said_paid = get("vnp_ResponseCode") == "00" && get("vnp_TransactionStatus") == "00";
        let state = match p.state.as_str() {
            "paid" => ReturnState::Recorded,
            "failed" => ReturnState::Failed,
            _ if said_paid => ReturnState::Confirming,
            _ => ReturnState::Failed,
        };
        ReturnView::Payment {
            state,
            dossier: p.dossier,
            reference: p.reference,
            amount: p.amount,
        }
    }
}

/// What the return page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnView {
    /// The parameters' signature does not hold.
    Unverified,
    /// No VNPAY payment has this reference.
    Unknown,
    /// The store could not be read.
    Unavailable,
    /// A payment of the gateway's.
    Payment {
        /// Where it stands.
        state: ReturnState,
        /// The dossier's code.
        dossier: String,
        /// The payment reference.
        reference: String,
        /// The amount.
        amount: Vnd,
    },
}

/// Where a payment stands, as the citizen is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnState {
    /// Paid, and recorded.
    Recorded,
    /// VNPAY says paid; its confirmation to the gateway has not arrived yet.
    Confirming,
    /// Not paid (cancelled, refused, failed).
    Failed,
}
