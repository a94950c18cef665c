//! The soak's invariants, checked once the outbox has drained, against the database the
//! gateways shared, what the portal got and what the platform was paid, and the message log
//! by `motcua audit verify`. Each finding is a sentence naming what broke.

use super::portal::Got;
use sqlx::{PgPool, Row};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// What the driver was told: 2xx answers only.
#[derive(Debug, Default)]
pub struct Acked {
    /// `MaHoSoQG` → `MaHoSo`, for each 201.
    pub dossiers: HashMap<String, String>,
    /// `(MaHoSo, action)` for each 200.
    pub actions: Vec<(String, String)>,
    /// `(MaHoSo, payment_ref)` for each payment answered 201 (or found pending after an
    /// answer that was not known).
    pub payments: Vec<(String, String)>,
    /// CONFIRMs sent to the gateways, repeats and retries counted.
    pub confirms_sent: usize,
    /// Payments whose CONFIRM was never sent.
    pub confirms_lost: usize,
    /// What the driver saw break (a CONFIRM refused or answered unsigned, …).
    pub findings: Vec<String>,
}

/// The figures and the violations found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Dossiers stored.
    pub stored: i64,
    /// Outbox messages, and how many delivered.
    pub messages: i64,
    /// Of them, delivered.
    pub delivered: i64,
    /// Messages the portal confirmed more than once, each across a kill (allowed: at least once).
    pub redelivered: usize,
    /// What broke.
    pub violations: Vec<String>,
}

/// Checks every invariant.
pub async fn check(
    pool: &PgPool,
    acked: &Acked,
    got: &[Got],
    kills: &[Instant],
) -> anyhow::Result<Findings> {
    let mut f = Findings::default();
    let rows = sqlx::query("SELECT portal_id, code, id FROM dossiers")
        .fetch_all(pool)
        .await?;
    let mut stored: HashMap<String, (String, i64)> = HashMap::new();
    for r in &rows {
        stored.insert(
            r.try_get("portal_id")?,
            (r.try_get("code")?, r.try_get("id")?),
        );
    }
    f.stored = i64::try_from(stored.len()).unwrap_or(i64::MAX);
    for (portal_id, code) in &acked.dossiers {
        match stored.get(portal_id) {
            Some((c, _)) if c == code => {}
            Some((c, _)) => f
                .violations
                .push(format!("{portal_id}: answered {code}, stored {c}")),
            None => f
                .violations
                .push(format!("{portal_id}: answered 201 ({code}), not stored")),
        }
    }
    // Codes: unique, and per day 1..n with no gap.
    let mut by_day: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (code, _) in stored.values() {
        let Some((day, n)) = code.rsplit_once('-') else {
            f.violations.push(format!("{code}: not a dossier code"));
            continue;
        };
        by_day
            .entry(day.to_owned())
            .or_default()
            .push(n.parse().unwrap_or(0));
    }
    for (day, mut numbers) in by_day {
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=u32::try_from(numbers.len()).unwrap_or(0)).collect();
        if numbers != expected {
            f.violations.push(format!(
                "{day}: codes {numbers:?} are not 1..{} without gaps or repeats",
                numbers.len()
            ));
        }
    }
    // Each acknowledged action applied, and no action applied twice.
    let progress = sqlx::query(
        "SELECT d.code, p.action, COUNT(*) AS n FROM progress p JOIN dossiers d ON d.id = p.dossier_id \
         GROUP BY d.code, p.action",
    )
    .fetch_all(pool)
    .await?;
    let mut applied: HashMap<(String, String), i64> = HashMap::new();
    for r in &progress {
        applied.insert((r.try_get("code")?, r.try_get("action")?), r.try_get("n")?);
    }
    for ((code, action), n) in &applied {
        if *n > 1 {
            f.violations
                .push(format!("{code}: {action} applied {n} times"));
        }
    }
    for (code, action) in &acked.actions {
        if !applied.contains_key(&(code.clone(), action.clone())) {
            f.violations
                .push(format!("{code}: {action} answered 200, not stored"));
        }
    }
    // Every message delivered, confirmed by the portal, in order per dossier.
    let messages = sqlx::query(
        "SELECT o.id, o.state, d.code FROM outbox o JOIN dossiers d ON d.id = o.dossier_id \
         WHERE o.destination = 'portal' ORDER BY o.id",
    )
    .fetch_all(pool)
    .await?;
    let mut of_dossier: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &messages {
        let id: i64 = r.try_get("id")?;
        let state: String = r.try_get("state")?;
        f.messages += 1;
        if state == "delivered" {
            f.delivered += 1;
        } else {
            f.violations
                .push(format!("message {id}: {state} after the drain"));
        }
        of_dossier.entry(r.try_get("code")?).or_default().push(id);
    }
    let mut first_confirmed: HashMap<i64, Instant> = HashMap::new();
    let mut confirmations: HashMap<i64, Vec<Instant>> = HashMap::new();
    let mut attempts: HashMap<i64, Vec<Instant>> = HashMap::new();
    for g in got {
        attempts.entry(g.message).or_default().push(g.at);
        if g.confirmed {
            first_confirmed.entry(g.message).or_insert(g.at);
            confirmations.entry(g.message).or_default().push(g.at);
        }
    }
    for (code, ids) in &of_dossier {
        for (i, id) in ids.iter().enumerate() {
            if !first_confirmed.contains_key(id) {
                f.violations.push(format!(
                    "{code}: message {id} marked delivered, never confirmed by the portal"
                ));
            }
            // No attempt at a message before every earlier one of its dossier was confirmed.
            for at in attempts.get(id).into_iter().flatten() {
                for earlier in &ids[..i] {
                    if first_confirmed.get(earlier).is_none_or(|t| t > at) {
                        f.violations.push(format!(
                            "{code}: message {id} sent before the earlier message {earlier} was confirmed"
                        ));
                    }
                }
            }
        }
    }
    // Sent twice only when its sender died between: a kill between the two confirmations.
    for (id, times) in &confirmations {
        for pair in times.windows(2) {
            if kills.iter().any(|k| *k > pair[0] && *k < pair[1]) {
                f.redelivered += 1;
            } else {
                f.violations.push(format!(
                    "message {id}: confirmed twice with no kill between"
                ));
            }
        }
    }
    f.violations.sort();
    f.violations.dedup();
    Ok(f)
}

