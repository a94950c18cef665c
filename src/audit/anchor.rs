//! The message log's head anchored outside the database it protects (contract section 8).
//!
//! Every `audit.anchor_every`, and once more at shutdown, the gateway appends one JSON line to
//! `audit.anchor_file`: the head's `seq` and `hash`, when the line was written (`at`), the
//! anchored record's own time (`record_at`, ms; 0 for an empty log), and `mac`, HMAC-SHA256
//! with `audit.anchor_key` over those four. Someone who can write the database but not this
//! file (or not forge its MAC) can no longer cut the log's tail and move the head back, rewrite
//! it from some record on, or pass off removed records as pruned: `audit::verify` checks the
//! log against every line. What the anchors cannot see is a change to records newer than the
//! last line, which is why they are written often and at shutdown.

use crate::chain::Anchor;
use crate::store::Store;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One line of the anchor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorLine {
    /// The head's seq.
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// When the line was written (RFC 3339, UTC).
    pub at: String,
    /// The anchored record's time (ms since the epoch; 0 when the log was empty).
    pub record_at: i64,
    /// HMAC-SHA256 (hex) of `seq|hash|at|record_at` with `audit.anchor_key`.
    pub mac: String,
}

fn mac_of(key: &str, seq: i64, hash: &str, at: &str, record_at: i64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{seq}|{hash}|{at}|{record_at}").as_bytes());
    mac
}

impl AnchorLine {
    /// The signed line for `head`, whose record is of `record_at`, written at `now`.
    pub fn new(
        head: &Anchor,
        record_at: i64,
        now: chrono::DateTime<chrono::Utc>,
        key: &str,
    ) -> Self {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mac = hex::encode(
            mac_of(key, head.seq, &head.hash, &at, record_at)
                .finalize()
                .into_bytes(),
        );
        AnchorLine {
            seq: head.seq,
            hash: head.hash.clone(),
            at,
            record_at,
            mac,
        }
    }

    /// Whether the MAC is this key's over these fields (constant time).
    pub fn signed_with(&self, key: &str) -> bool {
        let Ok(given) = hex::decode(&self.mac) else {
            return false;
        };
        mac_of(key, self.seq, &self.hash, &self.at, self.record_at)
            .verify_slice(&given)
            .is_ok()
    }
}

/// Appends `line` to `path` (made with its folder if missing) and waits until it is on disk.
pub fn append(path: &Path, line: &AnchorLine) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// What an anchor file holds: the lines signed with the key, and the numbers (from 1) of the
/// lines that are not anchors or whose MAC does not hold. A missing file holds nothing.
pub fn read(path: &Path, key: &str) -> std::io::Result<(Vec<AnchorLine>, Vec<usize>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<AnchorLine>(line) {
            Ok(anchor) if anchor.signed_with(key) => good.push(anchor),
            _ => bad.push(i + 1),
        }
    }
    Ok((good, bad))
}

/// Anchors the store's head now: reads it, signs it and appends it.
pub async fn anchor_now(store: &Store, path: &Path, key: &str) -> anyhow::Result<AnchorLine> {
    let head = store.message_log_head().await?;
    let record_at = store
        .message_records(head.seq - 1, 1)
        .await?
        .first()
        .filter(|r| r.seq == head.seq)
        .map_or(0, |r| r.message.at);
    let line = AnchorLine::new(&head, record_at, chrono::Utc::now(), key);
    let path = path.to_owned();
    let written = line.clone();
    tokio::task::spawn_blocking(move || append(&path, &written)).await??;
    Ok(line)
}

/// Anchors the head every `every` until `shutdown`; the last anchor is the caller's, once the
/// requests in flight have finished.
pub async fn run(
    store: Store,
    path: std::path::PathBuf,
    key: String,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = anchor_now(&store, &path, &key).await {
            tracing::error!(error = %e, file = %path.display(), "the message log's head could not be anchored");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> AnchorLine {
        let head = Anchor {
            seq: 42,
            hash: "ab".repeat(32),
        };
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        AnchorLine::new(&head, 1_799_999_000_000, now, "key-of-sixteen-chars")
    }

    #[test]
    fn a_line_holds_with_its_key_and_with_no_other_or_no_edit() {
        let l = line();
        assert_eq!(l.at, "2027-01-15T08:00:00.000Z");
        assert!(l.signed_with("key-of-sixteen-chars"));
        assert!(!l.signed_with("another-key-of-sixteen"));
        for edit in [
            AnchorLine {
                seq: 41,
                ..l.clone()
            },
            AnchorLine {
                hash: "cd".repeat(32),
                ..l.clone()
            },
            AnchorLine {
                at: "2027-01-15T08:00:01.000Z".into(),
                ..l.clone()
            },
            AnchorLine {
                record_at: 0,
                ..l.clone()
            },
            AnchorLine {
                mac: "zz".into(),
                ..l.clone()
            },
        ] {
            assert!(!edit.signed_with("key-of-sixteen-chars"), "{edit:?}");
        }
    }

    #[test]
    fn the_file_is_read_back_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("nested/anchors.jsonl");
        let l = line();
        for _ in 0..2 {
            if let Err(e) = append(&path, &l) {
                panic!("{e}");
            }
        }
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("not json\n");
        text.push_str(
            &serde_json::to_string(&AnchorLine {
                seq: 43,
                ..l.clone()
            })
            .unwrap_or_default(),
        );
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let read = read(&path, "key-of-sixteen-chars").map_err(|e| e.to_string());
        assert_eq!(read, Ok((vec![l.clone(), l], vec![3, 4])));
        assert_eq!(
            super::read(&dir.path().join("none"), "k").map_err(|e| e.to_string()),
            Ok((vec![], vec![]))
        );
    }
}
