//! The key the officers' sessions and their forms' CSRF tokens are signed with, and the
//! session a signed cookie holds (the sign-in itself is `admin::session`). HMAC-SHA256 under
//! `admin.session_key`, or under a key drawn at start when it is unset: sessions then end with
//! the process and are not shared between instances.

use crate::config::PlainSecret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// 128 random bits in hex: a session's nonce, a form's idempotency key.
pub fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The key sessions and CSRF tokens are signed with.
pub struct SessionKey {
    key: Vec<u8>,
    /// Whether it was drawn at start (no `admin.session_key`).
    pub ephemeral: bool,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    /// `admin.session_key`, or a random key for this process.
    pub fn new(configured: Option<&PlainSecret>) -> Self {
        match configured {
            Some(secret) => Self {
                key: secret.expose().as_bytes().to_vec(),
                ephemeral: false,
            },
            None => Self {
                key: rand::random::<[u8; 32]>().to_vec(),
                ephemeral: true,
            },
        }
    }

    fn mac(&self, parts: &[&str]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// A session for client `name` until `expiry` (Unix seconds): the cookie's value.
    pub fn issue(&self, name: &str, expiry: i64) -> String {
        let name = B64URL.encode(name);
        let nonce = nonce();
        let expiry = expiry.to_string();
        let mac = self.mac(&["session", &name, &expiry, &nonce]);
        format!("{name}.{expiry}.{nonce}.{mac}")
    }

    /// The session a cookie's value holds, if it is ours and not expired at `now`.
    pub fn open(&self, value: &str, now: i64) -> Option<Session> {
        let mut parts = value.split('.');
        let (name, expiry, nonce, mac) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let expected = self.mac(&["session", name, expiry, nonce]);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        let expiry: i64 = expiry.parse().ok()?;
        if expiry <= now {
            return None;
        }
        let name = String::from_utf8(B64URL.decode(name).ok()?).ok()?;
        Some(Session {
            name,
            csrf: self.mac(&["csrf", nonce]),
        })
    }
}

/// A valid session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The client's name.
    pub name: String,
    /// The CSRF token its forms carry.
    pub csrf: String,
}

impl Session {
    /// Whether a form's `csrf` field is this session's token.
    pub fn csrf_ok(&self, given: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_opens_only_as_issued_and_until_it_expires() {
        let key = SessionKey::new(None);
        let value = key.issue("records.office", 2_000);
        let session = key.open(&value, 1_999);
        assert_eq!(
            session.as_ref().map(|s| s.name.as_str()),
            Some("records.office")
        );
        assert!(key.open(&value, 2_000).is_none(), "expired");
        let other = SessionKey::new(None);
        assert!(other.open(&value, 1_000).is_none(), "another key");
        // Any part changed: refused.
        let parts: Vec<&str> = value.split('.').collect();
        let later = format!("{}.9999.{}.{}", parts[0], parts[2], parts[3]);
        assert!(key.open(&later, 1_000).is_none());
        let admin = format!(
            "{}.{}.{}.{}",
            B64URL.encode("admin"),
            parts[1],
            parts[2],
            parts[3]
        );
        assert!(key.open(&admin, 1_000).is_none());
        assert!(key.open(&format!("{value}.x"), 1_000).is_none());
        // The CSRF token belongs to its session.
        let (a, b) = (
            key.open(&value, 1_000),
            key.open(&key.issue("records.office", 2_000), 1_000),
        );
        let (Some(a), Some(b)) = (a, b) else {
            panic!("both open")
        };
        assert!(a.csrf_ok(&a.csrf));
        assert!(!a.csrf_ok(&b.csrf));
        assert!(!a.csrf_ok(""));
    }
}
