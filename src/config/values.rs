//! Configuration values parsed into their types as they are read: durations, secrets that
//! never print, http(s) URLs, the agency code, webhook secrets, working hours, the log format.

use crate::domain::codes::AgencyCode;
use crate::domain::working_hours::WorkingHours;
use crate::signing::WebhookSecret;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

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

/// An absolute http(s) URL with a host, checked when read; kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

/// A text that is not an absolute http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an http(s) URL")]
pub struct NotHttpUrl(String);

impl HttpUrl {
    /// Checks `text`.
    pub fn parse(text: &str) -> Result<Self, NotHttpUrl> {
        let ok = url::Url::parse(text)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if ok {
            Ok(HttpUrl(text.to_owned()))
        } else {
            Err(NotHttpUrl(text.to_owned()))
        }
    }

    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with `path` appended (one `/` between them).
    pub fn with_path(&self, path: &str) -> String {
        format!("{}{path}", self.0.trim_end_matches('/'))
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HttpUrl::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Text,
    /// JSON lines, for collectors.
    Json,
}

pub(super) fn agency_code<'de, D: Deserializer<'de>>(d: D) -> Result<AgencyCode, D::Error> {
    AgencyCode::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

pub(super) fn webhook_secret<'de, D: Deserializer<'de>>(d: D) -> Result<WebhookSecret, D::Error> {
    WebhookSecret::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

pub(super) fn webhook_secrets<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<WebhookSecret>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| WebhookSecret::parse(s).map_err(serde::de::Error::custom))
        .collect()
}

pub(super) fn optional_webhook_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<WebhookSecret>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| WebhookSecret::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

pub(super) fn working_hours<'de, D: Deserializer<'de>>(d: D) -> Result<WorkingHours, D::Error> {
    WorkingHours::parse(&Vec::<String>::deserialize(d)?).map_err(serde::de::Error::custom)
}

pub(super) fn office_hours<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<HashMap<String, WorkingHours>, D::Error> {
    HashMap::<String, Vec<String>>::deserialize(d)?
        .into_iter()
        .map(|(office, periods)| {
            WorkingHours::parse(&periods)
                .map(|h| (office.clone(), h))
                .map_err(|e| serde::de::Error::custom(format!("{office}: {e}")))
        })
        .collect()
}

/// SHA-256 (lower-case hex) of a token, as `clients[].token_sha256` stores it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
