//! `motcua audit …`: verify the message log's chain, export a period of it as JSON lines.

use crate::audit::anchor;
use crate::audit::mask::mask_personal;
use crate::audit::verify::{Problem, Verifier};
use crate::config::{token_hash, AuditConfig, ClientConfig, Config, Scope};
use crate::domain::time::{parse_bound, Edge};
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;
use subtle::ConstantTimeEq;

/// `motcua audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain; name every record edited, removed or out of place (exit 1).
    Verify,
    /// Print the records of a time range as JSON lines, raw bodies in base64.
    Export {
        /// From this time: `yyyyMMdd` (the start of that Vietnam day), `yyyyMMddHHmmss`
        /// (Vietnam time) or RFC 3339.
        #[arg(long)]
        from: String,
        /// Up to this time: a day means through its end; a moment is excluded.
        #[arg(long)]
        to: String,
        /// Print identity and phone numbers in clear (they are masked otherwise). Only for an
        /// admin: `MOTCUA_ADMIN_TOKEN` must hold the token of a client with the `admin` scope.
        #[arg(long)]
        unmasked: bool,
        /// The admin's token, for `--unmasked` (from the environment, not the command line,
        /// so that it does not show in the process list).
        #[arg(
            long = "admin-token",
            env = "MOTCUA_ADMIN_TOKEN",
            hide = true,
            hide_env_values = true
        )]
        admin_token: Option<String>,
    },
}

/// Whether `token` is that of a configured client with the `admin` scope (constant time).
fn is_admin(clients: &[ClientConfig], token: &str) -> bool {
    let hash = token_hash(token);
    clients
        .iter()
        .filter(|c| c.scopes.contains(&Scope::Admin))
        .fold(false, |found, c| {
            found | bool::from(c.token_sha256.as_bytes().ct_eq(hash.as_bytes()))
        })
}

/// Reads `--from`/`--to`: a bound as the API takes it (`yyyyMMdd`, a whole day, or
/// `yyyyMMddHHmmss`, a whole second, Vietnam time; `domain::time::parse_bound`), a day also as
/// `yyyy-MM-dd`, or an exact RFC 3339 instant.
fn audit_time(text: &str, edge: Edge) -> anyhow::Result<i64> {
    let dashed_day = text.len() == 10 && text.as_bytes().get(4) == Some(&b'-');
    let bound = if dashed_day {
        parse_bound(&text.replace('-', ""), edge)
    } else {
        parse_bound(text, edge).or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.to_utc())
        })
    };
    bound.map(|t| t.timestamp_millis()).ok_or_else(|| {
        anyhow::anyhow!("{text:?}: yyyyMMdd, yyyy-MM-dd, yyyyMMddHHmmss or RFC 3339")
    })
}

/// Records read at a time.
const PAGE: i64 = 1000;

/// Runs one audit command.
pub(super) async fn audit_command(
    store: &Store,
    config: &Config,
    command: AuditCommand,
) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify => verify(store, &config.audit).await,
        AuditCommand::Export {
            from,
            to,
            unmasked,
            admin_token,
        } => {
            if unmasked && !admin_token.is_some_and(|t| is_admin(&config.clients, &t)) {
                anyhow::bail!(
                    "--unmasked prints citizens' identity and phone numbers: MOTCUA_ADMIN_TOKEN must hold the token of a client with the admin scope"
                );
            }
            let (from, to) = (audit_time(&from, Edge::Start)?, audit_time(&to, Edge::End)?);
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let page = store.message_records_between(from, to, after, PAGE).await?;
                for r in &page {
                    writeln!(out, "{}", export_line(r, !unmasked))?;
                }
                match page.last() {
                    Some(last) => after = last.seq,
                    None => break,
                }
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// Checks the whole chain, from the last pruning checkpoint, against the anchor file.
async fn verify(store: &Store, audit: &AuditConfig) -> anyhow::Result<()> {
    let key = audit.anchor_key.expose();
    let (anchors, forged) = anchor::read(&audit.anchor_file, key).with_context(|| {
        format!(
            "cannot read the anchor file {}",
            audit.anchor_file.display()
        )
    })?;
    let checkpoint = store.message_log_checkpoint().await?;
    let first = checkpoint.as_ref().map_or(0, |c| c.anchor.seq) + 1;
    let retention = i64::try_from(audit.retention.0.as_millis()).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().timestamp_millis();
    let n_anchors = anchors.len();
    let mut verifier = Verifier::anchored(checkpoint.as_ref(), anchors, retention, now);
    let bar = crate::progress::bar("records");
    let expected = store.message_log_head().await?.seq - first + 1;
    bar.set_length(u64::try_from(expected).unwrap_or(0));
    let mut after = 0;
    loop {
        let page = store.message_records(after, PAGE).await?;
        for record in &page {
            verifier.check(record);
        }
        bar.inc(page.len() as u64);
        match page.last() {
            Some(last) => after = last.seq,
            None => break,
        }
    }
    bar.finish_and_clear();
    let checked = verifier.checked;
    // Payment evidence and dossiers' submissions kept apart past the log's retention: each
    // record by itself.
    let (mut kept, mut kept_problems, mut after) = (0u64, Vec::new(), 0);
    loop {
        let page = store.kept_records(after, PAGE).await?;
        for record in &page {
            kept += 1;
            kept_problems.extend(crate::audit::verify::check_alone(record));
        }
        match page.last() {
            Some(last) => after = last.seq,
            None => break,
        }
    }
    let head = store.message_log_head().await?;
    let mut problems: Vec<Problem> = forged
        .into_iter()
        .map(|line| Problem::AnchorForged { line })
        .collect();
    problems.extend(verifier.finish(&head));
    problems.extend(kept_problems);
    if problems.is_empty() {
        println!(
            "message log intact: {checked} record(s), {first} to {}; head {}; {n_anchors} anchor(s) in {}; {kept} record(s) kept past the retention (payments, dossiers' submissions)",
            head.seq,
            head.hash,
            audit.anchor_file.display()
        );
        Ok(())
    } else {
        for p in &problems {
            println!("{p}");
        }
        anyhow::bail!(
            "the message log was tampered with: {} problem(s)",
            problems.len()
        )
    }
}

/// One record as a JSON line: its fields, the time in Vietnam time, the raw body in base64 and,
/// when it is UTF-8, as text too — with identity and phone numbers masked when `masked` (the
/// line then says so, and `body_sha256` is still the stored body's).
fn export_line(r: &crate::chain::Record, masked: bool) -> serde_json::Value {
    use base64::Engine;
    let mut line = serde_json::to_value(r).unwrap_or_default();
    let body = if masked {
        mask_personal(&r.message.body)
    } else {
        std::borrow::Cow::Borrowed(r.message.body.as_slice())
    };
    line["masked"] = serde_json::json!(masked);
    let at = chrono::DateTime::from_timestamp_millis(r.message.at).map(|t| {
        crate::domain::time::to_vn(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    });
    line["time"] = serde_json::json!(at);
    line["body_base64"] =
        serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&body));
    line["body_text"] = serde_json::json!(std::str::from_utf8(&body).ok());
    line
}
