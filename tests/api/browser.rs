//! A real browser for the tests: Debian's Chromium, headless, opens a page the gateway serves,
//! the test checks what it rendered, and a screenshot is kept under `target/screenshots` (CI
//! keeps the folder as an artifact).

use crate::helpers::root;
use std::path::PathBuf;

/// Where test screenshots are kept (CI keeps the folder as an artifact).
fn screenshots() -> PathBuf {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens `url` in headless Chromium, checks that the page it rendered holds `expected` and
/// keeps a screenshot as `name.png`, whose path it returns.
pub async fn look_at(url: &str, name: &str, expected: &str) -> PathBuf {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("Chromium is installed (.ci/run installs it)");
    let profile = tempfile::tempdir().unwrap();
    let png = screenshots().join(format!("{name}.png"));
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=900,700",
        "--force-device-scale-factor=2",
    ];
    let profile_flag = format!("--user-data-dir={}", profile.path().display());
    let dom = tokio::process::Command::new(chromium)
        .args(flags)
        .arg(&profile_flag)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(expected),
        "{expected} expected; what Chromium rendered: {dom}"
    );
    let shot = tokio::process::Command::new(chromium)
        .args(flags)
        .arg(&profile_flag)
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .await
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    assert!(
        std::fs::metadata(&png).unwrap().len() > 1000,
        "a real picture"
    );
    png
}
