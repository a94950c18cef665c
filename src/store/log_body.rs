//! How a message-log body is kept on disk: a body of 512 bytes or more is stored LZ4-compressed
//! (block format, its size prepended) when that saves at least 64 bytes, and marked so in
//! `body_encoding` (migration 0020); anything else as it came. Readers get the bytes that came,
//! whichever way they were kept. The chain hashes the body as it came (`body_sha256`), so a
//! stored body or encoding edited behind the gateway's back decodes to bytes whose hash is not
//! the record's: `motcua audit verify` names it like any edited body. A stored size beyond what
//! the gateway ever accepts is not believed (no allocation on a forged length).

use std::borrow::Cow;

/// Kept as it came.
pub const RAW: i16 = 0;
/// LZ4 block, the size prepended (little-endian u32).
pub const LZ4: i16 = 1;

/// Bodies shorter than this are kept as they came: too short to gain.
const MIN_PACKED: usize = 512;
/// The largest body decoded: far past any body the gateway keeps.
const MAX_DECODED: usize = 32 << 20;

/// The body as stored, and its `body_encoding`.
pub fn encode(body: &[u8]) -> (i16, Cow<'_, [u8]>) {
    if body.len() >= MIN_PACKED {
        let packed = lz4_flex::block::compress_prepend_size(body);
        if packed.len() + 64 <= body.len() {
            return (LZ4, Cow::Owned(packed));
        }
    }
    (RAW, Cow::Borrowed(body))
}

/// The body that came, from what is stored; what is stored itself when it does not decode (the
/// record's hash then tells that it was altered).
pub fn decode(encoding: i16, stored: Vec<u8>) -> Vec<u8> {
    if encoding != LZ4 {
        return stored;
    }
    let size = stored
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize);
    match size {
        Some(n) if n <= MAX_DECODED => stored
            .get(4..)
            .and_then(|packed| lz4_flex::block::decompress(packed, n).ok())
            .filter(|body| body.len() == n)
            .unwrap_or(stored),
        _ => stored,
    }
}

/// Bytes that do not compress (xorshift), for tests that need a body to take its length on
/// disk.
#[cfg(test)]
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_body_is_packed_and_comes_back_byte_for_byte() {
        let body = include_bytes!("../../fixtures/portal/valid/karaoke.xml").to_vec();
        let (encoding, stored) = encode(&body);
        assert_eq!(encoding, LZ4);
        assert!(stored.len() < body.len() * 2 / 3, "{}", stored.len());
        assert_eq!(decode(encoding, stored.into_owned()), body);
    }

    #[test]
    fn short_or_incompressible_bodies_are_kept_as_they_came() {
        let short = br#"{"error_code":"0"}"#;
        assert_eq!(encode(short), (RAW, Cow::Borrowed(&short[..])));
        let noise = noise(7, 4096);
        assert_eq!(encode(&noise).0, RAW);
        assert_eq!(decode(RAW, noise.clone()), noise);
    }

    #[test]
    fn a_stored_body_that_does_not_decode_is_returned_as_stored() {
        // A forged length of 4 GiB: not believed, nothing allocated.
        let forged = vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert_eq!(decode(LZ4, forged.clone()), forged);
        // Raw bytes put in place of a packed body.
        let raw = b"{}".to_vec();
        assert_eq!(decode(LZ4, raw.clone()), raw);
        // A packed body cut short.
        let body = include_bytes!("../../fixtures/portal/valid/karaoke.xml").to_vec();
        let mut cut = encode(&body).1.into_owned();
        cut.truncate(cut.len() / 2);
        assert_eq!(decode(LZ4, cut.clone()), cut);
    }
}
