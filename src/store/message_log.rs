//! Message-log statements: appending a batch of messages to the chain (one transaction, the
//! chain head locked), reading records in seq or time order, and pruning old records behind a
//! checkpoint.

use super::{with_pool, BeginWrite, Store, StoreError};
use crate::chain::{Anchor, Checkpoint, Exchange, Record, StoredMessage};
use sqlx::Row;

/// Seqs reserved at the chain's head by [`reserve_log!`], to be written by [`write_log!`].
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The first seq reserved.
    pub first_seq: i64,
    /// The hash of the record before it.
    pub prev_hash: String,
    /// How many.
    pub n: i64,
}

/// Moves the head on by `$1` records (locking its row to the commit): the last seq reserved
/// and the hash of the record before the first ([`Reserved::up_to`]).
pub(super) const RESERVE: &str =
    "UPDATE message_log_head SET last_seq = last_seq + $1 WHERE id = 1 \
     RETURNING last_seq, last_hash";

impl Reserved {
    /// The `n` seqs up to `last_seq`, after the record whose hash is `prev_hash`.
    pub(super) fn up_to(last_seq: i64, prev_hash: String, n: i64) -> Self {
        Reserved {
            first_seq: last_seq - n + 1,
            prev_hash,
            n,
        }
    }
}

/// `exchanges` laid out in the seqs `reserved` (exactly as many records) and sealed onto the
/// chain after the head's hash: the records to write, and each exchange's first seq.
fn sealed(
    reserved: Reserved,
    exchanges: Vec<Exchange>,
) -> Result<(Vec<Record>, Vec<i64>), StoreError> {
    let n = i64::try_from(crate::chain::records_in(&exchanges)).unwrap_or(i64::MAX);
    if n != reserved.n {
        return Err(StoreError::Corrupt(format!(
            "{n} message-log records for {} seqs reserved",
            reserved.n
        )));
    }
    let (messages, seqs) = crate::chain::lay_out(reserved.first_seq, exchanges);
    let records = crate::chain::seal(reserved.first_seq - 1, &reserved.prev_hash, messages);
    Ok((records, seqs))
}

/// The answers that created a dossier (the portal's pushes are the only requests of the portal
/// answered `201` with `error_code` `0`): their records and the requests they answer hold the
/// dossier's submission (`dossiers.submission_seq`), kept past the log's retention.
const CREATED: &str = "(partner = 'portal' AND direction = 'out' AND verdict = '201 0')";

pub(super) const RECORD_COLUMNS: &str =
    "seq, at, direction, partner, peer, reply_to, target, headers, body, \
     body_encoding, verdict, body_sha256, prev_hash, hash";

macro_rules! record_from_row {
    ($r:expr) => {
        Record {
            seq: $r.try_get("seq")?,
            message: StoredMessage {
                at: $r.try_get("at")?,
                direction: $r.try_get("direction")?,
                partner: $r.try_get("partner")?,
                peer: $r.try_get("peer")?,
                reply_to: $r.try_get("reply_to")?,
                target: $r.try_get("target")?,
                headers: $r.try_get("headers")?,
                body: super::log_body::decode($r.try_get("body_encoding")?, $r.try_get("body")?),
                verdict: $r.try_get("verdict")?,
            },
            body_sha256: $r.try_get("body_sha256")?,
            prev_hash: $r.try_get("prev_hash")?,
            hash: $r.try_get("hash")?,
        }
    };
}

/// Reserves `$n` records' seqs at the chain's head inside the open transaction `$tx`;
/// evaluates to the [`Reserved`] seqs. Updating the head row locks it (PostgreSQL) or holds the
/// one writer (SQLite) until the commit, so that concurrent appends from several gateways
/// extend one chain: callers reserve as late in their transaction as they can.
macro_rules! reserve_log {
    ($tx:expr, $n:expr) => {
        async {
            let n = i64::try_from($n).unwrap_or(i64::MAX);
            let head = sqlx::query($crate::store::message_log::RESERVE)
                .bind(n)
                .fetch_one(&mut *$tx)
                .await?;
            Ok::<$crate::store::message_log::Reserved, StoreError>(
                $crate::store::message_log::Reserved::up_to(
                    sqlx::Row::try_get(&head, "last_seq")?,
                    sqlx::Row::try_get(&head, "last_hash")?,
                    n,
                ),
            )
        }
    };
}
pub(crate) use reserve_log;

