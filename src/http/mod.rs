//! The HTTP edge: one router per kind of caller (portal, api, ops), the shared state, the one
//! error type, authentication and rate limits. Only `app` (serving) and `cli` (operator commands
//! that print what the API shows) use it; no service imports it.

pub mod actions;
pub mod answer;
pub mod api;
pub mod auth;
pub mod body;
pub mod catalogue;
pub mod documents;
pub mod error;
pub mod lienthong;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod outbox;
pub mod pages;
pub mod payment;
pub mod portal;
pub mod receipt;
pub mod record;
pub mod reports;
pub mod server;
pub mod session;

use crate::audit::log::MessageLog;
use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::dossiers::intake::Intake;
use crate::dossiers::lifecycle::{Lifecycle, LifecycleRules, OfficeHours};
use crate::dossiers::status_cache::StatusCache;
use crate::mapping::Mappings;
use crate::store::Store;
use auth::Clients;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use limits::Limiters;
use std::ops::Deref;
use std::sync::Arc;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The contents of [`AppState`].
pub struct Inner {
    /// Configuration.
    pub config: Config,
    /// The store.
    pub store: Store,
    /// Procedure mappings.
    pub mappings: Arc<Mappings>,
    /// What the officers' sessions are signed with.
    pub admin_key: session::SessionKey,
    /// Intake service.
    pub intake: Intake,
    /// Lifecycle service.
    pub lifecycle: Lifecycle,
    /// Status reads kept in memory (shared with the lifecycle service, which drops them).
    pub status_cache: Arc<StatusCache>,
    /// Woken after every change that queues a message.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Internal clients by token hash.
    pub clients: Clients,
    /// Rate limiters.
    pub limiters: Limiters,
    /// Metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Payment service.
    pub payments: crate::payment::service::Payments,
    /// The tamper-evident log of partner messages.
    pub messages: MessageLog,
    /// Where the dossiers' documents are stored.
    pub files: crate::files::storage::FileStore,
    /// The fetcher of the dossiers' documents.
    pub fetcher: Arc<crate::files::fetch::Fetcher>,
    /// The portal's inbound secrets, replaced on reload (SIGHUP) without a restart.
    inbound_secrets: std::sync::RwLock<Arc<Vec<crate::signing::WebhookSecret>>>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state. `log_store` is where the message log is appended: on PostgreSQL a
    /// pool of its own, so that partner messages are recorded even while other work holds
    /// every connection of the main pool; on SQLite the same store (one writer in any case).
    pub fn new(
        config: Config,
        store: Store,
        log_store: Store,
        mappings: Arc<Mappings>,
        calendar: Arc<Calendar>,
    ) -> anyhow::Result<Self> {
        let mut metrics = crate::metrics::Metrics::new();
        metrics.set_calendar_last_year(calendar.last_year());
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let status_cache = Arc::new(StatusCache::new(config.server.status_cache_ttl.0));
        let intake = Intake::new(
            store.clone(),
            mappings.clone(),
            config.agency.code.clone(),
            config.agency.name.clone(),
            config.onestop.base_url.is_some(),
            outbox_wake.clone(),
            status_cache.clone(),
        );
        let hours = OfficeHours {
            default: config.calendar.working_hours.clone(),
            offices: config.calendar.offices.clone(),
        };
        let lifecycle = Lifecycle::new(
            store.clone(),
            LifecycleRules {
                mappings: mappings.clone(),
                calendar,
                hours: Arc::new(hours),
                agencies: Arc::new(crate::lienthong::Agencies::new(&config)),
                public_url: Arc::from(config.server.public_url.as_ref().map_or("", |u| u.as_str())),
            },
            outbox_wake.clone(),
            status_cache.clone(),
        );
        metrics.watch_writers(intake.batch_sizes(), lifecycle.batch_sizes());
        let metrics = Arc::new(metrics);
        let messages = MessageLog::start(log_store);
        let payments = crate::payment::service::Payments::new(
            store.clone(),
            lifecycle.clone(),
            mappings.clone(),
            &config,
            messages.clone(),
        )?;
        let files = crate::files::storage::FileStore::open(&config.storage.files).map_err(|e| {
            anyhow::anyhow!("cannot open storage.files {:?}: {e}", config.storage.files)
        })?;
        let fetcher = Arc::new(crate::files::fetch::Fetcher::new(
            &config,
            store.clone(),
            files.clone(),
            status_cache.clone(),
        )?);
        Ok(Self(Arc::new(Inner {
            files,
            fetcher,
            inbound_secrets: std::sync::RwLock::new(Arc::new(
                config.portal.inbound_secrets.clone(),
            )),
            payments,
            messages,
            metrics,
            lifecycle,
            status_cache,
            outbox_wake,
            clients: Clients::new(&config.clients),
            admin_key: session::SessionKey::new(config.admin.session_key.as_ref()),
            limiters: Limiters::new(&config.rate_limits),
            intake,
            store,
            mappings,
            config,
        })))
    }
}

