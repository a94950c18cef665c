//! Typed configuration, read once at start: the shipped defaults (compiled in from
//! `config/default.toml`), then an optional `--config` file, then `MOTCUA__SECTION__KEY`
//! environment variables. Every value is checked here; a bad one stops the start with a message
//! that names its key. Secrets print as `[redacted]`.

use crate::domain::codes::AgencyCode;
use crate::signing::WebhookSecret;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shipped defaults, byte for byte `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layered sources do not produce a valid configuration (figment names the key).
    #[error("configuration: {0}")]
    Invalid(Box<figment::Error>),
    /// A value parsed but does not make sense.
    #[error("configuration key `{key}`: {message}")]
    Key {
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The `--config` file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

fn key_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// A duration written like `"500ms"`, `"5s"`, `"2m"`, `"1h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration such as \"5s\" ({e})"))
        })
    }
}

/// A secret used as text (PayGov, VNPAY); prints as `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct PlainSecret(String);

impl PlainSecret {
    /// The secret itself, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Internal API clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// HTTP server.
    pub server: ServerConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// The agency.
    pub agency: AgencyConfig,
    /// The city portal.
    pub portal: PortalConfig,
    /// The department's one-stop software (optional pushes).
    #[serde(default)]
    pub onestop: OnestopConfig,
    /// PayGov.
    pub paygov: PaygovConfig,
    /// VNPAY.
    pub vnpay: VnpayConfig,
    /// Delivery outbox.
    pub outbox: OutboxConfig,
    /// Payments.
    pub payments: PaymentsConfig,
    /// The partner message log.
    pub audit: AuditConfig,
    /// Rate limits per kind of caller.
    pub rate_limits: RateLimitsConfig,
    /// Document storage.
    pub storage: StorageConfig,
    /// Procedure mappings.
    pub mappings: MappingsConfig,
    /// Working-time calendar.
    pub calendar: CalendarConfig,
    /// Logging.
    pub log: LogConfig,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port`; port 0 picks a free port.
    pub listen: String,
    /// Longest time for one request.
    pub request_timeout: Dur,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Dur,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Open client connections at once; past it, new ones wait in the kernel's queue.
    pub max_connections: usize,
    /// Longest wait for a request's headers (a slow or idle client is disconnected).
    pub header_read_timeout: Dur,
    /// Largest request head (request line and headers) in bytes; past it, 431.
    pub max_header_bytes: usize,
    /// Most headers in one request; past it, 431.
    pub max_headers: usize,
    /// How often the `--config` file is read for changes, which are applied like SIGHUP
    /// (`0s`: only on SIGHUP).
    pub watch_config: Dur,
    /// How long a status read by code, or a list page by its query, is answered from memory
    /// (`0s`: never); see `status_cache.rs` for what a cached answer may miss.
    pub status_cache_ttl: Dur,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Migrate when `serve` starts.
    pub migrate_on_start: bool,
}

/// `[agency]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyConfig {
    /// The agency's e-ID; prefixes every dossier code.
    #[serde(deserialize_with = "agency_code")]
    pub code: AgencyCode,
    /// Its name, as printed on receipts.
    pub name: String,
}

fn agency_code<'de, D: Deserializer<'de>>(d: D) -> Result<AgencyCode, D::Error> {
    AgencyCode::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn webhook_secret<'de, D: Deserializer<'de>>(d: D) -> Result<WebhookSecret, D::Error> {
    WebhookSecret::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn webhook_secrets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WebhookSecret>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| WebhookSecret::parse(s).map_err(serde::de::Error::custom))
        .collect()
}

fn optional_webhook_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<WebhookSecret>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| WebhookSecret::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// `[portal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Secrets the portal may sign with (two during rotation).
    #[serde(deserialize_with = "webhook_secrets")]
    pub inbound_secrets: Vec<WebhookSecret>,
    /// Where status sync is delivered.
    pub base_url: String,
    /// Secret for signing deliveries.
    #[serde(deserialize_with = "webhook_secret")]
    pub outbound_secret: WebhookSecret,
    /// Hosts documents may be fetched from.
    #[serde(default)]
    pub file_hosts: Vec<String>,
    /// Largest document accepted, in bytes.
    pub max_file_size: u64,
}

/// `[onestop]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OnestopConfig {
    /// Where pushes go; unset: no pushes.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Secret for signing pushes.
    #[serde(default, deserialize_with = "optional_webhook_secret")]
    pub secret: Option<WebhookSecret>,
}

/// `[paygov]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaygovConfig {
    /// Platform address.
    pub base_url: String,
    /// `MaDoiTac`.
    pub partner_code: String,
    /// Signing secret.
    pub secret: PlainSecret,
}

/// `[vnpay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VnpayConfig {
    /// Payment page.
    pub pay_url: String,
    /// Merchant API (querydr).
    pub api_url: String,
    /// `vnp_TmnCode`.
    pub tmn_code: String,
    /// HMAC-SHA512 key.
    pub hash_secret: PlainSecret,
    /// `vnp_ReturnUrl`.
    pub return_url: String,
}

