//! Documents fetched by the real `motcua serve` (contract section 6): a fetch cut off by
//! SIGKILL leaves no file under its final name and is taken up again after a restart, and a
//! 50 MiB file passes through the gateway without its memory growing with it.

use crate::documents::{sha256, with_documents, FileServer, Route};
use crate::helpers::*;
use crate::process::{run_motcua, start_with, write_config};
use std::sync::Arc;
use std::time::Duration;

/// The gateway's environment: the fetcher on, this file server listed, fetches cut at `timeout`.
fn fetching(files: &FileServer, timeout: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MOTCUA__STORAGE__FETCHER", "true".to_owned()),
        ("MOTCUA__STORAGE__FETCH_TIMEOUT", timeout.to_owned()),
        (
            "MOTCUA__PORTAL__FILE_HOSTS",
            format!("[\"{}\"]", files.address),
        ),
        ("MOTCUA__PORTAL__MAX_FILE_SIZE", (64u64 << 20).to_string()),
    ]
}

async fn submit(address: &str, body: &[u8], id: &str) -> String {
    let client = reqwest::Client::new();
    let res = post_signed(
        &client,
        address,
        body,
        "application/json",
        id,
        now(),
        &[PORTAL_SECRET],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<serde_json::Value>().await.unwrap()["MaHoSo"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls the read API (a fresh read each time) until every document of `code` is settled;
/// their states.
async fn settled(address: &str, code: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let d: serde_json::Value = client
                .get(format!("{address}/api/v1/dossiers/{code}"))
                .bearer_auth(READER)
                .header("cache-control", "no-cache")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let states: Vec<String> = d["documents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|doc| doc["state"].as_str().unwrap().to_owned())
                .collect();
            if states.iter().all(|s| s != "pending") {
                return states;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the documents settle within a minute")
}

fn stored_path(db_url: &str, hash: &str) -> std::path::PathBuf {
    files_dir(db_url).join("sha256").join(&hash[..2]).join(hash)
}

#[tokio::test]
async fn a_fetch_cut_off_by_sigkill_leaves_no_file_under_its_name_and_completes_after_restart() {
    let files = FileServer::start().await;
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let big: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    let small = b"don de nghi".to_vec();
    let release = Arc::new(tokio::sync::Notify::new());
    let url = files.serve(
        "/big.pdf",
        Route::Held(big.clone(), 7 << 20, release.clone()),
    );
    let body = with_documents(
        "DOC-KILL-1",
        [
            files.file("/small.pdf", &small),
            (url, sha256(&big), big.len()),
        ],
    );
    let envs = fetching(&files, "2s");
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut gw = start_with(&config, &envs).await;
    let code = submit(&gw.address, &body, "DOC-KILL-1").await;
    // The transfer is under way: 7 MiB sent, the rest held back.
    tokio::time::timeout(Duration::from_secs(30), async {
        while files.hits("/big.pdf") == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the fetch starts");
    let staging_written = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let dir = files_dir(&db.url).join(".incoming");
            let staged = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
                })
                .unwrap_or(false);
            if staged {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        staging_written.is_ok(),
        "part of the file reached storage before the kill"
    );
    gw.child.start_kill().unwrap();
    gw.child.wait().await.unwrap();
    assert!(
        !stored_path(&db.url, &sha256(&big)).exists(),
        "no file under its final name"
    );

    // Back up; the server now sends the whole file when asked again.
    files.serve("/big.pdf", Route::File(big.clone()));
    release.notify_waiters();
    let gw = start_with(&config, &envs).await;
    assert_eq!(settled(&gw.address, &code).await, ["stored", "stored"]);
    assert_eq!(files.hits("/big.pdf"), 2);
    let kept = std::fs::read(stored_path(&db.url, &sha256(&big))).unwrap();
    assert_eq!(
        sha256(&kept),
        sha256(&big),
        "the file stored is the file sent"
    );
}

/// The process's peak resident memory, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_fifty_mebibyte_file_passes_through_without_the_gateway_s_memory_growing_with_it() {
    let files = FileServer::start().await;
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let envs = fetching(&files, "60s");
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gw = start_with(&config, &envs).await;
    let pid = gw.child.id().unwrap();
    // A first dossier with small files warms every path up.
    let (a, b) = (b"warm".to_vec(), b"up".to_vec());
    let warm = with_documents(
        "DOC-MEM-0",
        [files.file("/a.pdf", &a), files.file("/b.pdf", &b)],
    );
    let code = submit(&gw.address, &warm, "DOC-MEM-0").await;
    assert_eq!(settled(&gw.address, &code).await, ["stored", "stored"]);
    let before = peak_rss(pid);

    let big: Vec<u8> = (0..50u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let c = b"don".to_vec();
    let body = with_documents(
        "DOC-MEM-1",
        [files.file("/c.pdf", &c), files.file("/big.bin", &big)],
    );
    let code = submit(&gw.address, &body, "DOC-MEM-1").await;
    assert_eq!(settled(&gw.address, &code).await, ["stored", "stored"]);
    let after = peak_rss(pid);
    let grown = after.saturating_sub(before);
    assert!(
        grown < 20 << 20,
        "the peak grew by {} MiB for a 50 MiB file ({} → {} MiB)",
        grown >> 20,
        before >> 20,
        after >> 20
    );
    let kept = std::fs::read(stored_path(&db.url, &sha256(&big))).unwrap();
    assert_eq!(kept.len(), 50 << 20);
}

#[tokio::test]
async fn files_verify_names_every_stored_file_that_is_missing_or_changed() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let (a, b) = (b"first file".to_vec(), b"second file".to_vec());
    let body = with_documents(
        "DOC-VERIFY-1",
        [files.file("/a.pdf", &a), files.file("/b.pdf", &b)],
    );
    crate::documents::submit(&app, &body).await;
    crate::documents::fetch_round(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_url());
    let verify = || {
        let out = run_motcua(
            &["--config", config.to_str().unwrap(), "files", "verify"],
            &[],
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, _) = verify();
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains("files ok: 2 stored files match their hashes"),
        "{stdout}"
    );

    // One file changed on disk, the other gone.
    let changed = stored_path(&app.db_url(), &sha256(&a));
    std::fs::write(&changed, b"first filE").unwrap();
    std::fs::remove_file(stored_path(&app.db_url(), &sha256(&b))).unwrap();
    let (ok, stdout, stderr) = verify();
    assert!(!ok);
    let mut lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["sha256"].as_str().map(str::to_owned));
    let mut expected = vec![
        serde_json::json!({"sha256": sha256(&a), "problem": format!("hashes to {}", sha256(b"first filE"))}),
        serde_json::json!({"sha256": sha256(&b), "problem": "missing"}),
    ];
    expected.sort_by_key(|l| l["sha256"].as_str().map(str::to_owned));
    assert_eq!(lines, expected);
    assert!(
        stderr.contains("2 of 2 stored files are missing or do not match their hashes"),
        "{stderr}"
    );
}
