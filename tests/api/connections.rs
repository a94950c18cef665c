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
    // The whole request may take a minute; its body must come within a second of its head.
    let app = spawn_app_with("[server]\nrequest_timeout = \"60s\"\nbody_timeout = \"1s\"\n").await;
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
    assert!(
        answer.ends_with(r#"{"error_code":"REQUEST_TIMEOUT"}"#),
        "{answer:?}"
    );
    assert!(app.store.dossier_codes(1).await.unwrap().is_empty());
    assert!(
        message_log(&app.store).await.is_empty(),
        "never read whole, never recorded"
    );
}

/// A connection from `source` (another loopback address: the gateway counts connections per
/// client address) that sends a portal push's head and ten bytes of its body, then stalls.
async fn stalled_push(app: &TestApp, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(host(app).parse().unwrap()).await.unwrap();
    stream
        .write_all(
            b"POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n\
              content-length: 100000\r\n\r\n{\"MaHoSo\":",
        )
        .await
        .unwrap();
    stream
}

/// Reads until the gateway closes `stream`, a reset counting as a close; what it sent.
async fn read_until_cut(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway never closed the connection");
    got
}

#[tokio::test]
async fn slow_bodies_from_one_address_hold_only_its_share_and_the_rest_are_served() {
    let app = spawn_app_with(
        "[server]\nmax_in_flight = 8\nmax_connections_per_address = 4\nbody_timeout = \"60s\"\n",
    )
    .await;
    let mut stalled = Vec::new();
    for _ in 0..12 {
        stalled.push(stalled_push(&app, "127.0.0.2").await);
    }
    // Accepted in the order they connected: the first four are held, each of the other eight
    // is closed at once, unread and unanswered.
    for stream in &mut stalled[4..] {
        assert_eq!(read_until_cut(stream).await, b"");
    }
    // Every slot the four do not hold serves others at once: a genuine push and the probes.
    let res = tokio::time::timeout(
        GUARD,
        app.submit(&fixture("valid/karaoke.json"), "application/json"),
    )
    .await
    .expect("a genuine push is not starved");
    assert_eq!(res.status(), 201);
    healthy(&app).await;
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut buf = [0u8; 16];
    for stream in &stalled[..4] {
        assert!(
            matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the four held connections are still waiting for their bodies"
        );
    }
    // Once they go, the address is served again (their slots come back as each connection's
    // end is noticed, so the probe is repeated until then).
    drop(stalled);
    let from_two = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let served = tokio::time::timeout(GUARD, async {
        loop {
            if let Ok(res) = from_two.get(app.url("/healthz")).send().await {
                break res.status();
            }
        }
    })
    .await
    .expect("the address is admitted again");
    assert_eq!(served, 200);
}

/// What an ordinary blocking client does: writes the whole request, then reads the answer.
fn send_then_read(address: &str, head: &str, body_len: usize) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(GUARD))?;
    stream.write_all(head.as_bytes())?;
    let chunk = vec![b'a'; 64 * 1024];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(&chunk[..n])?;
        left -= n;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf)? {
            0 => break,
            n => answer.extend_from_slice(&buf[..n]),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_that_sends_its_whole_body_first_reads_every_early_refusal() {
    let app = spawn_app().await;
    let spent = spawn_app_with("[rate_limits]\naddress = { per_second = 1, burst = 1 }\n").await;
    // The issue's 2 MiB, and 8 MiB: on loopback the kernel's buffers take 2 MiB whole, so only
    // the larger body finds a gateway that closes early (it fails every case there).
    let sizes = [2 * 1024 * 1024, 8 * 1024 * 1024];
    let cases = [
        (
            &app,
            "POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n",
            "413",
            r#"{"error_code":"TOO_LARGE"}"#,
        ),
        (
            &app,
            "POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: text/plain\r\n",
            "415",
            r#"{"error_code":"UNSUPPORTED_MEDIA_TYPE"}"#,
        ),
        (
            &app,
            "POST /api/v1/dossiers/X/actions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n",
            "401",
            r#""error_code":"UNAUTHORIZED""#,
        ),
        (
            &spent,
            "POST /portal/v1/dossiers HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n",
            "429",
            r#"{"error_code":"RATE_LIMITED"}"#,
        ),
    ];
    for (app, head, status, body) in cases {
        for big in sizes {
            if status == "429" {
                // Probes spend the address's budget until one is refused: it is empty now.
                while app
                    .client
                    .get(app.url("/readyz"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    != 429
                {}
            }
            let address = host(app);
            let head = format!("{head}content-length: {big}\r\n\r\n");
            let answer = tokio::task::spawn_blocking(move || send_then_read(&address, &head, big))
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{status} of {big}: the client lost the answer: {e}"));
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{answer:?}"
            );
            assert!(answer.contains(body), "{status}: {answer:?}");
        }
    }
    assert_eq!(app.dossier_count().await, 0);
    assert!(
        message_log(&app.store).await.is_empty(),
        "never read, never recorded"
    );
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