/// `[outbox]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Delays between attempts; the last repeats.
    pub retry_schedule: Vec<Dur>,
    /// Age at which an undelivered message goes dead.
    pub give_up_after: Dur,
    /// One attempt's limit.
    pub timeout: Dur,
    /// Messages claimed at once: being sent, or waiting for their destination's slot. More
    /// than `destination_concurrency` lets claims and outcomes be committed in larger
    /// batches; the lease grows with the ratio (`outbox::Worker::lease_ms`).
    pub concurrency: usize,
    /// Whether `serve` runs the worker.
    pub worker: bool,
    /// Sends per second to each destination.
    pub destination_rate: Rate,
    /// Sends in flight to each destination.
    pub destination_concurrency: usize,
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How long partner messages are kept in the message log; older ones are pruned (hourly),
    /// behind a checkpoint from which the rest still verifies.
    pub retention: Dur,
}

/// `[payments]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// Age at which a pending payment is asked about.
    pub reconcile_after: Dur,
    /// Age at which an unpaid request expires.
    pub expire_after: Dur,
}

/// A rate: sustained requests per second and burst size.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Most requests at once after a quiet period.
    pub burst: u32,
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// The portal.
    pub portal: Rate,
    /// Payment callbacks.
    pub payment: Rate,
    /// Each internal client.
    pub api: Rate,
    /// Each client address, before authentication.
    pub address: Rate,
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Folder for stored documents.
    pub files: String,
}

/// `[mappings]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingsConfig {
    /// Folder of procedure mapping files.
    pub dir: PathBuf,
}

/// `[calendar]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Folder of `<year>.toml` files.
    pub dir: PathBuf,
    /// Working periods `HH:MM-HH:MM` of the department.
    pub working_hours: Vec<String>,
    /// Other hours by handling unit.
    #[serde(default)]
    pub offices: std::collections::HashMap<String, Vec<String>>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter such as `info` or `motcua_gateway=debug`.
    pub level: String,
}

/// A permission of an internal client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Scope {
    /// Read dossiers.
    #[serde(rename = "dossiers:read")]
    DossiersRead,
    /// Drive the lifecycle.
    #[serde(rename = "dossiers:write")]
    DossiersWrite,
    /// Request payments.
    #[serde(rename = "payments:write")]
    PaymentsWrite,
    /// Operate the outbox.
    #[serde(rename = "admin")]
    Admin,
}

/// One internal API client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Who it is (logged, and the key of its rate limit).
    pub name: String,
    /// SHA-256 (hex) of its bearer token.
    pub token_sha256: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

