//! The intake transaction for many dossiers at once (group commit): one commit for the
//! dossiers and the message-log records of the requests that brought them.
//!
//! In one transaction: the portal ids already stored are looked up (those items are answered
//! as replays or conflicts, and a repeat inside the batch as the first of its id would be);
//! each day's sequence is advanced once by the number of new dossiers of that day; the message
//! log's seqs for each item's request and answer are reserved; then dossiers (each naming its
//! request's record: the raw submission is kept once, in the log), documents, progress records
//! and outbox messages (then their payloads) are written, their code templates completed with
//! the codes drawn; last, the requests and answers are written into the seqs reserved. So a
//! dossier is never stored without the request that brought it, and no answer is sent that is
//! not in the log. A replay's answer is the first answer's record (the one after the
//! request's), read from the log or from what the log keeps past its retention.
//! If the transaction fails for any reason — another gateway inserting the same portal id at
//! the same moment, say — nothing of it is kept and every item is taken again in a transaction
//! of its own (once more after a unique-key race, when the lookup finds the other gateway's
//! dossier).
//!
//! SQLite's transaction is `intake_sqlite`'s, on the intake's own connection through SQLite's
//! C API while the one write connection is held; PostgreSQL's is `intake_pg`'s (the reads and
//! decisions of `intake_decide`, then one statement for every row).

use super::intake::{InsertOutcome, IntakeItem};
use super::{Store, StoreError};
use crate::domain::codes::AgencyCode;

impl Store {
    /// Stores every item (see the module's documentation); one outcome per item, in order.
    pub async fn insert_dossiers(
        &self,
        agency: &AgencyCode,
        items: &[IntakeItem],
    ) -> Vec<Result<InsertOutcome, StoreError>> {
        match self.insert_batch_tx(agency, items).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(e) => {
                if items.len() > 1 {
                    tracing::debug!(error = %e, items = items.len(), "batch intake failed; taking each on its own");
                }
                let mut outcomes = Vec::with_capacity(items.len());
                for item in items {
                    let one = std::slice::from_ref(item);
                    let outcome = match self.insert_batch_tx(agency, one).await {
                        // Another gateway stored the same portal id meanwhile: the lookup
                        // now finds it.
                        Err(StoreError::Duplicate(_)) => self.insert_batch_tx(agency, one).await,
                        other => other,
                    };
                    outcomes.push(outcome.and_then(|mut o| {
                        o.pop()
                            .ok_or_else(|| StoreError::Corrupt("no outcome for an item".into()))
                    }));
                }
                outcomes
            }
        }
    }

    async fn insert_batch_tx(
        &self,
        agency: &AgencyCode,
        items: &[IntakeItem],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        match self {
            Store::Sqlite { write, intake, .. } => {
                // Holding the one write connection keeps the store's other writers out while
                // the intake's own connection writes.
                let _writer = write.acquire().await?;
                intake.insert_batch(agency, items)
            }
            Store::Postgres(_) => {
                let tx = self.begin_tx().await?;
                super::intake_pg::insert_batch(tx, agency, items).await
            }
        }
    }
}
