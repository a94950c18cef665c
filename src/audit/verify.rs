//! Checking a stored run of the message log: each record's body and fields against their
//! hashes, each link to the record before, gaps, and the stored head against the last record.
//! Read in pages, so a long log is checked in bounded memory (`motcua audit verify`).

use crate::chain::{chain_hash, sha256_hex, Anchor, Direction, Record};

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
        }
    }
}

/// Checks records in seq order, after `anchor`, keeping the running state between calls so
/// that a long log is read in pages.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    /// Problems found so far.
    pub problems: Vec<Problem>,
    /// Records checked so far.
    pub checked: u64,
}

impl Verifier {
    /// Starts after `anchor`.
    pub fn new(anchor: Anchor) -> Self {
        Verifier {
            expected_seq: anchor.seq + 1,
            prev_hash: anchor.hash,
            problems: Vec::new(),
            checked: 0,
        }
    }

    /// Checks the next record.
    pub fn check(&mut self, r: &Record) {
        self.checked += 1;
        if r.seq > self.expected_seq {
            self.problems.push(Problem::Missing {
                from: self.expected_seq,
                to: r.seq - 1,
            });
        }
        if Direction::parse(&r.message.direction).is_none() {
            self.problems.push(Problem::BadField { seq: r.seq });
        }
        if sha256_hex(&r.message.body) != r.body_sha256 {
            self.problems.push(Problem::BodyAltered { seq: r.seq });
        }
        if chain_hash(&r.prev_hash, r.seq, &r.message, &r.body_sha256) != r.hash {
            self.problems.push(Problem::RecordAltered { seq: r.seq });
        }
        if r.prev_hash != self.prev_hash {
            self.problems.push(Problem::BrokenLink { seq: r.seq });
        }
        self.expected_seq = r.seq + 1;
        self.prev_hash.clone_from(&r.hash);
    }

    /// Finishes against the stored chain head; returns the problems.
    pub fn finish(mut self, head: &Anchor) -> Vec<Problem> {
        let last = self.expected_seq - 1;
        if head.seq != last || head.hash != self.prev_hash {
            self.problems.push(Problem::HeadMismatch {
                head_seq: head.seq,
                last_seq: last,
            });
        }
        self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::tests::chain;
    use crate::chain::GENESIS;

    fn verify(records: &[Record]) -> Vec<Problem> {
        let mut v = Verifier::new(Anchor::genesis());
        for r in records {
            v.check(r);
        }
        let head = records.last().map_or(Anchor::genesis(), |r| Anchor {
            seq: r.seq,
            hash: r.hash.clone(),
        });
        v.finish(&head)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let records = chain(5);
        assert_eq!(records[0].prev_hash, GENESIS);
        assert_eq!(records[4].seq, 5);
        assert!(verify(&records).is_empty());
    }

    #[test]
    fn an_edited_body_is_named() {
        let mut records = chain(5);
        records[2].message.body[0] ^= 1;
        assert_eq!(verify(&records), vec![Problem::BodyAltered { seq: 3 }]);
    }

    #[test]
    fn an_edited_field_is_named() {
        let mut records = chain(5);
        records[1].message.verdict = "201".into();
        assert_eq!(verify(&records), vec![Problem::RecordAltered { seq: 2 }]);
    }

    #[test]
    fn an_edit_with_its_hash_recomputed_breaks_the_next_link() {
        let mut records = chain(5);
        records[1].message.verdict = "201".into();
        let r = &records[1];
        records[1].hash = chain_hash(&r.prev_hash, r.seq, &r.message, &r.body_sha256);
        assert_eq!(verify(&records), vec![Problem::BrokenLink { seq: 3 }]);
    }

    #[test]
    fn a_removed_record_is_named() {
        let mut records = chain(5);
        records.remove(2);
        let problems = verify(&records);
        assert_eq!(problems[0], Problem::Missing { from: 3, to: 3 });
        assert!(problems.contains(&Problem::BrokenLink { seq: 4 }));
    }

    #[test]
    fn swapped_records_are_named() {
        let mut records = chain(5);
        records.swap(1, 2);
        let problems = verify(&records);
        assert!(
            problems.contains(&Problem::BrokenLink { seq: 3 }),
            "{problems:?}"
        );
    }

    #[test]
    fn a_removed_tail_is_caught_by_the_head() {
        let records = chain(5);
        let mut v = Verifier::new(Anchor::genesis());
        for r in &records[..3] {
            v.check(r);
        }
        let head = Anchor {
            seq: 5,
            hash: records[4].hash.clone(),
        };
        assert_eq!(
            v.finish(&head),
            vec![Problem::HeadMismatch {
                head_seq: 5,
                last_seq: 3
            }]
        );
    }

    #[test]
    fn verification_resumes_from_a_checkpoint() {
        let records = chain(5);
        let anchor = Anchor {
            seq: 2,
            hash: records[1].hash.clone(),
        };
        let mut v = Verifier::new(anchor);
        for r in &records[2..] {
            v.check(r);
        }
        let head = Anchor {
            seq: 5,
            hash: records[4].hash.clone(),
        };
        assert!(v.finish(&head).is_empty());
    }
}
