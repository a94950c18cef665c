//! The intake transaction for many dossiers at once (group commit): a handful of multi-row
//! statements per batch instead of about eight statements per dossier, and one commit for the
//! dossiers and the message-log records of the requests that brought them.
//!
//! In one transaction: the portal ids already stored are looked up (those items are answered
//! as existing, and a repeat inside the batch as the first of its id); each day's sequence is
//! advanced once by the number of new dossiers of that day; then dossiers, raw submissions,
//! documents, progress records and outbox messages are each inserted with one statement; last,
//! each item's request and the answer it gets are appended to the message log. So a dossier
//! is never stored without the request that brought it, and no answer is sent that is not in
//! the log. If the transaction fails for any reason — another gateway inserting the same portal
//! id at the same moment, say — nothing of it is kept and every item is taken again in a
//! transaction of its own (once more after a unique-key race, when the lookup finds the other
//! gateway's dossier).

use super::dossiers::{InsertOutcome, PreparedRows, SubmissionRaw};
use super::message_log::append_log;
use super::{is_unique_violation, with_pool, BeginWrite, Store, StoreError};
use crate::chain::{Exchange, NewMessage};
use crate::domain::codes::{AgencyCode, DossierCode};
use crate::domain::dossier::NewDossier;
use crate::domain::time::vn_date;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// Builds an item's code-dependent rows once its code is drawn.
pub type Prepare = Box<dyn Fn(&DossierCode, &NewDossier) -> PreparedRows + Send + Sync>;

/// Builds the message-log record of the answer an item gets, from its outcome.
pub type AnswerOf = Box<dyn Fn(&InsertOutcome) -> NewMessage + Send + Sync>;

/// One dossier waiting to be stored.
pub struct IntakeItem {
    /// The dossier.
    pub dossier: NewDossier,
    /// When it arrived (its code's day, its times).
    pub received_at: DateTime<Utc>,
    /// The request as received.
    pub raw: SubmissionRaw,
    /// Its answer, progress record and messages, given its code.
    pub prepare: Prepare,
    /// The request as it crossed the wire, for the message log.
    pub request: NewMessage,
    /// The answer's record, given the outcome.
    pub answer_of: AnswerOf,
}

/// What is written for one new dossier.
struct Fresh<'a> {
    item: &'a IntakeItem,
    code: DossierCode,
    rows: PreparedRows,
    applicant: String,
    form: String,
    fees: String,
    now: i64,
}

fn json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
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
                        Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                            self.insert_batch_tx(agency, one).await
                        }
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
            let mut known: HashMap<String, InsertOutcome> = HashMap::new();
            for row in lookup.build().fetch_all(&mut *tx).await? {
                known.insert(
                    row.try_get("portal_id")?,
                    InsertOutcome::Existing {
                        code: row.try_get("code")?,
                        content_hash: row.try_get("content_hash")?,
                        answer: row.try_get("first_answer")?,
                    },
                );
            }

            // The new ones: the first item of each portal id not yet stored, grouped by day.
            let mut first_of: HashMap<&str, usize> = HashMap::new();
            let mut by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
            for (i, item) in items.iter().enumerate() {
                let id = item.dossier.portal_id.as_str();
                if known.contains_key(id) || first_of.contains_key(id) {
                    continue;
                }
                first_of.insert(id, i);
                by_day.entry(vn_date(item.received_at)).or_default().push(i);
            }
            let mut fresh: Vec<Fresh<'_>> = Vec::with_capacity(first_of.len());
            for (day, members) in &by_day {
                let k = i64::try_from(members.len()).unwrap_or(i64::MAX);
                let last: i64 = sqlx::query_scalar(
                    "INSERT INTO dossier_sequences (agency, day, last_value) VALUES ($1, $2, $3) \
                     ON CONFLICT (agency, day) DO UPDATE SET last_value = dossier_sequences.last_value + $3 \
                     RETURNING last_value",
                )
                .bind(agency.as_str())
                .bind(day.format("%Y%m%d").to_string())
                .bind(k)
                .fetch_one(&mut *tx)
                .await?;
                for (n, &i) in members.iter().enumerate() {
                    let seq = last - k + 1 + i64::try_from(n).unwrap_or(0);
                    let seq = u32::try_from(seq)
                        .map_err(|_| StoreError::Corrupt(format!("sequence {seq}")))?;
                    let item = &items[i];
                    let code = DossierCode::new(agency, *day, seq);
                    fresh.push(Fresh {
                        rows: (item.prepare)(&code, &item.dossier),
                        code,
                        item,
                        applicant: json(&item.dossier.applicant)?,
                        form: json(&item.dossier.form)?,
                        fees: json(&item.dossier.fees)?,
                        now: item.received_at.timestamp_millis(),
                    });
                }
            }

            let mut ids: HashMap<String, i64> = HashMap::new();
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
                        .push_bind(f.rows.progress.status)
                        .push_bind(d.channel.code())
                        .push_bind(d.submitted_at.timestamp_millis())
                        .push_bind(f.now)
                        .push_bind(f.applicant.as_str())
                        .push_bind(f.form.as_str())
                        .push_bind(f.fees.as_str())
                        .push_bind(d.summary.as_deref())
                        .push_bind(d.mapping_version.as_str())
                        .push_bind(d.content_hash.as_str())
                        .push_bind(f.rows.first_answer.as_str());
                });
                q.push(" RETURNING id, portal_id");
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
                    let p = &f.rows.progress;
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
                    .flat_map(|f| f.rows.outbox.iter().map(move |m| (f, m)))
                    .collect();
                if !messages.is_empty() {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, next_attempt_at) ",
                    );
                    q.push_values(&messages, |mut b, (f, m)| {
                        b.push_bind(m.destination.as_str())
                            .push_bind(id_of(f))
                            .push_bind(m.kind.as_str())
                            .push_bind(m.payload.as_str())
                            .push_bind(f.now)
                            .push_bind(f.now);
                    });
                    q.build().execute(&mut *tx).await?;
                }
            }
            // Outcomes in the items' order.
            let created: HashMap<&str, InsertOutcome> = fresh
                .iter()
                .map(|f| {
                    (
                        f.item.dossier.portal_id.as_str(),
                        InsertOutcome::Created {
                            code: f.code.to_string(),
                            answer: f.rows.first_answer.clone(),
                        },
                    )
                })
                .collect();
            let mut outcomes = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let id = item.dossier.portal_id.as_str();
                let outcome = match (known.get(id), created.get(id)) {
                    (Some(existing), _) => existing.clone(),
                    (None, Some(InsertOutcome::Created { code, answer })) if first_of.get(id) == Some(&i) => {
                        InsertOutcome::Created { code: code.clone(), answer: answer.clone() }
                    }
                    (None, Some(InsertOutcome::Created { code, answer })) => {
                        // A repeat inside the batch: answered as the first of its id.
                        let first = &items[first_of[id]];
                        InsertOutcome::Existing {
                            code: code.clone(),
                            content_hash: first.dossier.content_hash.clone(),
                            answer: answer.clone(),
                        }
                    }
                    _ => return Err(StoreError::Corrupt(format!("no outcome for portal id {id}"))),
                };
                outcomes.push(outcome);
            }

            // Last, the requests and their answers: the log's head stays locked until the commit.
            let exchanges = items
                .iter()
                .zip(&outcomes)
                .map(|(item, outcome)| Exchange::pair(item.request.clone(), (item.answer_of)(outcome)))
                .collect();
            append_log!(tx, exchanges).await?;
            tx.commit().await?;
            Ok(outcomes)
        })
    }
}
