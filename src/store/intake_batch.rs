//! The intake transaction for many dossiers at once (group commit): a handful of multi-row
//! statements per batch instead of about eight statements per dossier, and one commit for the
//! dossiers and the message-log records of the requests that brought them.
//!
//! In one transaction: the portal ids already stored are looked up (those items are answered
//! as replays or conflicts, and a repeat inside the batch as the first of its id would be);
//! each day's sequence is advanced once by the number of new dossiers of that day; the message
//! log's seqs for each item's request and answer are reserved; then dossiers (each naming its
//! request's record: the raw submission is kept once, in the log), documents, progress records
//! and outbox messages (then their payloads) are each inserted with one statement, their code
//! templates completed with the codes drawn; last, the requests and answers are written into
//! the seqs reserved. So a dossier is never stored without the request that brought it, and
//! no answer is sent that is not in the log. A replay's answer is the first answer's record
//! (the one after the request's), read from the log or from what the log keeps past its
//! retention.
//! If the transaction fails for any reason — another gateway inserting the same portal id at
//! the same moment, say — nothing of it is kept and every item is taken again in a transaction
//! of its own (once more after a unique-key race, when the lookup finds the other gateway's
//! dossier).
//!
//! The reads and decisions before the writes are `intake_decide`, shared by both stores; the
//! writes here are SQLite's, and PostgreSQL's are `intake_pg` (one statement for them all).

use super::intake::{InsertOutcome, IntakeItem};
use super::intake_decide::{decide, Decided};
use super::intake_plan::{documents_of, messages_of, Fresh};
use super::message_log::write_log;
use super::names::keep_names;
use super::{with_tx, Store, StoreError, WriteTx};
use crate::domain::codes::AgencyCode;
use crate::domain::search;
use sqlx::Row;
use std::collections::HashMap;

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
        let mut tx = self.begin_tx().await?;
        if let WriteTx::Postgres(_) = tx {
            return super::intake_pg::insert_batch(tx, agency, items).await;
        }
        let Decided {
            fresh,
            outcomes,
            exchanges,
            reserved,
        } = decide(&mut tx, agency, items).await?;
        if !fresh.is_empty() {
            let ids = insert_dossiers(&mut tx, &fresh, reserved.first_seq).await?;
            match &mut tx {
                WriteTx::Sqlite(t) => insert_children(t, &fresh, &ids).await?,
                // PostgreSQL's batch was written by `intake_pg`, above.
                WriteTx::Postgres(_) => {}
            }
        }
        // Last, the requests and their answers, into the seqs reserved.
        with_tx!(&mut tx, t => write_log!(*t, reserved, exchanges).await?);
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// The new dossiers' rows, with the words of their applicants' names kept for the search
/// (`store::names`); their ids by portal id.
async fn insert_dossiers(
    tx: &mut WriteTx,
    fresh: &[Fresh<'_>],
    first_seq: i64,
) -> Result<HashMap<String, i64>, StoreError> {
    let names: Vec<Vec<String>> = fresh
        .iter()
        .map(|f| search::words(&f.item.dossier.applicant.name))
        .collect();
    let ids = with_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, submitted_at, \
             received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer, \
             submission_seq, name_words, notice) ",
        );
        q.push_values(fresh.iter().zip(&names), |mut b, (f, words)| {
            let d = &f.item.dossier;
            b.push_bind(f.code.as_str())
                .push_bind(d.portal_id.as_str())
                .push_bind(d.procedure.as_str())
                .push_bind(f.item.rows.progress.status)
                .push_bind(d.channel.code())
                .push_bind(d.submitted_at.timestamp_millis())
                .push_bind(f.now)
                .push_bind(f.applicant.as_str())
                .push_bind(f.form.as_str())
                .push_bind(f.fees.as_str())
                .push_bind(d.summary.as_deref())
                .push_bind(d.mapping_version.as_str())
                .push_bind(d.content_hash.as_str())
                // The answer is the record after the request's, in the log.
                .push_bind("")
                .push_bind(first_seq + 2 * i64::try_from(f.index).unwrap_or(i64::MAX / 4))
                .push_bind(words.join(" "))
                .push_bind(i64::from(f.item.notice));
        });
        q.push(" RETURNING id, portal_id");
        let mut ids: HashMap<String, i64> = HashMap::new();
        for row in q.build().fetch_all(&mut **t).await? {
            ids.insert(row.try_get("portal_id")?, row.try_get("id")?);
        }
        ids
    });
    let named: Vec<(i64, Vec<String>)> = fresh
        .iter()
        .zip(names)
        .filter_map(|(f, w)| Some((*ids.get(f.item.dossier.portal_id.as_str())?, w)))
        .collect();
    keep_names(tx, &named).await?;
    Ok(ids)
}

/// What hangs off each new dossier: its documents, arrival progress record and messages (their
/// rows, then their payloads), one multi-row statement each.
async fn insert_children(
    t: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    fresh: &[Fresh<'_>],
    ids: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    let id_of = |f: &Fresh<'_>| {
        ids.get(f.item.dossier.portal_id.as_str())
            .copied()
            .unwrap_or(0)
    };
    let documents = documents_of(fresh);
    if !documents.is_empty() {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, \
             sha256, size, next_attempt_at) ",
        );
        q.push_values(&documents, |mut b, (f, position, doc)| {
            b.push_bind(id_of(f))
                .push_bind(i64::try_from(*position).unwrap_or(0))
                .push_bind(doc.component.as_str())
                .push_bind(doc.file_name.as_str())
                .push_bind(doc.url.as_str())
                .push_bind(doc.sha256.as_str())
                .push_bind(doc.size)
                .push_bind(f.now);
        });
        q.build().execute(&mut **t).await?;
    }

    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, \
         officer_unit, note, at) ",
    );
    q.push_values(fresh, |mut b, f| {
        let p = &f.item.rows.progress;
        b.push_bind(id_of(f))
            .push_bind(p.action.as_str())
            .push_bind(p.status)
            .push_bind(p.officer_name.as_str())
            .push_bind(p.officer_title.as_str())
            .push_bind(p.officer_unit.as_str())
            .push_bind(p.note.as_deref())
            .push_bind(p.at);
    });
    q.build().execute(&mut **t).await?;

    let messages = messages_of(fresh);
    if !messages.is_empty() {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO outbox (destination, dossier_id, kind, created_at, next_attempt_at) ",
        );
        q.push_values(&messages, |mut b, (f, m, _)| {
            b.push_bind(m.destination.as_str())
                .push_bind(id_of(f))
                .push_bind(m.kind.as_str())
                .push_bind(f.now)
                .push_bind(f.now);
        });
        let last = q.build().execute(&mut **t).await?.last_insert_rowid();
        // The rows of one statement are given consecutive ids in the order of its VALUES:
        // `outbox.id` is AUTOINCREMENT, so each new row's id is one more than the largest
        // the table has ever held, which is the row inserted just before it.
        let first = last + 1 - i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let mut q = sqlx::QueryBuilder::new("INSERT INTO outbox_payloads (message_id, payload) ");
        q.push_values(
            messages.iter().zip(first..),
            |mut b, ((_, _, payload), id)| {
                b.push_bind(id).push_bind(payload.as_str());
            },
        );
        q.build().execute(&mut **t).await?;
    }
    Ok(())
}
