//! Abuse at the connection level: header floods, slow clients, too many connections. Each gets
//! its answer (or its connection cut), nothing is stored, and the gateway goes on serving.

use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on waits that end by an event (an answer, a closed connection); never reached
/// when the gateway does its job.
const GUARD: Duration = Duration::from_secs(20);

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the gateway closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the gateway never closed the connection");
    String::from_utf8_lossy(&got).into_owned()
}

async fn healthy(app: &TestApp) {
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_header_flood_is_refused_with_431() {
    let app = spawn_app().await;
    for (case, extra) in [
        (
            "too many headers",
            (0..100)
                .map(|i| format!("x-flood-{i}: 1\r\n"))
                .collect::<String>(),
        ),
        (
            "one huge header",
            format!("x-huge: {}\r\n", "a".repeat(20_000)),
        ),
    ] {
        let mut stream = TcpStream::connect(host(&app)).await.unwrap();
        let head = format!(
            "POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n\
             content-length: 0\r\n{extra}\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{case}: {}",
            answer.lines().next().unwrap_or("")
        );
    }
    assert_eq!(app.dossier_count().await, 0);
    assert!(
        message_log(&app.store).await.is_empty(),
        "never read, never recorded"
    );
    healthy(&app).await;
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_cut_off_while_others_are_served() {
    let app = spawn_app_with("[server]\nheader_read_timeout = \"1s\"\n").await;
    let mut slow = TcpStream::connect(host(&app)).await.unwrap();
    slow.write_all(b"POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\n")
        .await
        .unwrap();
    healthy(&app).await;
    let answer = read_to_close(&mut slow).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "cut off without a request: {answer:?}"
    );
    // Read from the store: the test client's own idle connection is cut off by the same timeout.
    assert!(app.store.dossier_codes(1).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_body_gets_408_and_nothing_is_stored() {
    let app = spawn_app_with("[server]\nrequest_timeout = \"1s\"\n").await;
    let body = fixture("valid/karaoke.json");
    let mut slow = TcpStream::connect(host(&app)).await.unwrap();
    let head = format!(
        "POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..10]).await.unwrap();
    healthy(&app).await;
    let answer = read_to_close(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(app.store.dossier_codes(1).await.unwrap().is_empty());
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_idle_ones_are_cut() {
    let app = spawn_app_with("[server]\nmax_connections = 2\nheader_read_timeout = \"1s\"\n").await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(host(&app)).await.unwrap());
    }
    // The third client is accepted only once an idle one has been cut off.
    let res = tokio::time::timeout(GUARD, app.client.get(app.url("/healthz")).send())
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut closed = 0;
    for stream in &idle {
        let mut buf = [0u8; 64];
        if let Ok(0) = stream.try_read(&mut buf) {
            closed += 1;
        }
    }
    assert!(closed >= 1, "the cap held until an idle connection was cut");
}
