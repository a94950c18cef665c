//! Dossier codes: per agency per day, from 0001, with no gaps and no duplicates under load.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use motcua_gateway::chain::{Direction, NewMessage};
use motcua_gateway::domain::code_template::CodeTemplate;
use motcua_gateway::domain::codes::AgencyCode;
use motcua_gateway::domain::dossier::Progress;
use motcua_gateway::dossiers::intake::{BodyFormat, Intake};
use motcua_gateway::mapping::Mappings;
use motcua_gateway::store::{
    ArrivalRows, InsertOutcome, IntakeItem, IntakeReplies, NewOutboxMessage,
};
use serde_json::Value;
use std::collections::BTreeSet;

/// Text naming a code: `"{text} {code}"`.
fn template(text: &'static str) -> CodeTemplate {
    CodeTemplate::render(|code| format!("{text} {code}")).unwrap()
}

/// The store's item for the fixture at `path` under portal id `id`, received at `at`, as the
/// store takes it from intake (answers and rows reduced to what the tests read).
fn intake_item(mappings: &Mappings, id: &str, path: &str, at: DateTime<Utc>) -> IntakeItem {
    let body = with_portal_id(&fixture(path), id);
    let format = if path.ends_with(".xml") {
        BodyFormat::Xml
    } else {
        BodyFormat::Json
    };
    let message = |target: String, body: Vec<u8>| NewMessage {
        at: 0,
        direction: Direction::In,
        partner: "portal".into(),
        peer: "127.0.0.1".into(),
        reply_to: None,
        target,
        headers: String::new(),
        body,
        verdict: "received".into(),
    };
    IntakeItem {
        dossier: Intake::build(mappings, format, &body, at).unwrap(),
        request: message(format!("POST {id}"), body),
        replies: IntakeReplies {
            record: message(String::new(), Vec::new()),
            created: 201,
            replayed: 200,
            conflict: 409,
            conflict_body: template("conflict with"),
        },
        received_at: at,
        notice: false,
        rows: ArrivalRows {
            first_answer: template("answer for"),
            // Two messages, so that the tests see each dossier's queue in its order.
            outbox: vec![
                NewOutboxMessage {
                    destination: "portal".into(),
                    kind: "status".into(),
                    payload: template("first for"),
                },
                NewOutboxMessage {
                    destination: "onestop".into(),
                    kind: "push".into(),
                    payload: template("second for"),
                },
            ],
            progress: Progress {
                action: "received".into(),
                status: 1,
                officer_name: "n".into(),
                officer_title: "t".into(),
                officer_unit: "u".into(),
                note: None,
                at: 0,
            },
        },
    }
}

#[tokio::test]
async fn two_hundred_concurrent_submissions_are_numbered_0001_to_0200() {
    let app = std::sync::Arc::new(spawn_app().await);
    let day = chrono::Utc::now();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        let path = if i % 2 == 0 {
            "valid/karaoke.json"
        } else {
            "valid/trien-lam-my-thuat.xml"
        };
        tasks.push(tokio::spawn(async move {
            let body = with_portal_id(&fixture(path), &format!("CONC-{i:03}"));
            let res = app.submit(&body, content_type_of(path)).await;
            assert_eq!(res.status(), 201);
            let answer: Value = res.json().await.unwrap();
            answer["MaHoSo"].as_str().unwrap().to_owned()
        }));
    }
    let mut codes = BTreeSet::new();
    for t in tasks {
        codes.insert(t.await.unwrap());
    }
    assert_eq!(codes.len(), 200, "no duplicates");
    // The agency's e-ID, today's Vietnam date as yyMMdd, and the day's numbers from 0001.
    let prefix = format!("000.00.12.H29-{}-", vn_day(day));
    let expected: BTreeSet<String> = (1..=200).map(|n| format!("{prefix}{n:04}")).collect();
    assert_eq!(codes, expected, "0001 to 0200 with no gaps");
}

