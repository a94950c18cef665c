//! Checking a stored run of the message log: each record's body and fields against their
//! hashes, each link to the record before, gaps, the stored head against the last record, and
//! all of it against the anchors kept outside the database (`audit::anchor`): a record
//! rewritten or removed before an anchor, a tail cut behind one, or a pruning checkpoint that
//! removed what the retention period still kept. Read in pages, so a long log is checked in
//! bounded memory (`motcua audit verify`).

use super::anchor::AnchorLine;
pub use super::problem::Problem;
use crate::chain::{chain_hash, sha256_hex, Anchor, Checkpoint, Direction, Record};

/// What one record shows wrong by itself, whatever chain it was in: a direction that is not
/// `in` or `out`, a body that does not hash to its `body_sha256`, fields that do not hash to
/// its `hash`. A record kept apart past the log's retention (payment evidence) is checked so.
pub fn check_alone(r: &Record) -> Vec<Problem> {
    let mut problems = Vec::new();
    if Direction::parse(&r.message.direction).is_none() {
        problems.push(Problem::BadField { seq: r.seq });
    }
    if sha256_hex(&r.message.body) != r.body_sha256 {
        problems.push(Problem::BodyAltered { seq: r.seq });
    }
    if chain_hash(&r.prev_hash, r.seq, &r.message, &r.body_sha256) != r.hash {
        problems.push(Problem::RecordAltered { seq: r.seq });
    }
    problems
}

