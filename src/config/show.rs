//! The effective configuration as `motcua config check` prints it: the defaults, the file and
//! the environment merged, as TOML, with every secret replaced by `[redacted]` and a password
//! in `database.url` hidden.

use super::{layered, Config, ConfigError};
use std::path::Path;

/// The keys whose values are secrets (a list's every item is one).
pub const SECRET_KEYS: &[(&str, &str)] = &[
    ("portal", "inbound_secrets"),
    ("portal", "outbound_secret"),
    ("onestop", "secret"),
    ("paygov", "secret"),
    ("vnpay", "hash_secret"),
    ("audit", "anchor_key"),
    ("admin", "session_key"),
    ("agencies", "secret"),
];

const REDACTED: &str = "[redacted]";

impl Config {
    /// The merged configuration from these sources, redacted, as TOML text. It is checked as
    /// `serve` checks it first: a value that would stop the start stops this too.
    pub fn effective_toml(file: Option<&Path>) -> Result<String, ConfigError> {
        let figment = layered(file)?;
        Self::extract(figment.clone())?;
        let mut table: toml::Table = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        redact(&mut table);
        toml::to_string(&table).map_err(|e| super::key_error("(all)", e.to_string()))
    }
}

/// `key` of `section` replaced by `[redacted]`, each item of a list.
fn redact_key(section: &mut toml::Table, key: &str) {
    match section.get_mut(key) {
        Some(toml::Value::Array(items)) => {
            for item in items.iter_mut() {
                *item = toml::Value::String(REDACTED.into());
            }
        }
        Some(value) => *value = toml::Value::String(REDACTED.into()),
        None => {}
    }
}

fn redact(table: &mut toml::Table) {
    for (section, key) in SECRET_KEYS {
        // A section, or a list of them (`[[agencies]]`).
        let sections: Vec<&mut toml::Table> = match table.get_mut(*section) {
            Some(toml::Value::Table(s)) => vec![s],
            Some(toml::Value::Array(items)) => items
                .iter_mut()
                .filter_map(|i| match i {
                    toml::Value::Table(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        for s in sections {
            redact_key(s, key);
        }
    }
    let url = table
        .get_mut("database")
        .and_then(|d| d.get_mut("url"))
        .and_then(|u| match u {
            toml::Value::String(s) => Some(s),
            _ => None,
        });
    if let Some(url) = url {
        if let Ok(mut parsed) = url::Url::parse(url) {
            if parsed.password().is_some() && parsed.set_password(Some(REDACTED)).is_ok() {
                *url = parsed.to_string();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_redacted_and_nothing_else() {
        let mut table: toml::Table = match toml::from_str(&format!(
            "{}\n",
            super::super::DEFAULT_TOML.replace(
                "url = \"sqlite://data/motcua.db\"",
                "url = \"postgres://motcua:hunter2@db.internal/motcua\""
            )
        )) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let before = toml::to_string(&table).unwrap_or_default();
        redact(&mut table);
        let after = toml::to_string(&table).unwrap_or_default();
        assert!(
            !after.contains("hunter2") && after.contains("motcua:%5Bredacted%5D@db.internal"),
            "{after}"
        );
        for secret in [
            "whsec_dGVzdC1wb3J0YWwtaW5ib3VuZC1zZWNyZXQtMDE=",
            "whsec_dGVzdC1wb3J0YWwtb3V0Ym91bmQtc2VjcmV0LTAx",
        ] {
            assert!(
                before.contains(secret) && !after.contains(secret),
                "{secret}"
            );
        }
        // What is not secret is untouched.
        assert!(after.contains("max_file_size = 52428800"));
        assert_eq!(before.lines().count(), after.lines().count());
    }
}
