//! Reconciliation: payments still pending after `payments.reconcile_after` are asked about
//! (PayGov QUERY, VNPAY querydr) and settled as a callback would settle them. A payment still
//! pending after `payments.expire_after` is asked one last time and expires only if the
//! provider says it is not paid (contract section 4); if the provider does not answer, it stays
//! pending and is asked again. A VNPAY answer is believed only if its own signature verifies;
//! PayGov's QUERY answer carries no signature in the contract, so it is believed only when it
//! names no other reference and states the amount asked.

use super::service::{Payments, Settlement};
use super::{paygov, vnpay};
use crate::domain::money::Vnd;
use crate::domain::time::format_wire;
use crate::store::PaymentEvent;
use crate::store::{PaymentRow, StoreError};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a provider said about one payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Paid, with the provider's transaction id.
    Paid(String),
    /// Failed.
    Failed,
    /// Not paid yet (or never started): the provider says so.
    Pending,
    /// Nothing trustworthy was said (no answer, a forged or inconsistent one).
    Unknown,
}

impl Payments {
    /// Asks about and settles pending payments older than `reconcile_after`; those older than
    /// `expire_after` that the provider says are not paid expire. Returns how many were settled.
    pub async fn reconcile_once(
        &self,
        reconcile_after: Duration,
        expire_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let ms = now.timestamp_millis();
        let age = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        let expire_before = ms - age(expire_after);
        let ask_before = ms - age(reconcile_after).min(age(expire_after));
        let due = self
            .store
            .payments_to_reconcile(ask_before, ms - age(reconcile_after) / 2, 50)
            .await?;
        let mut settled = 0;
        for p in due {
            self.store.payment_checked(&p.reference, ms).await?;
            let answer = match p.provider.as_str() {
                "paygov" => self.paygov_query(&p, now).await,
                "vnpay" => self.vnpay_querydr(&p, now).await,
                _ => Answer::Unknown,
            };
            let last_question = p.created_at < expire_before;
            let outcome = match answer {
                Answer::Paid(txn) => Settlement {
                    paid: true,
                    transaction: Some(txn),
                },
                Answer::Failed => Settlement {
                    paid: false,
                    transaction: None,
                },
                Answer::Pending if last_question => {
                    if self.store.expire_payment(&p.reference, ms).await? {
                        self.lifecycle.forget_all();
                        tracing::info!(payment.reference = %p.reference, "unpaid payment request expired: the provider says it is not paid");
                    }
                    continue;
                }
                Answer::Unknown if last_question => {
                    tracing::warn!(payment.reference = %p.reference, provider = %p.provider, "a payment past its expiry stays pending: the provider gave no answer to believe");
                    continue;
                }
                Answer::Pending | Answer::Unknown => continue,
            };
            if self.settle(&p, &outcome, now).await? == super::service::Settled::Recorded {
                tracing::info!(payment.reference = %p.reference, paid = outcome.paid, "payment settled by reconciliation");
                settled += 1;
            }
        }
        Ok(settled)
    }