/// Checks records in seq order, after `anchor`, keeping the running state between calls so
/// that a long log is read in pages.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    /// The anchors after the start still to meet, latest first (popped as records pass).
    anchors: Vec<AnchorLine>,
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
            anchors: Vec::new(),
            problems: Vec::new(),
            checked: 0,
        }
    }

    /// Starts after `checkpoint` (or at the beginning), checking the records against
    /// `anchors`; those the checkpoint covers are checked against it: each must be of a record
    /// older than its pruning boundary, and the checkpoint's boundary must be at least
    /// `retention` before `now` (ms).
    pub fn anchored(
        checkpoint: Option<&Checkpoint>,
        mut anchors: Vec<AnchorLine>,
        retention_ms: i64,
        now_ms: i64,
    ) -> Self {
        let start = checkpoint.map_or_else(Anchor::genesis, |c| c.anchor.clone());
        let mut v = Verifier::new(start.clone());
        if let Some(c) = checkpoint {
            v.check_checkpoint(c, &anchors, retention_ms, now_ms);
        }
        anchors.retain(|a| a.seq > start.seq);
        anchors.sort_by_key(|a| std::cmp::Reverse(a.seq));
        v.anchors = anchors;
        v
    }

    fn check_checkpoint(
        &mut self,
        c: &Checkpoint,
        anchors: &[AnchorLine],
        retention_ms: i64,
        now_ms: i64,
    ) {
        let up_to_seq = c.anchor.seq;
        let mut forged = |why: String| {
            self.problems
                .push(Problem::CheckpointForged { up_to_seq, why })
        };
        if c.pruned_before > now_ms.saturating_sub(retention_ms) {
            forged("it removed records within the retention period".into());
        }
        for a in anchors.iter().filter(|a| a.seq <= up_to_seq) {
            if a.record_at >= c.pruned_before {
                forged(format!(
                    "record {} (anchored at {}) was not old enough to remove",
                    a.seq, a.at
                ));
            }
            if a.seq == up_to_seq && a.hash != c.anchor.hash {
                forged(format!("its hash is not the one anchored at {}", a.at));
            }
        }
    }

    /// Checks the next record.
    pub fn check(&mut self, r: &Record) {
        self.checked += 1;
        while let Some(a) = self.anchors.pop() {
            if a.seq > r.seq {
                self.anchors.push(a);
                break;
            }
            if a.seq < r.seq {
                self.problems.push(Problem::AnchoredMissing {
                    seq: a.seq,
                    at: a.at,
                });
            } else if a.hash != r.hash {
                self.problems.push(Problem::AnchorDiffers {
                    seq: a.seq,
                    at: a.at,
                });
            }
        }
        if r.seq > self.expected_seq {
            self.problems.push(Problem::Missing {
                from: self.expected_seq,
                to: r.seq - 1,
            });
        }
        self.problems.extend(check_alone(r));
        if r.prev_hash != self.prev_hash {
            self.problems.push(Problem::BrokenLink { seq: r.seq });
        }
        self.expected_seq = r.seq + 1;
        self.prev_hash.clone_from(&r.hash);
    }

    /// Finishes against the stored chain head; returns the problems.
    pub fn finish(mut self, head: &Anchor) -> Vec<Problem> {
        let last = self.expected_seq - 1;
        // The anchors left are of records after the last one: the latest names the cut.
        if let Some(latest) = self.anchors.first() {
            self.problems.push(Problem::TailCut {
                last_seq: last,
                anchored: latest.seq,
                at: latest.at.clone(),
            });
        }
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
        verify_anchored(records, Vec::new())
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

    const KEY: &str = "key-of-sixteen-chars";

    fn anchor_of(r: &Record) -> AnchorLine {
        let head = Anchor {
            seq: r.seq,
            hash: r.hash.clone(),
        };
        let now = chrono::DateTime::from_timestamp_millis(r.message.at + 1000).unwrap_or_default();
        AnchorLine::new(&head, r.message.at, now, KEY)
    }

    fn verify_anchored(records: &[Record], anchors: Vec<AnchorLine>) -> Vec<Problem> {
        let mut v = Verifier::anchored(None, anchors, 0, 0);
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
    fn an_untouched_chain_verifies_against_its_anchors() {
        let records = chain(6);
        let anchors = vec![
            anchor_of(&records[5]),
            anchor_of(&records[1]),
            anchor_of(&records[3]),
        ];
        assert!(verify_anchored(&records, anchors).is_empty());
    }

    #[test]
    fn a_tail_cut_with_its_head_moved_back_is_caught_by_an_anchor() {
        let records = chain(6);
        let anchors = vec![anchor_of(&records[2]), anchor_of(&records[4])];
        // Records 5 and 6 removed and the head set to record 4: the chain alone holds.
        assert!(verify(&records[..4]).is_empty());
        assert_eq!(
            verify_anchored(&records[..4], anchors),
            vec![Problem::TailCut {
                last_seq: 4,
                anchored: 5,
                at: anchor_of(&records[4]).at
            }]
        );
    }

    #[test]
    fn a_tail_rewritten_with_its_hashes_recomputed_is_caught_by_an_anchor() {
        let mut records = chain(6);
        let anchors = vec![anchor_of(&records[4])];
        records[3].message.verdict = "201".into();
        for i in 3..6 {
            let prev = records[i - 1].hash.clone();
            let r = &mut records[i];
            r.prev_hash = prev;
            r.hash = chain_hash(&r.prev_hash, r.seq, &r.message, &r.body_sha256);
        }
        assert!(verify(&records).is_empty(), "the chain alone holds");
        assert_eq!(
            verify_anchored(&records, anchors.clone()),
            vec![Problem::AnchorDiffers {
                seq: 5,
                at: anchors[0].at.clone()
            }]
        );
        let mut cut = records.clone();
        cut.remove(4);
        let problems = verify_anchored(&cut, anchors.clone());
        assert!(problems.contains(&Problem::AnchoredMissing {
            seq: 5,
            at: anchors[0].at.clone()
        }));
    }

    #[test]
    fn a_checkpoint_is_held_to_the_retention_period_and_the_anchors() {
        let records = chain(6);
        let day = 86_400_000;
        let at = records[5].message.at;
        let checkpoint = |pruned_before: i64| Checkpoint {
            anchor: Anchor {
                seq: 3,
                hash: records[2].hash.clone(),
            },
            pruned_before,
            at,
        };
        let run = |c: &Checkpoint, anchors: Vec<AnchorLine>, now: i64| {
            let mut v = Verifier::anchored(Some(c), anchors, day, now);
            for r in &records[3..] {
                v.check(r);
            }
            v.finish(&Anchor {
                seq: 6,
                hash: records[5].hash.clone(),
            })
        };
        // A pruning as the pruner makes it: a day after the records, a day's retention.
        let genuine = checkpoint(records[2].message.at + 1);
        let later = records[2].message.at + 1 + day;
        assert!(run(
            &genuine,
            vec![anchor_of(&records[1]), anchor_of(&records[4])],
            later
        )
        .is_empty());
        // The same checkpoint looked at before a day has passed: it removed what was kept.
        assert_eq!(
            run(&genuine, vec![], later - 1),
            vec![Problem::CheckpointForged {
                up_to_seq: 3,
                why: "it removed records within the retention period".into()
            }]
        );
        // A boundary set back to pass the retention, but an anchor shows record 3 was younger.
        let lying = checkpoint(records[2].message.at);
        assert_eq!(
            run(&lying, vec![anchor_of(&records[2])], later),
            vec![Problem::CheckpointForged {
                up_to_seq: 3,
                why: format!(
                    "record 3 (anchored at {}) was not old enough to remove",
                    anchor_of(&records[2]).at
                )
            }]
        );
    }
}
