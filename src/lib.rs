//! motcua-gateway: the integration gateway between the HCMC public-service portal, the
//! payment platforms and the Department of Culture and Sports' own systems.
//!
//! Map of the crate, from the ground up: a module uses only modules on its own line or
//! above it (`docs/ARCHITECTURE.md` draws the same).
//!
//! 1. Pure, no I/O:
//!    - [`domain`] — the dossier model: codes, statuses, lifecycle rules, calendar, applicant,
//!      money, Vietnam time.
//!    - [`signing`] — Standard Webhooks signatures, pure and constant-time.
//!    - [`chain`] — the message log's records and their SHA-256 hash chain.
//! 2. [`config`] — typed, validated configuration (defaults → file → environment).
//! 3. [`mapping`] — loads `mappings/`, maps a submission's form into the department's model.
//! 4. [`store`] — every SQL statement, the writer threads and group commit; one `Store` over
//!    SQLite and PostgreSQL, handed plain data.
//! 5. [`portal`] — the city portal's wire formats: XML/JSON submissions in, status syncs out.
//! 6. Services over the store:
//!    - [`audit`] — the tamper-evident message log: appending and verifying.
//!    - [`metrics`] — the gateway's Prometheus registry.
//!    - [`dossiers`] — the dossier service: intake, lifecycle, the read view, the status cache.
//!    - [`outbox`] — the delivery worker: claim, sign, send, reschedule, dead-letter.
//!    - [`payment`] — PayGov and VNPAY: signatures, requests, callbacks, reconciliation.
//! 7. [`http`] — routers per caller, authentication, rate limits, the one error type.
//! 8. [`app`] — start-up, serving, graceful shutdown; [`telemetry`] — logging.
//! 9. [`cli`] — the `motcua` command line; [`bench`] — `motcua bench`, the load harness.

pub mod app;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod cli;
pub mod config;
pub mod domain;
pub mod dossiers;
pub mod http;
pub mod mapping;
pub mod metrics;
pub mod outbox;
pub mod payment;
pub mod portal;
pub mod signing;
pub mod store;
pub mod telemetry;
