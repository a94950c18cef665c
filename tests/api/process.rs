//! The real `motcua` binary: durability under SIGKILL, graceful SIGTERM, start-up checks, and
//! `motcua mappings check`.

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_motcua");

pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) address: String,
    /// The rest of its stdout, kept open so later lines can be read (and written).
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Gateway {
    /// Sends a signal (`TERM`, `HUP`, …) with `kill`.
    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

pub(crate) fn write_config(dir: &std::path::Path, db_url: &str) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "{}\n[log]\nformat = \"text\"\nlevel = \"error\"\n",
            base_config(db_url)
        ),
    )
    .unwrap();
    path
}

/// Starts the binary and waits for its `listening on` line.
async fn start(config: &std::path::Path) -> Gateway {
    start_with(config, &[]).await
}

/// Starts the binary with environment overrides (`MOTCUA__SECTION__KEY`).
pub(crate) async fn start_with(config: &std::path::Path, envs: &[(&str, &str)]) -> Gateway {
    start_full(config, envs, Stdio::inherit()).await
}

/// Starts the binary with environment overrides and its stderr sent to `stderr`.
async fn start_full(config: &std::path::Path, envs: &[(&str, &str)], stderr: Stdio) -> Gateway {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .envs(envs.iter().copied())
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("motcua starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                return addr.to_owned();
            }
        }
        panic!("motcua exited before listening");
    })
    .await
    .expect("motcua listens within a minute");
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    Gateway {
        child,
        address,
        lines,
    }
}

#[tokio::test]
async fn every_acknowledged_dossier_survives_sigkill() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let mut gw = start(&config).await;

    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let client = reqwest::Client::new();
    let mut workers = Vec::new();
    for w in 0..16 {
        let (client, address, ack_tx) = (client.clone(), gw.address.clone(), ack_tx.clone());
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                let path = if n % 2 == 0 {
                    "valid/karaoke.xml"
                } else {
                    "valid/quang-cao.json"
                };
                let id = format!("KILL-{w:02}-{n:05}");
                let body = with_portal_id(&fixture(path), &id);
                match post_signed(
                    &client,
                    &address,
                    &body,
                    content_type_of(path),
                    &id,
                    now(),
                    &[PORTAL_SECRET],
                )
                .await
                {
                    Ok(res) if res.status().is_success() => {
                        if ack_tx.send(id).is_err() {
                            return;
                        }
                    }
                    Ok(res) => panic!("unexpected answer {}", res.status()),
                    Err(_) => return, // the gateway is gone
                }
            }
        }));
    }
    drop(ack_tx);
    let mut acked = BTreeSet::new();
    while acked.len() < 60 {
        acked.insert(ack_rx.recv().await.expect("acknowledgements arrive"));
    }
    gw.child.start_kill().unwrap(); // SIGKILL, with requests in flight
    let status = gw.child.wait().await.unwrap();
    assert!(!status.success());
    for w in workers {
        w.await.unwrap();
    }
    while let Some(id) = ack_rx.recv().await {
        acked.insert(id);
    }

    let gw = start(&config).await;
    let client = reqwest::Client::new();
    for id in &acked {
        let res = client
            .get(format!("{}/api/v1/dossiers/by-portal-id/{id}", gw.address))
            .bearer_auth(READER)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{id} was acknowledged but is lost");
    }
    // The stored codes run from 0001 with no gap: nothing half-written survived.
    let codes: Vec<String> = all_pages(
        &client,
        &format!("{}/api/v1/dossiers?limit=200", gw.address),
        READER,
    )
    .await
    .iter()
    .map(|i| i["MaHoSo"].as_str().unwrap().to_owned())
    .collect();
    assert!(codes.len() >= acked.len());
    let mut seqs: Vec<u32> = codes.iter().map(|c| c[22..].parse().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=codes.len() as u32).collect::<Vec<_>>());
}

#[tokio::test]
async fn sigterm_stops_the_gateway_cleanly() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut gw = start(&write_config(dir.path(), &db.url)).await;
    let res = reqwest::get(format!("{}/healthz", gw.address))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    gw.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

pub(crate) fn run_motcua(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .output()
        .unwrap()
}

