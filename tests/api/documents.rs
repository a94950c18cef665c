//! The dossier's documents (contract section 6): fetched after the dossier is stored, from the
//! listed hosts only, proven by `MaHash` and `KichThuoc`, stored once by hash, and served to the
//! department. The portal's file server is a real HTTP server in the test that counts what it
//! is asked.

use crate::helpers::*;
use futures_util::StreamExt;
use motcua_gateway::store::DocumentOutcome;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How the file server answers one path.
#[derive(Clone)]
pub(crate) enum Route {
    File(Vec<u8>),
    /// `503` this many times, then the file.
    FailThen(usize, Vec<u8>),
    /// `302` to this URL.
    Redirect(String),
    /// The first `usize` bytes at once, the rest when the `Notify` is notified (a transfer cut
    /// off by a crash, say).
    Held(Vec<u8>, usize, Arc<tokio::sync::Notify>),
}

#[derive(Clone, Default)]
pub(crate) struct FileServer {
    pub(crate) address: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl FileServer {
    pub(crate) async fn start() -> Self {
        let server = FileServer::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let s = server.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let s = s.clone();
            async move { s.answer(uri.path()) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        FileServer { address, ..server }
    }

    fn answer(&self, path: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        *self
            .hits
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default() += 1;
        let mut routes = self.routes.lock().unwrap();
        match routes.get_mut(path) {
            None => axum::http::StatusCode::NOT_FOUND.into_response(),
            Some(Route::File(bytes)) => bytes.clone().into_response(),
            Some(Route::FailThen(0, bytes)) => bytes.clone().into_response(),
            Some(Route::FailThen(n, _)) => {
                *n -= 1;
                axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
            Some(Route::Held(bytes, first, release)) => {
                let (head, tail) = bytes.split_at((*first).min(bytes.len()));
                let (head, tail) = (
                    bytes::Bytes::copy_from_slice(head),
                    bytes::Bytes::copy_from_slice(tail),
                );
                let release = release.clone();
                let parts =
                    futures_util::stream::iter([Some(head), None, Some(tail)]).then(move |part| {
                        let release = release.clone();
                        async move {
                            match part {
                                Some(b) => Ok::<_, std::io::Error>(b),
                                None => {
                                    release.notified().await;
                                    Ok(bytes::Bytes::new())
                                }
                            }
                        }
                    });
                (
                    [(axum::http::header::CONTENT_LENGTH, bytes.len().to_string())],
                    axum::body::Body::from_stream(parts),
                )
                    .into_response()
            }
            Some(Route::Redirect(to)) => (
                axum::http::StatusCode::FOUND,
                [(axum::http::header::LOCATION, to.clone())],
            )
                .into_response(),
        }
    }

    pub(crate) fn serve(&self, path: &str, route: Route) -> String {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
        format!("http://{}{path}", self.address)
    }

    /// Serves `bytes` at `path`; the document that lists them truly.
    pub(crate) fn file(&self, path: &str, bytes: &[u8]) -> (String, String, usize) {
        let url = self.serve(path, Route::File(bytes.to_vec()));
        (url, sha256(bytes), bytes.len())
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// The configuration that lists this server (and any other entries) as a file host.
    pub(crate) fn config(&self, others: &[&str], max_file_size: u64) -> String {
        let mut hosts: Vec<String> = others.iter().map(|h| format!("{h:?}")).collect();
        hosts.push(format!("{:?}", self.address));
        format!(
            "[portal]\nfile_hosts = [{}]\nmax_file_size = {max_file_size}\n",
            hosts.join(", ")
        )
    }
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A karaoke submission whose two documents are these `(url, MaHash, KichThuoc)`.
pub(crate) fn with_documents(id: &str, docs: [(String, String, usize); 2]) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture("valid/karaoke.json")).unwrap();
    body["MaHoSoQG"] = json!(id);
    body["TaiLieuNop"] = json!(docs
        .iter()
        .zip(["TP01", "TP02"])
        .map(|((url, hash, size), component)| json!({
            "MaThanhPhanHoSo": component,
            "TenTepDinhKem": format!("Đơn đề nghị {component}.pdf"),
            "DuongDanTaiTepTin": url,
            "MaHash": hash,
            "KichThuoc": size,
        }))
        .collect::<Vec<_>>());
    serde_json::to_vec(&body).unwrap()
}

pub(crate) async fn submit(app: &TestApp, body: &[u8]) -> String {
    let (status, answer) = status_and_json(app.submit(body, "application/json").await).await;
    assert_eq!(status, 201, "{answer}");
    answer["MaHoSo"].as_str().unwrap().to_owned()
}

/// Each document's `(state, id)` as the read API shows it.
async fn documents(app: &TestApp, code: &str) -> Vec<(String, i64)> {
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|doc| {
            (
                doc["state"].as_str().unwrap().to_owned(),
                doc["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Every file under the documents folder, staging files included, by path relative to it.
fn files_on_disk(app: &TestApp) -> Vec<String> {
    let root = files_dir(&app.db_url());
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

async fn download(app: &TestApp, code: &str, id: i64, range: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}/documents/{id}")))
        .bearer_auth(READER);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

/// Outcomes of one round of fetching, as `(id, state or "retry")`.
pub(crate) async fn fetch_round(app: &TestApp) -> Vec<(i64, String)> {
    let mut done: Vec<(i64, String)> = app
        .fetcher
        .fetch_due()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, o)| {
            let state = match o {
                DocumentOutcome::Settled { state, .. } => state.to_owned(),
                DocumentOutcome::Retry { .. } => "retry".to_owned(),
            };
            (id, state)
        })
        .collect();
    done.sort();
    done
}

#[tokio::test]
async fn a_document_is_fetched_proven_stored_by_hash_and_served_byte_for_byte() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let don = b"%PDF-1.7 don de nghi karaoke".to_vec();
    let antt: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let body = with_documents(
        "DOC-OK-1",
        [
            (
                files.serve("/don.pdf", Route::File(don.clone())),
                sha256(&don).to_uppercase(),
                don.len(),
            ),
            files.file("/antt.pdf", &antt),
        ],
    );
    let code = submit(&app, &body).await;
    // Nothing is fetched while the portal waits.
    assert_eq!((files.hits("/don.pdf"), files.hits("/antt.pdf")), (0, 0));
    let listed = documents(&app, &code).await;
    assert_eq!(
        listed.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["pending", "pending"]
    );
    let (_, first) = &listed[0];
    let refused = download(&app, &code, *first, None).await;
    let (status, body) = status_and_json(refused).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (409, Some("NOT_STORED"))
    );

    assert_eq!(fetch_round(&app).await.len(), 2);
    let listed = documents(&app, &code).await;
    assert_eq!(
        listed.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["stored", "stored"]
    );
    assert_eq!((files.hits("/don.pdf"), files.hits("/antt.pdf")), (1, 1));
    let hash = sha256(&antt);
    assert_eq!(
        files_on_disk(&app),
        {
            let mut v = vec![
                format!("sha256/{}/{}", &sha256(&don)[..2], sha256(&don)),
                format!("sha256/{}/{hash}", &hash[..2]),
            ];
            v.sort();
            v
        },
        "each file once, under its hash, nothing else"
    );

    let (_, second) = &listed[1];
    let whole = download(&app, &code, *second, None).await;
    assert_eq!(whole.status(), 200);
    let h = whole.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["etag"], format!("\"{hash}\"").as_str());
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"__n __ ngh_ TP02.pdf\"; filename*=UTF-8''%C4%90%C6%A1n%20%C4%91%E1%BB%81%20ngh%E1%BB%8B%20TP02%2Epdf"
    );
    assert_eq!(whole.bytes().await.unwrap().to_vec(), antt, "byte for byte");

    let part = download(&app, &code, *second, Some("bytes=1000-1999")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 1000-1999/70000");
    assert_eq!(part.headers()["content-length"], "1000");
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        antt[1000..2000].to_vec()
    );
    let tail = download(&app, &code, *second, Some("bytes=-16")).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap().to_vec(),
        antt[70_000 - 16..].to_vec()
    );
    let past = download(&app, &code, *second, Some("bytes=70000-")).await;
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */70000");

    // A document of another dossier, or none, is not found; a reader's token is needed.
    assert_eq!(download(&app, &code, 999, None).await.status(), 404);
    let anonymous = app
        .client
        .get(app.url(&format!("/api/v1/dossiers/{code}/documents/{second}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn bytes_that_do_not_match_their_hash_or_size_are_never_stored() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let real = b"the file the citizen sent".to_vec();
    let swapped = b"the file a forger swapped".to_vec();
    let body = with_documents(
        "DOC-MISMATCH-1",
        [
            // The right size, another content.
            (
                files.serve("/swapped.pdf", Route::File(swapped.clone())),
                sha256(&real),
                real.len(),
            ),
            // The right hash, a size that is not the file's.
            (
                files.serve("/short.pdf", Route::File(real.clone())),
                sha256(&real),
                real.len() + 1,
            ),
        ],
    );
    let code = submit(&app, &body).await;
    let outcomes = fetch_round(&app).await;
    assert_eq!(
        outcomes.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["hash_mismatch", "hash_mismatch"]
    );
    assert_eq!(
        (files.hits("/swapped.pdf"), files.hits("/short.pdf")),
        (1, 1)
    );
    assert_eq!(
        files_on_disk(&app),
        Vec::<String>::new(),
        "not even a staging file"
    );
    for (state, id) in documents(&app, &code).await {
        assert_eq!(state, "hash_mismatch");
        let (status, body) = status_and_json(download(&app, &code, id, None).await).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (409, Some("NOT_STORED"))
        );
    }
    assert_eq!(fetch_round(&app).await, [], "settled: never fetched again");
    // Operators see why, in the dossier's own JSON.
    let (_, d) = app
        .get_json(&format!("/api/v1/dossiers/{code}"), READER)
        .await;
    assert_eq!(
        d["documents"][1]["reason"],
        format!(
            "Content-Length {}, KichThuoc {}",
            real.len(),
            real.len() + 1
        )
    );
    assert!(d["documents"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("SHA-256 ")));
    let reason = sql_text(
        &app.db_url(),
        "SELECT last_error FROM dossier_documents ORDER BY id LIMIT 1",
    )
    .await;
    assert!(reason.starts_with("SHA-256 "), "{reason}");
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_before_or_while_it_is_read() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1000)).await;
    let big = vec![7u8; 2000];
    let body = with_documents(
        "DOC-LARGE-1",
        [
            // Declared over the limit: never asked for.
            files.file("/declared.pdf", &big),
            // Declared under it, and larger when sent.
            (
                files.serve("/sent.pdf", Route::File(big.clone())),
                sha256(&big[..900]),
                900,
            ),
        ],
    );
    let code = submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["too_large", "too_large"]
    );
    assert_eq!(
        (files.hits("/declared.pdf"), files.hits("/sent.pdf")),
        (0, 1)
    );
    assert_eq!(files_on_disk(&app), Vec::<String>::new());
    assert_eq!(
        documents(&app, &code)
            .await
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["too_large", "too_large"]
    );
}