/// Exchanges sealed onto the chain in the seqs reserved for them, each body in the form it is
/// stored: all of a log write that needs no statement (a SHA-256 of every body, LZ4 for the
/// long ones), written by [`write_log!`] or bound by PostgreSQL's intake in its one statement.
pub(crate) struct SealedLog {
    /// The records, in seq order.
    pub(crate) records: Vec<Record>,
    /// Each record's `body_encoding`, with its body as stored where that is not the body as it
    /// came.
    packed: Vec<(i16, Option<Vec<u8>>)>,
    /// Each exchange's first seq.
    pub(crate) seqs: Vec<i64>,
}

impl SealedLog {
    /// `exchanges` laid out in the seqs `reserved` ([`sealed`]) and their bodies encoded.
    pub(crate) fn new(reserved: Reserved, exchanges: Vec<Exchange>) -> Result<Self, StoreError> {
        let (records, seqs) = sealed(reserved, exchanges)?;
        let packed = records
            .iter()
            .map(|r| match super::log_body::encode(&r.message.body) {
                (encoding, std::borrow::Cow::Owned(stored)) => (encoding, Some(stored)),
                (encoding, std::borrow::Cow::Borrowed(_)) => (encoding, None),
            })
            .collect();
        Ok(SealedLog {
            records,
            packed,
            seqs,
        })
    }

    /// Each record with its `body_encoding` and its body as stored.
    pub(crate) fn stored(&self) -> impl Iterator<Item = (&Record, i16, &[u8])> {
        self.records
            .iter()
            .zip(&self.packed)
            .map(|(r, (encoding, packed))| {
                (r, *encoding, packed.as_deref().unwrap_or(&r.message.body))
            })
    }
}

/// Writes `$exchanges` (a `Vec<Exchange>`) into the seqs `$reserved` by [`reserve_log!`] in the
/// same open transaction `$tx` — exactly as many records — sealed there and then
/// ([`SealedLog`]), and moves the head's hash to the last; evaluates to each exchange's first
/// seq.
macro_rules! write_log {
    ($tx:expr, $reserved:expr, $exchanges:expr) => {
        async {
            let sealed = $crate::store::message_log::SealedLog::new($reserved, $exchanges)?;
            if let Some(last) = sealed.records.last() {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO message_log (seq, at, direction, partner, peer, reply_to, target, \
                     headers, body, body_encoding, verdict, body_sha256, prev_hash, hash) ",
                );
                insert.push_values(sealed.stored(), |mut row, (r, encoding, body)| {
                    row.push_bind(r.seq)
                        .push_bind(r.message.at)
                        .push_bind(r.message.direction.as_str())
                        .push_bind(r.message.partner.as_str())
                        .push_bind(r.message.peer.as_str())
                        .push_bind(r.message.reply_to)
                        .push_bind(r.message.target.as_str())
                        .push_bind(r.message.headers.as_str())
                        .push_bind(body)
                        .push_bind(encoding)
                        .push_bind(r.message.verdict.as_str())
                        .push_bind(r.body_sha256.as_str())
                        .push_bind(r.prev_hash.as_str())
                        .push_bind(r.hash.as_str());
                });
                insert.build().execute(&mut *$tx).await?;
                sqlx::query("UPDATE message_log_head SET last_hash = $1 WHERE id = 1")
                    .bind(last.hash.as_str())
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok::<Vec<i64>, StoreError>(sealed.seqs)
        }
    };
}
pub(crate) use write_log;

/// Appends `$exchanges` (a `Vec<Exchange>`) to the chain inside the open transaction `$tx`,
/// which the caller commits; evaluates to each exchange's first seq ([`reserve_log!`] then
/// [`write_log!`]): callers do this last in their transaction, to hold the head's lock as
/// briefly as possible.
macro_rules! append_log {
    ($tx:expr, $exchanges:expr) => {
        async {
            let exchanges: Vec<$crate::chain::Exchange> = $exchanges;
            let n = $crate::chain::records_in(&exchanges);
            if n == 0 {
                return Ok::<Vec<i64>, StoreError>(Vec::new());
            }
            let reserved = $crate::store::message_log::reserve_log!($tx, n).await?;
            $crate::store::message_log::write_log!($tx, reserved, exchanges).await
        }
    };
}
pub(crate) use append_log;

