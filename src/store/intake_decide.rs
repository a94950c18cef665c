//! What an intake batch's transaction reads and decides before it writes a row, the same on
//! both stores: the dossiers already stored under the items' portal ids (with the answers they
//! first got), each day's counter advanced by its new dossiers (the codes drawn), the log's
//! seqs reserved at its head, and each item's outcome and exchange for the log. The writes are
//! `intake_batch` (SQLite, a statement per table) and `intake_pg` (one statement).

use super::intake::{InsertOutcome, IntakeItem};
use super::intake_plan::{Fresh, Plan, Stored};
use super::message_log::{reserve_log, Reserved};
use super::{with_tx, StoreError, WriteTx};
use crate::chain::Exchange;
use crate::domain::codes::AgencyCode;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

/// What a batch's transaction decides before it writes a row: the new dossiers, their codes
/// drawn from their days' counters; each item's outcome and its exchange for the log; and the
/// log's seqs, reserved at the head (locked from there to the commit).
pub(super) struct Decided<'a> {
    pub(super) fresh: Vec<Fresh<'a>>,
    pub(super) outcomes: Vec<InsertOutcome>,
    pub(super) exchanges: Vec<Exchange>,
    pub(super) reserved: Reserved,
}

/// Looks up the items' portal ids, advances each day's counter by its new dossiers, and
/// reserves two log records an item (its request and answer), in that order on both stores.
pub(super) async fn decide<'a>(
    tx: &mut WriteTx,
    agency: &AgencyCode,
    items: &'a [IntakeItem],
) -> Result<Decided<'a>, StoreError> {
    let known = stored_ids(tx, items).await?;
    let plan = Plan::new(items, &known);
    let mut fresh: Vec<Fresh<'a>> = Vec::with_capacity(plan.first_of.len());
    for (day, members) in &plan.by_day {
        let last = advance_day(tx, agency, *day, members.len()).await?;
        fresh.extend(Plan::fresh_of_day(items, agency, *day, members, last)?);
    }
    let reserved = with_tx!(&mut *tx, t => reserve_log!(*t, 2 * items.len()).await?);
    let outcomes = plan.outcomes(items, &known, &fresh)?;
    let exchanges = items
        .iter()
        .zip(&outcomes)
        .map(|(item, outcome)| {
            Exchange::pair(item.request.clone(), item.replies.record_of(outcome))
        })
        .collect();
    Ok(Decided {
        fresh,
        outcomes,
        exchanges,
        reserved,
    })
}

/// A dossier found under an item's portal id, its first answer not yet read from the log.
#[derive(Debug)]
struct KnownRow {
    portal_id: String,
    code: String,
    content_hash: String,
    first_answer: String,
    submission_seq: Option<i64>,
}

/// The dossiers already stored under the items' portal ids, each with the answer it first
/// got ([`with_first_answers`]).
async fn stored_ids(
    tx: &mut WriteTx,
    items: &[IntakeItem],
) -> Result<HashMap<String, Stored>, StoreError> {
    let rows = with_tx!(&mut *tx, t => {
        let mut lookup = sqlx::QueryBuilder::new(
            "SELECT portal_id, code, content_hash, first_answer, submission_seq FROM dossiers \
             WHERE portal_id IN (",
        );
        let mut ids = lookup.separated(", ");
        for item in items {
            ids.push_bind(item.dossier.portal_id.as_str());
        }
        ids.push_unseparated(")");
        let mut rows = Vec::new();
        for row in lookup.build().fetch_all(&mut **t).await? {
            rows.push(KnownRow {
                portal_id: row.try_get("portal_id")?,
                code: row.try_get("code")?,
                content_hash: row.try_get("content_hash")?,
                first_answer: row.try_get("first_answer")?,
                submission_seq: row.try_get("submission_seq")?,
            });
        }
        rows
    });
    with_first_answers(tx, rows).await
}

/// The dossiers found, each with the answer it first got: kept on the dossier before
/// migration 0019, since then the record after its request's in the message log (or in what
/// the log keeps past its retention), read in one more statement when any is needed.
async fn with_first_answers(
    tx: &mut WriteTx,
    rows: Vec<KnownRow>,
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut known = HashMap::new();
    let mut in_log: HashMap<i64, String> = HashMap::new();
    for row in rows {
        if row.first_answer.is_empty() {
            let seq = row.submission_seq.ok_or_else(|| {
                StoreError::Corrupt(format!("dossier {:?} keeps no first answer", row.portal_id))
            })?;
            in_log.insert(seq + 1, row.portal_id.clone());
        }
        known.insert(
            row.portal_id,
            Stored {
                code: row.code,
                content_hash: row.content_hash,
                first_answer: row.first_answer,
            },
        );
    }
    if in_log.is_empty() {
        return Ok(known);
    }
    with_tx!(tx, t => {
        let list = in_log.keys().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT seq, body, body_encoding FROM message_log WHERE seq IN ({list}) \
             UNION ALL SELECT seq, body, body_encoding FROM message_log_kept WHERE seq IN ({list})"
        );
        for row in sqlx::query(&sql).fetch_all(&mut **t).await? {
            let seq: i64 = row.try_get("seq")?;
            let body = super::log_body::decode(row.try_get("body_encoding")?, row.try_get("body")?);
            if let Some(stored) = in_log.get(&seq).and_then(|id| known.get_mut(id)) {
                stored.first_answer = String::from_utf8(body).map_err(|_| {
                    StoreError::Corrupt(format!("message-log record {seq} is not UTF-8"))
                })?;
            }
        }
    });
    if let Some(lost) = known.iter().find(|(_, s)| s.first_answer.is_empty()) {
        return Err(StoreError::Corrupt(format!(
            "the first answer of dossier {:?} is in neither the log nor what it keeps",
            lost.0
        )));
    }
    Ok(known)
}

/// Advances `day`'s counter by `count` (the first write of the transaction, so concurrent
/// intakes queue on its row); the counter's value after.
async fn advance_day(
    tx: &mut WriteTx,
    agency: &AgencyCode,
    day: NaiveDate,
    count: usize,
) -> Result<i64, StoreError> {
    with_tx!(tx, t => {
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO dossier_sequences (agency, day, last_value) VALUES ($1, $2, $3) \
             ON CONFLICT (agency, day) DO UPDATE SET last_value = dossier_sequences.last_value + $3 \
             RETURNING last_value",
        )
        .bind(agency.as_str())
        .bind(day.format("%Y%m%d").to_string())
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .fetch_one(&mut **t)
        .await?;
        Ok(last)
    })
}
