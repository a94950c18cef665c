//! `motcua demo` (contract section 7): run as a newcomer runs it, to completion, and its
//! account held against the database it leaves.

use crate::helpers::*;
use crate::process::run_motcua;

#[tokio::test]
async fn the_demo_runs_to_completion_and_its_account_matches_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let out = run_motcua(&["demo", "--keep", keep.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with("demo passed: every step came out as the contract says\n"),
        "{stdout}"
    );
    let codes: Vec<String> = stdout
        .lines()
        .filter(|l| l.contains(": pushed by the portal → 201"))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 3, "{stdout}");

    let db = format!("sqlite://{}/motcua.db", keep.display());
    // The karaoke licence went through two agencies: each step done, each result document
    // fetched from its agency and stored beside the applicant's two.
    let expected = [("vnpay paid", 4, 2), ("paygov paid", 2, 0), ("", 2, 0)];
    for (code, (payment, stored, steps_done)) in codes.iter().zip(expected) {
        let row = |sql: &str| sql.replace("$CODE", code);
        assert_eq!(
            sql_i64(
                &db,
                &row("SELECT status FROM dossiers WHERE code = '$CODE'")
            )
            .await,
            10,
            "{code}"
        );
        assert_eq!(
            sql_i64(&db, &row("SELECT COUNT(*) FROM dossier_documents dd JOIN dossiers d ON d.id = dd.dossier_id WHERE d.code = '$CODE' AND dd.state = 'stored'")).await,
            stored,
            "{code}"
        );
        assert_eq!(
            sql_i64(&db, &row("SELECT COUNT(*) FROM dossier_steps s JOIN dossiers d ON d.id = s.dossier_id WHERE d.code = '$CODE' AND s.state = 'done'")).await,
            steps_done,
            "{code}"
        );
        let forwards = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("{code}: forward ")))
            .count();
        assert_eq!(forwards, steps_done as usize, "{stdout}");
        let fetched = stdout
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "{code}: each agency fetched its forwarded documents"
                ))
            })
            .count();
        assert_eq!(fetched, usize::from(steps_done > 0), "{stdout}");
        let paid = sql_text(
            &db,
            &row("SELECT COALESCE((SELECT provider || ' ' || state FROM payments p JOIN dossiers d ON d.id = p.dossier_id WHERE d.code = '$CODE'), '')"),
        )
        .await;
        assert_eq!(paid, payment, "{code}");
        // Each sync the account says the portal received was delivered.
        let said = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{code}: the portal received ")))
            .unwrap();
        let n: i64 = said.split(' ').nth(4).unwrap().parse().unwrap();
        assert_eq!(
            sql_i64(&db, &row("SELECT COUNT(*) FROM outbox o JOIN dossiers d ON d.id = o.dossier_id WHERE d.code = '$CODE' AND o.destination = 'portal' AND o.state = 'delivered'")).await,
            n,
            "{code}"
        );
    }
    // A folder already used is refused: the demo starts fresh.
    let again = run_motcua(&["demo", "--keep", keep.to_str().unwrap()], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}