/// Runs the gateway's command as a person at a terminal would (under `script`, which gives it a
/// pseudo-terminal): what the terminal showed, control codes and all.
pub(crate) fn on_terminal(args: &[&str]) -> String {
    let line = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(root())
        .output()
        .expect("script (util-linux) runs");
    assert!(out.status.success(), "{line}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn long_commands_show_progress_on_a_terminal_and_nothing_more_in_a_pipe() {
    let seen = on_terminal(&["mappings", "check"]);
    let bar = regex::Regex::new(r"fixtures \[[=> ]{40}\] \d+/\d+").unwrap();
    assert!(bar.is_match(&seen), "{seen}");
    assert!(seen.contains("mappings ok: "), "{seen}");
    let piped = run_motcua(&["mappings", "check"], &[]);
    assert!(piped.status.success());
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
    assert!(String::from_utf8_lossy(&piped.stdout).starts_with("mappings ok: "));
}

#[test]
fn a_bad_configuration_value_stops_the_start_and_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[outbox]\ntimeout = \"soon\"\n").unwrap();
    let out = run_motcua(&["--config", file.to_str().unwrap(), "serve"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outbox.timeout"), "{err}");

    let out = run_motcua(
        &["serve"],
        &[("MOTCUA__DATABASE__URL", "mysql://somewhere")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.url"), "{err}");

    let out = run_motcua(&["--config", "/nonexistent/motcua.toml", "serve"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/motcua.toml"));

    // A lookup link with no place for the dossier's code would print the same QR code on
    // every receipt.
    let out = run_motcua(
        &["config", "check"],
        &[(
            "MOTCUA__AGENCY__LOOKUP_URL",
            "https://dichvucong.example/tra-cuu",
        )],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agency.lookup_url") && err.contains("must hold {MaHoSo}"),
        "{err}"
    );
}

#[test]
fn environment_variables_override_the_file() {
    // The override reaches the typed config: a bad port from the environment is refused
    // with the key's name even though the file is valid.
    let out = run_motcua(&["serve"], &[("MOTCUA__SERVER__LISTEN", "nowhere")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
}

#[test]
fn the_shipped_mappings_pass_their_check() {
    let out = run_motcua(&["mappings", "check"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("mappings ok: 15 procedures in 17 dated versions, 34 valid fixtures"),
        "{stdout}"
    );
}

#[test]
fn a_broken_mapping_fails_the_check_naming_file_and_problem() {
    let dir = mappings_copy();
    let karaoke = dir.path().join("1.001029-karaoke.toml");
    let text = std::fs::read_to_string(&karaoke).unwrap();
    std::fs::write(
        &karaoke,
        text.replacen("type = \"integer\"", "type = \"integr\"", 1),
    )
    .unwrap();
    let library = dir.path().join("1.008895-thong-bao-thu-vien.toml");
    let text = std::fs::read_to_string(&library).unwrap();
    std::fs::write(
        &library,
        text.replace("processing_days = 12", "processing_days = 0"),
    )
    .unwrap();

    let out = run_motcua(
        &["mappings", "check", "--dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1.001029-karaoke.toml") && err.contains("unknown type \"integr\""),
        "{err}"
    );
    assert!(
        err.contains("1.008895-thong-bao-thu-vien.toml") && err.contains("processing_days"),
        "{err}"
    );
}

#[test]
fn a_mapping_that_rejects_its_own_fixture_fails_the_check() {
    let dir = mappings_copy();
    let file = dir.path().join("9.900001-vu-truong.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("min = 80\n", "min = 500\n")).unwrap();
    let out = run_motcua(
        &["mappings", "check", "--dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vu-truong.json") && err.contains("DienTichPhongKhieuVu out_of_range"),
        "{err}"
    );
}

#[test]
fn each_fixture_is_checked_under_the_version_of_its_day_and_overlaps_fail_the_check() {
    let dir = mappings_copy();
    // The karaoke rules of 2024 end on 05/11/2025: the fixture submitted on 10/11/2025 falls in
    // no version (the next begins on 17/11/2025), and that version is left with no fixture of
    // its days.
    let karaoke = dir.path().join("1.001029-karaoke.toml");
    let text = std::fs::read_to_string(&karaoke).unwrap();
    std::fs::write(
        &karaoke,
        text.replacen(
            "effective_from = \"2024-11-19\"\n",
            "effective_from = \"2024-11-19\"\neffective_until = \"2025-11-05\"\n",
            1,
        ),
    )
    .unwrap();
    let check = |dir: &std::path::Path| {
        let out = run_motcua(&["mappings", "check", "--dir", dir.to_str().unwrap()], &[]);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = check(dir.path());
    for expected in [
        "karaoke-2025.json: MaTTHC procedure_not_in_force: procedure 1.001029 has no rules in force on 2025-11-10 (its versions run 2024-11-19..2025-11-05, 2025-11-17..2026-01-04, 2026-01-05..)",
        "karaoke-2025.xml: MaTTHC procedure_not_in_force",
        "1.001029-karaoke.toml: the version of 1.001029 from 2024-11-19 has no valid fixture submitted in its days",
    ] {
        assert!(err.contains(expected), "{expected}\nnot in\n{err}");
    }
    assert!(err.contains("motcua: 3 problem(s)"), "{err}");

    // A version older than the one before it is refused before any fixture runs.
    let dir = mappings_copy();
    let dance_hall = dir.path().join("9.900001-vu-truong.toml");
    let mut text = std::fs::read_to_string(&dance_hall).unwrap();
    text.push_str("\n[[versions]]\neffective_from = \"2024-06-01\"\n");
    std::fs::write(&dance_hall, text).unwrap();
    let err = check(dir.path());
    assert!(
        err.contains("9.900001-vu-truong.toml: versions[0]: effective_from 2024-06-01 must come after the version before (2024-11-19)"),
        "{err}"
    );
}

async fn submit_many(address: &str, ids: Vec<String>) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut codes = Vec::new();
    for chunk in ids.chunks(16) {
        let mut batch = Vec::new();
        for id in chunk {
            let (client, address, id) = (client.clone(), address.to_owned(), id.clone());
            batch.push(tokio::spawn(async move {
                let body = with_portal_id(&fixture("valid/thu-vien.json"), &id);
                let res = post_signed(
                    &client,
                    &address,
                    &body,
                    "application/json",
                    &id,
                    now(),
                    &[PORTAL_SECRET],
                )
                .await
                .unwrap();
                assert_eq!(res.status(), 201);
                res.json::<Value>().await.unwrap()["MaHoSo"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }));
        }
        for t in batch {
            codes.push(t.await.unwrap());
        }
    }
    codes
}

#[tokio::test]
async fn queued_messages_survive_sigkill_mid_delivery_and_are_all_delivered() {
    let portal = TestPartner::start().await;
    portal.set_default(Reply::Slow(Duration::from_millis(150)));
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let envs = [
        ("MOTCUA__PORTAL__BASE_URL", portal.address.as_str()),
        ("MOTCUA__OUTBOX__WORKER", "true"),
        ("MOTCUA__OUTBOX__TIMEOUT", "1s"),
        ("MOTCUA__OUTBOX__RETRY_SCHEDULE", "[\"100ms\"]"),
        ("MOTCUA__OUTBOX__CONCURRENCY", "4"),
    ];
    let mut gw = start_with(&config, &envs).await;
    let codes = submit_many(
        &gw.address,
        (0..30).map(|i| format!("OBX-KILL-{i:02}")).collect(),
    )
    .await;
    portal
        .wait_until("deliveries in flight", |r| r.len() >= 5)
        .await;
    gw.child.start_kill().unwrap();
    gw.child.wait().await.unwrap();

    portal.set_default(Reply::ok());
    let _gw = start_with(&config, &envs).await;
    let expected: BTreeSet<String> = codes.into_iter().collect();
    portal
        .wait_until("every queued message confirmed after the restart", |got| {
            let confirmed: BTreeSet<String> = got
                .iter()
                .filter(|r| r.answered == 200)
                .filter_map(|r| r.json()["MaHoSo"].as_str().map(str::to_owned))
                .collect();
            confirmed == expected
        })
        .await;
}

#[tokio::test]
async fn two_gateways_on_one_database_deliver_a_thousand_messages_once_each() {
    let portal = TestPartner::start().await;
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let envs = [
        ("MOTCUA__PORTAL__BASE_URL", portal.address.as_str()),
        ("MOTCUA__OUTBOX__WORKER", "true"),
        ("MOTCUA__OUTBOX__CONCURRENCY", "8"),
    ];
    let one = start_with(&config, &envs).await;
    let two = start_with(&config, &envs).await;
    let ids: Vec<String> = (0..1000).map(|i| format!("TWO-{i:04}")).collect();
    let (first, second) = ids.split_at(500);
    let (a, b) = tokio::join!(
        submit_many(&one.address, first.to_vec()),
        submit_many(&two.address, second.to_vec())
    );
    assert_eq!(a.len() + b.len(), 1000);
    portal
        .wait_until("a thousand messages received", |got| got.len() >= 1000)
        .await;

    let got = portal.received();
    let distinct: BTreeSet<String> = got.iter().map(|r| r.webhook_id()).collect();
    assert_eq!(distinct.len(), 1000);
    assert_eq!(
        got.len(),
        1000,
        "no message was delivered twice while both gateways were alive"
    );

    let client = reqwest::Client::new();
    let delivered = all_pages(
        &client,
        &format!("{}/api/v1/outbox?state=delivered&limit=500", one.address),
        ADMIN,
    )
    .await;
    assert_eq!(delivered.len(), 1000);
    let workers: BTreeSet<String> = delivered
        .iter()
        .map(|m| m["attempt_log"][0]["worker"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(workers.len(), 2, "both gateways delivered: {workers:?}");
}

#[tokio::test]
async fn operators_replay_and_discard_dead_messages_from_the_command_line() {
    let portal = TestPartner::start().await;
    portal.set_default(Reply::status(400));
    let app = spawn_app_with(&format!("[portal]\nbase_url = \"{}\"\n", portal.address)).await;
    let mut codes = Vec::new();
    for i in 0..3 {
        let body = with_portal_id(&fixture("valid/thu-vien.json"), &format!("CLI-{i}"));
        let res = app.submit(&body, "application/json").await;
        codes.push(
            res.json::<Value>().await.unwrap()["MaHoSo"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.worker.dispatch_all_pending().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let cfg = config.to_str().unwrap();

    let out = run_motcua(&["--config", cfg, "outbox", "list", "--state", "dead"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 3);

    let out = run_motcua(&["--config", cfg, "outbox", "replay"], &[]);
    assert!(
        !out.status.success(),
        "a bulk decision must say which messages"
    );
    let out = run_motcua(
        &["--config", cfg, "outbox", "replay", "--dossier", &codes[0]],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 message(s) replayed"
    );
    let out = run_motcua(
        &[
            "--config",
            cfg,
            "outbox",
            "discard",
            "--destination",
            "portal",
            "--since",
            "20200101",
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2 message(s) discarded"
    );
    assert_eq!(
        app.store.outbox_page("pending", 0, 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        app.store
            .outbox_page("discarded", 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn no_secret_token_or_identity_number_reaches_the_logs() {
    let portal = TestPartner::start().await;
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let envs = [
        ("RUST_LOG", "debug"),
        ("MOTCUA__PORTAL__BASE_URL", portal.address.as_str()),
        ("MOTCUA__OUTBOX__WORKER", "true"),
    ];
    let mut gw = start_full(&config, &envs, Stdio::from(log)).await;
    let address = gw.address.clone();
    let client = reqwest::Client::new();
    // Intake (good, replayed, badly signed), actions, a payment and its IPN, reads, deliveries.
    let body = fixture("valid/du-thi-nuoc-ngoai.json");
    for secrets in [
        &[PORTAL_SECRET][..],
        &[PORTAL_SECRET],
        &["whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="],
    ] {
        post_signed(
            &client,
            &address,
            &body,
            "application/json",
            "msg_log",
            now(),
            secrets,
        )
        .await
        .unwrap();
    }
    let karaoke = post_signed(
        &client,
        &address,
        &fixture("valid/karaoke.xml"),
        "application/xml",
        "msg_k",
        now(),
        &[PORTAL_SECRET],
    )
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap();
    let code = karaoke["MaHoSo"].as_str().unwrap();
    for action in ["accept", "start_processing"] {
        let res = client
            .post(format!("{address}/api/v1/dossiers/{code}/actions"))
            .bearer_auth(WRITER)
            .json(&serde_json::json!({"action": action, "officer": {"name": "A", "title": "B", "unit": "C"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let pay: Value = client
        .post(format!("{address}/api/v1/dossiers/{code}/payments"))
        .bearer_auth(PAYER)
        .json(&serde_json::json!({"provider": "vnpay"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ipn_query = pay["pay_url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();
    client
        .get(format!("{address}/payment/vnpay/ipn?{ipn_query}"))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{address}/api/v1/dossiers/{code}"))
        .bearer_auth(READER)
        .send()
        .await
        .unwrap();
    client
        .get(format!("{address}/api/v1/dossiers/{code}"))
        .bearer_auth("not-a-real-token")
        .send()
        .await
        .unwrap();
    portal.wait_until("syncs delivered", |r| r.len() >= 4).await;
    gw.signal("TERM");
    gw.child.wait().await.unwrap();

    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains("dossier received"),
        "the log was written: {} bytes",
        logged.len()
    );
    for secret in [
        "dGVzdC1wb3J0YWwtaW5ib3VuZC1zZWNyZXQtMDE",
        "test-portal-inbound-secret-01",
        "dGVzdC1wb3J0YWwtb3V0Ym91bmQtc2VjcmV0LTAx",
        "test-portal-outbound-secret-01",
        "test-paygov-secret-0001",
        "TESTVNPAYHASHSECRET0001",
        READER,
        WRITER,
        PAYER,
        "not-a-real-token",
        "079203001234",
        "079085004321",
        "0901234567",
    ] {
        assert!(!logged.contains(secret), "{secret:?} appears in the log");
    }
}

#[tokio::test]
async fn inbound_secrets_rotate_on_sighup_without_a_restart() {
    rotate_secrets(true).await;
}

#[tokio::test]
async fn inbound_secrets_rotate_when_the_config_file_changes() {
    rotate_secrets(false).await;
}

/// Rotates the portal's inbound secret in the config file, then sends SIGHUP (`hup`) or lets
/// the file watch notice (with the watch off when SIGHUP is what is tested).
async fn rotate_secrets(hup: bool) {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let watch = if hup { "0s" } else { "100ms" };
    let mut gw = start_full(
        &config,
        &[("MOTCUA__SERVER__WATCH_CONFIG", watch)],
        Stdio::null(),
    )
    .await;
    let address = gw.address.clone();
    let client = reqwest::Client::new();
    let new = "whsec_cm90YXRlZC1wb3J0YWwtc2VjcmV0LTIwMjY=";
    let send = |id: &'static str, secret: &'static str| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let body = with_portal_id(&fixture("valid/thu-vien.json"), id);
            post_signed(
                &client,
                &address,
                &body,
                "application/json",
                "m",
                now(),
                &[secret],
            )
            .await
            .unwrap()
            .status()
            .as_u16()
        }
    };
    assert_eq!(send("HUP-1", PORTAL_SECRET).await, 201);
    assert_eq!(send("HUP-2", new).await, 401);

    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[portal]\ninbound_secrets = [\"{new}\"]\n"));
    // Replaced whole, as configuration tools do, so the watch never reads half a file.
    let staged = dir.path().join("gateway.toml.new");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, &config).unwrap();
    if hup {
        gw.signal("HUP");
    }
    let reloaded = tokio::time::timeout(Duration::from_secs(30), gw.lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reloaded.as_deref(), Some("configuration reloaded"));

    assert_eq!(
        send("HUP-3", PORTAL_SECRET).await,
        401,
        "the old secret is gone"
    );
    assert_eq!(
        send("HUP-4", new).await,
        201,
        "the new one works, with no restart"
    );
    gw.signal("TERM");
    assert!(gw.child.wait().await.unwrap().success());
}

#[tokio::test]
async fn a_line_break_in_a_callers_reference_cannot_write_a_log_line() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut gw = start_full(&config, &[("RUST_LOG", "info")], Stdio::from(log)).await;
    let client = reqwest::Client::new();
    // Neither is signed: what an anonymous client can send.
    let confirm = serde_json::json!({
        "LoaiBanTin": "CONFIRM", "MaLoi": "00", "MaDoiTac": "SVHTT_HCM_TEST",
        "MaThamChieu": "TT1\nFORGED-LINE level=INFO paid", "SoTien": "1", "MaTienTe": "VND",
        "MaGiaoDich": "1", "MaNganHang": "B", "ThoiGianGD": "20261130080000",
        "ThongTinGiaoDich": "x", "MaXacThuc": "0"
    });
    let res = client
        .post(format!("{}/payment/paygov/confirm", gw.address))
        .json(&confirm)
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        (answer["MaLoi"].as_str(), answer["MaThamChieu"].as_str()),
        (Some("99"), Some("")),
        "refused, and the stranger's reference not echoed: {answer}"
    );
    let res = client
        .get(format!(
            "{}/payment/vnpay/ipn?vnp_TxnRef=TT2%0AFORGED-LINE&vnp_SecureHash=00",
            gw.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // An agency's answer about a forwarding named with a line break, unsigned.
    let res = client
        .post(format!(
            "{}/lienthong/v1/steps/TT3%0AFORGED-LINE%20level=INFO",
            gw.address
        ))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    gw.signal("TERM");
    gw.child.wait().await.unwrap();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains(r"TT3\nFORGED-LINE"), "{logged}");
    assert!(logged.contains("PayGov confirmation"), "{logged}");
    assert!(
        !logged.lines().any(|l| l.starts_with("FORGED-LINE")),
        "a caller wrote a line of its own:\n{logged}"
    );
    assert!(logged.contains(r"TT1\nFORGED-LINE"), "{logged}");
}

#[test]
fn mappings_check_reads_the_calendar_as_serve_does() {
    let out = run_motcua(&["mappings", "check"], &[]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.trim_end()
            .ends_with("; calendar: 2026 announced, 2027 provisional"),
        "{said}"
    );
    // A year file edited badly is caught before a restart would meet it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2027.toml"),
        "year = 2027\nstatus = \"maybe\"\n",
    )
    .unwrap();
    let out = run_motcua(
        &["mappings", "check"],
        &[("MOTCUA__CALENDAR__DIR", dir.path().to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the working calendar does not load"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn steps_that_wait_in_a_circle_or_name_an_unconfigured_agency_fail_the_check() {
    // The shipped mappings with `from` made `to` in file `name`: what the check says.
    let check = |name: &str, from: &str, to: &str| {
        let dir = mappings_copy();
        let file = dir.path().join(name);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from} in {name}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        let out = run_motcua(
            &["mappings", "check", "--dir", dir.path().to_str().unwrap()],
            &[],
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The fire-safety step made to wait for the security step, which waits for it.
    let err = check(
        "1.001029-karaoke.toml",
        "working_days = 7\n",
        "working_days = 7\nafter = [\"an-ninh-trat-tu\"]\n",
    );
    assert!(
        err.contains(
            "steps: a circle in `after`: an-ninh-trat-tu → nghiem-thu-pccc → an-ninh-trat-tu"
        ),
        "{err}"
    );
    // A step given a field the form does not have.
    let err = check(
        "9.900001-vu-truong.toml",
        "fields = [\"business.name\", \"venue.address\", \"venue.dance_floor_m2\"]",
        "fields = [\"business.name\", \"owner.income\"]",
    );
    assert!(
        err.contains("steps[0]: field \"owner.income\" is not a field of the form"),
        "{err}"
    );
    // The dance hall's security step sent to an agency the configuration does not have: the
    // files load, and the check against the configuration names it.
    let err = check(
        "9.900001-vu-truong.toml",
        "agency = \"000.20.06.H29\"",
        "agency = \"000.20.99.H29\"",
    );
    assert!(
        err.contains("9.900001-vu-truong.toml: step \"an-ninh-trat-tu\": agency 000.20.99.H29 is not among the configuration's [[agencies]]"),
        "{err}"
    );
    assert!(err.contains("motcua: 1 problem(s)"), "{err}");
}

#[test]
fn serve_refuses_to_start_when_a_step_names_an_unconfigured_agency() {
    let dir = mappings_copy();
    let file = dir.path().join("9.900001-vu-truong.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "agency = \"000.20.06.H29\"",
            "agency = \"000.20.99.H29\"",
            1,
        ),
    )
    .unwrap();
    // Were the check missing, the start would stop later, at a database that refuses it.
    let out = run_motcua(
        &["serve"],
        &[
            ("MOTCUA__MAPPINGS__DIR", dir.path().to_str().unwrap()),
            (
                "MOTCUA__DATABASE__URL",
                "postgres://motcua@127.0.0.1:1/motcua",
            ),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the procedure mappings name agencies the configuration does not have")
            && err.contains("step \"an-ninh-trat-tu\": agency 000.20.99.H29"),
        "{err}"
    );
    assert!(
        !err.contains("connection refused"),
        "stopped before the store: {err}"
    );
}
