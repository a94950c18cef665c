//! The message log's hash chain, pure: what a record is, how its hash is computed and how a
//! batch of messages is sealed onto the chain. The store keeps the records
//! (`store/audit.rs`), `audit::log` appends them and `audit::verify` checks a stored run.
//!
//! A record's `hash` is SHA-256 over the previous record's hash and every field of the record,
//! each length-prefixed, with the body represented by its own SHA-256 (`body_sha256`, kept
//! beside it). Editing any field, the body, removing a record or swapping two breaks the chain
//! at that record, and `audit::verify` names it. A rewrite of the whole tail from some record on,
//! hashes recomputed, or a tail cut with the head moved back, is caught only against a head kept
//! elsewhere: the signed anchor file of `audit::anchor`.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which way a message crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From a partner to the gateway (a request it sent, or its answer to ours).
    In,
    /// From the gateway to a partner (a request, or our answer to its request).
    Out,
}

impl Direction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

/// A message to record, before it has a place in the chain.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// When it crossed (ms since the epoch).
    pub at: i64,
    /// Which way.
    pub direction: Direction,
    /// `portal`, `paygov`, `vnpay`, or an outbox destination's name.
    pub partner: String,
    /// The other end: the client address of a request we received, the URL we called.
    pub peer: String,
    /// The record this one answers (a request's seq), if it is an answer.
    pub reply_to: Option<i64>,
    /// The request line (`POST /portal/v1/dossiers`, `GET /payment/vnpay/ipn?…`) or, for an
    /// answer, its status code.
    pub target: String,
    /// The headers as received or sent, one `name: value` a line, credentials left out.
    pub headers: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// What the gateway made of it: `received` for a request not yet looked at, the status
    /// and error code of an answer, `sent`, or why a call failed.
    pub verdict: String,
}

impl NewMessage {
    /// This record as the answer with `status` and `body`: its target is the status, its
    /// verdict the status with the partner-facing code the body carries (`error_code` for the
    /// portal and PayGov, `RspCode` for VNPAY).
    pub fn answered(mut self, status: u16, body: Vec<u8>) -> Self {
        self.target = status.to_string();
        self.verdict = verdict(status, &body);
        self.body = body;
        self
    }
}

fn verdict(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error_code")
                .or_else(|| v.get("RspCode"))
                .and_then(|c| c.as_str().map(str::to_owned))
        });
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

/// A message and, if known at once, the answer to it: appended together, one after the other,
/// the answer's `reply_to` set to the message's seq.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The first message (a request, or an answer whose `reply_to` is already known).
    pub message: NewMessage,
    /// Its answer.
    pub answer: Option<NewMessage>,
}

impl Exchange {
    /// A message alone.
    pub fn one(message: NewMessage) -> Self {
        Exchange {
            message,
            answer: None,
        }
    }

    /// A request and its answer.
    pub fn pair(request: NewMessage, answer: NewMessage) -> Self {
        Exchange {
            message: request,
            answer: Some(answer),
        }
    }
}

/// Lays `exchanges` out in the chain from `first_seq` on: each message, then its answer
/// pointing back to it. Returns the messages in order and each exchange's first seq.
pub fn lay_out(first_seq: i64, exchanges: Vec<Exchange>) -> (Vec<NewMessage>, Vec<i64>) {
    let mut messages = Vec::with_capacity(exchanges.len() * 2);
    let mut seqs = Vec::with_capacity(exchanges.len());
    let mut seq = first_seq;
    for Exchange { message, answer } in exchanges {
        seqs.push(seq);
        messages.push(message);
        if let Some(mut answer) = answer {
            answer.reply_to = Some(seq);
            messages.push(answer);
            seq += 1;
        }
        seq += 1;
    }
    (messages, seqs)
}

/// How many records `exchanges` take.
pub fn records_in(exchanges: &[Exchange]) -> usize {
    exchanges
        .iter()
        .map(|e| 1 + usize::from(e.answer.is_some()))
        .sum()
}

/// A record as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Its place in the chain, from 1, without gaps.
    pub seq: i64,
    /// The message.
    #[serde(flatten)]
    pub message: StoredMessage,
    /// SHA-256 of the body (hex).
    pub body_sha256: String,
    /// The previous record's hash (hex; [`GENESIS`] before the first).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// The fields of a stored message (a [`NewMessage`] with its direction as text, so that a
/// hand-edited direction is still readable and reported by [`verify`]).
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    /// ms since the epoch.
    pub at: i64,
    /// `in` or `out`.
    pub direction: String,
    /// Partner.
    pub partner: String,
    /// The other end.
    pub peer: String,
    /// The request this answers.
    pub reply_to: Option<i64>,
    /// Request line or status.
    pub target: String,
    /// Headers.
    pub headers: String,
    /// Body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Verdict.
    pub verdict: String,
}

