//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
//! pure functions with the clock passed in, constant-time comparison, secrets that never print.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// A `whsec_<base64>` secret; `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64>` (at least 16 bytes of key).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let encoded = text
            .strip_prefix("whsec_")
            .ok_or("a secret looks like whsec_<base64>")?;
        let key = B64
            .decode(encoded)
            .map_err(|_| "the part after whsec_ is not base64")?;
        if key.len() < 16 {
            return Err("the key must be at least 16 bytes");
        }
        Ok(Self(key))
    }

    /// Wraps raw key bytes (tests and tools).
    pub fn from_bytes(key: Vec<u8>) -> Self {
        Self(key)
    }

    /// The `whsec_…` form (for writing config files in tests and tools).
    pub fn expose(&self) -> String {
        format!("whsec_{}", B64.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl TryFrom<String> for WebhookSecret {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The three signature headers as received (any may be missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Why a request is not authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed, or no signature matches.
    #[error("signature invalid")]
    Invalid,
    /// The timestamp is too far from the gateway's clock.
    #[error("timestamp out of range")]
    TimestampOutOfRange,
}

/// Whether `id` is a valid `webhook-id`: 1–64 of `[A-Za-z0-9_-]`.
pub fn valid_message_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Signs `body` for delivery: the `webhook-signature` value `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret
        .mac(id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", B64.encode(tag))
}

/// Verifies a request: authentic if any `v1` signature matches any secret (in constant time)
/// and the timestamp is within `tolerance_secs` of `now_secs`.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: SignatureHeaders<'_>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let (Some(id), Some(ts_text), Some(sig_header)) =
        (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(SignatureError::Invalid);
    };
    if !valid_message_id(id)
        || ts_text.is_empty()
        || ts_text.len() > 12
        || !ts_text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::Invalid);
    }
    let ts: i64 = ts_text.parse().map_err(|_| SignatureError::Invalid)?;
    if (now_secs - ts).abs() > tolerance_secs {
        return Err(SignatureError::TimestampOutOfRange);
    }
    let candidates: Vec<Vec<u8>> = sig_header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| B64.decode(b).ok())
        .filter(|tag| tag.len() == 32)
        .take(8)
        .collect();
    let mut matched = false;
    for secret in secrets {
        let mac = secret.mac(id, ts_text, body);
        for tag in &candidates {
            // `verify_slice` compares in constant time.
            matched |= mac.clone().verify_slice(tag).is_ok();
        }
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> WebhookSecret {
        WebhookSecret::from_bytes(vec![b; 32])
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn a_signature_made_with_any_configured_secret_verifies() {
        let sig = sign(&secret(2), "msg_1", 1000, b"body");
        let both = [secret(1), secret(2)];
        assert_eq!(
            verify(&both, headers("msg_1", "1000", &sig), b"body", 1100, 300),
            Ok(())
        );
        let multi = format!("v1,AAAA {sig}");
        assert_eq!(
            verify(&both, headers("msg_1", "1000", &multi), b"body", 1100, 300),
            Ok(())
        );
        assert_eq!(
            verify(
                &[secret(1)],
                headers("msg_1", "1000", &sig),
                b"body",
                1100,
                300
            ),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let sig = sign(&secret(1), "msg_1", 1000, b"body");
        let s = [secret(1)];
        assert!(verify(&s, headers("msg_1", "1000", &sig), b"bodY", 1000, 300).is_err());
        assert!(verify(&s, headers("msg_2", "1000", &sig), b"body", 1000, 300).is_err());
        assert!(verify(&s, headers("msg_1", "1001", &sig), b"body", 1000, 300).is_err());
        assert!(verify(
            &s,
            headers("msg_1", "1000", &sig.replace("v1,", "v2,")),
            b"body",
            1000,
            300
        )
        .is_err());
    }

    #[test]
    fn the_timestamp_window_is_300_seconds_either_way() {
        let s = [secret(1)];
        let sig = sign(&secret(1), "m", 1000, b"x");
        assert_eq!(
            verify(&s, headers("m", "1000", &sig), b"x", 1300, 300),
            Ok(())
        );
        assert_eq!(
            verify(&s, headers("m", "1000", &sig), b"x", 1301, 300),
            Err(SignatureError::TimestampOutOfRange)
        );
        assert_eq!(
            verify(&s, headers("m", "1000", &sig), b"x", 699, 300),
            Err(SignatureError::TimestampOutOfRange)
        );
    }

    #[test]
    fn malformed_headers_are_invalid() {
        let s = [secret(1)];
        assert!(verify(&s, SignatureHeaders::default(), b"x", 0, 300).is_err());
        assert!(verify(&s, headers("bad id!", "0", "v1,x"), b"x", 0, 300).is_err());
        assert!(verify(&s, headers("m", "-5", "v1,x"), b"x", 0, 300).is_err());
        assert!(verify(&s, headers(&"a".repeat(65), "0", "v1,x"), b"x", 0, 300).is_err());
    }

    #[test]
    fn secrets_parse_and_never_print() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(s.is_ok());
        assert_eq!(format!("{:?}", s), "Ok([redacted])");
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
    }
}
