//! Each piece of evidence written once (issue 23): a dossier's raw submission and the answer it
//! got live in the message log only — the dossier names the request's record — and outlive the
//! log's retention there, so that a push of the same dossier a year later is still answered
//! as the first time. An outbox message's payload is written once too, on SQLite in a row of
//! its own that the claim and the outcome leave alone.

use crate::helpers::*;
use motcua_gateway::store::Store;
use sqlx::Connection;
use std::str::FromStr;

#[tokio::test]
async fn the_raw_submission_is_kept_once_in_the_message_log() {
    let app = spawn_app().await;
    let body = fixture("valid/thu-vien.json");
    let (status, answer) = status_and_json(app.submit(&body, "application/json").await).await;
    assert_eq!(status, 201);
    let d = app
        .store
        .dossier_by_code(answer["MaHoSo"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let (content_type, stored) = raw_submission(&app.db_url(), d.id).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(stored, body, "byte for byte");
    let db = app.db_url();
    assert_eq!(
        sql_i64(&db, "SELECT COUNT(*) FROM dossier_submissions").await,
        0,
        "no second copy of the body"
    );
    assert_eq!(
        sql_text(&db, "SELECT first_answer FROM dossiers").await,
        "",
        "no second copy of the answer"
    );
}

#[tokio::test]
async fn a_dossiers_submission_and_first_answer_outlive_the_logs_retention() {
    let app = spawn_app().await;
    let body = fixture("valid/bieu-dien.json");
    let first = app.submit(&body, "application/json").await;
    assert_eq!(first.status(), 201);
    let first = first.bytes().await.unwrap();
    let code = serde_json::from_slice::<serde_json::Value>(&first).unwrap()["MaHoSo"]
        .as_str()
        .unwrap()
        .to_owned();
    // A push refused, and one of another dossier that conflicts: not evidence of a dossier.
    assert_eq!(app.submit(b"{", "application/json").await.status(), 400);
    let mut other = serde_json::from_slice::<serde_json::Value>(&body).unwrap();
    other["TrichYeuHoSo"] = "Một nội dung khác".into();
    let other = serde_json::to_vec(&other).unwrap();
    assert_eq!(app.submit(&other, "application/json").await.status(), 409);

    // Everything up to now leaves the chain, as a year's retention does a year on, and the
    // payment evidence's time is up too.
    let now = chrono::Utc::now().timestamp_millis() + 1;
    let removed = app.store.prune_messages(now, now, now).await.unwrap();
    assert!(removed >= 6, "{removed}");
    let kept = app.store.kept_records(0, 100).await.unwrap();
    assert_eq!(
        kept.len(),
        2,
        "the dossier's request and answer only: {kept:?}"
    );
    assert_eq!(kept[0].message.body, body);
    assert_eq!(kept[1].message.reply_to, Some(kept[0].seq));
    assert_eq!(kept[1].message.body, first.to_vec());
    let d = app.store.dossier_by_code(&code).await.unwrap().unwrap();
    assert_eq!(raw_submission(&app.db_url(), d.id).await.1, body);

    // The portal pushes it again: the same answer, read from what the log keeps.
    let again = app.submit(&body, "application/json").await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), first);
    // Pruned again: what is kept of dossiers stays.
    let later = chrono::Utc::now().timestamp_millis() + 1;
    app.store.prune_messages(later, later, later).await.unwrap();
    let kept_now = app.store.kept_records(0, 100).await.unwrap();
    assert_eq!(
        kept_now.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [kept[0].seq, kept[1].seq],
        "a replay's records are not a dossier's submission"
    );
}

#[tokio::test]
async fn a_dossier_received_before_migration_0019_is_replayed_from_its_own_copy() {
    let app = spawn_app().await;
    let body = fixture("valid/karaoke.json");
    let first = app.submit(&body, "application/json").await;
    assert_eq!(first.status(), 201);
    // As such a dossier is stored: the answer on the row, no record named.
    raw_sql(
        &app.db_url(),
        r#"UPDATE dossiers SET first_answer = '{"error_code":"0","kept":"on the row"}', submission_seq = NULL"#,
    )
    .await;
    let again = app.submit(&body, "application/json").await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.bytes().await.unwrap(),
        r#"{"error_code":"0","kept":"on the row"}"#
    );
}

#[tokio::test]
async fn a_message_queued_before_migration_0021_is_claimed_with_its_payload() {
    let db = fresh_database().await;
    let backend = if db.url.starts_with("sqlite://") {
        "sqlite"
    } else {
        "postgres"
    };
    // The database as the gateway left it before migration 0021, two messages queued in it.
    let before = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("migrations").join(backend)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0021" {
            std::fs::copy(&path, before.path().join(&name)).unwrap();
        }
    }
    let migrations = sqlx::migrate::Migrator::new(before.path()).await.unwrap();
    assert_eq!(migrations.iter().count(), 20);
    let dossier = "INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, \
         submitted_at, received_at, applicant, form, fees, summary, mapping_version, content_hash, \
         first_answer, name_words) VALUES ('000.00.12.H29-261201-0001', 'G-1', '1.001', 1, 2, 0, \
         0, '{}', '{}', '[]', 's', 'v1', 'h', '', 'a')";
    let queue = "INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, \
         next_attempt_at) SELECT 'portal', id, 'status', '{\"n\":1}', 1, 1 FROM dossiers \
         UNION ALL SELECT 'onestop', id, 'dossier', '{\"n\":2}', 2, 2 FROM dossiers";
    if backend == "sqlite" {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        migrations.run(&mut conn).await.unwrap();
        sqlx::query(dossier).execute(&mut conn).await.unwrap();
        sqlx::query(queue).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        migrations.run(&mut conn).await.unwrap();
        sqlx::query(dossier).execute(&mut conn).await.unwrap();
        sqlx::query(queue).execute(&mut conn).await.unwrap();
    }

    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let claimed = claim(&store, "w", now(), 60_000, 10).await;
    let got: Vec<(&str, &str)> = claimed
        .iter()
        .map(|c| (c.destination.as_str(), c.payload.as_str()))
        .collect();
    assert_eq!(got, [("portal", r#"{"n":1}"#), ("onestop", r#"{"n":2}"#)]);
    if backend == "sqlite" {
        // Moved to their own table, and the messages' rows no longer carry them.
        assert_eq!(
            sql_texts(
                &db.url,
                "SELECT payload FROM outbox_payloads ORDER BY message_id"
            )
            .await,
            [r#"{"n":1}"#, r#"{"n":2}"#]
        );
        let columns = "SELECT count(*) FROM pragma_table_info('outbox') WHERE name = 'payload'";
        assert_eq!(sql_i64(&db.url, columns).await, 0);
    }
    store.close().await;
}
