//! Payment statements: payment requests, their settlement (once: guarded by `state = 'pending'`
//! — or `'expired'` when the provider confirms a late payment as paid — and by the unique
//! provider transaction id), and each payment's history of provider messages
//! (`payment_events`).

use super::{with_pool, BeginWrite, Store, StoreError};
use crate::domain::dossier::FeeLine;
use crate::domain::money::Vnd;
use serde::Serialize;
use sqlx::Row;

/// A payment request to store.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// The gateway's reference.
    pub reference: String,
    /// `paygov` or `vnpay`.
    pub provider: String,
    /// What is paid.
    pub amount: Vnd,
    /// The fee lines it covers.
    pub fees: Vec<FeeLine>,
    /// Where the applicant pays.
    pub pay_url: String,
}

/// What to do to a payment inside a dossier change's transaction.
#[derive(Debug, Clone)]
pub enum PaymentOp {
    /// Store a new request.
    Insert(NewPayment),
    /// Settle a pending request as `paid` or `failed`, with the provider's transaction id.
    Settle {
        /// The reference.
        reference: String,
        /// `paid` or `failed`.
        state: &'static str,
        /// The provider's transaction id (prefixed by the provider), if any.
        provider_txn: Option<String>,
    },
    /// The fees paid at the counter: a payment stored as paid (provider `counter`, the
    /// receipt's number as its transaction), the pending online request, if any, cancelled.
    Counter {
        /// The reference given to it.
        reference: String,
        /// The amount paid.
        amount: Vnd,
        /// The fee lines paid.
        fees: Vec<FeeLine>,
        /// `counter:` and the receipt's number.
        provider_txn: String,
    },
}

/// A stored payment. (Deserialized only from the positional arrays of
/// `Store::dossier_select`, in field order.)
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PaymentRow {
    /// The gateway's reference.
    pub reference: String,
    /// The dossier's row id.
    #[serde(skip_serializing)]
    pub dossier_id: i64,
    /// The dossier's code.
    pub dossier: String,
    /// Provider.
    pub provider: String,
    /// What is paid.
    pub amount: Vnd,
    /// `pending`, `paid`, `failed`, `expired`.
    pub state: String,
    /// Where the applicant pays.
    pub pay_url: Option<String>,
    /// The provider's transaction id.
    pub provider_txn: Option<String>,
    /// Requested at (ms).
    pub created_at: i64,
    /// Settled at (ms).
    pub settled_at: Option<i64>,
}

/// One provider message as kept in its payment's history.
#[derive(Debug, Clone)]
pub struct PaymentMessage {
    /// What it was (`ipn`, `return`, `confirm`, `query`, …).
    pub kind: String,
    /// Whether its signature held.
    pub verified: bool,
    /// What the gateway made of it.
    pub verdict: String,
    /// The message as received (cut where unsigned).
    pub raw: Vec<u8>,
    /// When it arrived (ms).
    pub at: i64,
}

/// One provider message as received, for its payment's history.
#[derive(Debug, Clone)]
pub struct PaymentEvent<'a> {
    /// The payment reference it names, if any.
    pub reference: Option<&'a str>,
    /// Provider.
    pub provider: &'a str,
    /// `confirm`, `ipn`, `init_answer`, `query_answer`, `querydr_answer`.
    pub kind: &'a str,
    /// The bytes as received.
    pub raw: &'a [u8],
    /// Whether its signature verified.
    pub verified: bool,
    /// What the gateway decided.
    pub verdict: &'a str,
}

impl StoreError {
    /// Whether a payment was refused because its dossier already has a pending one (the unique
    /// index `payments_one_pending_per_dossier`, which SQLite reports by its column).
    pub fn is_second_pending_payment(&self) -> bool {
        matches!(self, StoreError::Duplicate(what)
            if what == "payments_one_pending_per_dossier" || what.ends_with("payments.dossier_id"))
    }
}

const PAYMENT_COLUMNS: &str =
    "p.reference, p.dossier_id, d.code, p.provider, p.amount, p.state, p.pay_url, \
    p.provider_txn, p.created_at, p.settled_at";

macro_rules! payment_from_row {
    ($r:expr) => {
        PaymentRow {
            reference: $r.try_get("reference")?,
            dossier_id: $r.try_get("dossier_id")?,
            dossier: $r.try_get("code")?,
            provider: $r.try_get("provider")?,
            amount: Vnd::try_from($r.try_get::<i64, _>("amount")?)
                .map_err(|e| StoreError::Corrupt(format!("payment amount: {e}")))?,
            state: $r.try_get("state")?,
            pay_url: $r.try_get("pay_url")?,
            provider_txn: $r.try_get("provider_txn")?,
            created_at: $r.try_get("created_at")?,
            settled_at: $r.try_get("settled_at")?,
        }
    };
}

