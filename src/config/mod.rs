//! Typed configuration, read once at start: the shipped defaults (compiled in from
//! `config/default.toml`), then an optional `--config` file, then `MOTCUA__SECTION__KEY`
//! environment variables. Every value is parsed into its type here (`values`), each section
//! is a struct (`sections`), and what no single value can say is checked once (`validate`);
//! a bad value stops the start with a message that names its key. Secrets print as
//! `[redacted]`.

mod sections;
mod show;
mod validate;
mod values;

pub use sections::*;
pub use show::SECRET_KEYS;
pub use values::{token_hash, Dur, HttpUrl, LogFormat, PlainSecret};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The shipped defaults, byte for byte `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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

/// Defaults, then `file` if given, then the environment, not yet read into types.
fn layered(file: Option<&Path>) -> Result<Figment, ConfigError> {
    let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::MissingFile(path.to_owned()));
        }
        figment = figment.merge(Toml::file(path));
    }
    Ok(figment.merge(Env::prefixed("MOTCUA__").split("__")))
}

pub(crate) fn key_error(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.to_owned(),
        message: message.into(),
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
    /// Other agencies that act on parts of dossiers (contract section 9).
    #[serde(default)]
    pub agencies: Vec<PartnerAgencyConfig>,
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
    /// The officers' page.
    #[serde(default)]
    pub admin: AdminConfig,
}

impl Config {
    /// The codes of `[[agencies]]`.
    pub fn agency_codes(&self) -> Vec<&str> {
        self.agencies.iter().map(|a| a.code.as_str()).collect()
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::extract(layered(file)?)
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

    /// The shipped defaults alone, as read (not checked: they are what the checks compare with).
    fn defaults() -> Result<Self, ConfigError> {
        Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.validate()?;
        Ok(config)
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
            ("[portal]\nbase_url = \"ftp://portal\"", "portal.base_url"),
            ("[vnpay]\nreturn_url = \"/relative\"", "vnpay.return_url"),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[outbox]\nconcurrency = 1025", "outbox.concurrency"),
            (
                "[storage]\nfetch_concurrency = 0",
                "storage.fetch_concurrency",
            ),
            ("[storage]\nfetch_timeout = \"0s\"", "storage.fetch_timeout"),
            ("[storage]\nfiles = \" \"", "storage.files"),
            (
                "[calendar]\nworking_hours = [\"13:00-11:00\"]",
                "calendar.working_hours",
            ),
            (
                "[calendar.offices]\nnight = [\"25:00-26:00\"]",
                "calendar.offices",
            ),
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
    fn a_published_secret_is_refused_unless_listening_on_loopback_only() {
        for listen in ["127.0.0.1:0", "[::1]:8080", "localhost:8080"] {
            let c = Config::from_toml(&format!("[server]\nlisten = \"{listen}\""));
            assert!(c.is_ok(), "{listen}: {c:?}");
        }
        let err = Config::from_toml("[server]\nlisten = \"0.0.0.0:8080\"")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("configuration key `portal.inbound_secrets`: holds a secret published in this repository while server.listen (0.0.0.0:8080) is not loopback only; set your own".into())
        );
        let own = "[server]\nlisten = \"0.0.0.0:8080\"\n\
            [portal]\ninbound_secrets = [\"whsec_b3duLXBvcnRhbC1pbmJvdW5kLXNlY3JldA==\"]\n\
            outbound_secret = \"whsec_b3duLXBvcnRhbC1vdXRib3VuZC1zZWNyZXQ=\"\n\
            [paygov]\nsecret = \"own-paygov-secret\"\n[vnpay]\nhash_secret = \"OWNVNPAYSECRET\"\n";
        // Every secret of its own but the anchor key: that one is named too.
        let err = Config::from_toml(own)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("configuration key `audit.anchor_key`: holds a secret published in this repository while server.listen (0.0.0.0:8080) is not loopback only; set your own".into())
        );
        let own = format!("{own}[audit]\nanchor_key = \"own-anchor-key-0123456789\"\n");
        let err = Config::from_toml(&own)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("configuration key `agencies.secret`: holds a secret published in this repository while server.listen (0.0.0.0:8080) is not loopback only; set your own".into())
        );
        let agency = |code: &str, secret: &str| {
            format!(
                "[[agencies]]\ncode = \"{code}\"\nname = \"Công an\"\n\
                 base_url = \"https://agency.example\"\nsecret = \"{secret}\"\n"
            )
        };
        let own = format!(
            "{}{}{own}",
            agency("000.20.07.H29", "whsec_b3duLWFnZW5jeS1zZWNyZXQtMDc="),
            agency("000.20.06.H29", "whsec_b3duLWFnZW5jeS1zZWNyZXQtMDY=")
        );
        let c = Config::from_toml(&own);
        assert!(c.is_ok(), "{c:?}");
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
        assert!(!shown.contains("test-audit-anchor-key"), "{shown}");
        assert!(!shown.contains("dGVzdC1hZ2VuY3k"), "{shown}");
        let Ok(toml) = Config::effective_toml(None) else {
            panic!("defaults")
        };
        assert!(!toml.contains("dGVzdC1hZ2VuY3k"), "{toml}");
        let redacted = toml
            .lines()
            .filter(|l| *l == "secret = \"[redacted]\"")
            .count();
        assert_eq!(redacted, 3, "paygov and two agencies: {toml}");
    }

    #[test]
    fn each_agency_has_its_own_code_and_secret_and_a_known_office() {
        let agency = |code: &str, secret: &str, office: &str| {
            format!(
                "[[agencies]]\ncode = \"{code}\"\nname = \"Công an\"\n\
                 base_url = \"https://agency.example\"\nsecret = \"whsec_{secret}\"\n{office}"
            )
        };
        let problem = |toml: String| {
            Config::from_toml(&toml)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let (a, b) = (
            "b3duLWFnZW5jeS1zZWNyZXQtYS0wMDAx",
            "b3duLWFnZW5jeS1zZWNyZXQtYi0wMDAx",
        );
        assert_eq!(
            problem(agency("000.20.07.H29", a, "") + &agency("000.20.06.H29", b, "")),
            Ok(())
        );
        assert_eq!(
            problem(agency("000.20.07.H29", a, "") + &agency("000.20.07.H29", b, "")),
            Err("configuration key `agencies[1].code`: 000.20.07.H29 is the department's own or listed twice".into())
        );
        assert_eq!(
            problem(agency("000.00.12.H29", a, "")),
            Err("configuration key `agencies[0].code`: 000.00.12.H29 is the department's own or listed twice".into())
        );
        assert_eq!(
            problem(agency("000.20.07.H29", a, "") + &agency("000.20.06.H29", a, "")),
            Err("configuration key `agencies[1].secret`: another partner's secret: each agency has its own, so that one cannot answer for another".into())
        );
        assert_eq!(
            problem(agency("000.20.07.H29", "dGVzdC1wb3J0YWwtb3V0Ym91bmQtc2VjcmV0LTAx", "")),
            Err("configuration key `agencies[0].secret`: another partner's secret: each agency has its own, so that one cannot answer for another".into())
        );
        assert_eq!(
            problem(agency("000.20.07.H29", a, "office = \"Đội PCCC\"\n")),
            Err("configuration key `agencies[0].office`: \"Đội PCCC\" is not among calendar.offices".into())
        );
        let bad_code = problem(agency("PC07", a, ""));
        assert!(
            bad_code
                .as_ref()
                .is_err_and(|e| e.contains("agency e-ID looks like 000.00.12.H29")),
            "{bad_code:?}"
        );
    }
}
