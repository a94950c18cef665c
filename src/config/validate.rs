//! What no single value can say, checked once after the configuration is read; and the
//! calendar's year files, read from `calendar.dir`.

use super::{key_error, CalendarConfig, Config, ConfigError};
use crate::domain::calendar::Calendar;
use crate::domain::calendar_year::parse_year;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.check_server()?;
        self.check_storage()?;
        self.check_partners()?;
        self.check_delivery_and_rates()?;
        self.check_clients()?;
        self.check_published_secrets()
    }

    /// A secret published in this repository is refused unless the gateway listens on loopback
    /// only (contract section 8): anyone can sign with it.
    fn check_published_secrets(&self) -> Result<(), ConfigError> {
        let loopback = match self.server.listen.parse::<SocketAddr>() {
            Ok(addr) => addr.ip().is_loopback(),
            Err(_) => self.server.listen.starts_with("localhost:"),
        };
        match self.test_secrets_in_use().first() {
            Some(key) if !loopback => Err(key_error(
                key,
                format!(
                    "holds a secret published in this repository while server.listen ({}) is not loopback only; set your own",
                    self.server.listen
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `[server]`: an address to listen on and limits that let it serve.
    fn check_server(&self) -> Result<(), ConfigError> {
        if !self.agency.lookup_url.as_str().contains("{MaHoSo}") {
            return Err(key_error(
                "agency.lookup_url",
                "must hold {MaHoSo}, where the dossier's code goes",
            ));
        }
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
        if self.server.body_timeout.0.is_zero() {
            return Err(key_error("server.body_timeout", "must be more than zero"));
        }
        if self.server.max_connections_per_address == 0 {
            return Err(key_error(
                "server.max_connections_per_address",
                "must be at least 1",
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
        Ok(())
    }

    /// `[database]`, `[audit]` and `[storage]`: a database the store can open, a log kept long
    /// enough, documents kept somewhere and fetched within a time.
    fn check_storage(&self) -> Result<(), ConfigError> {
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
        if self.audit.payment_retention.0 < self.audit.retention.0 {
            return Err(key_error(
                "audit.payment_retention",
                "must be at least audit.retention (payment evidence outlives the log)",
            ));
        }
        if self.audit.anchor_every.0.is_zero() {
            return Err(key_error("audit.anchor_every", "must be more than zero"));
        }
        if self.audit.anchor_key.expose().len() < 16 {
            return Err(key_error(
                "audit.anchor_key",
                "must be at least 16 characters",
            ));
        }
        if self.storage.files.trim().is_empty() {
            return Err(key_error("storage.files", "must name a folder or a URL"));
        }
        if self.storage.fetch_concurrency == 0 {
            return Err(key_error("storage.fetch_concurrency", "must be at least 1"));
        }
        if self.storage.fetch_timeout.0.is_zero() {
            return Err(key_error("storage.fetch_timeout", "must be more than zero"));
        }
        Ok(())
    }

    /// `[portal]` and `[onestop]`: a secret to verify pushes, and pushes that can be signed.
    fn check_partners(&self) -> Result<(), ConfigError> {
        if self.portal.inbound_secrets.is_empty() {
            return Err(key_error(
                "portal.inbound_secrets",
                "at least one secret is needed",
            ));
        }
        if self.onestop.base_url.is_some() != self.onestop.secret.is_some() {
            return Err(key_error(
                "onestop.secret",
                "onestop.base_url and onestop.secret go together",
            ));
        }
        self.check_agencies()
    }

    /// `[[agencies]]`: each code once and not the department's own, each secret its own, each
    /// office one the calendar has.
    fn check_agencies(&self) -> Result<(), ConfigError> {
        let mut codes = std::collections::HashSet::new();
        for (i, a) in self.agencies.iter().enumerate() {
            let key = |field: &str| format!("agencies[{i}].{field}");
            if a.code == self.agency.code || !codes.insert(a.code.as_str()) {
                return Err(key_error(
                    &key("code"),
                    format!("{} is the department's own or listed twice", a.code),
                ));
            }
            if a.name.trim().is_empty() {
                return Err(key_error(&key("name"), "is empty"));
            }
            let shared = self.agencies[..i].iter().any(|b| b.secret == a.secret)
                || a.secret == self.portal.outbound_secret
                || self.portal.inbound_secrets.contains(&a.secret);
            if shared {
                return Err(key_error(
                    &key("secret"),
                    "another partner's secret: each agency has its own, so that one cannot answer for another",
                ));
            }
            if let Some(office) = &a.office {
                if !self.calendar.offices.contains_key(office) {
                    return Err(key_error(
                        &key("office"),
                        format!("{office:?} is not among calendar.offices"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `[outbox]` and the rates: a schedule, sane limits, no zero rate.
    fn check_delivery_and_rates(&self) -> Result<(), ConfigError> {
        if self.outbox.retry_schedule.is_empty() {
            return Err(key_error(
                "outbox.retry_schedule",
                "at least one delay is needed",
            ));
        }
        // A delivery cycle binds eight values per message in one statement: past 1,024 messages
        // SQLite's limit on bound values could be reached and every cycle would fail.
        if !(1..=1024).contains(&self.outbox.concurrency) {
            return Err(key_error("outbox.concurrency", "1 to 1024"));
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
        Ok(())
    }

    /// `[[clients]]`: unique names and tokens, each token a SHA-256.
    fn check_clients(&self) -> Result<(), ConfigError> {
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
        let Ok(defaults) = Self::defaults() else {
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
        if self.audit.anchor_key == defaults.audit.anchor_key {
            keys.push("audit.anchor_key");
        }
        if self
            .agencies
            .iter()
            .any(|a| defaults.agencies.iter().any(|d| d.secret == a.secret))
        {
            keys.push("agencies.secret");
        }
        keys
    }
}

impl CalendarConfig {
    /// Reads and parses every `<year>.toml` of `calendar.dir`.
    pub fn load_years(&self) -> Result<Calendar, ConfigError> {
        let key = "calendar.dir";
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| key_error(key, format!("{}: {e}", self.dir.display())))?;
        let mut years = BTreeMap::new();
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| key_error(key, format!("{}: {e}", path.display())))?;
            let (year, rules) = parse_year(&text)
                .map_err(|e| key_error(key, format!("{}: {e}", path.display())))?;
            if years.insert(year, rules).is_some() {
                return Err(key_error(
                    key,
                    format!("{}: year {year} is defined twice", path.display()),
                ));
            }
        }
        Ok(Calendar::from_years(years))
    }
}
