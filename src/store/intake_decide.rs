//! What PostgreSQL's intake batch reads and decides before it writes a row: the dossiers
//! already stored under the items' portal ids (with the answers they first got), each day's
//! counter advanced by its new dossiers (the codes drawn), the log's seqs reserved at its head,
//! and each item's outcome and exchange for the log. The writes are `intake_pg` (one
//! statement). SQLite's intake takes the same steps through SQLite's C API
//! (`intake_sqlite`), the decisions themselves shared (`intake_plan`).

use super::intake::{InsertOutcome, IntakeItem};
use super::intake_plan::{exchanges, Found, Fresh, KnownRow, Plan, Stored};
use super::message_log::{reserve_log, Reserved};
use super::{push_in_list, with_tx, StoreError, WriteTx};
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
    let exchanges = exchanges(items, &outcomes);
    Ok(Decided {
        fresh,
        outcomes,
        exchanges,
        reserved,
    })
}

/// The dossiers already stored under the items' portal ids, each with the answer it first
/// got (`intake_plan::Found`).
async fn stored_ids(
    tx: &mut WriteTx,
    items: &[IntakeItem],
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut found = Found::default();
    with_tx!(&mut *tx, t => {
        let mut lookup = sqlx::QueryBuilder::new(
            "SELECT portal_id, code, content_hash, first_answer, submission_seq FROM dossiers \
             WHERE portal_id IN (",
        );
        push_in_list(&mut lookup, items.iter().map(|i| i.dossier.portal_id.as_str()));
        for row in lookup.build().fetch_all(&mut **t).await? {
            found.add(KnownRow {
                portal_id: row.try_get("portal_id")?,
                code: row.try_get("code")?,
                content_hash: row.try_get("content_hash")?,
                first_answer: row.try_get("first_answer")?,
                submission_seq: row.try_get("submission_seq")?,
            })?;
        }
    });
    if !found.in_log.is_empty() {
        with_tx!(tx, t => {
            let list = found.in_log.keys().map(i64::to_string).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT seq, body, body_encoding FROM message_log WHERE seq IN ({list}) \
                 UNION ALL SELECT seq, body, body_encoding FROM message_log_kept WHERE seq IN ({list})"
            );
            for row in sqlx::query(&sql).fetch_all(&mut **t).await? {
                found.answer(row.try_get("seq")?, row.try_get("body_encoding")?, row.try_get("body")?)?;
            }
        });
    }
    found.finish()
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