#[tokio::test]
async fn hosts_off_the_list_and_redirects_to_them_are_never_contacted() {
    let files = FileServer::start().await;
    let elsewhere = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let bytes = b"a file kept elsewhere".to_vec();
    let off_list = elsewhere.serve("/f.pdf", Route::File(bytes.clone()));
    let body = with_documents(
        "DOC-HOST-1",
        [
            (off_list.clone(), sha256(&bytes), bytes.len()),
            (
                files.serve("/jump.pdf", Route::Redirect(off_list.clone())),
                sha256(&bytes),
                bytes.len(),
            ),
        ],
    );
    let code = submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["host_not_allowed", "host_not_allowed"]
    );
    assert_eq!(
        elsewhere.hits("/f.pdf"),
        0,
        "never contacted, directly or by redirect"
    );
    assert_eq!(files.hits("/jump.pdf"), 1);
    assert_eq!(
        documents(&app, &code)
            .await
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["host_not_allowed", "host_not_allowed"]
    );
    assert_eq!(files_on_disk(&app), Vec::<String>::new());
}

#[tokio::test]
async fn a_listed_name_that_resolves_to_an_internal_address_is_refused() {
    let files = FileServer::start().await;
    let port = files.address.rsplit_once(':').unwrap().1;
    // The name is listed; the loopback address it resolves to is not.
    let app = spawn_app_with(&format!(
        "[portal]\nfile_hosts = [\"localhost:{port}\"]\nmax_file_size = 1048576\n"
    ))
    .await;
    let bytes = b"internal".to_vec();
    files.serve("/i.pdf", Route::File(bytes.clone()));
    let url = format!("http://localhost:{port}/i.pdf");
    let body = with_documents(
        "DOC-INTERNAL-1",
        [
            (url.clone(), sha256(&bytes), bytes.len()),
            (url.clone(), sha256(&bytes), bytes.len()),
        ],
    );
    submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["host_not_allowed", "host_not_allowed"]
    );
    assert_eq!(files.hits("/i.pdf"), 0);
    let reason = sql_text(
        &app.db_url(),
        "SELECT last_error FROM dossier_documents ORDER BY id LIMIT 1",
    )
    .await;
    assert!(
        reason.contains("an internal address not on portal.file_hosts"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_server_that_fails_twice_is_tried_again_on_the_schedule_until_it_answers() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let bytes = b"third time lucky".to_vec();
    let moved = b"moved, then found".to_vec();
    let redirected = files.serve("/final.pdf", Route::File(moved.clone()));
    let body = with_documents(
        "DOC-RETRY-1",
        [
            (
                files.serve("/flaky.pdf", Route::FailThen(2, bytes.clone())),
                sha256(&bytes),
                bytes.len(),
            ),
            // An allowed redirect is followed.
            (
                files.serve("/moved.pdf", Route::Redirect(redirected)),
                sha256(&moved),
                moved.len(),
            ),
        ],
    );
    let code = submit(&app, &body).await;
    let first = fetch_round(&app).await;
    assert_eq!(
        first.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["retry", "stored"]
    );
    // The retry waits for the schedule (5 s first): not due yet.
    assert_eq!(fetch_round(&app).await, []);
    let next = sql_i64(
        &app.db_url(),
        "SELECT next_attempt_at FROM dossier_documents WHERE state = 'pending'",
    )
    .await;
    let wait = next - chrono::Utc::now().timestamp_millis();
    assert!(
        (3_000..=6_000).contains(&wait),
        "5 s ± 20 %, less the time since: {wait}"
    );
    let make_due = "UPDATE dossier_documents SET next_attempt_at = 0 WHERE state = 'pending'";
    raw_sql(&app.db_url(), make_due).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["retry"]
    );
    assert_eq!(
        sql_text(
            &app.db_url(),
            "SELECT last_error FROM dossier_documents WHERE state = 'pending'"
        )
        .await,
        "HTTP 503"
    );
    raw_sql(&app.db_url(), make_due).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["stored"]
    );
    assert_eq!(files.hits("/flaky.pdf"), 3);
    assert_eq!(
        documents(&app, &code)
            .await
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["stored", "stored"]
    );
    assert_eq!(
        sql_i64(&app.db_url(), "SELECT MAX(attempts) FROM dossier_documents").await,
        3
    );
    assert_eq!(files_on_disk(&app).len(), 2);
}