impl Store {
    /// Appends `exchanges` to the chain in one transaction, in order; returns each exchange's
    /// first seq.
    pub async fn append_exchanges(&self, exchanges: Vec<Exchange>) -> Result<Vec<i64>, StoreError> {
        if exchanges.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let seqs = append_log!(tx, exchanges).await?;
            tx.commit().await?;
            Ok(seqs)
        })
    }

    /// Up to `limit` records after `after_seq`, in seq order.
    pub async fn message_records(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        self.records_of("message_log", after_seq, limit).await
    }

    /// Up to `limit` records of `table` (the log, or what is kept past its retention) after
    /// `after_seq`, in seq order.
    async fn records_of(
        &self,
        table: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM {table} WHERE seq > $1 ORDER BY seq LIMIT $2");
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql).bind(after_seq).bind(limit).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(record_from_row!(r))).collect()
        })
    }

    /// Up to `limit` records after `after_seq` whose time is in `[from, to)` (ms), in seq order.
    pub async fn message_records_between(
        &self,
        from: i64,
        to: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM message_log WHERE seq > $1 AND at >= $2 AND at < $3 \
             ORDER BY seq LIMIT $4"
        );
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql)
                .bind(after_seq)
                .bind(from)
                .bind(to)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| Ok(record_from_row!(r))).collect()
        })
    }

    /// Up to `limit` records kept past the log's retention (payment evidence), after
    /// `after_seq`, in seq order.
    pub async fn kept_records(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Record>, StoreError> {
        self.records_of("message_log_kept", after_seq, limit).await
    }

    /// Where verification starts: the latest pruning checkpoint, or the beginning.
    pub async fn message_log_anchor(&self) -> Result<Anchor, StoreError> {
        Ok(self
            .message_log_checkpoint()
            .await?
            .map_or_else(Anchor::genesis, |c| c.anchor))
    }

    /// The latest pruning checkpoint, if the log was ever pruned.
    pub async fn message_log_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        with_pool!(read self, pool => {
            let row = sqlx::query(
                "SELECT up_to_seq, hash, pruned_before, at FROM message_log_checkpoints \
                 ORDER BY up_to_seq DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Ok(Some(Checkpoint {
                    anchor: Anchor { seq: r.try_get("up_to_seq")?, hash: r.try_get("hash")? },
                    pruned_before: r.try_get("pruned_before")?,
                    at: r.try_get("at")?,
                })),
                None => Ok(None),
            }
        })
    }

    /// The chain's head: the last record's seq and hash as the appender left them.
    pub async fn message_log_head(&self) -> Result<Anchor, StoreError> {
        with_pool!(read self, pool => {
            let r = sqlx::query("SELECT last_seq, last_hash FROM message_log_head WHERE id = 1")
                .fetch_one(pool)
                .await?;
            Ok(Anchor { seq: r.try_get("last_seq")?, hash: r.try_get("last_hash")? })
        })
    }

    /// Removes the records of the chain's prefix older than `before` (ms): every record up to
    /// the last one whose time is before it. Leaves a checkpoint with the last removed record's
    /// seq and hash, from which the rest still verifies. The records exchanged with the payment
    /// providers are moved to `message_log_kept` rather than removed, and those kept from before
    /// `kept_before` are removed; so are the request and answer of each dossier created (the
    /// only copy of its raw submission, migration 0019), which stay as long as the store.
    /// Returns how many records left the chain.
    pub async fn prune_messages(
        &self,
        before: i64,
        kept_before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM message_log_kept WHERE at < $1 AND partner IN ('paygov', 'vnpay')")
                .bind(kept_before)
                .execute(&mut *tx)
                .await?;
            let last = sqlx::query(
                "SELECT seq, hash FROM message_log WHERE seq = \
                 (SELECT MAX(seq) FROM message_log WHERE at < $1)",
            )
            .bind(before)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(last) = last else {
                // Nothing of the chain to prune; what was kept past its time goes all the same.
                tx.commit().await?;
                return Ok(0);
            };
            let up_to: i64 = last.try_get("seq")?;
            let hash: String = last.try_get("hash")?;
            let kept = format!(
                "INSERT INTO message_log_kept ({RECORD_COLUMNS}) SELECT {RECORD_COLUMNS} FROM message_log \
                 WHERE seq <= $1 AND ((partner IN ('paygov', 'vnpay') AND at >= $2) OR {CREATED} \
                 OR seq IN (SELECT reply_to FROM message_log WHERE seq <= $1 + 1 AND {CREATED}))"
            );
            sqlx::query(&kept)
                .bind(up_to)
                .bind(kept_before)
                .execute(&mut *tx)
                .await?;
            let removed = sqlx::query("DELETE FROM message_log WHERE seq <= $1")
                .bind(up_to)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "INSERT INTO message_log_checkpoints (up_to_seq, hash, pruned_before, at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(up_to)
            .bind(&hash)
            .bind(before)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(removed)
        })
    }
}
