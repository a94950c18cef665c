//! A browser an officer would use, driven as one: Debian's ChromeDriver starts Debian's
//! Chromium headless and the test speaks W3C WebDriver to it (JSON over HTTP, through the
//! reqwest the tests already have). It types, chooses, clicks and reads the page the way a
//! person does, and keeps screenshots under `target/screenshots`.
//!
//! Written here rather than taken from a crate: the handful of WebDriver commands these tests
//! need are a few lines each, while the WebDriver client crates bring a second HTTP stack and
//! the `webdriver` crate's dependencies into a build that must stay reasonable on two cores.

use crate::helpers::root;
use base64::Engine;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The W3C name of an element reference in answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session, its ChromeDriver killed when dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    base: String,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// ChromeDriver started, with what it prints from here on and the port it listens on.
type Listening = (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    u16,
);

/// Starts ChromeDriver at `driver` on a port it chooses and reads that port from its first
/// lines; if it stops first, what it said and how it ended.
async fn launch(driver: &str) -> Result<Listening, String> {
    // What it prints on stderr is kept, to say why should it stop before listening.
    let said = tempfile::NamedTempFile::new().unwrap();
    let mut child = tokio::process::Command::new(driver)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(said.reopen().unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest.trim_end_matches('.').trim().parse::<u16>().unwrap();
            return Ok((child, lines, port));
        }
        printed.push(line);
    }
    let status = child.wait().await;
    Err(format!(
        "ChromeDriver stopped before saying which port it listens on ({status:?}); \
         stdout: {printed:?}; stderr: {:?}",
        std::fs::read_to_string(said.path()).unwrap_or_default()
    ))
}

impl Browser {
    /// Starts ChromeDriver on a port it chooses, reads that port from its first lines, and
    /// opens a headless Chromium session.
    pub async fn start() -> Self {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("ChromeDriver is installed (.ci/run installs Debian's chromium-driver)");
        // With `--port=0` ChromeDriver binds one port number on both IPv4 and IPv6, and the
        // number may be taken on one of them by another socket of the machine at that moment
        // (CI on 1 December: "IPv4 port not available", `bind() failed: Address already in
        // use`, and it exited). Only that is tried again, with a new number; anything else it
        // stops for fails the test at once.
        let mut attempts = 0;
        let (child, mut lines, port) = loop {
            attempts += 1;
            match launch(driver).await {
                Ok(listening) => break listening,
                Err(stopped) if stopped.contains("port not available") && attempts < 3 => {}
                Err(stopped) => panic!("{stopped}"),
            }
        };
        // Keep reading what it prints, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let profile = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-sync",
                         "--window-size=1100,900", "--force-device-scale-factor=1",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a session: {answer}"))
            .to_owned();
        Browser {
            http,
            session,
            base,
            _driver: child,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let answer: Value = res.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {answer}");
        answer["value"].clone()
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn go(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address the browser shows now.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page as the browser holds it now.
    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The element `css` selects; the test fails where there is none.
    pub async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    /// How many elements `css` selects.
    pub async fn count(&self, css: &str) -> usize {
        self.command(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .unwrap()
        .len()
    }

    /// Types `text` into the element `css` selects, as keys.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks the element `css` selects (a submit button waits for the next page).
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Clicks the element `css` selects and waits until the browser holds the next page,
    /// loaded: a click's answer may come before the navigation it starts has begun. The page
    /// it leaves is marked, and the wait ends when the marked page is gone and the new one is
    /// complete (10 s at most).
    pub async fn follow(&self, css: &str) {
        self.script("window.__motcua_left = true;").await;
        self.click(css).await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let arrived =
            "return window.__motcua_left === undefined && document.readyState === 'complete';";
        while self.script(arrived).await != json!(true) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new page after clicking {css}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.command(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Presses Tab `n` times on the page and answers what has the focus then: its tag, id
    /// and text (the keyboard's path through a page).
    pub async fn tab(&self, n: usize) -> String {
        let keys: Vec<Value> = (0..n)
            .flat_map(|_| {
                [
                    json!({"type": "keyDown", "value": "\u{E004}"}),
                    json!({"type": "keyUp", "value": "\u{E004}"}),
                ]
            })
            .collect();
        self.command(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})),
        )
        .await;
        self.script("const e = document.activeElement; return e.tagName + '#' + e.id + ':' + (e.innerText || e.value || '').trim();")
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Keeps a screenshot of what the browser shows as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.len() > 1000, "a real picture");
        let dir = root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}
