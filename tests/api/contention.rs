//! Two instances' lifecycle writers taking the same dossiers' rows on one PostgreSQL database:
//! their batches take the rows in one order, so they never wait for each other in a circle;
//! and a change PostgreSQL gives up anyway (a deadlock with some other transaction) is read
//! again and retried, never answered as a failure; what counts as such a conflict is checked on
//! errors PostgreSQL really gives. PostgreSQL only: SQLite has one writer.
//!
//! The interleavings are made, not hoped for: a third connection holds rows so that each
//! batch stops where the test wants it, and the test waits until PostgreSQL shows the batches
//! waiting on those locks before letting go.

use crate::helpers::*;
use crate::lifecycle::new_dossier;
use motcua_gateway::domain::dossier::Progress;
use motcua_gateway::store::{
    ApplyOutcome, Change, DossierUpdate, Store, StoreError, StoredDossier,
};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// A change of `d` that alters nothing but its version (and adds a progress record).
fn touch(d: &StoredDossier) -> Change {
    Change {
        dossier_id: d.id,
        version: d.version,
        update: DossierUpdate::from_stored(d),
        progress: Progress {
            action: "contention_test".into(),
            status: d.status,
            officer_name: "test".into(),
            officer_title: "test".into(),
            officer_unit: "test".into(),
            note: None,
            at: now(),
        },
        outbox: Vec::new(),
        idempotency: None,
        payment: None,
        step: None,
        now: now(),
        render: Box::new(|d: &StoredDossier| d.code.clone()),
    }
}

/// What each outcome was, as a word (an error in full).
fn kinds(outcomes: &[Result<ApplyOutcome, StoreError>]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            Ok(ApplyOutcome::Applied(_)) => "applied".to_owned(),
            Ok(ApplyOutcome::Stale) => "stale".to_owned(),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

/// Waits until `n` sessions on the database wait for a row lock (at most 20 s).
async fn until_waiting(watch: &mut sqlx::PgConnection, n: i64) {
    let start = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *watch)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{waiting} sessions waiting for a lock, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A test's PostgreSQL database with four dossiers on it.
struct Scene {
    /// The dossiers, in row-id order.
    d: Vec<StoredDossier>,
    /// Two stores on it: two instances' pools.
    a: Store,
    b: Store,
    /// A connection of the test's own, to hold rows with.
    holder: sqlx::PgConnection,
    /// Another, to watch who waits for a lock.
    watch: sqlx::PgConnection,
    /// The database (dropped with the scene).
    db: TestDb,
}

/// The scene on a fresh database; `None` on SQLite.
async fn scene() -> Option<Scene> {
    let db = fresh_database().await;
    if !db.url.starts_with("postgres") {
        return None;
    }
    let app = spawn_on(db.share(), "").await;
    let mut codes = Vec::new();
    for i in 0..4 {
        codes.push(new_dossier(&app, &format!("CONTENTION-{i}")).await);
    }
    app.stop().await;
    let a = Store::connect(&db.url, 4).await.unwrap();
    let b = Store::connect(&db.url, 4).await.unwrap();
    let mut d = Vec::new();
    for code in &codes {
        d.push(a.dossier_by_code(code).await.unwrap().unwrap());
    }
    d.sort_by_key(|d| d.id);
    Some(Scene {
        d,
        a,
        b,
        holder: sqlx::PgConnection::connect(&db.url).await.unwrap(),
        watch: sqlx::PgConnection::connect(&db.url).await.unwrap(),
        db,
    })
}

#[tokio::test]
async fn two_batches_holding_the_same_dossiers_the_other_way_round_both_finish() {
    let Some(mut s) = scene().await else {
        return;
    };
    let (a, b) = (s.a, s.b);
    sqlx::query("BEGIN").execute(&mut s.holder).await.unwrap();
    sqlx::query("SELECT id FROM dossiers WHERE id IN ($1, $2) FOR UPDATE")
        .bind(s.d[2].id)
        .bind(s.d[3].id)
        .execute(&mut s.holder)
        .await
        .unwrap();
    // Taken in arrival order, A would hold d0 and wait for d2, B hold d1 and wait for d3;
    // let go, A would want d1 and B d0: a circle.
    let first = vec![touch(&s.d[0]), touch(&s.d[2]), touch(&s.d[1])];
    let second = vec![touch(&s.d[1]), touch(&s.d[3]), touch(&s.d[0])];
    let one = tokio::spawn(async move { a.apply_changes(&first).await });
    until_waiting(&mut s.watch, 1).await;
    let two = tokio::spawn(async move { b.apply_changes(&second).await });
    until_waiting(&mut s.watch, 2).await;
    sqlx::query("COMMIT").execute(&mut s.holder).await.unwrap();
    let (one, two) = (kinds(&one.await.unwrap()), kinds(&two.await.unwrap()));
    // In row-id order the first batch took d0 and d1 before waiting for d2, and the second
    // waited for d0: the first commits all three; the second finds d0 and d1 changed and
    // applies d3.
    assert_eq!(one, ["applied", "applied", "applied"]);
    // (Taken in arrival order, PostgreSQL would have cancelled one batch's last change after
    // a second: `applied, applied, stale` both.)
    assert_eq!(two, ["stale", "applied", "stale"]);
}

#[tokio::test]
async fn a_change_given_up_for_a_deadlock_is_read_again_not_failed() {
    let Some(mut s) = scene().await else {
        return;
    };
    let a = s.a;
    // The holder waits longer than the batch before looking for a circle: PostgreSQL cancels
    // the batch's change, not the holder.
    sqlx::query("SET deadlock_timeout = '30s'")
        .execute(&mut s.holder)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut s.holder).await.unwrap();
    sqlx::query("SELECT id FROM dossiers WHERE id = $1 FOR UPDATE")
        .bind(s.d[1].id)
        .execute(&mut s.holder)
        .await
        .unwrap();
    let batch = vec![touch(&s.d[0]), touch(&s.d[1])];
    let one = tokio::spawn(async move { a.apply_changes(&batch).await });
    until_waiting(&mut s.watch, 1).await;
    // The holder now wants d0, which the batch holds: a circle, which the batch's backend
    // finds after its second and breaks by cancelling the change of d1.
    let took = sqlx::query("UPDATE dossiers SET version = version WHERE id = $1")
        .bind(s.d[0].id)
        .execute(&mut s.holder)
        .await;
    let outcomes = kinds(&one.await.unwrap());
    assert!(took.is_ok(), "{took:?}");
    sqlx::query("ROLLBACK")
        .execute(&mut s.holder)
        .await
        .unwrap();
    assert_eq!(outcomes, ["applied", "stale"]);
}