/// Runs a payment operation inside a transaction; evaluates to whether it applied (a
/// settlement of a payment no longer pending does not).
macro_rules! apply_payment_op {
    ($exec:expr, $dossier_id:expr, $op:expr, $now:expr) => {
        async {
            let applied = match $op {
                $crate::store::PaymentOp::Insert(p) => {
                    let fees = serde_json::to_string(&p.fees)
                        .map_err(|e| StoreError::Encode(format!("fee lines: {e}")))?;
                    sqlx::query(
                        "INSERT INTO payments (reference, dossier_id, provider, amount, fees, pay_url, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&p.reference)
                    .bind($dossier_id)
                    .bind(&p.provider)
                    .bind(p.amount.get())
                    .bind(fees)
                    .bind(&p.pay_url)
                    .bind($now)
                    .execute($exec)
                    .await?
                    .rows_affected()
                }
                $crate::store::PaymentOp::Settle { reference, state, provider_txn } => {
                    sqlx::query(
                        "UPDATE payments SET state = $1, provider_txn = $2, settled_at = $3 \
                         WHERE reference = $4 AND (state = 'pending' OR (state = 'expired' AND $1 = 'paid'))",
                    )
                    .bind(*state)
                    .bind(provider_txn.as_deref())
                    .bind($now)
                    .bind(reference)
                    .execute($exec)
                    .await?
                    .rows_affected()
                }
                $crate::store::PaymentOp::Counter { reference, amount, fees, provider_txn } => {
                    sqlx::query(
                        "UPDATE payments SET state = 'cancelled', settled_at = $1 \
                         WHERE dossier_id = $2 AND state = 'pending'",
                    )
                    .bind($now)
                    .bind($dossier_id)
                    .execute(&mut *$exec)
                    .await?;
                    let fees = serde_json::to_string(fees)
                        .map_err(|e| StoreError::Encode(format!("fee lines: {e}")))?;
                    sqlx::query(
                        "INSERT INTO payments (reference, dossier_id, provider, amount, fees, pay_url, created_at, \
                         state, provider_txn, settled_at) VALUES ($1, $2, 'counter', $3, $4, '', $5, 'paid', $6, $5)",
                    )
                    .bind(reference)
                    .bind($dossier_id)
                    .bind(amount.get())
                    .bind(fees)
                    .bind($now)
                    .bind(provider_txn)
                    .execute(&mut *$exec)
                    .await?
                    .rows_affected()
                }
            };
            Ok::<bool, $crate::store::StoreError>(applied == 1)
        }
    };
}
pub(crate) use apply_payment_op;

impl Store {
    /// The payment with this reference.
    pub async fn payment(&self, reference: &str) -> Result<Option<PaymentRow>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments p JOIN dossiers d ON d.id = p.dossier_id WHERE p.reference = $1");
        with_pool!(read self, pool => {
            match sqlx::query(&sql).bind(reference).fetch_optional(pool).await? {
                Some(r) => Ok(Some(payment_from_row!(r))),
                None => Ok(None),
            }
        })
    }

    /// A dossier's payments, oldest first.
    pub async fn payments_of(&self, dossier_id: i64) -> Result<Vec<PaymentRow>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments p JOIN dossiers d ON d.id = p.dossier_id WHERE p.dossier_id = $1 ORDER BY p.id");
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql).bind(dossier_id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(payment_from_row!(r))).collect()
        })
    }

    /// Pending payments requested before `before` (ms) and not checked since `checked_before`.
    pub async fn payments_to_reconcile(
        &self,
        before: i64,
        checked_before: i64,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments p JOIN dossiers d ON d.id = p.dossier_id \
             WHERE p.state = 'pending' AND p.created_at < $1 AND (p.checked_at IS NULL OR p.checked_at < $2) \
             ORDER BY p.created_at LIMIT $3"
        );
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql).bind(before).bind(checked_before).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(payment_from_row!(r))).collect()
        })
    }

    /// Marks a payment as asked about now.
    pub async fn payment_checked(&self, reference: &str, now: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE payments SET checked_at = $1 WHERE reference = $2")
                .bind(now)
                .bind(reference)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// A payment operation without a dossier change (a settlement that fails, or of a dossier no
    /// longer in 6; a new request of a dossier already in 6); returns whether it applied.
    pub async fn payment_op_only(
        &self,
        dossier_id: i64,
        op: &PaymentOp,
        now: i64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let applied = apply_payment_op!(&mut *tx, dossier_id, op, now).await?;
            tx.commit().await?;
            Ok(applied)
        })
    }

    /// Expires one payment if it is still pending; returns whether it did.
    pub async fn expire_payment(&self, reference: &str, now: i64) -> Result<bool, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query("UPDATE payments SET state = 'expired', settled_at = $1 WHERE reference = $2 AND state = 'pending'")
                .bind(now)
                .bind(reference)
                .execute(pool)
                .await?
                .rows_affected() == 1)
        })
    }

    /// Records a provider message as received.
    pub async fn record_payment_event(
        &self,
        e: &PaymentEvent<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO payment_events (reference, provider, kind, raw, verified, verdict, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(e.reference)
            .bind(e.provider)
            .bind(e.kind)
            .bind(e.raw)
            .bind(i64::from(e.verified))
            .bind(e.verdict)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The history of one payment reference, oldest first.
    pub async fn payment_events(&self, reference: &str) -> Result<Vec<PaymentMessage>, StoreError> {
        with_pool!(read self, pool => {
            let rows = sqlx::query("SELECT kind, verified, verdict, raw, at FROM payment_events WHERE reference = $1 ORDER BY id")
                .bind(reference)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok(PaymentMessage {
                    kind: r.try_get("kind")?,
                    verified: r.try_get::<i64, _>("verified")? != 0,
                    verdict: r.try_get("verdict")?,
                    raw: r.try_get("raw")?,
                    at: r.try_get("at")?,
                }))
                .collect()
        })
    }
}
