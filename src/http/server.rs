//! The HTTP/1.1 server: the accept loop and each connection's limits, built on hyper directly
//! because `axum::serve` sets none of them.
//!
//! - at most `server.max_connections` connections at once; past it the loop stops accepting
//!   and new clients wait in the kernel's queue;
//! - one client address holds at most `server.max_connections_per_address` of them; a
//!   connection past that is closed at once, unread, so that one address cannot take the
//!   slots of everyone else (contract section 8);
//! - a request's head must arrive within `server.header_read_timeout` (this also closes a
//!   keep-alive connection left idle that long), so a client sending a byte a second holds a
//!   connection for seconds, not hours; its body must arrive within `server.body_timeout` of
//!   the head (`body::DeadlineBody`, 408), and the whole request within
//!   `server.request_timeout`;
//! - a head larger than `server.max_header_bytes` or with more than `server.max_headers`
//!   headers is answered 431 and the connection closed;
//! - on shutdown, idle connections close at once and requests in flight finish.

use super::body::DeadlineBody;
use crate::config::ServerConfig;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `router` on `listener` until `shutdown` fires, then waits up to `grace` for the
/// requests in flight. Returns whether every connection closed within the grace.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &ServerConfig,
    shutdown: CancellationToken,
    grace: std::time::Duration,
) -> bool {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.0)
        .max_header_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress::new(limits.max_connections_per_address);
    let body_timeout = limits.body_timeout.0;
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(held) = per_address.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection closed: its address holds too many");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |req: axum::http::Request<Incoming>| {
                let deadline = tokio::time::Instant::now() + body_timeout;
                let mut req = req.map(|b| axum::body::Body::new(DeadlineBody::new(b, deadline)));
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
            drop(held);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => true,
        () = tokio::time::sleep(grace) => false,
    }
}

/// How many connections each client address holds.
#[derive(Clone)]
struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection of an address, given back when dropped.
struct Held {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    /// A connection for `ip`, or `None` if it holds its cap already.
    fn admit(&self, ip: IpAddr) -> Option<Held> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Held {
            ip,
            open: self.open.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}
