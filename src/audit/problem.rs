//! What `motcua audit verify` can find wrong with the message log, each with the sentence it
//! prints: a record edited, removed or out of place, a head that does not match, and what the
//! anchors outside the database show (`audit::verify` finds them).

/// One thing wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A record's body does not hash to its stored `body_sha256`: the body was edited.
    BodyAltered {
        /// The record.
        seq: i64,
    },
    /// A record's fields do not hash to its stored hash: a field (or the hash) was edited.
    RecordAltered {
        /// The record.
        seq: i64,
    },
    /// A record does not point at the hash of the one before it.
    BrokenLink {
        /// The record.
        seq: i64,
    },
    /// Records between two seqs are missing (removed).
    Missing {
        /// The first missing seq.
        from: i64,
        /// The last missing seq.
        to: i64,
    },
    /// A record's direction is not `in` or `out`.
    BadField {
        /// The record.
        seq: i64,
    },
    /// The chain's stored head does not match its last record (records removed from the end,
    /// or the head edited).
    HeadMismatch {
        /// The head's seq.
        head_seq: i64,
        /// The last record's seq.
        last_seq: i64,
    },
    /// A line of the anchor file is not an anchor, or its MAC does not hold with the key.
    AnchorForged {
        /// The line's number, from 1.
        line: usize,
    },
    /// A record's hash is not the one anchored for it: the log was rewritten from there on.
    AnchorDiffers {
        /// The record.
        seq: i64,
        /// When it was anchored.
        at: String,
    },
    /// An anchored record is not in the log.
    AnchoredMissing {
        /// The record.
        seq: i64,
        /// When it was anchored.
        at: String,
    },
    /// The log ends before a record that was anchored: its tail was cut.
    TailCut {
        /// The last record in the log.
        last_seq: i64,
        /// The latest record anchored.
        anchored: i64,
        /// When it was anchored.
        at: String,
    },
    /// A pruning checkpoint claims to have removed records that the retention period still
    /// keeps, or records an anchor shows were too young to remove: it is not the pruner's.
    CheckpointForged {
        /// The checkpoint's last removed record.
        up_to_seq: i64,
        /// Why.
        why: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::BodyAltered { seq } => {
                write!(f, "record {seq}: its body was altered (SHA-256 differs)")
            }
            Problem::RecordAltered { seq } => {
                write!(f, "record {seq}: its fields were altered (hash differs)")
            }
            Problem::BrokenLink { seq } => write!(
                f,
                "record {seq}: does not follow the record before it (chain broken)"
            ),
            Problem::Missing { from, to } if from == to => {
                write!(f, "record {from}: missing (removed)")
            }
            Problem::Missing { from, to } => write!(f, "records {from} to {to}: missing (removed)"),
            Problem::BadField { seq } => write!(f, "record {seq}: direction is not in or out"),
            Problem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the chain head says record {head_seq} is the last, but the last stored is {last_seq}"
            ),
            Problem::AnchorForged { line } => write!(
                f,
                "anchor file line {line}: not an anchor, or its MAC does not hold with audit.anchor_key"
            ),
            Problem::AnchorDiffers { seq, at } => write!(
                f,
                "record {seq}: differs from its anchor of {at} (the log was rewritten from there)"
            ),
            Problem::AnchoredMissing { seq, at } => {
                write!(f, "record {seq}: anchored at {at}, but missing (removed)")
            }
            Problem::TailCut {
                last_seq,
                anchored,
                at,
            } => write!(
                f,
                "the log ends at record {last_seq}, but record {anchored} was anchored at {at}: its tail was cut"
            ),
            Problem::CheckpointForged { up_to_seq, why } => {
                write!(f, "the pruning checkpoint after record {up_to_seq}: {why}")
            }
        }
    }
}
