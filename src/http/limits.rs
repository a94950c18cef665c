//! Rate limits per kind of caller (governor): one bucket for the portal, one for payment
//! callbacks, one per agency, and one per internal client. Over the limit, the caller is told when to retry.

use super::error::ApiError;
use crate::config::{Rate, RateLimitsConfig};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;

fn quota(rate: Rate) -> Quota {
    let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

/// Every limiter of the gateway.
pub struct Limiters {
    /// The portal.
    pub portal: DefaultDirectRateLimiter,
    /// Payment callbacks.
    pub payment: DefaultDirectRateLimiter,
    /// Agencies' answers, keyed by agency code.
    pub agency: DefaultKeyedRateLimiter<String>,
    /// Internal clients, keyed by client name.
    pub api: DefaultKeyedRateLimiter<String>,
    /// Client addresses, before authentication.
    pub address: DefaultKeyedRateLimiter<std::net::IpAddr>,
    seen: std::sync::atomic::AtomicU64,
    clock: DefaultClock,
}

impl Limiters {
    /// Limiters for the configured rates.
    pub fn new(config: &RateLimitsConfig) -> Self {
        Self {
            portal: DefaultDirectRateLimiter::direct(quota(config.portal)),
            payment: DefaultDirectRateLimiter::direct(quota(config.payment)),
            api: DefaultKeyedRateLimiter::keyed(quota(config.api)),
            agency: DefaultKeyedRateLimiter::keyed(quota(config.agency)),
            address: DefaultKeyedRateLimiter::keyed(quota(config.address)),
            seen: std::sync::atomic::AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    fn refuse(&self, wait: std::time::Duration) -> ApiError {
        // Round up: a client that waits the advertised seconds finds a token.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::rate_limited(secs)
    }

    /// Takes one request of the portal's budget.
    pub fn check_portal(&self) -> Result<(), ApiError> {
        self.portal
            .check()
            .map_err(|not_until| self.refuse(not_until.wait_time_from(self.clock.now())))
    }

    /// Takes one request of the payment callbacks' budget.
    pub fn check_payment(&self) -> Result<(), ApiError> {
        self.payment
            .check()
            .map_err(|not_until| self.refuse(not_until.wait_time_from(self.clock.now())))
    }

    /// Takes one request of a client address's budget; now and then forgets addresses whose
    /// buckets are full again, so the table does not grow without bound.
    pub fn check_address(&self, ip: std::net::IpAddr) -> Result<(), ApiError> {
        if self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4096 == 4095 {
            self.address.retain_recent();
        }
        self.address
            .check_key(&ip)
            .map_err(|not_until| self.refuse(not_until.wait_time_from(self.clock.now())))
    }

    /// Takes one request of an agency's budget (spent only by its signed requests).
    pub fn check_agency(&self, code: &str) -> Result<(), ApiError> {
        self.agency
            .check_key(&code.to_owned())
            .map_err(|not_until| self.refuse(not_until.wait_time_from(self.clock.now())))
    }

    /// Takes one request of an internal client's budget.
    pub fn check_api(&self, client: &str) -> Result<(), ApiError> {
        self.api
            .check_key(&client.to_owned())
            .map_err(|not_until| self.refuse(not_until.wait_time_from(self.clock.now())))
    }
}
