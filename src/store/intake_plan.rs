//! Which items of an intake batch are new and what each one gets, decided in plain code inside
//! the transaction: the first item of each portal id not yet stored is new, grouped by its
//! Vietnam day; the day's codes are numbered from its counter; the code-naming texts are
//! completed; and each item is answered — created, a replay of the same content, or a
//! conflict naming the dossier stored (a repeat inside the batch as if its first were stored).

use super::intake::{InsertOutcome, IntakeItem};
use super::{NewOutboxMessage, StoreError};
use crate::chain::Exchange;
use crate::domain::code_template::CodeTemplate;
use crate::domain::codes::{AgencyCode, DossierCode};
use crate::domain::dossier::DocumentRef;
use crate::domain::time::vn_date;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};

/// A dossier already stored under an item's portal id.
pub(super) struct Stored {
    pub(super) code: String,
    pub(super) content_hash: String,
    pub(super) first_answer: String,
}

/// A dossier found under an item's portal id, as its row holds it.
pub(super) struct KnownRow {
    pub(super) portal_id: String,
    pub(super) code: String,
    pub(super) content_hash: String,
    pub(super) first_answer: String,
    pub(super) submission_seq: Option<i64>,
}

/// The dossiers found under a batch's portal ids while the answers they first got are read:
/// kept on the dossier before migration 0019, since then the record after its request's in the
/// message log (or in what the log keeps past its retention).
#[derive(Default)]
pub(super) struct Found {
    known: HashMap<String, Stored>,
    /// The log's records still to read, by seq: whose first answer each is.
    pub(super) in_log: HashMap<i64, String>,
}

impl Found {
    /// A dossier found.
    pub(super) fn add(&mut self, row: KnownRow) -> Result<(), StoreError> {
        if row.first_answer.is_empty() {
            let seq = row.submission_seq.ok_or_else(|| {
                StoreError::Corrupt(format!("dossier {:?} keeps no first answer", row.portal_id))
            })?;
            self.in_log.insert(seq + 1, row.portal_id.clone());
        }
        self.known.insert(
            row.portal_id,
            Stored {
                code: row.code,
                content_hash: row.content_hash,
                first_answer: row.first_answer,
            },
        );
        Ok(())
    }

    /// The log's record `seq` read: its body as stored, and how (`log_body`).
    pub(super) fn answer(
        &mut self,
        seq: i64,
        encoding: i16,
        stored: Vec<u8>,
    ) -> Result<(), StoreError> {
        let body = super::log_body::decode(encoding, stored);
        if let Some(found) = self.in_log.get(&seq).and_then(|id| self.known.get_mut(id)) {
            found.first_answer = String::from_utf8(body).map_err(|_| {
                StoreError::Corrupt(format!("message-log record {seq} is not UTF-8"))
            })?;
        }
        Ok(())
    }

    /// The dossiers found, each with its first answer.
    pub(super) fn finish(self) -> Result<HashMap<String, Stored>, StoreError> {
        if let Some(lost) = self.known.iter().find(|(_, s)| s.first_answer.is_empty()) {
            return Err(StoreError::Corrupt(format!(
                "the first answer of dossier {:?} is in neither the log nor what it keeps",
                lost.0
            )));
        }
        Ok(self.known)
    }
}

/// One new dossier, its code drawn and its texts completed.
pub(super) struct Fresh<'a> {
    pub(super) item: &'a IntakeItem,
    /// Its place in the batch.
    pub(super) index: usize,
    pub(super) code: DossierCode,
    pub(super) first_answer: String,
    pub(super) payloads: Vec<String>,
    pub(super) applicant: String,
    pub(super) form: String,
    pub(super) fees: String,
    pub(super) now: i64,
}

/// Every document of the new dossiers, in the batch's order: its dossier, its place among that
/// dossier's documents, the document.
pub(super) fn documents_of<'f>(
    fresh: &'f [Fresh<'f>],
) -> Vec<(&'f Fresh<'f>, usize, &'f DocumentRef)> {
    fresh
        .iter()
        .flat_map(|f| {
            f.item
                .dossier
                .documents
                .iter()
                .enumerate()
                .map(move |(p, d)| (f, p, d))
        })
        .collect()
}

/// Every outbox message of the new dossiers, in the batch's order: its dossier, the message, its
/// payload completed with the dossier's code.
pub(super) fn messages_of<'f>(
    fresh: &'f [Fresh<'f>],
) -> Vec<(
    &'f Fresh<'f>,
    &'f NewOutboxMessage<CodeTemplate>,
    &'f String,
)> {
    fresh
        .iter()
        .flat_map(|f| {
            f.item
                .rows
                .outbox
                .iter()
                .zip(&f.payloads)
                .map(move |(m, p)| (f, m, p))
        })
        .collect()
}

/// Each item's exchange for the message log: its request, and its answer as `outcomes` says.
pub(super) fn exchanges(items: &[IntakeItem], outcomes: &[InsertOutcome]) -> Vec<Exchange> {
    items
        .iter()
        .zip(outcomes)
        .map(|(item, outcome)| {
            Exchange::pair(item.request.clone(), item.replies.record_of(outcome))
        })
        .collect()
}

/// Which items are new: the first item of each portal id not yet stored, by arrival day.
pub(super) struct Plan<'a> {
    pub(super) first_of: HashMap<&'a str, usize>,
    pub(super) by_day: BTreeMap<NaiveDate, Vec<usize>>,
}

fn json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Encode(e.to_string()))
}

impl<'a> Plan<'a> {
    pub(super) fn new(items: &'a [IntakeItem], known: &HashMap<String, Stored>) -> Self {
        let mut first_of = HashMap::new();
        let mut by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let id = item.dossier.portal_id.as_str();
            if known.contains_key(id) || first_of.contains_key(id) {
                continue;
            }
            first_of.insert(id, i);
            by_day.entry(vn_date(item.received_at)).or_default().push(i);
        }
        Plan { first_of, by_day }
    }

    /// The new dossiers of `day`, numbered up to `last`, the day's counter after the batch.
    pub(super) fn fresh_of_day(
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
                first_answer: item.rows.first_answer.fill(code.as_str()),
                payloads: item
                    .rows
                    .outbox
                    .iter()
                    .map(|m| m.payload.fill(code.as_str()))
                    .collect(),
                code,
                item,
                index: i,
                applicant: json(&item.dossier.applicant)?,
                form: json(&item.dossier.form)?,
                fees: json(&item.dossier.fees)?,
                now: item.received_at.timestamp_millis(),
            });
        }
        Ok(fresh)
    }

    /// Each item's outcome, in the items' order.
    pub(super) fn outcomes(
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
            answer: item.replies.conflict_body.fill(&stored.code),
        }
    }
}
