//! The fees a dossier owes, as the lifecycle enforces them (contract section 5): its result is
//! not returned while fees due are unpaid (409 `FEES_UNPAID`), and fees paid at the counter are
//! recorded with the receipt's number (`record_payment`), the amount equal to the fees due, the
//! pending online request cancelled in the same commit.

use crate::domain::dossier::FeeLine;
use crate::domain::money::Vnd;
use crate::domain::validation::FieldError;
use crate::store::{PaymentOp, StoredDossier};

/// Why the fees refuse an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeRefusal {
    /// The fees due (this much) are not paid.
    Unpaid(Vnd),
    /// The counter payment is not right.
    Invalid(Vec<FieldError>),
}

/// A payment at the counter, as the officer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterReceipt {
    /// The amount paid.
    pub amount: Vnd,
    /// The receipt's number (biên lai).
    pub receipt_no: String,
}

/// The fees due under the dossier's rules (zero when it has none).
pub fn due(d: &StoredDossier) -> Vnd {
    FeeLine::total(&d.fees).unwrap_or(Vnd::ZERO)
}

/// Whether the dossier's fees are paid (or it owes none).
pub fn settled(d: &StoredDossier) -> Result<(), FeeRefusal> {
    let due = due(d);
    if due == Vnd::ZERO || d.payments.iter().any(|p| p.state == "paid") {
        Ok(())
    } else {
        Err(FeeRefusal::Unpaid(due))
    }
}

/// The payment operation of a counter payment of `receipt` for the dossier, made at `now`
/// (ms), or why it is refused: the amount must be the fees due.
pub fn counter_payment(
    d: &StoredDossier,
    receipt: Option<&CounterReceipt>,
    now: i64,
) -> Result<PaymentOp, FeeRefusal> {
    let Some(receipt) = receipt else {
        return Err(FeeRefusal::Invalid(vec![FieldError::required(
            "receipt_no",
        )]));
    };
    let due = due(d);
    if receipt.amount != due {
        return Err(FeeRefusal::Invalid(vec![FieldError::new(
            "amount",
            "out_of_range",
            format!("must equal the fees due, {due} đồng"),
        )]));
    }
    Ok(PaymentOp::Counter {
        reference: format!("QT{}{now}", d.id),
        amount: receipt.amount,
        fees: d.fees.clone(),
        provider_txn: format!("counter:{}", receipt.receipt_no),
    })
}
