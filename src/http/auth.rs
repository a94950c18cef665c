//! Bearer-token authentication of the department's own systems, and their scopes.
//!
//! Only the SHA-256 of each token is configured; a presented token is hashed and looked up, so
//! the comparison is between hashes the caller cannot steer. 401 without a valid token, 403
//! without the scope; each client then spends its own rate-limit budget.

use super::error::ApiError;
use super::AppState;
use crate::config::{token_hash, ClientConfig, Scope};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use std::collections::HashMap;

/// A client as the gateway knows it.
#[derive(Debug, Clone)]
pub struct Client {
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
}

/// Clients by token hash.
#[derive(Debug, Default)]
pub struct Clients(HashMap<String, Client>);

impl Clients {
    /// From the configuration.
    pub fn new(configs: &[ClientConfig]) -> Self {
        Self(
            configs
                .iter()
                .map(|c| {
                    (
                        c.token_sha256.to_ascii_lowercase(),
                        Client {
                            name: c.name.clone(),
                            scopes: c.scopes.clone(),
                        },
                    )
                })
                .collect(),
        )
    }
}

impl Clients {
    /// The client a bearer token belongs to.
    pub fn by_token(&self, token: &str) -> Option<&Client> {
        self.0.get(&token_hash(token))
    }

    /// The client of this name, as configured now.
    pub fn by_name(&self, name: &str) -> Option<&Client> {
        self.0.values().find(|c| c.name == name)
    }
}

/// The authenticated caller of an internal API request.
#[derive(Debug, Clone)]
pub struct Caller(pub Client);

impl Caller {
    /// 403 unless the caller has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "this client lacks the scope for this call",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "a valid bearer token is required",
            )
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
        };
        // The scheme is case-insensitive (RFC 9110, 11.1).
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        let client = state
            .clients
            .by_token(token)
            .cloned()
            .ok_or_else(unauthorized)?;
        if let Err(refused) = state.limiters.check_api(&client.name) {
            state.metrics.rate_limited("api");
            return Err(refused);
        }
        Ok(Caller(client))
    }
}
