//! The status-read cache: the rendered answers of `GET /api/v1/dossiers/{MaHoSo}` and of the
//! paged list `GET /api/v1/dossiers?…` (by its query), kept in memory for a short time
//! (`server.status_cache_ttl`, 1 s by default; `0s` turns it off).
//!
//! Why: the department's systems poll dossier status and the lists of new or pending
//! dossiers, and a read costs a trip to the database (on SQLite a hand-off to a connection's
//! thread) that a repeated read within a second need not make. What a read may miss, and for
//! how long:
//!
//! - a change made through this gateway — a lifecycle action, a payment request or callback,
//!   anything that goes through [`crate::dossiers::lifecycle::Lifecycle`] or the payment service — drops
//!   the dossier's entry and every kept list page when it commits, so the next read shows it;
//! - so does a delivery or a dead message of this gateway's outbox worker (`sync`);
//! - a new dossier taken in by this gateway drops every kept list page;
//! - a change made by another instance sharing a PostgreSQL database drops the same entries
//!   here as soon as that instance's notice arrives (`cache_peers`: every drop is told to the
//!   others through `LISTEN`/`NOTIFY`, and a lost listening connection drops everything);
//! - a change made elsewhere — `motcua outbox` run from a shell, an edit by hand — shows within
//!   the TTL;
//! - a caller that must see the store as it is now sends `Cache-Control: no-cache`.
//! - `overdue` turns true at the due moment: an open dossier's entry never outlives it.
//!
//! A read that began before a change committed must not put back what it read: every drop
//! advances a generation, and an entry is stored only if no drop happened while it was read.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most entries kept; past it, expired entries are dropped, then all if still full.
const CAPACITY: usize = 100_000;

/// Most list pages kept (each distinct query is one), dropped the same way.
const PAGES: usize = 1_000;

#[derive(Debug)]
struct Page {
    body: Bytes,
    expires: Instant,
}

#[derive(Debug)]
struct Entry {
    dossier_id: i64,
    body: Bytes,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    by_code: HashMap<String, Entry>,
    code_of: HashMap<i64, String>,
    pages: HashMap<String, Page>,
}

/// The cache; shared by the read handler and every service that changes dossiers.
#[derive(Debug)]
pub struct StatusCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<Entries>,
    /// Where this instance's drops are told to the others (`cache_peers`), when it has peers.
    peers: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Dropped>>,
}

/// A drop, as the other instances are told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dropped {
    /// One dossier's answer and every list page.
    Dossier(i64),
    /// Every list page.
    Pages,
    /// Everything.
    All,
}

/// Taken before a read of the store; [`StatusCache::put`] stores what was read only if no change
/// was dropped since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl StatusCache {
    /// A cache keeping answers for `ttl` (zero: keeps nothing).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(Entries::default()),
            peers: std::sync::OnceLock::new(),
        }
    }

    /// Tells every drop from now on to `peers` as well (once; later calls are ignored).
    pub fn tell_peers(&self, peers: tokio::sync::mpsc::UnboundedSender<Dropped>) {
        let _ = self.peers.set(peers);
    }

    fn told(&self, dropped: Dropped) {
        if let Some(peers) = self.peers.get() {
            let _ = peers.send(dropped);
        }
    }

    /// A drop another instance told of: made here, not told again.
    pub fn apply(&self, dropped: Dropped) {
        match dropped {
            Dropped::Dossier(id) => self.drop_dossier(id),
            Dropped::Pages => self.drop_pages(),
            Dropped::All => self.drop_all(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every critical section leaves the maps consistent; a panic elsewhere cannot poison
        // them in a way that matters.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept answer for `code`, if still fresh.
    pub fn get(&self, code: &str) -> Option<Bytes> {
        self.fresh(|e| e.by_code.get(code).map(|x| (&x.body, x.expires)))
    }

    /// What `pick` finds, if the cache is on and it has not expired.
    fn fresh(&self, pick: impl FnOnce(&Entries) -> Option<(&Bytes, Instant)>) -> Option<Bytes> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries();
        pick(&entries)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(body, _)| body.clone())
    }

    /// To take before reading the store.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Keeps `body` as the answer for `code` (dossier `dossier_id`) until the TTL passes or,
    /// sooner, `until` (the moment its `overdue` would change) — unless a change was dropped
    /// since `ticket` was taken.
    pub fn put(
        &self,
        ticket: Ticket,
        code: &str,
        dossier_id: i64,
        body: Bytes,
        until: Option<Duration>,
    ) {
        let life = until.map_or(self.ttl, |u| u.min(self.ttl));
        self.keep(ticket, |entries, now| {
            if make_room(&mut entries.by_code, CAPACITY, now, |e| e.expires) {
                let Entries {
                    by_code, code_of, ..
                } = entries;
                code_of.retain(|_, c| by_code.contains_key(c));
            }
            entries.code_of.insert(dossier_id, code.to_owned());
            entries.by_code.insert(
                code.to_owned(),
                Entry {
                    dossier_id,
                    body,
                    expires: now + life,
                },
            );
        });
    }

    /// Runs `keep` on the entries under the lock, if the cache is on and no change was dropped
    /// since `ticket` was taken. Checked under the lock: a drop takes the same lock, so none
    /// can slip in between.
    fn keep(&self, ticket: Ticket, keep: impl FnOnce(&mut Entries, Instant)) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries();
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        keep(&mut entries, now);
    }

    /// The kept list page for the normalized query `key`, if still fresh.
    pub fn get_page(&self, key: &str) -> Option<Bytes> {
        self.fresh(|e| e.pages.get(key).map(|x| (&x.body, x.expires)))
    }

    /// Keeps `body` as the list page for `key` until the TTL passes, unless a change was
    /// dropped since `ticket` was taken.
    pub fn put_page(&self, ticket: Ticket, key: &str, body: Bytes) {
        let life = self.ttl;
        self.keep(ticket, |entries, now| {
            make_room(&mut entries.pages, PAGES, now, |p| p.expires);
            entries.pages.insert(
                key.to_owned(),
                Page {
                    body,
                    expires: now + life,
                },
            );
        });
    }

    /// Drops every kept list page, after a new dossier committed (it may be on any of them).
    pub fn forget_pages(&self) {
        self.drop_pages();
        self.told(Dropped::Pages);
    }

    /// Drops the answer kept for dossier `dossier_id` and every list page, after a change to
    /// it committed.
    pub fn forget(&self, dossier_id: i64) {
        self.drop_dossier(dossier_id);
        self.told(Dropped::Dossier(dossier_id));
    }

    /// Drops everything, after a change to many dossiers at once.
    pub fn forget_all(&self) {
        self.drop_all();
        self.told(Dropped::All);
    }

    fn drop_pages(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.pages.clear();
    }

    fn drop_dossier(&self, dossier_id: i64) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.pages.clear();
        if let Some(code) = entries.code_of.remove(&dossier_id) {
            if entries
                .by_code
                .get(&code)
                .is_some_and(|e| e.dossier_id == dossier_id)
            {
                entries.by_code.remove(&code);
            }
        }
    }

    fn drop_all(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.by_code.clear();
        entries.code_of.clear();
        entries.pages.clear();
    }
}

