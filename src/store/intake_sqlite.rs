//! SQLite's intake batch run on the calling thread — the intake writer's own — through SQLite's
//! C API (`rusqlite`) on a connection of its own, its statements prepared once and kept, as
//! `docs/sqlite_floor.py` runs SQLite. Through sqlx every statement was a trip to the
//! connection's thread with its values copied on the way; measured in docs/PERFORMANCE.md
//! ("The intake transaction on the writer's thread"), this way stores a batch of 64 in about
//! two thirds of the time.
//!
//! The connection writes only while the caller holds sqlx's one write connection
//! (`intake_batch`), so the store's other writers wait for it as they wait for each other. It
//! is opened as the write pool's is: WAL, `synchronous=FULL` (a commit is on disk before it
//! returns), foreign keys, the writer's checkpoint settings (`checkpoint`).
//!
//! The transaction is `intake_batch`'s, step for step: the items' portal ids looked up (with
//! the answers they first got, read from the log), each day's counter advanced, the log's seqs
//! reserved, the outcomes decided (`intake_plan`), then the dossiers, their names' words,
//! documents, progress records, outbox messages with their payloads, and last the log's
//! records and its head, each row by a prepared one-row statement.

use super::checkpoint;
use super::intake::{InsertOutcome, IntakeItem};
use super::intake_plan::{
    documents_of, exchanges, messages_of, Found, Fresh, KnownRow, Plan, Stored,
};
use super::message_log::{Reserved, SealedLog, RECORD_COLUMNS, RESERVE};
use super::StoreError;
use crate::domain::codes::AgencyCode;
use crate::domain::search;
use rusqlite::{params, params_from_iter, Transaction};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

/// Prepared statements kept: the batch's dozen, and a lookup for each batch size.
const STATEMENTS_KEPT: usize = 160;

/// The intake's own connection to the store's file (closed with the store).
pub struct IntakeConnection(Mutex<Option<rusqlite::Connection>>);

impl std::fmt::Debug for IntakeConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntakeConnection")
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::SqliteFailure(e, message)
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Duplicate(message.clone().unwrap_or_else(|| e.to_string()))
            }
            _ => StoreError::Embedded(err),
        }
    }
}

impl IntakeConnection {
    /// Opens `path` (made by sqlx's pools first) as the write pool is opened.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = memory; PRAGMA busy_timeout = 10000; \
             PRAGMA wal_autocheckpoint = {}; PRAGMA journal_size_limit = {};",
            checkpoint::WRITER_PAGES,
            checkpoint::WAL_KEPT_BYTES
        ))?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        Ok(IntakeConnection(Mutex::new(Some(conn))))
    }

    /// Closes the connection; a batch after this fails as a stopped writer's would.
    pub(super) fn close(&self) {
        if let Ok(mut conn) = self.0.lock() {
            conn.take();
        }
    }

    /// Stores every item in one transaction (see the module's documentation); the caller holds
    /// sqlx's write connection.
    pub(super) fn insert_batch(
        &self,
        agency: &AgencyCode,
        items: &[IntakeItem],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut conn = self
            .0
            .lock()
            .map_err(|_| StoreError::Corrupt("the intake connection's lock".into()))?;
        let conn = conn.as_mut().ok_or(StoreError::Stopped)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let outcomes = write(&tx, agency, items)?;
        tx.commit()?;
        Ok(outcomes)
    }
}

