//! Dossier codes: per agency per day, from 0001, with no gaps and no duplicates under load.

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeSet;

#[tokio::test]
async fn two_hundred_concurrent_submissions_are_numbered_0001_to_0200() {
    let app = std::sync::Arc::new(spawn_app().await);
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
    let prefix = codes.iter().next().unwrap()[..21].to_owned();
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