/// When `map` is full: drops its expired entries, then all if still full. Whether it was full.
fn make_room<V>(
    map: &mut HashMap<String, V>,
    capacity: usize,
    now: Instant,
    expires: impl Fn(&V) -> Instant,
) -> bool {
    if map.len() < capacity {
        return false;
    }
    map.retain(|_, v| expires(v) > now);
    if map.len() >= capacity {
        map.clear();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_page_is_kept_until_any_dossier_changes_or_arrives() {
        let cache = StatusCache::new(Duration::from_secs(60));
        cache.put_page(cache.ticket(), "status=1", body("page"));
        assert_eq!(cache.get_page("status=1"), Some(body("page")));
        assert_eq!(cache.get_page("status=2"), None, "another query");
        cache.forget(9);
        assert_eq!(cache.get_page("status=1"), None, "any dossier's change");
        cache.put_page(cache.ticket(), "status=1", body("page"));
        cache.forget_pages();
        assert_eq!(cache.get_page("status=1"), None, "a new dossier");
        let before = cache.ticket();
        cache.forget_pages();
        cache.put_page(before, "status=1", body("stale"));
        assert_eq!(cache.get_page("status=1"), None, "read across a change");
        cache.put_page(cache.ticket(), "status=1", body("page"));
        cache.forget_all();
        assert_eq!(cache.get_page("status=1"), None);
        let off = StatusCache::new(Duration::ZERO);
        off.put_page(off.ticket(), "status=1", body("page"));
        assert_eq!(off.get_page("status=1"), None, "ttl 0s keeps nothing");
    }

    fn body(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn an_answer_is_kept_until_its_dossier_changes() {
        let cache = StatusCache::new(Duration::from_secs(60));
        let t = cache.ticket();
        cache.put(t, "A", 1, body("one"), None);
        assert_eq!(cache.get("A"), Some(body("one")));
        cache.forget(2);
        assert_eq!(
            cache.get("A"),
            Some(body("one")),
            "another dossier's change"
        );
        cache.forget(1);
        assert_eq!(cache.get("A"), None);
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let cache = StatusCache::new(Duration::from_secs(60));
        let before = cache.ticket();
        cache.forget(7);
        cache.put(before, "A", 1, body("stale"), None);
        assert_eq!(cache.get("A"), None);
        let after = cache.ticket();
        cache.put(after, "A", 1, body("fresh"), None);
        assert_eq!(cache.get("A"), Some(body("fresh")));
        cache.forget_all();
        assert_eq!(cache.get("A"), None);
    }

    #[test]
    fn nothing_is_kept_past_the_ttl_or_the_due_moment_or_when_off() {
        let cache = StatusCache::new(Duration::from_secs(60));
        cache.put(
            cache.ticket(),
            "A",
            1,
            body("due now"),
            Some(Duration::ZERO),
        );
        assert_eq!(cache.get("A"), None);
        let off = StatusCache::new(Duration::ZERO);
        off.put(off.ticket(), "A", 1, body("x"), None);
        assert_eq!(off.get("A"), None);
    }
}
