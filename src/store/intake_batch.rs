//! The intake transaction for many dossiers at once (group commit): a handful of multi-row
//! statements per batch instead of about eight statements per dossier, and one commit for the
//! dossiers and the message-log records of the requests that brought them.
//!
//! In one transaction: the portal ids already stored are looked up (those items are answered
//! as replays or conflicts, and a repeat inside the batch as the first of its id would be);
//! each day's sequence is advanced once by the number of new dossiers of that day; then
//! dossiers, raw submissions, documents, progress records and outbox messages are each inserted
//! with one statement, their code templates completed with the codes drawn; last, each item's
//! request and the answer it gets are appended to the message log. So a dossier is never
//! stored without the request that brought it, and no answer is sent that is not in the log.
//! If the transaction fails for any reason — another gateway inserting the same portal id at
//! the same moment, say — nothing of it is kept and every item is taken again in a transaction
//! of its own (once more after a unique-key race, when the lookup finds the other gateway's
//! dossier).

use super::intake::{InsertOutcome, IntakeItem};
use super::message_log::append_log;
use super::{with_pool, BeginWrite, Store, StoreError};
use crate::chain::Exchange;
use crate::domain::codes::{AgencyCode, DossierCode};
use crate::domain::time::vn_date;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// A dossier already stored under an item's portal id.
struct Stored {
    code: String,
    content_hash: String,
    first_answer: String,
}

/// One new dossier, its code drawn and its texts completed.
struct Fresh<'a> {
    item: &'a IntakeItem,
    code: DossierCode,
    first_answer: String,
    payloads: Vec<String>,
    applicant: String,
    form: String,
    fees: String,
    now: i64,
}

/// Which items are new: the first item of each portal id not yet stored, by arrival day.
struct Plan {
    first_of: HashMap<String, usize>,
    by_day: BTreeMap<NaiveDate, Vec<usize>>,
}

fn json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Encode(e.to_string()))
}