#[tokio::test]
async fn concurrent_replays_of_one_dossier_store_it_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let res = app
                .submit(&fixture("valid/nhap-khau.json"), "application/json")
                .await;
            (res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    let mut created = 0;
    let mut bodies = BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 201 || status == 200, "{status}");
        created += usize::from(status == 201);
        bodies.insert(body);
    }
    assert_eq!(created, 1);
    assert_eq!(bodies.len(), 1, "every answer is the first answer");
    // The next dossier takes 0002: the losers' rolled-back transactions left no gap.
    let res = app
        .submit(&fixture("valid/thu-vien.json"), "application/json")
        .await;
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["MaHoSo"].as_str().unwrap().ends_with("-0002"),
        "{answer}"
    );
}

#[tokio::test]
async fn one_batch_with_repeats_and_a_known_id_draws_one_code_per_new_dossier() {
    let app = spawn_app().await;
    // One dossier stored the usual way first.
    let known = with_portal_id(&fixture("valid/thu-vien.json"), "KNOWN-1");
    assert_eq!(app.submit(&known, "application/json").await.status(), 201);
    let known_answer =
        String::from_utf8(message_log(&app.store).await[1].message.body.clone()).unwrap();

    let mappings = Mappings::load_dir(&root().join("mappings")).unwrap();
    let agency = AgencyCode::try_from("000.00.12.H29".to_owned()).unwrap();
    let now = chrono::Utc::now();
    let item = |id: &str, path: &str| intake_item(&mappings, id, path, now);
    let items = vec![
        item("B-1", "valid/karaoke.json"),
        item("KNOWN-1", "valid/thu-vien.json"),
        item("B-2", "valid/karaoke.xml"),
        item("B-1", "valid/karaoke.json"),
        item("B-1", "valid/vu-truong.json"),
    ];
    let outcomes: Vec<InsertOutcome> = app
        .store
        .insert_dossiers(&agency, &items)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let code_of = |n: &str| format!("000.00.12.H29-{}-{n}", vn_day(now));
    // New dossiers get the next codes of the day in the batch's order; the known id is
    // replayed with its stored answer; a repeat of B-1 inside the batch is answered as B-1:
    // a replay for the same content, a conflict naming B-1's code for other content.
    assert_eq!(
        outcomes,
        vec![
            InsertOutcome::Created {
                code: code_of("0002"),
                answer: format!("answer for {}", code_of("0002")),
            },
            InsertOutcome::Replayed {
                code: code_of("0001"),
                answer: known_answer,
            },
            InsertOutcome::Created {
                code: code_of("0003"),
                answer: format!("answer for {}", code_of("0003")),
            },
            InsertOutcome::Replayed {
                code: code_of("0002"),
                answer: format!("answer for {}", code_of("0002")),
            },
            InsertOutcome::Conflict {
                code: code_of("0002"),
                answer: format!("conflict with {}", code_of("0002")),
            },
        ]
    );
    assert_ne!(items[4].dossier.content_hash, items[0].dossier.content_hash);
    assert_eq!(app.dossier_count().await, 3, "one known, two new");

    // Each item's request, then the answer its outcome gave, from the same commit, after the
    // known dossier's own exchange.
    let log = message_log(&app.store).await;
    assert_eq!(log.len(), 2 + 2 * items.len());
    for (n, (item, outcome)) in items.iter().zip(&outcomes).enumerate() {
        let (request, answer) = (&log[2 + 2 * n], &log[3 + 2 * n]);
        assert_eq!(request.message.target, item.request.target);
        assert_eq!(request.message.body, item.request.body);
        assert_eq!(request.message.reply_to, None);
        assert_eq!(answer.message.reply_to, Some(request.seq));
        let status = match outcome {
            InsertOutcome::Created { .. } => "201",
            InsertOutcome::Replayed { .. } => "200",
            InsertOutcome::Conflict { .. } => "409",
        };
        assert_eq!(answer.message.target, status);
        assert_eq!(
            String::from_utf8_lossy(&answer.message.body),
            outcome.answer()
        );
    }

    // Every row of a new dossier hangs off that dossier (PostgreSQL writes them all in one
    // statement, joined by code): its documents, its progress record, the record of the
    // request that brought it, and its messages, queued in its own order.
    let db = app.db_url();
    for (n, item) in [(0, &items[0]), (2, &items[2])] {
        let code = outcomes[n].code();
        let of = format!("(SELECT id FROM dossiers WHERE code = '{code}')");
        let documents = format!("SELECT count(*) FROM dossier_documents WHERE dossier_id = {of}");
        assert_eq!(
            sql_i64(&db, &documents).await,
            i64::try_from(item.dossier.documents.len()).unwrap(),
            "{code}"
        );
        let progress = format!(
            "SELECT count(*) FROM progress WHERE dossier_id = {of} AND action = 'received' \
             AND officer_name = 'n'"
        );
        assert_eq!(sql_i64(&db, &progress).await, 1, "{code}");
        let seq = format!("SELECT submission_seq FROM dossiers WHERE code = '{code}'");
        assert_eq!(sql_i64(&db, &seq).await, log[2 + 2 * n].seq, "{code}");
        let portal_id = format!("SELECT portal_id FROM dossiers WHERE code = '{code}'");
        assert_eq!(
            sql_text(&db, &portal_id).await,
            item.dossier.portal_id.as_str()
        );
    }
    let queued: Vec<(String, String)> = outbox_messages(&db)
        .await
        .into_iter()
        .filter(|(_, payload)| payload.contains(" for "))
        .collect();
    let (second, third) = (code_of("0002"), code_of("0003"));
    // Each payload (a table of its own) belongs to its own message: the dossier its row names.
    let owners = format!(
        "SELECT d.code || ' ' || {} JOIN dossiers d ON d.id = o.dossier_id ORDER BY o.id",
        payload_of_o(&db)
    );
    let owners: Vec<String> = sql_texts(&db, &owners)
        .await
        .into_iter()
        .filter(|owned| owned.contains(" for "))
        .collect();
    assert_eq!(
        owners,
        [
            format!("{second} first for {second}"),
            format!("{second} second for {second}"),
            format!("{third} first for {third}"),
            format!("{third} second for {third}"),
        ]
    );
    assert_eq!(
        queued,
        [
            ("portal".to_owned(), format!("first for {second}")),
            ("onestop".to_owned(), format!("second for {second}")),
            ("portal".to_owned(), format!("first for {third}")),
            ("onestop".to_owned(), format!("second for {third}")),
        ]
    );
}

