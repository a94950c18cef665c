//! `motcua soak` as an operator runs it (contract section 7): briefly, two instances, on the
//! test PostgreSQL server — a progress bar on a terminal, plain lines in a pipe, the summary
//! with no violation either way, having paid fees through the failing platform and verified
//! the message log. (CI also runs it for a minute with three instances and at
//! least ten kills.) PostgreSQL only: several instances share PostgreSQL only.

use crate::process::{on_terminal, run_motcua};

fn server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

#[test]
fn the_soak_shows_its_progress_and_finds_nothing_wrong() {
    let Some(server) = server() else {
        return;
    };
    let args = [
        "soak",
        "--database",
        &server,
        "--instances",
        "2",
        "--duration",
        "3s",
        "--kill-every",
        "1s",
    ];
    let seen = on_terminal(&args);
    let bar = regex::Regex::new(r"soak \[[=> ]{40}\] \d/3").unwrap();
    assert!(bar.is_match(&seen), "{seen}");
    assert!(
        seen.contains("violations                                  0"),
        "{seen}"
    );

    let piped = run_motcua(&args, &[]);
    let out = String::from_utf8_lossy(&piped.stdout).into_owned();
    assert!(piped.status.success(), "{out}");
    assert_eq!(
        String::from_utf8_lossy(&piped.stderr),
        "",
        "no bar in a pipe"
    );
    let plain = regex::Regex::new(r"(?m)^ +\d+ s: \d+ kills, \d+ requests$").unwrap();
    assert!(plain.is_match(&out), "{out}");
    let row = |name: &str| -> usize {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("  {name}")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no number for {name:?}: {out}"))
    };
    assert!(row("instances killed and restarted") >= 1, "{out}");
    // Paid on the platform: every one of them recorded once (else a violation above).
    assert!(row("paid on the platform") >= 1, "{out}");
    assert!(row("message log records, verified") >= 1, "{out}");
    // Counted, and the first lines shown under the summary: where a violation's cause is found.
    let logged = row("errors the instances logged");
    assert_eq!(out.matches("\n  logged: ").count(), logged.min(10), "{out}");
    assert!(
        out.contains("violations                                  0"),
        "{out}"
    );
}
