//! The configuration's sections, one struct each, as `config/default.toml` lays them out.

use super::values::{
    agency_code, office_hours, optional_webhook_secret, webhook_secret, webhook_secrets,
    working_hours, Dur, HttpUrl, LogFormat, PlainSecret,
};
use crate::domain::codes::AgencyCode;
use crate::domain::working_hours::WorkingHours;
use crate::signing::WebhookSecret;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port`; port 0 picks a free port.
    pub listen: String,
    /// The gateway's address as partners reach it: the links to forwarded documents start
    /// with it. Unset: `http://` and the address it listens on.
    #[serde(default)]
    pub public_url: Option<HttpUrl>,
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
    /// Longest time a request's body may take to arrive, from its head on; past it, 408.
    pub body_timeout: Dur,
    /// Connections one client address may hold at once; past it, a new one is closed at once.
    pub max_connections_per_address: usize,
    /// Largest request head (request line and headers) in bytes; past it, 431.
    pub max_header_bytes: usize,
    /// Most headers in one request; past it, 431.
    pub max_headers: usize,
    /// How often the `--config` file is read for changes, which are applied like SIGHUP
    /// (`0s`: only on SIGHUP).
    pub watch_config: Dur,
    /// How long a status read by code, or a list page by its query, is answered from memory
    /// (`0s`: never); see `dossiers::status_cache` for what a cached answer may miss.
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
    /// Where a citizen looks a dossier up, `{MaHoSo}` standing for its code: the receipt's QR
    /// code holds it.
    pub lookup_url: HttpUrl,
}

/// `[[agencies]]`: another agency a dossier's step is forwarded to (contract section 9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerAgencyConfig {
    /// The agency's e-ID, as the mappings' `[[steps]]` name it.
    #[serde(deserialize_with = "agency_code")]
    pub code: AgencyCode,
    /// Its name, as officers and citizens read it.
    pub name: String,
    /// Where its steps are forwarded (`POST {base_url}/lienthong/v1/dossiers`).
    pub base_url: HttpUrl,
    /// Signs what is forwarded to it and checks what it answers: one per agency.
    #[serde(deserialize_with = "webhook_secret")]
    pub secret: WebhookSecret,
    /// A `calendar.offices` entry whose working hours it keeps, where they differ from the
    /// department's; unset: the department's.
    #[serde(default)]
    pub office: Option<String>,
}

/// `[portal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Secrets the portal may sign with (two during rotation).
    #[serde(deserialize_with = "webhook_secrets")]
    pub inbound_secrets: Vec<WebhookSecret>,
    /// Where status sync is delivered.
    pub base_url: HttpUrl,
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
    pub base_url: Option<HttpUrl>,
    /// Secret for signing pushes.
    #[serde(default, deserialize_with = "optional_webhook_secret")]
    pub secret: Option<WebhookSecret>,
}

/// `[paygov]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaygovConfig {
    /// Platform address.
    pub base_url: HttpUrl,
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
    pub pay_url: HttpUrl,
    /// Merchant API (querydr).
    pub api_url: HttpUrl,
    /// `vnp_TmnCode`.
    pub tmn_code: String,
    /// HMAC-SHA512 key.
    pub hash_secret: PlainSecret,
    /// `vnp_ReturnUrl`.
    pub return_url: HttpUrl,
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
    /// How long the messages exchanged with the payment providers are kept, past `retention`
    /// (accounting evidence).
    pub payment_retention: Dur,
    /// Where the chain's head is anchored, outside the database (JSON lines, appended).
    pub anchor_file: PathBuf,
    /// The HMAC-SHA256 key that signs each anchor line.
    pub anchor_key: PlainSecret,
    /// How often the head is anchored (and once more at shutdown).
    pub anchor_every: Dur,
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
    /// Each agency's answers (contract section 9).
    pub agency: Rate,
    /// Each client address, before authentication.
    pub address: Rate,
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Where stored documents live: a folder, or an object-store URL (`s3://bucket/prefix`).
    pub files: String,
    /// Whether `serve` fetches the dossiers' documents (turn off only where another process
    /// does).
    pub fetcher: bool,
    /// Documents fetched at once.
    pub fetch_concurrency: usize,
    /// One fetch's limit, from the request to the last byte.
    pub fetch_timeout: Dur,
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
    #[serde(deserialize_with = "working_hours")]
    pub working_hours: WorkingHours,
    /// Other hours by handling unit.
    #[serde(default, deserialize_with = "office_hours")]
    pub offices: HashMap<String, WorkingHours>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
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

/// `[admin]`: the officers' page (`/admin`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The key sessions are signed with; unset, one is drawn at start (sessions then end with
    /// the process and are not shared between instances).
    pub session_key: Option<PlainSecret>,
    /// How long a session lasts.
    pub session_ttl: Dur,
    /// Marks the cookie `Secure` (the page is served behind TLS).
    pub secure_cookie: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            session_key: None,
            session_ttl: Dur(std::time::Duration::from_secs(8 * 3600)),
            secure_cookie: false,
        }
    }
}
