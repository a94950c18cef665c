//! Instances sharing one PostgreSQL database keep one another's status caches honest: every
//! drop an instance makes (a dossier changed, a dossier arrived, many changed) is told to the
//! others on one `NOTIFY` channel, and each makes the same drop when it hears it. A notice is
//! sent after the change's commit and before its caller is answered; the others drop within
//! the time the notice takes to arrive (milliseconds), not the cache's TTL. A listening
//! connection that was lost may have missed notices: everything is dropped then.
//!
//! A notice is `{instance};{drop},{drop}…` — `d{id}` a dossier, `p` the list pages, `a`
//! everything — at most [`MAX_PAYLOAD`] bytes; an instance ignores its own, and anything it
//! does not understand.

use super::status_cache::{Dropped, StatusCache};
use crate::store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The channel.
pub const CHANNEL: &str = "motcua_status_cache";

/// Longest notice sent (PostgreSQL takes up to 8000 bytes).
pub const MAX_PAYLOAD: usize = 7000;

/// On PostgreSQL, starts telling this instance's drops to the others and hearing theirs, until
/// `stop`; nothing on SQLite.
pub async fn start(
    store: &Store,
    cache: Arc<StatusCache>,
    stop: CancellationToken,
) -> Result<(), crate::store::StoreError> {
    let Some(listener) = store.listen(CHANNEL).await? else {
        return Ok(());
    };
    let me = format!("{:016x}", rand::random::<u64>());
    let (tx, rx) = mpsc::unbounded_channel();
    cache.tell_peers(tx);
    tokio::spawn(tell(store.clone(), me.clone(), rx, stop.clone()));
    tokio::spawn(hear(listener, me, cache, stop));
    Ok(())
}

/// Sends what this instance dropped, as many drops a notice as wait together.
async fn tell(
    store: Store,
    me: String,
    mut rx: mpsc::UnboundedReceiver<Dropped>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            got = rx.recv() => match got { Some(d) => d, None => return },
        };
        let mut batch = BTreeSet::from([token(first)]);
        while let Ok(more) = rx.try_recv() {
            batch.insert(token(more));
        }
        for payload in payloads(&me, &batch) {
            if let Err(e) = store.notify(CHANNEL, &payload).await {
                tracing::warn!(error = %e, "other instances were not told of a status cache drop; theirs shows it within its TTL");
            }
        }
    }
}

/// Makes the drops the others tell of.
async fn hear(
    mut listener: crate::store::Listener,
    me: String,
    cache: Arc<StatusCache>,
    stop: CancellationToken,
) {
    loop {
        let heard = tokio::select! {
            () = stop.cancelled() => return,
            heard = listener.next() => heard,
        };
        match heard {
            Ok(Some(payload)) => {
                for dropped in parse(&payload, &me) {
                    cache.apply(dropped);
                }
            }
            Ok(None) => cache.apply(Dropped::All),
            Err(e) => {
                tracing::warn!(error = %e, "listening for other instances' cache drops failed; dropping everything kept");
                cache.apply(Dropped::All);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

fn token(d: Dropped) -> String {
    match d {
        Dropped::Dossier(id) => format!("d{id}"),
        Dropped::Pages => "p".into(),
        Dropped::All => "a".into(),
    }
}

/// The notices that carry `batch` from instance `me`, each at most [`MAX_PAYLOAD`] bytes.
fn payloads(me: &str, batch: &BTreeSet<String>) -> Vec<String> {
    if batch.contains("a") {
        return vec![format!("{me};a")];
    }
    let mut out = Vec::new();
    let mut current = format!("{me};");
    for t in batch {
        if current.len() + t.len() + 1 > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut current, format!("{me};")));
        }
        if !current.ends_with(';') {
            current.push(',');
        }
        current.push_str(t);
    }
    out.push(current);
    out
}

/// The drops of a notice from another instance (none of this instance's own).
fn parse(payload: &str, me: &str) -> Vec<Dropped> {
    let Some((from, drops)) = payload.split_once(';') else {
        return Vec::new();
    };
    if from == me {
        return Vec::new();
    }
    drops
        .split(',')
        .filter_map(|t| match t {
            "a" => Some(Dropped::All),
            "p" => Some(Dropped::Pages),
            _ => t.strip_prefix('d')?.parse().ok().map(Dropped::Dossier),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_carries_every_drop_and_an_instance_ignores_its_own() {
        let batch: BTreeSet<String> = ["d12", "p", "d7"].iter().map(|s| (*s).to_owned()).collect();
        let sent = payloads("aa", &batch);
        assert_eq!(sent, ["aa;d12,d7,p"]);
        assert_eq!(
            parse(&sent[0], "bb"),
            [Dropped::Dossier(12), Dropped::Dossier(7), Dropped::Pages]
        );
        assert_eq!(parse(&sent[0], "aa"), []);
        assert_eq!(
            parse("bb;x,d,dz,d5", "aa"),
            [Dropped::Dossier(5)],
            "junk ignored"
        );
        assert_eq!(parse("no separator", "aa"), []);
        let all: BTreeSet<String> = ["d1", "a"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(payloads("aa", &all), ["aa;a"]);
    }

    #[test]
    fn a_long_batch_is_split_under_the_payload_limit() {
        let batch: BTreeSet<String> = (0..2000).map(|i| format!("d{}", 1_000_000 + i)).collect();
        let sent = payloads("aa", &batch);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let heard: usize = sent.iter().map(|p| parse(p, "bb").len()).sum();
        assert_eq!(heard, 2000);
    }
}
