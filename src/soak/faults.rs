//! What the soak's partners do wrong, and when: part of the requests answered 500 or answered
//! past the gateways' timeout while flaky, and outages — every request answered 503, or the
//! port closed so that connections are refused — switched on and off by the soak. Shared by the
//! soak's portal and payment platform; each keeps its own switches.

use crate::sim::bind;
use axum::Router;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a slow answer takes: past the gateways' `outbox.timeout` of the soak (1 s), which
/// is also their payment client's.
pub const SLOW: Duration = Duration::from_millis(1500);

/// What one request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answered as the contract says.
    None,
    /// 500.
    Fails,
    /// Answered as the contract says, but after `SLOW`: the gateway has given up on it.
    Slow,
    /// 503: the partner is down.
    Down,
}

/// An outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every request answered 503.
    Unavailable,
    /// The port closed: connections refused.
    Refusing,
}

/// A partner's switches.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    flaky: Arc<AtomicBool>,
    /// 0 up, 1 answering 503.
    down: Arc<AtomicU8>,
}

impl Faults {
    /// Failing part of the time from the start.
    pub fn flaky() -> Self {
        let f = Self::default();
        f.flaky.store(true, Ordering::SeqCst);
        f
    }

    /// Fails part of the time (`true`), or answers everything as it should.
    pub fn set_flaky(&self, flaky: bool) {
        self.flaky.store(flaky, Ordering::SeqCst);
    }

    /// What the next request gets: while flaky, 15 in 100 fail and 7 in 100 are slow.
    pub fn roll(&self) -> Fault {
        if self.down.load(Ordering::SeqCst) == 1 {
            return Fault::Down;
        }
        if !self.flaky.load(Ordering::SeqCst) {
            return Fault::None;
        }
        match rand::random::<u32>() % 100 {
            0..15 => Fault::Fails,
            15..22 => Fault::Slow,
            _ => Fault::None,
        }
    }
}

/// A partner's HTTP server that can close its port and open it again on the same address.
pub struct Listening {
    /// `host:port`.
    pub address: String,
    router: Router,
    faults: Faults,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listening {
    /// Serves `router` on a free port.
    pub async fn start(router: Router, faults: Faults) -> std::io::Result<Arc<Self>> {
        let (listener, address) = bind("127.0.0.1:0").await?;
        let me = Arc::new(Self {
            address,
            router,
            faults,
            task: Mutex::new(None),
        });
        me.serve(listener);
        Ok(me)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "a soak partner stopped serving");
            }
        });
        *crate::sim::locked(&self.task) = Some(task);
    }

    /// Starts an outage.
    pub async fn go_down(&self, outage: Outage) {
        match outage {
            Outage::Unavailable => self.faults.down.store(1, Ordering::SeqCst),
            Outage::Refusing => {
                let task = crate::sim::locked(&self.task).take();
                if let Some(task) = task {
                    task.abort();
                    // Dropped, with its listener: the port is closed once this returns. (The
                    // connections it had accepted stay, answered as usual.)
                    let _ = task.await;
                }
            }
        }
    }

    /// Ends any outage: answering again, on the same address.
    pub async fn come_back(&self) -> std::io::Result<()> {
        self.faults.down.store(0, Ordering::SeqCst);
        if crate::sim::locked(&self.task).is_none() {
            let (listener, _) = bind(&self.address).await?;
            self.serve(listener);
        }
        Ok(())
    }

    /// Its switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}
