//! What operators and newcomers run: `motcua config check`, `motcua token new --write`,
//! `motcua outbox list` on an empty queue, a start against a database that is not there, and
//! the Grafana dashboard in `docs/deploy/` against the metrics the gateway serves.

use crate::helpers::*;
use crate::process::{run_motcua, start_with, write_config};
use std::time::{Duration, Instant};

fn output(out: &std::process::Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_the_configuration_in_effect_with_its_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(
        &file,
        "[paygov]\nsecret = \"a-real-paygov-secret-of-the-site\"\n[database]\nurl = \"postgres://motcua:hunter2@db.internal/motcua\"\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = output(&run_motcua(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[("MOTCUA__SERVER__LISTEN", "127.0.0.1:8181")],
    ));
    assert!(ok, "{stderr}");
    // The file and the environment are in effect.
    assert!(stdout.contains("listen = \"127.0.0.1:8181\""), "{stdout}");
    assert!(
        stdout.contains("url = \"postgres://motcua:%5Bredacted%5D@db.internal/motcua\""),
        "{stdout}"
    );
    // No secret is printed, the site's own or a published one.
    for secret in [
        "a-real-paygov-secret-of-the-site",
        "hunter2",
        "whsec_dGVzdC1wb3J0YWwtaW5ib3VuZC1zZWNyZXQtMDE=",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed");
    }
    assert!(stdout.contains("secret = \"[redacted]\""));
    // The published test secrets still in use are named; the one the file replaced is not.
    let published = stdout
        .lines()
        .find(|l| l.starts_with("# published test secrets still in use"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        published.contains("portal.inbound_secrets") && published.contains("vnpay.hash_secret")
    );
    assert!(!published.contains("paygov.secret"), "{published}");

    // A value serve would refuse stops the check too, naming its key.
    let (ok, _, stderr) = output(&run_motcua(
        &["config", "check"],
        &[("MOTCUA__STORAGE__FETCH_CONCURRENCY", "0")],
    ));
    assert!(!ok);
    assert!(stderr.contains("storage.fetch_concurrency"), "{stderr}");
}