    async fn paygov_query(&self, p: &PaymentRow, now: DateTime<Utc>) -> Answer {
        let time = format_wire(now);
        let body = json!({
            "LoaiBanTin": "QUERY",
            "PhienBan": paygov::VERSION,
            "MaDoiTac": self.paygov.partner_code,
            "MaThamChieu": p.reference,
            "ThoiGianGD": time,
            "MaXacThuc": paygov::query_checksum(&self.paygov.partner_code, &p.reference, &time, self.paygov.secret.expose()),
        });
        let url = self.paygov.base_url.with_path("/query");
        let Some(raw) = self.ask("paygov", &url, &body).await else {
            return Answer::Unknown;
        };
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let s = |k: &str| match &v[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let consistent = s("error_code") == "0"
            && (v.get("MaThamChieu").is_none() || s("MaThamChieu") == p.reference)
            // The amount is required: an answer that does not say what was paid is not believed.
            && Vnd::parse(&s("SoTien")) == Some(p.amount);
        let answer = match (consistent, s("TrangThaiGD").as_str()) {
            (true, "1") if !s("MaGiaoDich").is_empty() => Answer::Paid(s("MaGiaoDich")),
            (true, "3") => Answer::Pending,
            (true, "4") => Answer::Failed,
            _ => Answer::Unknown,
        };
        self.keep_payment_event(
            PaymentEvent {
                reference: Some(&p.reference),
                provider: "paygov",
                kind: "query_answer",
                raw: &raw,
                verified: consistent,
                verdict: &format!("{answer:?}"),
            },
            now,
        )
        .await;
        answer
    }

    async fn vnpay_querydr(&self, p: &PaymentRow, now: DateTime<Utc>) -> Answer {
        let request_id = format!(
            "Q{}{}",
            format_wire(now),
            &p.reference[p.reference.len().saturating_sub(6)..]
        );
        let created = crate::domain::time::format_wire_millis(p.created_at);
        let create_date = format_wire(now);
        let info = vnpay::plain_text(&format!("Truy van giao dich {}", p.reference));
        let values = [
            request_id.as_str(),
            vnpay::VERSION,
            "querydr",
            self.vnpay.tmn_code.as_str(),
            p.reference.as_str(),
            created.as_str(),
            create_date.as_str(),
            "127.0.0.1",
            info.as_str(),
        ];
        let body = json!({
            "vnp_RequestId": values[0],
            "vnp_Version": values[1],
            "vnp_Command": values[2],
            "vnp_TmnCode": values[3],
            "vnp_TxnRef": values[4],
            "vnp_TransactionDate": values[5],
            "vnp_CreateDate": values[6],
            "vnp_IpAddr": values[7],
            "vnp_OrderInfo": values[8],
            "vnp_SecureHash": vnpay::querydr_hash(&values, self.vnpay.hash_secret.expose()),
        });
        let Some(raw) = self.ask("vnpay", self.vnpay.api_url.as_str(), &body).await else {
            return Answer::Unknown;
        };
        let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let verified = vnpay::verify_querydr_answer(&v, self.vnpay.hash_secret.expose());
        let s = |k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v[k].to_string())
        };
        let believable = verified
            && s("vnp_TxnRef") == p.reference
            && s("vnp_ResponseCode") == "00"
            && super::vnpay::amount_from_wire(&s("vnp_Amount")) == Some(p.amount);
        // `91`: VNPAY has no transaction for the reference — the citizen never paid.
        let never_started =
            verified && s("vnp_TxnRef") == p.reference && s("vnp_ResponseCode") == "91";
        let answer = if never_started {
            Answer::Pending
        } else if !believable {
            Answer::Unknown
        } else {
            match s("vnp_TransactionStatus").as_str() {
                "00" => Answer::Paid(s("vnp_TransactionNo")),
                "01" => Answer::Pending,
                "02" => Answer::Failed,
                _ => Answer::Unknown,
            }
        };
        self.keep_payment_event(
            PaymentEvent {
                reference: Some(&p.reference),
                provider: "vnpay",
                kind: "querydr_answer",
                raw: &raw,
                verified,
                verdict: &format!("{answer:?}"),
            },
            now,
        )
        .await;
        answer
    }

    async fn ask(&self, provider: &str, url: &str, body: &Value) -> Option<Vec<u8>> {
        let sent = match self.http.post(url).json(body).build() {
            Ok(request) => self.messages.send(&self.http, provider, request).await,
            Err(e) => Err(crate::audit::log::SendError::Transport(e)),
        };
        match sent {
            Ok(answer) => Some(answer.body.to_vec()),
            Err(e) => {
                tracing::warn!(error = %e, "payment provider not answering reconciliation");
                None
            }
        }
    }

    /// Reconciles every `period` until `shutdown`.
    pub async fn run_reconciler(
        self,
        reconcile_after: Duration,
        expire_after: Duration,
        period: Duration,
        shutdown: CancellationToken,
    ) {
        loop {
            if let Err(e) = self
                .reconcile_once(reconcile_after, expire_after, Utc::now())
                .await
            {
                tracing::error!(error = %e, "reconciliation failed; will try again");
            }
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