impl From<NewMessage> for StoredMessage {
    fn from(m: NewMessage) -> Self {
        StoredMessage {
            at: m.at,
            direction: m.direction.as_str().to_owned(),
            partner: m.partner,
            peer: m.peer,
            reply_to: m.reply_to,
            target: m.target,
            headers: m.headers,
            body: m.body,
            verdict: m.verdict,
        }
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash of the record at `seq` holding `m`, whose body hashes to `body_sha256`, chained
/// after `prev_hash`.
pub fn chain_hash(prev_hash: &str, seq: i64, m: &StoredMessage, body_sha256: &str) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&m.at.to_be_bytes());
    field(m.direction.as_bytes());
    field(m.partner.as_bytes());
    field(m.peer.as_bytes());
    field(&m.reply_to.unwrap_or(0).to_be_bytes());
    field(m.target.as_bytes());
    field(m.headers.as_bytes());
    field(m.verdict.as_bytes());
    field(body_sha256.as_bytes());
    hex::encode(h.finalize())
}

/// Places `messages` in the chain after (`last_seq`, `last_hash`): their records, in order.
pub fn seal(last_seq: i64, last_hash: &str, messages: Vec<NewMessage>) -> Vec<Record> {
    let mut prev = last_hash.to_owned();
    let mut seq = last_seq;
    messages
        .into_iter()
        .map(|m| {
            seq += 1;
            let message = StoredMessage::from(m);
            let body_sha256 = sha256_hex(&message.body);
            let hash = chain_hash(&prev, seq, &message, &body_sha256);
            Record {
                seq,
                message,
                body_sha256,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

/// Where a verification starts: after the checkpoint left by the last pruning, or at the
/// beginning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The last seq before the first record to check (0 at the beginning).
    pub seq: i64,
    /// Its hash ([`GENESIS`] at the beginning).
    pub hash: String,
}

impl Anchor {
    /// The start of the chain.
    pub fn genesis() -> Self {
        Anchor {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// What a pruning left: the last record removed, and the bounds it was removed within.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record removed, from which the rest verifies.
    pub anchor: Anchor,
    /// Records older than this (ms) were removed.
    pub pruned_before: i64,
    /// When the pruning ran (ms).
    pub at: i64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The `n`th of a run of test messages.
    pub(crate) fn message(n: u8) -> NewMessage {
        NewMessage {
            at: 1_700_000_000_000 + i64::from(n),
            direction: Direction::In,
            partner: "portal".into(),
            peer: "127.0.0.1".into(),
            reply_to: None,
            target: "POST /portal/v1/dossiers".into(),
            headers: "content-type: application/json\n".into(),
            body: vec![n; 10],
            verdict: "received".into(),
        }
    }

    /// A sealed chain of `n` test messages.
    pub(crate) fn chain(n: u8) -> Vec<Record> {
        seal(0, GENESIS, (1..=n).map(message).collect())
    }

    #[test]
    fn the_verdict_names_the_partner_facing_code() {
        assert_eq!(
            verdict(401, br#"{"error_code":"SIGNATURE_INVALID"}"#),
            "401 SIGNATURE_INVALID"
        );
        assert_eq!(
            verdict(200, br#"{"RspCode":"00","Message":"Confirm Success"}"#),
            "200 00"
        );
        assert_eq!(verdict(201, b"{}"), "201");
        assert_eq!(verdict(200, b"not json"), "200");
        let answer = message(1).answered(409, br#"{"error_code":"CONFLICT"}"#.to_vec());
        assert_eq!(
            (answer.target.as_str(), answer.verdict.as_str()),
            ("409", "409 CONFLICT")
        );
    }

    #[test]
    fn an_exchange_is_laid_out_request_then_answer_pointing_back() {
        let exchanges = vec![
            Exchange::pair(message(1), message(2)),
            Exchange::one(message(3)),
            Exchange::pair(message(4), message(5)),
        ];
        assert_eq!(records_in(&exchanges), 5);
        let (messages, seqs) = lay_out(10, exchanges);
        assert_eq!(seqs, vec![10, 12, 13]);
        let replies: Vec<Option<i64>> = messages.iter().map(|m| m.reply_to).collect();
        assert_eq!(replies, vec![None, Some(10), None, None, Some(13)]);
        let order: Vec<i64> = messages.iter().map(|m| m.at).collect();
        let expected: Vec<i64> = (1..=5).map(|n| message(n).at).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn sealing_in_two_batches_gives_the_same_chain_as_one() {
        let all = chain(4);
        let first = seal(0, GENESIS, (1..=2).map(message).collect());
        let second = seal(2, &first[1].hash, (3..=4).map(message).collect());
        assert_eq!(all[3].hash, second[1].hash);
    }
}