#[tokio::test]
async fn tokens_written_into_a_config_file_work_as_printed() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    // A newcomer's own file, made by the command itself.
    let local = dir.path().join("local.toml");
    let path = local.to_str().unwrap();
    let token_of = |args: &[&str]| {
        let (ok, stdout, stderr) = output(&run_motcua(args, &[]));
        assert!(ok, "{stderr}");
        let token = stdout
            .lines()
            .find_map(|l| l.strip_prefix("token (give it to the client, it is not stored): "))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_owned();
        (token, stdout)
    };
    let (reader, stdout) = token_of(&["token", "new", "records-office", "--write", path]);
    assert!(
        stdout.contains(&format!(
            "client \"records-office\" with dossiers:read added to {path}"
        )),
        "{stdout}"
    );
    let (writer, _) = token_of(&[
        "token",
        "new",
        "one-stop",
        "--scopes",
        "dossiers:read,dossiers:write",
        "--write",
        path,
    ]);
    // The same name again, an unknown scope, or a file whose clients are an inline list
    // writes nothing.
    let before = std::fs::read_to_string(&local).unwrap();
    let inline = dir.path().join("inline.toml");
    std::fs::write(&inline, "clients = []\n").unwrap();
    for (args, file, refusal) in [
        (
            vec!["token", "new", "records-office", "--write", path],
            &local,
            "already has a client named \"records-office\"",
        ),
        (
            vec![
                "token",
                "new",
                "other",
                "--scopes",
                "dossiers:delete",
                "--write",
                path,
            ],
            &local,
            "unknown scope \"dossiers:delete\"",
        ),
        (
            vec!["token", "new", "other", "--write", inline.to_str().unwrap()],
            &inline,
            "lists its clients inline",
        ),
    ] {
        let kept = std::fs::read_to_string(file).unwrap();
        let (ok, _, stderr) = output(&run_motcua(&args, &[]));
        assert!(!ok);
        assert!(stderr.contains(refusal), "{refusal}: {stderr}");
        assert_eq!(std::fs::read_to_string(file).unwrap(), kept);
    }
    assert_eq!(std::fs::read_to_string(&local).unwrap(), before);

    let files = files_dir(&db.url);
    let anchors = anchor_file(&db.url);
    let gw = start_with(
        &local,
        &[
            ("MOTCUA__SERVER__LISTEN", "127.0.0.1:0"),
            ("MOTCUA__DATABASE__URL", db.url.as_str()),
            ("MOTCUA__STORAGE__FILES", files.to_str().unwrap()),
            ("MOTCUA__AUDIT__ANCHOR_FILE", anchors.to_str().unwrap()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let push = post_signed(
        &client,
        &gw.address,
        &fixture("valid/karaoke.json"),
        "application/json",
        "msg_token_1",
        now(),
        &[PORTAL_SECRET],
    )
    .await
    .unwrap();
    let code = push.json::<serde_json::Value>().await.unwrap()["MaHoSo"]
        .as_str()
        .unwrap()
        .to_owned();
    let act = |token: String| {
        let (client, url) = (
            client.clone(),
            format!("{}/api/v1/dossiers/{code}/actions", gw.address),
        );
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&crate::lifecycle::step("accept"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let read = client
        .get(format!("{}/api/v1/dossiers/{code}", gw.address))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(act(reader).await, 403, "dossiers:read alone may not act");
    assert_eq!(act(writer).await, 200, "dossiers:write was granted");
}

#[tokio::test]
async fn outbox_list_says_when_there_is_nothing_to_list() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);
    let path = config.to_str().unwrap();
    assert!(output(&run_motcua(&["--config", path, "migrate"], &[])).0);
    let (ok, stdout, stderr) = output(&run_motcua(&["--config", path, "outbox", "list"], &[]));
    assert!(ok, "{stderr}");
    assert_eq!((stdout.as_str(), stderr.trim()), ("", "no dead messages"));
    let (ok, _, stderr) = output(&run_motcua(
        &["--config", path, "outbox", "list", "--state", "lost"],
        &[],
    ));
    assert!(!ok);
    assert!(
        stderr.contains("--state \"lost\": use pending, dead, delivered or discarded"),
        "{stderr}"
    );
}

#[test]
fn a_database_that_cannot_be_reached_is_reported_with_its_cause_within_seconds() {
    let admin = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let missing_db = {
        let mut u = url::Url::parse(&admin).unwrap();
        u.set_path("/motcua_no_such_database");
        u.to_string()
    };
    for (url, cause) in [
        ("postgres://motcua@127.0.0.1:1/motcua", "connection refused"),
        (
            "postgres://motcua@no-such-host.invalid/motcua",
            "cannot connect",
        ),
        (
            missing_db.as_str(),
            "the server refused: database \"motcua_no_such_database\" does not exist",
        ),
    ] {
        let started = Instant::now();
        // The unknown host's answer comes from this machine's nameserver, which once took
        // over 5 s in CI (the gateway then said "no answer within 5 s", rightly): its resolver
        // is told to give up after one try of a second, so the cause is the one asserted.
        let env = [
            ("MOTCUA__DATABASE__URL", url),
            ("RES_OPTIONS", "timeout:1 attempts:1"),
        ];
        let (ok, _, stderr) = output(&run_motcua(&["migrate"], &env));
        assert!(!ok, "{url}");
        assert!(stderr.contains(cause), "{url}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{url}: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn the_grafana_dashboard_shows_only_series_the_gateway_serves_and_every_one_worth_watching() {
    // Activity that gives every series a sample: one sync delivered, one refused for good
    // (dead), one request over its client's rate.
    let portal = TestPartner::start().await;
    portal.script([Reply::ok(), Reply::status(400)]);
    let app = spawn_app_with(&format!(
        "[portal]\nbase_url = \"{}\"\n[rate_limits]\napi = {{ per_second = 1, burst = 1 }}\n",
        portal.address
    ))
    .await;
    for id in ["GRAFANA-1", "GRAFANA-2"] {
        let body = with_portal_id(&fixture("valid/karaoke.json"), id);
        assert_eq!(app.submit(&body, "application/json").await.status(), 201);
    }
    app.worker.dispatch_all_pending().await.unwrap();
    for _ in 0..2 {
        app.get("/api/v1/dossiers?limit=1", READER).await;
    }
    let metrics = app.metrics().await;
    let served: std::collections::BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/deploy/grafana.json")).unwrap(),
    )
    .unwrap();
    let mut shown = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("motcua_"))
            {
                let family = ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    served.contains(family),
                    "{name} ({:?}) is not served: {served:?}",
                    panel["title"]
                );
                shown.insert(family.to_owned());
            }
        }
    }
    // Every series but the count of queue reads (the scrapes' own bookkeeping) has a panel.
    let unshown: Vec<&String> = served.iter().filter(|s| !shown.contains(*s)).collect();
    assert_eq!(unshown, ["motcua_outbox_queue_reads"], "{shown:?}");
}

/// The value of an unlabelled series in Prometheus text, or a failure naming it.
fn series(metrics: &str, name: &str) -> f64 {
    let line = metrics
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} is not served:\n{metrics}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `/metrics` serves the intake writer's batch sizes: twelve pushes at once and a repeat of one
/// of them are thirteen items, each counted once, in at least two batches (the repeat is sent
/// after the twelve are answered) and at most thirteen.
/// A writer that counted batches instead of items, counted an item twice or not at all, or
/// counted the lifecycle's writer instead, fails here.
#[tokio::test]
async fn the_writers_batch_sizes_count_every_item_once() {
    let app = spawn_app().await;
    let body = fixture("valid/thu-vien.json");
    let pushes = (0..12).map(|i| {
        let body = with_portal_id(&body, &format!("BATCH-{i}"));
        let app = &app;
        async move { app.submit(&body, "application/json").await.status() }
    });
    for status in futures_util::future::join_all(pushes).await {
        assert_eq!(status, 201);
    }
    let repeat = with_portal_id(&body, "BATCH-0");
    assert_eq!(app.submit(&repeat, "application/json").await.status(), 200);

    let metrics = app.metrics().await;
    assert_eq!(series(&metrics, "motcua_intake_batch_size_sum"), 13.0);
    let batches = series(&metrics, "motcua_intake_batch_size_count");
    assert!((2.0..=13.0).contains(&batches), "{batches} batches");
    assert_eq!(series(&metrics, "motcua_lifecycle_batch_size_count"), 0.0);
    assert_eq!(series(&metrics, "motcua_lifecycle_batch_size_sum"), 0.0);
}
