//! PostgreSQL's intake batch in six round trips, however many dossiers it holds, where a
//! statement per table took twelve: `BEGIN`; the lookup of the items' portal ids, the day's
//! counter and the log's head (the same three statements as SQLite's path, `intake_batch`);
//! then one statement that writes every row of the batch — dossiers, their names' words,
//! documents, progress records, outbox messages, the log's records and its head's hash — as
//! data-modifying CTEs over `UNNEST` arrays ([`WRITE`]); `COMMIT`. The same decisions (`intake_decide`) say
//! which items are new and what each is answered, and the rows are SQLite's, column for column.
//!
//! Why not fewer: the dossiers' codes are numbered from the day's counter and the log's records
//! are sealed in Rust onto the head's hash (the codes are in the answers, the messages and the
//! sealed records), so the counter and the head are read before the rows can be made. Folding
//! the lookup, the counter and the head into one statement of CTEs was measured and dropped: the
//! store alone gained, but under HTTP load that statement cost PostgreSQL about 1.9 ms a batch
//! against 0.2 ms for the three simple ones, and intake fell by a third (docs/PERFORMANCE.md).

use super::intake::{InsertOutcome, IntakeItem};
use super::intake_decide::{decide, Decided};
use super::intake_plan::{documents_of, messages_of, Fresh};
use super::message_log::SealedLog;
use super::{StoreError, WriteTx};
use crate::domain::codes::AgencyCode;
use crate::domain::search;
use std::collections::BTreeSet;

/// The statement that writes every row of the batch, children joined to their dossiers by code,
/// each table's rows in the batch's order (an outbox message's id is its place in its
/// dossier's queue). Answers how many dossiers it stored.
const WRITE: &str = "\
WITH d AS (
  INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, submitted_at,
    received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer,
    submission_seq, name_words, notice)
  SELECT code, pid, procedure, status, channel, submitted, received, applicant, form, fees,
    summary, mapping, hash, '', seq, words, notice
  FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
    $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
    $14::bigint[], $15::text[], $16::int[])
    WITH ORDINALITY AS u (code, pid, procedure, status, channel, submitted, received, applicant,
      form, fees, summary, mapping, hash, seq, words, notice, n)
  ORDER BY n
  RETURNING id, code
), terms AS (
  INSERT INTO name_terms (word) SELECT w FROM UNNEST($17::text[]) AS t (w) ON CONFLICT DO NOTHING
), docs AS (
  INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, sha256, size,
    next_attempt_at)
  SELECT d.id, u.position, u.component, u.file_name, u.url, u.sha256, u.size, u.at
  FROM UNNEST($18::text[], $19::bigint[], $20::text[], $21::text[], $22::text[], $23::text[],
    $24::bigint[], $25::bigint[])
    WITH ORDINALITY AS u (code, position, component, file_name, url, sha256, size, at, n)
  JOIN d USING (code) ORDER BY u.n
), pr AS (
  INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, officer_unit,
    note, at)
  SELECT d.id, u.action, u.status, u.name, u.title, u.unit, u.note, u.at
  FROM UNNEST($26::text[], $27::text[], $28::bigint[], $29::text[], $30::text[], $31::text[],
    $32::text[], $33::bigint[])
    WITH ORDINALITY AS u (code, action, status, name, title, unit, note, at, n)
  JOIN d USING (code) ORDER BY u.n
), o AS (
  INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, next_attempt_at)
  SELECT u.destination, d.id, u.kind, u.payload, u.at, u.at
  FROM UNNEST($34::text[], $35::text[], $36::text[], $37::text[], $38::bigint[])
    WITH ORDINALITY AS u (code, destination, kind, payload, at, n)
  JOIN d USING (code) ORDER BY u.n
), log AS (
  INSERT INTO message_log (seq, at, direction, partner, peer, reply_to, target, headers, body,
    body_encoding, verdict, body_sha256, prev_hash, hash)
  SELECT * FROM UNNEST($39::bigint[], $40::bigint[], $41::text[], $42::text[], $43::text[],
    $44::bigint[], $45::text[], $46::text[], $47::bytea[], $48::smallint[], $49::text[],
    $50::text[], $51::text[], $52::text[])
), head AS (
  UPDATE message_log_head SET last_hash = $53 WHERE id = 1 AND $53 <> ''
)
SELECT count(*) FROM d";