/// The codes the store gives `items`, stored in one batch.
async fn codes_of(app: &TestApp, agency: &AgencyCode, items: &[IntakeItem]) -> Vec<String> {
    app.store
        .insert_dossiers(agency, items)
        .await
        .into_iter()
        .map(|o| o.unwrap().code().to_owned())
        .collect()
}

#[tokio::test]
async fn numbering_starts_again_at_0001_on_each_vietnam_day() {
    let app = spawn_app().await;
    let mappings = Mappings::load_dir(&root().join("mappings")).unwrap();
    let agency = AgencyCode::try_from("000.00.12.H29".to_owned()).unwrap();
    // The last millisecond of 29 November and the first of 30 November, Vietnam time (UTC+7).
    let vn = |text: &str| {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f")
            .unwrap()
            .and_utc()
            - chrono::Duration::hours(7)
    };
    let (late, early) = (vn("2026-11-29 23:59:59.999"), vn("2026-11-30 00:00:00.000"));
    let items = vec![
        intake_item(&mappings, "DAY-1", "valid/karaoke.json", late),
        intake_item(&mappings, "DAY-2", "valid/karaoke.xml", late),
        intake_item(&mappings, "DAY-3", "valid/thu-vien.json", early),
        intake_item(&mappings, "DAY-4", "valid/vu-truong.json", late),
    ];
    let codes = codes_of(&app, &agency, &items).await;
    assert_eq!(
        codes,
        [
            "000.00.12.H29-261129-0001",
            "000.00.12.H29-261129-0002",
            "000.00.12.H29-261130-0001",
            "000.00.12.H29-261129-0003",
        ]
    );
    // The next of each day goes on from its own count.
    let more = vec![
        intake_item(&mappings, "DAY-5", "valid/karaoke.json", early),
        intake_item(&mappings, "DAY-6", "valid/karaoke.json", late),
    ];
    let codes = codes_of(&app, &agency, &more).await;
    assert_eq!(
        codes,
        ["000.00.12.H29-261130-0002", "000.00.12.H29-261129-0004"]
    );
}