impl Plan {
    fn new(items: &[IntakeItem], known: &HashMap<String, Stored>) -> Self {
        let mut first_of = HashMap::new();
        let mut by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let id = item.dossier.portal_id.as_str();
            if known.contains_key(id) || first_of.contains_key(id) {
                continue;
            }
            first_of.insert(id.to_owned(), i);
            by_day.entry(vn_date(item.received_at)).or_default().push(i);
        }
        Plan { first_of, by_day }
    }

    /// The new dossiers of `day`, numbered up to `last`, the day's counter after the batch.
    fn fresh_of_day<'a>(
        items: &'a [IntakeItem],
        agency: &AgencyCode,
        day: NaiveDate,
        members: &[usize],
        last: i64,
    ) -> Result<Vec<Fresh<'a>>, StoreError> {
        let first = last - i64::try_from(members.len()).unwrap_or(i64::MAX) + 1;
        let mut fresh = Vec::with_capacity(members.len());
        for (seq, &i) in (first..).zip(members) {
            let seq =
                u32::try_from(seq).map_err(|_| StoreError::Corrupt(format!("sequence {seq}")))?;
            let item = &items[i];
            let code = DossierCode::new(agency, day, seq);
            fresh.push(Fresh {
                first_answer: item.rows.first_answer.fill(&code),
                payloads: item
                    .rows
                    .outbox
                    .iter()
                    .map(|m| m.payload.fill(&code))
                    .collect(),
                code,
                item,
                applicant: json(&item.dossier.applicant)?,
                form: json(&item.dossier.form)?,
                fees: json(&item.dossier.fees)?,
                now: item.received_at.timestamp_millis(),
            });
        }
        Ok(fresh)
    }

    /// Each item's outcome, in the items' order.
    fn outcomes(
        &self,
        items: &[IntakeItem],
        known: &HashMap<String, Stored>,
        fresh: &[Fresh<'_>],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let created: HashMap<&str, &Fresh<'_>> = fresh
            .iter()
            .map(|f| (f.item.dossier.portal_id.as_str(), f))
            .collect();
        let mut outcomes = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let id = item.dossier.portal_id.as_str();
            let first = self.first_of.get(id).copied();
            let outcome = match (known.get(id), created.get(id)) {
                (Some(stored), _) => judge(item, stored),
                (None, Some(f)) if first == Some(i) => InsertOutcome::Created {
                    code: f.code.to_string(),
                    answer: f.first_answer.clone(),
                },
                // A repeat inside the batch: answered as if the first of its id were stored.
                (None, Some(f)) => judge(
                    item,
                    &Stored {
                        code: f.code.to_string(),
                        content_hash: f.item.dossier.content_hash.clone(),
                        first_answer: f.first_answer.clone(),
                    },
                ),
                (None, None) => {
                    return Err(StoreError::Corrupt(format!(
                        "no outcome for portal id {id}"
                    )))
                }
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

/// What a request whose portal id is stored gets: the first answer again for the same
/// content, a conflict naming the stored dossier for other content.
fn judge(item: &IntakeItem, stored: &Stored) -> InsertOutcome {
    if item.dossier.content_hash == stored.content_hash {
        InsertOutcome::Replayed {
            code: stored.code.clone(),
            answer: stored.first_answer.clone(),
        }
    } else {
        InsertOutcome::Conflict {
            code: stored.code.clone(),
            answer: item.replies.conflict_body.fill_stored(&stored.code),
        }
    }
}

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
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;

            // Portal ids already stored.
            let mut lookup = sqlx::QueryBuilder::new(
                "SELECT portal_id, code, content_hash, first_answer FROM dossiers WHERE portal_id IN (",
            );
            let mut ids = lookup.separated(", ");
            for item in items {
                ids.push_bind(item.dossier.portal_id.as_str());
            }
            ids.push_unseparated(")");
            let mut known: HashMap<String, Stored> = HashMap::new();
            for row in lookup.build().fetch_all(&mut *tx).await? {
                known.insert(
                    row.try_get("portal_id")?,
                    Stored {
                        code: row.try_get("code")?,
                        content_hash: row.try_get("content_hash")?,
                        first_answer: row.try_get("first_answer")?,
                    },
                );
            }

            // Codes for the new ones: each day's counter advanced once.
            let plan = Plan::new(items, &known);
            let mut fresh: Vec<Fresh<'_>> = Vec::with_capacity(plan.first_of.len());
            for (day, members) in &plan.by_day {
                let last: i64 = sqlx::query_scalar(
                    "INSERT INTO dossier_sequences (agency, day, last_value) VALUES ($1, $2, $3) \
                     ON CONFLICT (agency, day) DO UPDATE SET last_value = dossier_sequences.last_value + $3 \
                     RETURNING last_value",
                )
                .bind(agency.as_str())
                .bind(day.format("%Y%m%d").to_string())
                .bind(i64::try_from(members.len()).unwrap_or(i64::MAX))
                .fetch_one(&mut *tx)
                .await?;
                fresh.extend(Plan::fresh_of_day(items, agency, *day, members, last)?);
            }

            if !fresh.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, submitted_at, \
                     received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer) ",
                );
                q.push_values(&fresh, |mut b, f| {
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
                        .push_bind(f.first_answer.as_str());
                });
                q.push(" RETURNING id, portal_id");
                let mut ids: HashMap<String, i64> = HashMap::new();
                for row in q.build().fetch_all(&mut *tx).await? {
                    ids.insert(row.try_get("portal_id")?, row.try_get("id")?);
                }
                let id_of = |f: &Fresh<'_>| ids.get(f.item.dossier.portal_id.as_str()).copied().unwrap_or(0);

                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO dossier_submissions (dossier_id, content_type, body, webhook_id, \
                     webhook_timestamp, webhook_signature, received_at) ",
                );
                q.push_values(&fresh, |mut b, f| {
                    let raw = &f.item.raw;
                    b.push_bind(id_of(f))
                        .push_bind(raw.content_type.as_str())
                        .push_bind(raw.body.as_slice())
                        .push_bind(raw.webhook_id.as_str())
                        .push_bind(raw.webhook_timestamp.as_str())
                        .push_bind(raw.webhook_signature.as_str())
                        .push_bind(f.now);
                });
                q.build().execute(&mut *tx).await?;

                let documents: Vec<_> = fresh
                    .iter()
                    .flat_map(|f| {
                        f.item.dossier.documents.iter().enumerate().map(move |(p, d)| (f, p, d))
                    })
                    .collect();
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
                    q.build().execute(&mut *tx).await?;
                }

                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, \
                     officer_unit, note, at) ",
                );
                q.push_values(&fresh, |mut b, f| {
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
                q.build().execute(&mut *tx).await?;

                let messages: Vec<_> = fresh
                    .iter()
                    .flat_map(|f| f.item.rows.outbox.iter().zip(&f.payloads).map(move |(m, p)| (f, m, p)))
                    .collect();
                if !messages.is_empty() {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, next_attempt_at) ",
                    );
                    q.push_values(&messages, |mut b, (f, m, payload)| {
                        b.push_bind(m.destination.as_str())
                            .push_bind(id_of(f))
                            .push_bind(m.kind.as_str())
                            .push_bind(payload.as_str())
                            .push_bind(f.now)
                            .push_bind(f.now);
                    });
                    q.build().execute(&mut *tx).await?;
                }
            }

            // Last, the requests and their answers: the log's head stays locked until the commit.
            let outcomes = plan.outcomes(items, &known, &fresh)?;
            let exchanges = items
                .iter()
                .zip(&outcomes)
                .map(|(item, outcome)| Exchange::pair(item.request.clone(), item.replies.record_of(outcome)))
                .collect();
            append_log!(tx, exchanges).await?;
            tx.commit().await?;
            Ok(outcomes)
        })
    }
}
