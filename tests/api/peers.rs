//! Several instances on one PostgreSQL database (issue 22): each keeps reads in its status cache
//! for a minute here, yet a change committed through one is read through the other within
//! moments — the others drop what it dropped when its notice arrives — and a change made by hand
//! (no instance told) shows only when the kept read expires. PostgreSQL only: an SQLite file has
//! one instance.

use crate::helpers::*;
use crate::lifecycle::{act, new_dossier, step};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Reads `path` through `app` until `done` holds, at most 5 s (the cache keeps reads 60 s):
/// how long it took.
async fn read_until(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (status, v) = app.get_json(path, READER).await;
        assert_eq!(status, 200, "{v}");
        if done(&v) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path} still shows {v} 5 s after the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_change_through_one_instance_is_read_through_another_within_moments() {
    let db = fresh_database().await;
    if !db.url.starts_with("postgres") {
        return;
    }
    let extra = "[server]\nstatus_cache_ttl = \"60s\"";
    let other = db.share();
    let a = spawn_on(db, extra).await;
    let b = spawn_on(other, extra).await;
    let code = new_dossier(&a, "PEER-1").await;
    let path = format!("/api/v1/dossiers/{code}");
    let (_, page) = b.get_json("/api/v1/dossiers?limit=5", READER).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // B keeps what it read: a change no instance told of is not seen. (A read that overlapped
    // a drop — the arrival's own notice — is not kept: read again until one is.)
    let mut kept = false;
    for n in 0..20 {
        let (_, d) = b.get_json(&path, READER).await;
        assert_eq!(d["TrangThaiHoSo"], 1);
        raw_sql(
            &a.db_url(),
            &format!("UPDATE dossiers SET summary = 'sửa tay {n}'"),
        )
        .await;
        let (_, again) = b.get_json(&path, READER).await;
        if again["summary"] == d["summary"] {
            kept = true;
            break;
        }
    }
    assert!(kept, "B keeps its reads (the TTL is a minute)");

    // A change through A is read through B at once, not a minute later.
    let (s, _) = act(&a, &code, step("accept")).await;
    assert_eq!(s, 200);
    let took = read_until(&b, &path, |v| v["TrangThaiHoSo"] == 2).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A new dossier through A drops B's kept list pages.
    new_dossier(&a, "PEER-2").await;
    read_until(&b, "/api/v1/dossiers?limit=5", |v| {
        v["items"].as_array().is_some_and(|i| i.len() == 2)
    })
    .await;
    // And the other way round.
    let (s, _) = act(&b, &code, step("start_processing")).await;
    assert_eq!(s, 200);
    read_until(&a, &path, |v| v["TrangThaiHoSo"] == 4).await;
}
