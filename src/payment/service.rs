//! The payment service: its types and errors, and settlement — once — with the dossier's
//! return from status 6 and the portal's sync in the same transaction. Requests are
//! `request`, the providers' callbacks `callbacks`, the last question before expiry
//! `reconcile`.

use crate::audit::log::MessageLog;
use crate::config::{Config, PaygovConfig, VnpayConfig};
use crate::domain::lifecycle::Action;
use crate::domain::money::Vnd;
use crate::dossiers::lifecycle::Lifecycle;
use crate::dossiers::plan::{ActionInput, LifecycleError, Officer};
use crate::mapping::Mappings;
use crate::store::{PaymentEvent, PaymentOp, PaymentRow, Store, StoreError};
use chrono::{DateTime, Utc};
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
    pub(super) mappings: Arc<Mappings>,
    pub(crate) paygov: PaygovConfig,
    pub(crate) vnpay: VnpayConfig,
    pub(crate) http: reqwest::Client,
    /// Where every call to a provider and its answer are recorded.
    pub(crate) messages: MessageLog,
    pub(super) agency_name: String,
    /// The agency's e-ID (`MaDonVi` on PayGov's receipt).
    pub(super) agency_code: String,
}

pub(super) fn system_officer(unit: &str) -> Officer {
    Officer {
        name: "Hệ thống thanh toán trực tuyến".into(),
        title: "Hệ thống".into(),
        unit: unit.to_owned(),
    }
}

impl Payments {
    /// A payment operation with no change of status, then the dossier's kept status read
    /// dropped (its payments changed).
    pub(super) async fn op_only(
        &self,
        dossier_id: i64,
        op: &PaymentOp,
        ms: i64,
    ) -> Result<bool, StoreError> {
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
            http: crate::audit::log::partner_client(config.outbox.timeout.0, 8)?,
            messages,
            agency_name: config.agency.name.clone(),
            agency_code: config.agency.code.to_string(),
        })
    }

    /// Keeps a provider message as received in the payment's own history (`payment_events`,
    /// beside the message log's record of it); a failure to keep it is logged, never hidden.
    pub(crate) async fn keep_payment_event(&self, event: PaymentEvent<'_>, now: DateTime<Utc>) {
        let (provider, kind) = (event.provider, event.kind);
        if let Err(e) = self
            .store
            .record_payment_event(&event, now.timestamp_millis())
            .await
        {
            tracing::error!(error = %e, provider, kind, "a provider message could not be kept in its payment's history");
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
            counter: None,
            variant: None,
            step: None,
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
