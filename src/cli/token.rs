//! `motcua token new NAME [--scopes …] [--write FILE]`: a random client token, printed once
//! (only its SHA-256 is ever configured), with the `[[clients]]` entry that admits it — also
//! appended to a configuration file when asked, so that a newcomer's first token works as
//! printed.

use crate::config::{token_hash, Config};
use anyhow::Context;
use rand::Rng;
use std::path::Path;

/// The scopes a client may hold.
pub const SCOPES: [&str; 4] = ["dossiers:read", "dossiers:write", "payments:write", "admin"];

/// Makes the token and prints it; with `write`, appends the client to that file (created if
/// missing) after checking that the file still loads as a configuration and that no client of
/// that name is there already. Nothing is written when a check fails.
pub fn new_token(name: &str, scopes: &[String], write: Option<&Path>) -> anyhow::Result<()> {
    if name.trim().is_empty() || name.contains(['"', '\\', '\n']) {
        anyhow::bail!("a client's name is plain text, without quotes or line breaks");
    }
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        anyhow::bail!("unknown scope {unknown:?}: use {}", SCOPES.join(", "));
    }
    let bytes: [u8; 32] = rand::rng().random();
    let token = format!("mct_{}", hex::encode(bytes));
    let quoted: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    let entry = format!(
        "\n[[clients]]\nname = {name:?}\ntoken_sha256 = \"{}\"\nscopes = [{}]\n",
        token_hash(&token),
        quoted.join(", ")
    );
    match write {
        None => {
            println!("token (give it to the client, it is not stored): {token}");
            println!("{entry}");
        }
        Some(file) => {
            let before = match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
            };
            let existing = toml::from_str::<toml::Table>(&before).ok();
            let clients = existing.as_ref().and_then(|t| t.get("clients"));
            let taken = clients.and_then(toml::Value::as_array).is_some_and(|list| {
                list.iter()
                    .any(|c| c.get("name").and_then(toml::Value::as_str) == Some(name))
            });
            if taken {
                anyhow::bail!("{} already has a client named {name:?}", file.display());
            }
            let inline = clients.is_some() && !before.contains("[[clients]]");
            if inline {
                anyhow::bail!(
                    "{} lists its clients inline (clients = [...]); write them as [[clients]] tables to add one here",
                    file.display()
                );
            }
            let after = format!("{before}{entry}");
            let config = Config::from_toml(&after).map_err(|e| {
                anyhow::anyhow!("{} would not load with the client: {e}", file.display())
            })?;
            if config.clients.iter().filter(|c| c.name == name).count() > 1 {
                anyhow::bail!("{} already has a client named {name:?}", file.display());
            }
            let staging = file.with_extension("toml.new");
            std::fs::write(&staging, &after)
                .with_context(|| format!("cannot write {}", staging.display()))?;
            std::fs::rename(&staging, file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!("token (give it to the client, it is not stored): {token}");
            println!(
                "client {name:?} with {} added to {}",
                scopes.join(", "),
                file.display()
            );
        }
    }
    Ok(())
}