/// The batch's reads, decisions and writes inside `tx`.
fn write(
    tx: &Transaction<'_>,
    agency: &AgencyCode,
    items: &[IntakeItem],
) -> Result<Vec<InsertOutcome>, StoreError> {
    let known = stored(tx, items)?;
    let plan = Plan::new(items, &known);
    let mut fresh: Vec<Fresh<'_>> = Vec::with_capacity(plan.first_of.len());
    for (day, members) in &plan.by_day {
        let last: i64 = tx
            .prepare_cached(
                "INSERT INTO dossier_sequences (agency, day, last_value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agency, day) DO UPDATE SET last_value = dossier_sequences.last_value + ?3 \
                 RETURNING last_value",
            )?
            .query_row(
                params![
                    agency.as_str(),
                    day.format("%Y%m%d").to_string(),
                    count(members.len())
                ],
                |r| r.get(0),
            )?;
        fresh.extend(Plan::fresh_of_day(items, agency, *day, members, last)?);
    }
    let n = count(2 * items.len());
    let reserved = tx
        .prepare_cached(RESERVE)?
        .query_row(params![n], |r| Ok(Reserved::up_to(r.get(0)?, r.get(1)?, n)))?;
    let first_seq = reserved.first_seq;
    let outcomes = plan.outcomes(items, &known, &fresh)?;
    let exchanges = exchanges(items, &outcomes);
    if !fresh.is_empty() {
        let ids = insert_dossiers(tx, &fresh, first_seq)?;
        insert_children(tx, &fresh, &ids)?;
    }
    // Last, the requests and their answers, into the seqs reserved.
    let log = SealedLog::new(reserved, exchanges)?;
    let mut insert = tx.prepare_cached(&format!(
        "INSERT INTO message_log ({RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))?;
    for (r, encoding, body) in log.stored() {
        let m = &r.message;
        insert.execute(params![
            r.seq,
            m.at,
            m.direction.as_str(),
            m.partner,
            m.peer,
            m.reply_to,
            m.target,
            m.headers,
            body,
            encoding,
            m.verdict,
            r.body_sha256,
            r.prev_hash,
            r.hash
        ])?;
    }
    if let Some(last) = log.records.last() {
        tx.prepare_cached("UPDATE message_log_head SET last_hash = ?1 WHERE id = 1")?
            .execute(params![last.hash])?;
    }
    Ok(outcomes)
}

/// A count as SQLite's integer.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The dossiers already stored under the items' portal ids, each with the answer it first got
/// (`intake_plan::Found`).
fn stored(
    tx: &Transaction<'_>,
    items: &[IntakeItem],
) -> Result<HashMap<String, Stored>, StoreError> {
    let sql = format!(
        "SELECT portal_id, code, content_hash, first_answer, submission_seq FROM dossiers \
         WHERE portal_id IN ({})",
        vec!["?"; items.len()].join(", ")
    );
    let mut lookup = tx.prepare_cached(&sql)?;
    let mut rows = lookup.query(params_from_iter(
        items.iter().map(|i| i.dossier.portal_id.as_str()),
    ))?;
    let mut found = Found::default();
    while let Some(row) = rows.next()? {
        found.add(KnownRow {
            portal_id: row.get(0)?,
            code: row.get(1)?,
            content_hash: row.get(2)?,
            first_answer: row.get(3)?,
            submission_seq: row.get(4)?,
        })?;
    }
    let mut read = tx.prepare_cached(
        "SELECT body_encoding, body FROM message_log WHERE seq = ?1 \
         UNION ALL SELECT body_encoding, body FROM message_log_kept WHERE seq = ?1",
    )?;
    let seqs: Vec<i64> = found.in_log.keys().copied().collect();
    for seq in seqs {
        let mut rows = read.query(params![seq])?;
        if let Some(row) = rows.next()? {
            found.answer(seq, row.get(0)?, row.get(1)?)?;
        }
    }
    found.finish()
}

/// The new dossiers' rows and their names' words for the search (`store::names`); their ids,
/// in `fresh`'s order.
fn insert_dossiers(
    tx: &Transaction<'_>,
    fresh: &[Fresh<'_>],
    first_seq: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, submitted_at, \
         received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer, \
         submission_seq, name_words, notice) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)",
    )?;
    let mut ids = Vec::with_capacity(fresh.len());
    // Sorted and once each: concurrent batches meet new words in the same order.
    let mut terms: BTreeSet<String> = BTreeSet::new();
    for f in fresh {
        let d = &f.item.dossier;
        let words = search::words(&d.applicant.name).join(" ");
        insert.execute(params![
            f.code.as_str(),
            d.portal_id.as_str(),
            d.procedure.as_str(),
            f.item.rows.progress.status,
            d.channel.code(),
            d.submitted_at.timestamp_millis(),
            f.now,
            f.applicant,
            f.form,
            f.fees,
            d.summary,
            d.mapping_version,
            d.content_hash,
            // The dossier names its request's record; the answer is the one after it.
            first_seq + 2 * count(f.index),
            words,
            i64::from(f.item.notice)
        ])?;
        ids.push(tx.last_insert_rowid());
        terms.extend(
            words
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        );
    }
    // The batch's rows have the table's largest ids, one after another: their names go into
    // the text index in one statement (FTS5 flushes its pending words at every statement).
    if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
        tx.prepare_cached(
            "INSERT INTO dossier_names (rowid, words) SELECT id, name_words FROM dossiers \
             WHERE id BETWEEN ?1 AND ?2 AND name_words <> ''",
        )?
        .execute(params![first, last])?;
    }
    let mut term =
        tx.prepare_cached("INSERT INTO name_terms (word) VALUES (?) ON CONFLICT DO NOTHING")?;
    for t in &terms {
        term.execute(params![t])?;
    }
    Ok(ids)
}