#[tokio::test]
async fn the_same_file_in_two_dossiers_is_fetched_and_stored_once() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let shared = b"giay chung nhan an ninh trat tu".to_vec();
    let other = b"don".to_vec();
    let url = files.serve("/shared.pdf", Route::File(shared.clone()));
    let mut codes = Vec::new();
    // The second dossier arrives once the first's files are stored.
    for (id, path) in [("DOC-SAME-1", "/a.pdf"), ("DOC-SAME-2", "/b.pdf")] {
        let docs = [
            files.file(path, &other),
            (url.clone(), sha256(&shared), shared.len()),
        ];
        codes.push(submit(&app, &with_documents(id, docs)).await);
        fetch_round(&app).await;
    }
    assert_eq!(
        files.hits("/shared.pdf"),
        1,
        "already stored: not fetched again"
    );
    assert_eq!(files.hits("/b.pdf"), 0);
    assert_eq!(files_on_disk(&app).len(), 2);
    for code in &codes {
        let docs = documents(&app, code).await;
        assert_eq!(
            docs.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            ["stored", "stored"]
        );
        let served = download(&app, code, docs[1].1, None).await;
        assert_eq!(served.bytes().await.unwrap().to_vec(), shared);
    }
}

#[tokio::test]
async fn a_settled_document_is_pushed_to_the_one_stop_software_with_its_state_and_link() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&format!(
        "{}[onestop]\nbase_url = \"http://127.0.0.1:9103\"\nsecret = \"whsec_b25lc3RvcC10ZXN0LXNlY3JldC0wMQ==\"\n",
        files.config(&[], 1 << 20)
    ))
    .await;
    let good = b"ok".to_vec();
    let body = with_documents(
        "DOC-PUSH-1",
        [
            files.file("/good.pdf", &good),
            (
                files.serve("/bad.pdf", Route::File(good.clone())),
                sha256(b"other"),
                good.len(),
            ),
        ],
    );
    let code = submit(&app, &body).await;
    fetch_round(&app).await;
    // Nothing is queued for a document still pending; one message for each settled one.
    let mut pushed: Vec<Value> = outbox_messages(&app.db_url())
        .await
        .into_iter()
        .filter(|(destination, payload)| {
            destination == "onestop" && payload.contains("document.settled")
        })
        .map(|(_, payload)| serde_json::from_str(&payload).unwrap())
        .collect();
    // Queued as each settled, in whichever order the fetches ended.
    pushed.sort_by_key(|p| p["document"]["id"].as_i64());
    let docs = documents(&app, &code).await;
    assert_eq!(
        pushed,
        [
            json!({"event": "document.settled", "dossier": {"code": code},
                   "document": {"id": docs[0].1, "MaThanhPhanHoSo": "TP01", "TenTepDinhKem": "Đơn đề nghị TP01.pdf",
                                "MaHash": sha256(&good), "KichThuoc": 2, "state": "stored",
                                "link": format!("/api/v1/dossiers/{code}/documents/{}", docs[0].1)}}),
            json!({"event": "document.settled", "dossier": {"code": code},
                   "document": {"id": docs[1].1, "MaThanhPhanHoSo": "TP02", "TenTepDinhKem": "Đơn đề nghị TP02.pdf",
                                "MaHash": sha256(b"other"), "KichThuoc": 2, "state": "hash_mismatch",
                                "link": null}}),
        ]
    );
    // The counts by state are a metric.
    let metrics = app.metrics().await;
    for line in [
        "motcua_documents{state=\"stored\"} 1",
        "motcua_documents{state=\"hash_mismatch\"} 1",
        "motcua_documents{state=\"pending\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_host_that_does_not_answer_is_tried_again_and_its_signed_link_is_never_kept() {
    let files = FileServer::start().await;
    let dead = dead_address().await;
    let dead_host = dead.trim_start_matches("http://").to_owned();
    let app = spawn_app_with(&files.config(&[&dead_host], 1 << 20)).await;
    let (bytes, other) = (b"unreachable".to_vec(), b"reachable".to_vec());
    let signed = format!("{dead}/f.pdf?X-Amz-Signature=SECRET-SIGNATURE-123");
    let body = with_documents(
        "DOC-DEAD-1",
        [
            (signed.clone(), sha256(&bytes), bytes.len()),
            files.file("/ok.pdf", &other),
        ],
    );
    submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["retry", "stored"]
    );
    let reason = sql_text(
        &app.db_url(),
        "SELECT last_error FROM dossier_documents WHERE state = 'pending'",
    )
    .await;
    assert!(reason.starts_with("cannot connect"), "{reason}");
    assert!(
        !reason.contains("SECRET") && !reason.contains("f.pdf"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_object_store_location_keeps_and_serves_documents_the_same_way() {
    // `file://` reaches the object-store code path (multipart upload, ranged reads) that an
    // `s3://` location takes, without a network service.
    let files = FileServer::start().await;
    let objects = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&format!(
        "{}[storage]\nfiles = \"file://{}\"\n",
        files.config(&[], 16 << 20),
        objects.path().display()
    ))
    .await;
    let big: Vec<u8> = (0..(6u32 << 20) + 123).map(|i| (i % 253) as u8).collect();
    let forged = b"forged".to_vec();
    let body = with_documents(
        "DOC-OBJECT-1",
        [
            files.file("/big.bin", &big),
            (
                files.serve("/forged.pdf", Route::File(forged.clone())),
                sha256(b"genuine"),
                forged.len(),
            ),
        ],
    );
    let code = submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["stored", "hash_mismatch"]
    );
    let hash = sha256(&big);
    let kept = objects.path().join("sha256").join(&hash[..2]).join(&hash);
    assert_eq!(
        std::fs::read(&kept).unwrap().len(),
        big.len(),
        "in more than one part"
    );
    let mut left: Vec<String> = Vec::new();
    let mut dirs = vec![objects.path().to_owned()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                left.push(p.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert_eq!(
        left,
        vec![hash.clone()],
        "the forged upload was aborted, nothing else is kept"
    );
    let docs = documents(&app, &code).await;
    let whole = download(&app, &code, docs[0].1, None).await;
    assert_eq!(whole.bytes().await.unwrap().to_vec(), big);
    let part = download(&app, &code, docs[0].1, Some("bytes=5242870-5242889")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        big[5_242_870..5_242_890].to_vec(),
        "a range across the parts' seam"
    );
}

#[tokio::test]
async fn three_redirects_are_followed_and_a_fourth_is_not() {
    let files = FileServer::start().await;
    let app = spawn_app_with(&files.config(&[], 1 << 20)).await;
    let (near, far) = (b"three hops".to_vec(), b"four hops".to_vec());
    // /n1 → /n2 → /n3 → the file; /f1 → … → /f4 → the file.
    let chain = |prefix: &str, hops: usize, bytes: &[u8]| {
        let mut next = files.serve(&format!("/{prefix}-file"), Route::File(bytes.to_vec()));
        for hop in (1..=hops).rev() {
            next = files.serve(&format!("/{prefix}{hop}"), Route::Redirect(next));
        }
        (next, sha256(bytes), bytes.len())
    };
    let body = with_documents("DOC-HOPS-1", [chain("n", 3, &near), chain("f", 4, &far)]);
    submit(&app, &body).await;
    assert_eq!(
        fetch_round(&app)
            .await
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["stored", "failed"]
    );
    assert_eq!((files.hits("/n-file"), files.hits("/f-file")), (1, 0));
    assert_eq!(
        files.hits("/f4"),
        1,
        "the fourth redirect is read, not followed"
    );
    assert_eq!(
        sql_text(
            &app.db_url(),
            "SELECT last_error FROM dossier_documents WHERE state = 'failed'"
        )
        .await,
        "more than 3 redirects"
    );
}
