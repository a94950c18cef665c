//! motcua-gateway: the integration gateway between the HCMC public-service portal, the
//! payment platforms and the Department of Culture and Sports' own systems.
//!
//! Map of the crate (dependencies point down this list's reverse: nothing imports `http`):
//!
//! - [`domain`] — dossier model — codes, statuses, applicant, money, Vietnam time; no I/O.
//! - [`mapping`] — loads `mappings/`, maps a submission's form into the department's model.
//! - [`group_commit`] — one writer task committing many callers' writes together.
//! - [`store`] — every SQL statement; one `Store` over SQLite and PostgreSQL.
//! - [`audit`] — the tamper-evident log of every partner message, appended with group commit.
//! - [`outbox`] — the delivery worker (claim, sign, send, reschedule, dead-letter) and metrics.
//! - [`payment`] — PayGov and VNPAY: signatures, requests, callbacks, reconciliation.
//! - [`portal`] — the portal's XML/JSON formats, the intake service, sync messages.
//! - [`dossier_view`] — the dossier as the internal API shows it.
//! - [`lifecycle`] — the department's actions: state machine, due dates, progress, sync.
//! - [`signing`] — Standard Webhooks signatures, pure and constant-time.
//! - [`status_cache`] — rendered status reads kept for a second, dropped on every change.
//! - [`http`] — routers per caller, authentication, rate limits, the one error type.
//! - [`config`] — typed, validated configuration (defaults → file → environment).
//! - [`app`] — start-up, serving, graceful shutdown.
//! - [`cli`] — the `motcua` command line.
//! - [`bench`] — `motcua bench`, the load harness (its own client; the gateway as a child).
//! - [`telemetry`] — logging.

pub mod app;
pub mod audit;
pub mod bench;
pub mod cli;
pub mod config;
pub mod domain;
pub mod dossier_view;
pub mod group_commit;
pub mod http;
pub mod lifecycle;
pub mod mapping;
pub mod outbox;
pub mod payment;
pub mod portal;
pub mod signing;
pub mod status_cache;
pub mod store;
pub mod telemetry;
