//! motcua-gateway: the integration gateway between the HCMC public-service portal, the
//! payment platforms and the Department of Culture and Sports' own systems.
//!
//! Map of the crate, from the ground up: a module uses only modules on lines above its own
//! (`docs/ARCHITECTURE.md` draws the same). No two files import each other, and the store is
//! handed plain data, never a callback into a service.
//!
//! 1. Pure, no I/O:
//!    - [`domain`] — the dossier model: codes and code templates, statuses, lifecycle rules,
//!      the working calendar, applicant, money, Vietnam time and time bounds.
//!    - [`signing`] — Standard Webhooks signatures, pure and constant-time.
//!    - [`chain`] — the message log's records and their SHA-256 hash chain.
//! 2. Reading what comes in:
//!    - [`config`] — typed, validated configuration (defaults → file → environment).
//!    - [`mapping`] — loads `mappings/`, maps a submission's form into the department's model.
//!    - [`portal`] — the city portal's wire formats: XML/JSON submissions in, status syncs out.
//! 3. [`store`] — every SQL statement, the writer threads and group commit; one `Store` over
//!    SQLite and PostgreSQL.
//! 4. Services over the store:
//!    - [`audit`] — the tamper-evident message log: appending, verifying, anchoring, masking.
//!    - [`metrics`] — the gateway's Prometheus registry.
//!    - [`dossiers`] — the dossier service: intake, lifecycle (planned by `plan`, fees), the
//!      read view, the status cache.
//!    - [`outbox`] — the delivery worker: claim, sign, send, reschedule, dead-letter.
//!    - [`payment`] — PayGov and VNPAY: requests, callbacks, settlement, reconciliation.
//!    - [`files`] — the dossiers' documents: guarded fetch (retried on the outbox's schedule),
//!      proof by hash, storage by hash.
//! 5. [`http`] — routers per caller, authentication, rate limits, the one error type.
//! 6. [`app`] — start-up, serving, graceful shutdown; [`telemetry`] — logging.
//! 7. [`bench`] — `motcua bench`, the load harness; [`sim`] — the partners' simulators;
//!    [`demo`] — `motcua demo`, the gateway and the simulators end to end.
//! 8. [`cli`] — the `motcua` command line.

pub mod admin;
pub mod app;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod dossiers;
pub mod files;
pub mod http;
pub mod lienthong;
pub mod mapping;
pub mod metrics;
pub mod outbox;
pub mod payment;
pub mod portal;
pub mod progress;
pub mod signing;
pub mod sim;
pub mod soak;
pub mod store;
pub mod telemetry;