/// SHA-256 (lower-case hex) of a token, as `clients[].token_sha256` stores it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file(path));
        }
        Self::extract(figment.merge(Env::prefixed("MOTCUA__").split("__")))
    }

    /// Defaults with TOML text layered over them, no environment (tests and tools).
    pub fn from_toml(overrides: &str) -> Result<Self, ConfigError> {
        Self::from_toml_layers(&[overrides])
    }

    /// Defaults with several TOML texts layered over them in order, no environment.
    pub fn from_toml_layers(layers: &[&str]) -> Result<Self, ConfigError> {
        let figment = layers.iter().fold(
            Figment::new().merge(Toml::string(DEFAULT_TOML)),
            |f, layer| f.merge(Toml::string(layer)),
        );
        Self::extract(figment)
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.server.listen.contains(':')
            || self.server.listen.parse::<SocketAddr>().is_err()
                && !self.server.listen.starts_with("localhost:")
        {
            return Err(key_error(
                "server.listen",
                format!("{:?} is not host:port", self.server.listen),
            ));
        }
        if self.server.max_in_flight == 0 {
            return Err(key_error("server.max_in_flight", "must be at least 1"));
        }
        if self.server.max_connections == 0 {
            return Err(key_error("server.max_connections", "must be at least 1"));
        }
        if self.server.header_read_timeout.0.is_zero() {
            return Err(key_error(
                "server.header_read_timeout",
                "must be more than zero",
            ));
        }
        if !(1024..=1024 * 1024).contains(&self.server.max_header_bytes) {
            return Err(key_error(
                "server.max_header_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        if !(16..=1000).contains(&self.server.max_headers) {
            return Err(key_error(
                "server.max_headers",
                "must be between 16 and 1000",
            ));
        }
        if self.server.request_timeout.0.is_zero() {
            return Err(key_error(
                "server.request_timeout",
                "must be more than zero",
            ));
        }
        let db = &self.database.url;
        if !(db.starts_with("sqlite://")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(key_error(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(key_error("database.max_connections", "must be at least 1"));
        }
        if self.audit.retention.0 < Duration::from_secs(24 * 3600) {
            return Err(key_error(
                "audit.retention",
                "must be at least a day (partner disputes need the record)",
            ));
        }
        if self.portal.inbound_secrets.is_empty() {
            return Err(key_error(
                "portal.inbound_secrets",
                "at least one secret is needed",
            ));
        }
        let urls = [
            ("portal.base_url", Some(&self.portal.base_url)),
            ("onestop.base_url", self.onestop.base_url.as_ref()),
            ("paygov.base_url", Some(&self.paygov.base_url)),
            ("vnpay.pay_url", Some(&self.vnpay.pay_url)),
            ("vnpay.api_url", Some(&self.vnpay.api_url)),
            ("vnpay.return_url", Some(&self.vnpay.return_url)),
        ];
        for (key, value) in urls {
            if let Some(v) = value {
                let ok = url::Url::parse(v)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok {
                    return Err(key_error(key, format!("{v:?} is not an http(s) URL")));
                }
            }
        }
        if self.onestop.base_url.is_some() != self.onestop.secret.is_some() {
            return Err(key_error(
                "onestop.secret",
                "onestop.base_url and onestop.secret go together",
            ));
        }
        if self.outbox.retry_schedule.is_empty() {
            return Err(key_error(
                "outbox.retry_schedule",
                "at least one delay is needed",
            ));
        }
        if !(1..=4096).contains(&self.outbox.concurrency) {
            return Err(key_error("outbox.concurrency", "1 to 4096"));
        }
        if !(1..=256).contains(&self.outbox.destination_concurrency) {
            return Err(key_error("outbox.destination_concurrency", "1 to 256"));
        }
        if self.outbox.timeout.0.is_zero() {
            return Err(key_error("outbox.timeout", "must be more than zero"));
        }
        for (key, rate) in [
            ("rate_limits.portal", self.rate_limits.portal),
            ("rate_limits.payment", self.rate_limits.payment),
            ("rate_limits.api", self.rate_limits.api),
            ("rate_limits.address", self.rate_limits.address),
            ("outbox.destination_rate", self.outbox.destination_rate),
        ] {
            if rate.per_second == 0 || rate.burst == 0 {
                return Err(key_error(key, "per_second and burst must be at least 1"));
            }
        }
        crate::domain::calendar::WorkingHours::parse(&self.calendar.working_hours)
            .map_err(|e| key_error("calendar.working_hours", e))?;
        for (office, periods) in &self.calendar.offices {
            crate::domain::calendar::WorkingHours::parse(periods)
                .map_err(|e| key_error(&format!("calendar.offices.{office}"), e))?;
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(key_error("log.format", "\"text\" or \"json\""));
        }
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let key = format!("clients[{i}]");
            if c.name.trim().is_empty() || !names.insert(c.name.as_str()) {
                return Err(key_error(
                    &format!("{key}.name"),
                    "names are required and unique",
                ));
            }
            let h = &c.token_sha256;
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(key_error(
                    &format!("{key}.token_sha256"),
                    "64 hex digits (SHA-256 of the token)",
                ));
            }
            if !hashes.insert(h.to_ascii_lowercase()) {
                return Err(key_error(
                    &format!("{key}.token_sha256"),
                    "two clients share a token",
                ));
            }
        }
        Ok(())
    }

    /// Keys still holding the published test secrets of `config/default.toml`.
    pub fn test_secrets_in_use(&self) -> Vec<&'static str> {
        let Ok(defaults) = Self::from_toml("") else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        if self
            .portal
            .inbound_secrets
            .iter()
            .any(|s| defaults.portal.inbound_secrets.contains(s))
        {
            keys.push("portal.inbound_secrets");
        }
        if self.portal.outbound_secret == defaults.portal.outbound_secret {
            keys.push("portal.outbound_secret");
        }
        if self.paygov.secret == defaults.paygov.secret {
            keys.push("paygov.secret");
        }
        if self.vnpay.hash_secret == defaults.vnpay.hash_secret {
            keys.push("vnpay.hash_secret");
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_defaults_are_valid() {
        let c = Config::from_toml("");
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let cases = [
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            ("[portal]\ninbound_secrets = [\"nope\"]", "inbound_secrets"),
            ("[outbox]\ntimeout = \"soon\"", "timeout"),
            ("[agency]\ncode = \"H29\"", "agency.code"),
            ("[server]\nlisten = \"8080\"", "server.listen"),
            ("[server]\nunknown = 1", "unknown"),
            (
                "[[clients]]\nname = \"a\"\ntoken_sha256 = \"xyz\"\nscopes = []",
                "clients[0].token_sha256",
            ),
        ];
        for (toml, key) in cases {
            let err = Config::from_toml(toml)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                err.as_ref().is_err_and(|e| e.contains(key)),
                "{toml}: {err:?}"
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let Ok(c) = Config::from_toml("") else {
            panic!("defaults")
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("test-paygov-secret"), "{shown}");
        assert!(!shown.contains("TESTVNPAYHASHSECRET"), "{shown}");
        assert!(!shown.contains("dGVzdC1wb3J0YWw"), "{shown}");
    }
}
