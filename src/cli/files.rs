//! `motcua files verify`: re-reads every stored document, hashes it again and names every file
//! that is missing or no longer matches the hash it is stored under (a disk fault, a hand
//! edit); exits non-zero when any does.

use crate::config::Config;
use crate::files::storage::FileStore;
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;

/// `motcua files …`.
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Re-hash every stored document and report any that no longer match.
    Verify,
}

/// Runs a `files` command.
pub async fn run(config: &Config, command: FilesCommand) -> anyhow::Result<()> {
    let FilesCommand::Verify = command;
    let store = Store::connect(&config.database.url, 2)
        .await
        .context("cannot open the database")?;
    let files = FileStore::open(&config.storage.files)?;
    let stored = store.stored_files().await?;
    let mut problems = 0usize;
    for (sha256, size) in &stored {
        let problem = match files.rehash(sha256).await? {
            None => Some("missing".to_owned()),
            Some((n, _)) if i64::try_from(n).ok() != Some(*size) => {
                Some(format!("{n} bytes, {size} expected"))
            }
            Some((_, actual)) if actual != *sha256 => Some(format!("hashes to {actual}")),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            problems += 1;
            println!(
                "{}",
                serde_json::json!({"sha256": sha256, "problem": problem})
            );
        }
    }
    store.close().await;
    if problems == 0 {
        println!(
            "files ok: {} stored files match their hashes ({})",
            stored.len(),
            files.location
        );
        Ok(())
    } else {
        anyhow::bail!(
            "{problems} of {} stored files are missing or do not match their hashes",
            stored.len()
        )
    }
}
