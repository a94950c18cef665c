//! Partner simulators (contract section 7): the city portal, PayGov, VNPAY and the agencies
//! steps are forwarded to (section 9), each a real HTTP
//! server that speaks its partner's side of the contract exactly — signatures made and checked
//! with the same code the gateway uses — so that the gateway can be tried, demonstrated and
//! tested without the city or a bank. `motcua sim …` runs one; tests start them on port 0.

pub mod agency;
pub mod paygov;
pub mod portal;
pub mod vnpay;

use axum::Router;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What a simulator saw and did, a line each: printed by `motcua sim`, read by tests and the
/// demo.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    lines: Arc<Mutex<Vec<String>>>,
    print: bool,
    noted: Arc<tokio::sync::Notify>,
}

impl Journal {
    /// A journal that also prints each line as it comes.
    pub fn printing() -> Self {
        Self {
            print: true,
            ..Self::default()
        }
    }

    /// Notes one line.
    pub fn note(&self, line: impl Into<String>) {
        let line = line.into();
        if self.print {
            println!("{line}");
        }
        match self.lines.lock() {
            Ok(mut l) => l.push(line),
            Err(poisoned) => poisoned.into_inner().push(line),
        }
        self.noted.notify_waiters();
    }

    /// Waits until a line holds `what` (what a simulator does in the background, for tests
    /// and the demo), at most `limit`; whether one did.
    pub async fn wait_for(&self, what: &str, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let noted = self.noted.notified();
            if self.lines().iter().any(|l| l.contains(what)) {
                return true;
            }
            if tokio::time::timeout_at(deadline, noted).await.is_err() {
                return false;
            }
        }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        match self.lines.lock() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A payment simulator's way back to the gateway: where its callbacks go (settable, since a
/// test starts the simulator before the gateway that points at it), the client that sends them,
/// and its journal.
#[derive(Debug, Clone)]
pub struct Callbacks {
    gateway: Arc<Mutex<String>>,
    /// The HTTP client callbacks are sent with.
    pub client: reqwest::Client,
    journal: Journal,
}

impl Callbacks {
    /// Callbacks to the gateway at `gateway` (`http://host:port`).
    pub fn new(gateway: &str, journal: Journal) -> Self {
        Self {
            gateway: Arc::new(Mutex::new(gateway.trim_end_matches('/').to_owned())),
            client: reqwest::Client::new(),
            journal,
        }
    }

    /// Sends callbacks to the gateway at `gateway` from now on.
    pub fn set_gateway(&self, gateway: &str) {
        *locked(&self.gateway) = gateway.trim_end_matches('/').to_owned();
    }

    /// `path` on the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", locked(&self.gateway))
    }

    /// What the simulator saw and did.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

/// `host:port` of an `http://` URL, where a simulator listens for it.
pub fn listen_address(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url)?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("{url} has no host"))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| anyhow::anyhow!("{url} has no port"))?;
    Ok(format!("{host}:{port}"))
}

/// Binds `address` (port 0 picks one); the listener and the address bound.
pub async fn bind(address: &str) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?.to_string();
    Ok((listener, bound))
}

/// Serves `router` on `listener` in the background.
pub fn spawn(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "a simulator stopped serving");
        }
    });
}

/// Binds `address` and serves `router` on it in the background; the address bound.
pub async fn serve(address: &str, router: Router) -> std::io::Result<String> {
    let (listener, bound) = bind(address).await?;
    spawn(listener, router);
    Ok(bound)
}

/// Locks a simulator's state, whatever a panicking holder left.
pub(crate) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