/// Stores every item in one transaction (see the module's documentation).
pub(super) async fn insert_batch(
    mut tx: WriteTx,
    agency: &AgencyCode,
    items: &[IntakeItem],
) -> Result<Vec<InsertOutcome>, StoreError> {
    let Decided {
        fresh,
        outcomes,
        exchanges,
        reserved,
    } = decide(&mut tx, agency, items).await?;
    let first_seq = reserved.first_seq;
    let log = SealedLog::new(reserved, exchanges)?;

    let WriteTx::Postgres(t) = &mut tx else {
        return Err(StoreError::Corrupt(
            "PostgreSQL's intake given another store".into(),
        ));
    };
    let written: i64 = write(&fresh, first_seq, &log).fetch_one(&mut **t).await?;
    if usize::try_from(written).ok() != Some(fresh.len()) {
        return Err(StoreError::Corrupt(format!(
            "{written} of {} new dossiers stored",
            fresh.len()
        )));
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// [`WRITE`] with its parameters bound.
type Query<'q> = sqlx::query::QueryScalar<'q, sqlx::Postgres, i64, sqlx::postgres::PgArguments>;

/// [`WRITE`] with the batch's rows bound, column by column.
fn write<'q>(fresh: &'q [Fresh<'q>], first_seq: i64, log: &'q SealedLog) -> Query<'q> {
    let records = &log.records;
    let code = |f: &'q Fresh<'q>| f.code.as_str();
    let col = |get: fn(&'q Fresh<'q>) -> i64| fresh.iter().map(get).collect::<Vec<i64>>();
    let names: Vec<Vec<String>> = fresh
        .iter()
        .map(|f| search::words(&f.item.dossier.applicant.name))
        .collect();
    // Sorted and once each: concurrent batches meet new words in the same order.
    let terms: BTreeSet<String> = names.iter().flatten().cloned().collect();
    let documents = documents_of(fresh);
    let messages = messages_of(fresh);
    let d = |f: &'q Fresh<'q>| &f.item.dossier;
    let p = |f: &'q Fresh<'q>| &f.item.rows.progress;
    sqlx::query_scalar(WRITE)
        // Dossiers.
        .bind(fresh.iter().map(code).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|f| d(f).portal_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| d(f).procedure.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(col(|f| f.item.rows.progress.status))
        .bind(col(|f| f.item.dossier.channel.code()))
        .bind(col(|f| f.item.dossier.submitted_at.timestamp_millis()))
        .bind(col(|f| f.now))
        .bind(
            fresh
                .iter()
                .map(|f| f.applicant.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(fresh.iter().map(|f| f.form.as_str()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|f| f.fees.as_str()).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|f| d(f).summary.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| d(f).mapping_version.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| d(f).content_hash.as_str())
                .collect::<Vec<_>>(),
        )
        // The dossier names its request's record; the answer is the one after it.
        .bind(
            fresh
                .iter()
                .map(|f| first_seq + 2 * i64::try_from(f.index).unwrap_or(i64::MAX / 4))
                .collect::<Vec<_>>(),
        )
        .bind(names.iter().map(|w| w.join(" ")).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|f| i32::from(f.item.notice))
                .collect::<Vec<_>>(),
        )
        .bind(terms.into_iter().collect::<Vec<_>>())
        // Documents.
        .bind(
            documents
                .iter()
                .map(|&(f, _, _)| code(f))
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, p, _)| i64::try_from(p).unwrap_or(0))
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, _, x)| x.component.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, _, x)| x.file_name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, _, x)| x.url.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, _, x)| x.sha256.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            documents
                .iter()
                .map(|&(_, _, x)| x.size)
                .collect::<Vec<_>>(),
        )
        .bind(documents.iter().map(|&(f, _, _)| f.now).collect::<Vec<_>>())
        // Progress.
        .bind(fresh.iter().map(code).collect::<Vec<_>>())
        .bind(
            fresh
                .iter()
                .map(|f| p(f).action.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(col(|f| f.item.rows.progress.status))
        .bind(
            fresh
                .iter()
                .map(|f| p(f).officer_name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| p(f).officer_title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| p(f).officer_unit.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            fresh
                .iter()
                .map(|f| p(f).note.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(col(|f| f.item.rows.progress.at))
        // Outbox.
        .bind(
            messages
                .iter()
                .map(|&(f, _, _)| code(f))
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|&(_, m, _)| m.destination.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|&(_, m, _)| m.kind.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            messages
                .iter()
                .map(|&(_, _, p)| p.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(messages.iter().map(|&(f, _, _)| f.now).collect::<Vec<_>>())
        // The message log.
        .bind(records.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.message.at).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.message.direction.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.message.partner.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.message.peer.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.message.reply_to)
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.message.target.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.message.headers.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(log.stored().map(|(_, _, b)| b).collect::<Vec<&[u8]>>())
        .bind(log.stored().map(|(_, e, _)| e).collect::<Vec<i16>>())
        .bind(
            records
                .iter()
                .map(|r| r.message.verdict.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.body_sha256.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            records
                .iter()
                .map(|r| r.prev_hash.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
        .bind(records.last().map_or("", |r| r.hash.as_str()))
}