#[tokio::test]
async fn a_serialization_failure_and_a_deadlock_are_conflicts_and_no_other_error_is() {
    let Some(mut s) = scene().await else {
        return;
    };
    let (x, y) = (s.d[0].id, s.d[1].id);
    let mut other = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
    let bump = "UPDATE dossiers SET version = version + 1 WHERE id = $1";

    // A serialization failure, as PostgreSQL gives it: a repeatable-read transaction updating a
    // row that another changed after its snapshot was taken.
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut s.holder)
        .await
        .unwrap();
    sqlx::query("SELECT version FROM dossiers WHERE id = $1")
        .bind(x)
        .execute(&mut s.holder)
        .await
        .unwrap();
    sqlx::query(bump).bind(x).execute(&mut other).await.unwrap();
    let serialization = StoreError::from(
        sqlx::query(bump)
            .bind(x)
            .execute(&mut s.holder)
            .await
            .unwrap_err(),
    );
    sqlx::query("ROLLBACK")
        .execute(&mut s.holder)
        .await
        .unwrap();
    assert_eq!(serialization.database_code().as_deref(), Some("40001"));
    assert!(serialization.is_conflict(), "{serialization}");

    // A deadlock: the holder takes x and waits for y, the other takes y and asks for x. The
    // holder waits longer before looking for a circle, so the other's statement is the one
    // PostgreSQL cancels.
    let mut holder = s.holder;
    sqlx::query("SET deadlock_timeout = '30s'")
        .execute(&mut holder)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query(bump)
        .bind(x)
        .execute(&mut holder)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query(bump).bind(y).execute(&mut other).await.unwrap();
    let waiting = tokio::spawn(async move {
        let r = sqlx::query(bump).bind(y).execute(&mut holder).await;
        (holder, r.map(|_| ()))
    });
    until_waiting(&mut s.watch, 1).await;
    let deadlock = StoreError::from(
        sqlx::query(bump)
            .bind(x)
            .execute(&mut other)
            .await
            .unwrap_err(),
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let (mut holder, took) = waiting.await.unwrap();
    assert!(took.is_ok(), "{took:?}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(deadlock.database_code().as_deref(), Some("40P01"));
    assert!(deadlock.is_conflict(), "{deadlock}");

    // Any other error is not a conflict: retrying would not help.
    let duplicate = StoreError::from(
        sqlx::query("UPDATE dossiers SET code = $1 WHERE id = $2")
            .bind(&s.d[0].code)
            .bind(y)
            .execute(&mut other)
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(duplicate, StoreError::Duplicate(_)),
        "{duplicate:?}"
    );
    assert!(!duplicate.is_conflict());
    let missing = StoreError::from(
        sqlx::query("SELECT 1 FROM no_such_table")
            .execute(&mut other)
            .await
            .unwrap_err(),
    );
    assert_eq!(missing.database_code().as_deref(), Some("42P01"));
    assert!(!missing.is_conflict(), "{missing}");
}