/// Every payment paid on the platform (`paid`: `MaThamChieu` → `MaGiaoDich`) recorded paid,
/// with its transaction, once; nothing recorded paid that was not; each payment answered 201
/// stored for its dossier; each paid dossier back in processing (status 4).
pub async fn payments(
    pool: &PgPool,
    acked: &Acked,
    paid: &HashMap<String, String>,
    f: &mut Findings,
) -> anyhow::Result<()> {
    f.violations.extend(acked.findings.iter().cloned());
    let rows = sqlx::query(
        "SELECT p.reference, p.state, p.provider_txn, d.code, d.status FROM payments p \
         JOIN dossiers d ON d.id = p.dossier_id",
    )
    .fetch_all(pool)
    .await?;
    let mut stored: HashMap<String, (String, Option<String>, String, i64)> = HashMap::new();
    let mut paid_of: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        let (reference, state, txn, code): (String, String, Option<String>, String) = (
            r.try_get("reference")?,
            r.try_get("state")?,
            r.try_get("provider_txn")?,
            r.try_get("code")?,
        );
        if state == "paid" {
            *paid_of.entry(code.clone()).or_default() += 1;
            let expected = paid.get(&reference).map(|t| format!("paygov:{t}"));
            if txn != expected {
                f.violations.push(format!(
                    "{code}: payment {reference} recorded paid by {txn:?}, the platform was paid {expected:?}"
                ));
            }
        }
        stored.insert(reference, (state, txn, code, r.try_get("status")?));
    }
    for (code, n) in &paid_of {
        if *n > 1 {
            f.violations.push(format!("{code}: paid {n} times"));
        }
    }
    for (code, reference) in &acked.payments {
        match stored.get(reference) {
            Some((_, _, c, _)) if c == code => {}
            _ => f.violations.push(format!(
                "{code}: payment {reference} answered 201, not stored for it"
            )),
        }
    }
    for reference in paid.keys() {
        match stored.get(reference) {
            Some((state, _, _, _)) if state == "paid" => {}
            Some((state, _, code, _)) => f.violations.push(format!(
                "{code}: payment {reference} paid on the platform, recorded {state}"
            )),
            None => f.violations.push(format!(
                "payment {reference}: paid on the platform, not stored"
            )),
        }
    }
    for (state, _, code, status) in stored.values() {
        if state == "paid" && *status != 4 {
            f.violations
                .push(format!("{code}: paid, yet in status {status} (not 4)"));
        }
    }
    Ok(())
}

/// `motcua audit verify` on the soak's database and anchor file: the message log one chain,
/// whoever wrote it. What it says of the records checked.
pub async fn message_log(config: &std::path::Path, f: &mut Findings) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(config)
        .args(["audit", "verify"])
        .output()
        .await?;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        f.violations.push(format!(
            "motcua audit verify: the message log does not verify: {}{}",
            said.lines().take(5).collect::<Vec<_>>().join("; "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return Ok("BROKEN".into());
    }
    Ok(said
        .split_once(" record(s)")
        .and_then(|(head, _)| head.rsplit(' ').next())
        .unwrap_or("?")
        .to_owned())
}