/// The per-address limit, before anything else looks at the request.
async fn address_limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    if let Err(refused) = state.limiters.check_address(peer.ip()) {
        state.metrics.rate_limited("address");
        return Err(refused);
    }
    Ok(next.run(req).await)
}

impl AppState {
    /// The portal's inbound secrets in force now.
    pub fn inbound_secrets(&self) -> Arc<Vec<crate::signing::WebhookSecret>> {
        match self.inbound_secrets.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies what can change without a restart from a freshly loaded configuration: the
    /// portal's inbound secrets (rotation). Returns how many secrets are now accepted.
    pub fn reload(&self, config: &Config) -> usize {
        let fresh = Arc::new(config.portal.inbound_secrets.clone());
        let n = fresh.len();
        match self.inbound_secrets.write() {
            Ok(mut s) => *s = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        n
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

/// The internal API (contract section 5), each route registered with its description: a
/// handler without `#[utoipa::path]` cannot be registered here.
fn internal_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalogue::procedures))
        .routes(routes!(api::list))
        .routes(routes!(api::get_by_portal_id))
        .routes(routes!(api::get_by_code))
        .routes(routes!(actions::act))
        .routes(routes!(documents::download))
        .routes(routes!(payment::request))
        .routes(routes!(outbox::list))
        .routes(routes!(outbox::replay_many))
        .routes(routes!(outbox::discard_many))
        .routes(routes!(outbox::replay))
        .routes(routes!(outbox::discard))
        .routes(routes!(reports::indicators))
        .routes(routes!(lienthong::list))
        .routes(routes!(receipt::slip))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs))
}

/// The probes that read the store, and the metrics.
fn probes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
}

/// The liveness probe, outside every limit.
pub(crate) fn liveness() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ops::healthz))
}

/// The described routes that count against the per-address limit, for the OpenAPI document.
pub(crate) fn limited_routes() -> OpenApiRouter<AppState> {
    internal_api().merge(probes())
}

/// The whole router, with `pages` (the officers' page, which this module does not know)
/// served under the same limits as the API.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let timeout = state.config.server.request_timeout.0;
    let portal = Router::new().route("/portal/v1/dossiers", post(portal::submit));
    let (api, _) = internal_api().split_for_parts();
    let api = api.layer(DefaultBodyLimit::max(64 * 1024));
    let callbacks = Router::new()
        .route("/payment/paygov/confirm", post(payment::paygov_confirm))
        .route("/payment/vnpay/ipn", get(payment::vnpay_ipn))
        .route("/payment/vnpay/return", get(pages::vnpay_return));
    let agencies = Router::new()
        .route("/lienthong/v1/steps/{reference}", post(lienthong::answer))
        .route(
            "/lienthong/v1/steps/{reference}/documents/{id}",
            get(lienthong::document),
        );
    // Every route but the liveness probe counts against the per-address limit first, callbacks
    // and the store-reading probes included (contract section 8).
    let (ops, _) = probes().split_for_parts();
    let (liveness, _) = liveness().split_for_parts();
    let max_in_flight = state.config.server.max_in_flight;
    // Inside out: a slot of the in-flight limit is taken only once the address's budget
    // allows the request; the liveness probe needs neither.
    let limited = Router::new()
        .merge(portal)
        .merge(api)
        .merge(callbacks)
        .merge(agencies)
        .merge(ops)
        .merge(pages)
        .route_layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            max_in_flight,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            address_limit,
        ));
    // The request timeout holds a request waiting for a slot as well as one being handled;
    // the drain (see `body::drain_unread`) runs after it, on its own bounds.
    Router::new()
        .merge(limited)
        .merge(liveness)
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn(body::drain_unread))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
