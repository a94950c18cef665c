//! A forward acknowledged is never lost (contract section 9): the real binary is killed with
//! SIGKILL after the forward's commit, while its message to the agency is on the wire and
//! unanswered; after a restart the agency gets it, signed with its own secret, and the dossier
//! shows the step forwarded. On SQLite and PostgreSQL alike.

use crate::agencies::{step_of, PC06, PC06_SECRET, PC07, PC07_SECRET};
use crate::helpers::*;
use crate::process::{start_with, write_config};
use serde_json::{json, Value};
use std::sync::Arc;

async fn act(client: &reqwest::Client, address: &str, code: &str, body: Value) -> (u16, Value) {
    let res = client
        .post(format!("{address}/api/v1/dossiers/{code}/actions"))
        .bearer_auth(WRITER)
        .json(&body)
        .send()
        .await
        .unwrap();
    status_and_json(res).await
}

#[tokio::test]
async fn a_forward_killed_between_its_commit_and_its_delivery_is_delivered_after_restart() {
    let (portal, pc07, pc06) = (
        TestPartner::start().await,
        TestPartner::start().await,
        TestPartner::start().await,
    );
    // The first delivery is held unanswered for good: the process dies while it waits.
    pc07.script([Reply::Held(
        Arc::new(tokio::sync::Notify::new()),
        Box::new(Reply::ok()),
    )]);
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let agencies = format!(
        "\n[[agencies]]\ncode = \"{PC07}\"\nname = \"PC07 thử\"\nbase_url = \"{}\"\nsecret = \"{PC07_SECRET}\"\n\
         [[agencies]]\ncode = \"{PC06}\"\nname = \"PC06 thử\"\nbase_url = \"{}\"\nsecret = \"{PC06_SECRET}\"\n",
        pc07.address, pc06.address
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&agencies);
    std::fs::write(&config, text).unwrap();
    let envs = [
        ("MOTCUA__PORTAL__BASE_URL", portal.address.as_str()),
        ("MOTCUA__OUTBOX__WORKER", "true"),
        ("MOTCUA__OUTBOX__TIMEOUT", "1s"),
        ("MOTCUA__OUTBOX__RETRY_SCHEDULE", "[\"100ms\"]"),
        ("MOTCUA__OUTBOX__CONCURRENCY", "4"),
    ];
    let mut gw = start_with(&config, &envs).await;
    let client = reqwest::Client::new();
    let body = with_portal_id(&fixture("valid/karaoke.json"), "LT-KILL-1");
    let res = post_signed(
        &client,
        &gw.address,
        &body,
        "application/json",
        "lt-kill-1",
        now(),
        &[PORTAL_SECRET],
    )
    .await
    .unwrap();
    let (s, made) = status_and_json(res).await;
    assert_eq!(s, 201, "{made}");
    let code = made["MaHoSo"].as_str().unwrap().to_owned();
    let officer = json!({"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Một cửa"});
    for action in ["accept", "start_processing"] {
        let (s, d) = act(
            &client,
            &gw.address,
            &code,
            json!({"action": action, "officer": officer}),
        )
        .await;
        assert_eq!(s, 200, "{d}");
    }
    let forward = json!({"action": "forward", "step": "nghiem-thu-pccc", "officer": officer});
    let (s, d) = act(&client, &gw.address, &code, forward).await;
    assert_eq!(s, 200, "{d}");
    let reference = step_of(&d, "nghiem-thu-pccc")["ref"]
        .as_str()
        .unwrap()
        .to_owned();

    pc07.wait_arrivals(1).await;
    gw.child.start_kill().unwrap();
    assert!(!gw.child.wait().await.unwrap().success());
    assert!(
        pc07.received().is_empty(),
        "the first delivery was never answered"
    );

    let gw = start_with(&config, &envs).await;
    pc07.wait_until("the forwarded step delivered after the restart", |got| {
        got.iter().any(|r| r.answered == 200)
    })
    .await;
    let got = pc07.received();
    assert_eq!(got.len(), 1, "one answered delivery");
    assert!(got[0].signed_by(PC07_SECRET));
    assert_eq!(got[0].json()["BuocXuLy"]["ref"], reference.as_str());
    assert_eq!(got[0].json()["MaHoSo"], code.as_str());
    assert!(pc06.received().is_empty());
    let res = client
        .get(format!("{}/api/v1/dossiers/{code}", gw.address))
        .bearer_auth(READER)
        .send()
        .await
        .unwrap();
    let (_, d) = status_and_json(res).await;
    assert_eq!(step_of(&d, "nghiem-thu-pccc")["state"], "forwarded");
    assert_eq!(step_of(&d, "nghiem-thu-pccc")["ref"], reference.as_str());
}