/// What hangs off each new dossier (`ids` in `fresh`'s order): its documents, arrival progress
/// record, and messages with their payloads.
fn insert_children(
    tx: &Transaction<'_>,
    fresh: &[Fresh<'_>],
    ids: &[i64],
) -> Result<(), StoreError> {
    let id_of: HashMap<usize, i64> = fresh
        .iter()
        .map(|f| f.index)
        .zip(ids.iter().copied())
        .collect();
    let id = |f: &Fresh<'_>| id_of.get(&f.index).copied().unwrap_or(0);
    let mut document = tx.prepare_cached(
        "INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, sha256, \
         size, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for (f, position, doc) in documents_of(fresh) {
        document.execute(params![
            id(f),
            count(position),
            doc.component,
            doc.file_name,
            doc.url,
            doc.sha256,
            doc.size,
            f.now
        ])?;
    }
    let mut progress = tx.prepare_cached(
        "INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, \
         officer_unit, note, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )?;
    for f in fresh {
        let p = &f.item.rows.progress;
        progress.execute(params![
            id(f),
            p.action,
            p.status,
            p.officer_name,
            p.officer_title,
            p.officer_unit,
            p.note,
            p.at
        ])?;
    }
    let mut message = tx.prepare_cached(
        "INSERT INTO outbox (destination, dossier_id, kind, created_at, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?)",
    )?;
    let mut payload =
        tx.prepare_cached("INSERT INTO outbox_payloads (message_id, payload) VALUES (?, ?)")?;
    for (f, m, body) in messages_of(fresh) {
        message.execute(params![m.destination, id(f), m.kind, f.now, f.now])?;
        payload.execute(params![tx.last_insert_rowid(), body])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A unique key taken first by another writer is the store's `Duplicate`, as through sqlx:
    /// the batch is then taken item by item and the lookup finds the other's dossier.
    #[test]
    fn a_unique_key_already_held_is_a_duplicate_and_other_failures_are_not(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let db = rusqlite::Connection::open_in_memory()?;
        db.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE);
             INSERT INTO t (id, k) VALUES (1, 'a');",
        )?;
        let refused = |sql: &str| db.execute(sql, []).err().map(StoreError::from);
        assert!(
            matches!(refused("INSERT INTO t (id, k) VALUES (2, 'a')"),
                Some(StoreError::Duplicate(ref m)) if m.contains("t.k")),
            "a unique key taken"
        );
        assert!(
            matches!(
                refused("INSERT INTO t (id, k) VALUES (1, 'b')"),
                Some(StoreError::Duplicate(_))
            ),
            "a primary key taken"
        );
        assert!(
            matches!(
                refused("INSERT INTO t (id, k) VALUES (3, NULL)"),
                Some(StoreError::Embedded(_))
            ),
            "another constraint"
        );
        Ok(())
    }

    /// A batch reaching a store already closed (the process shutting down) is refused as a
    /// stopped writer's, with nothing written, not a database error.
    #[test]
    fn a_batch_after_the_store_closed_is_refused_as_stopped() -> Result<(), StoreError> {
        let intake = super::IntakeConnection::open(std::path::Path::new(":memory:"))?;
        let agency = crate::domain::codes::AgencyCode::parse("000.00.12.H29")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Open, the batch reaches SQLite (this database has no tables).
        assert!(matches!(
            intake.insert_batch(&agency, &[]),
            Err(StoreError::Embedded(_))
        ));
        intake.close();
        assert!(matches!(
            intake.insert_batch(&agency, &[]),
            Err(StoreError::Stopped)
        ));
        Ok(())
    }
}
