//! Masking citizens' identity and phone numbers in what `motcua audit export` prints: every
//! value of a field whose name says it holds one — `SoDinhDanh`, `SoDienThoai`, CCCD or CMND
//! numbers in the portal's format, `id_number` and `phone` in the department's — keeps only its
//! last three characters, in JSON (string or number) and XML alike. Bytes, not text, so that a
//! body that is not UTF-8 is masked too.

use regex::bytes::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// A field name that holds an identity or phone number (case-insensitive, anywhere in it).
const NAMES: &str = r"(?i:dinhdanh|dienthoai|cccd|cmnd|id_number|phone)";

static JSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"("[A-Za-z0-9_.]*{NAMES}[A-Za-z0-9_.]*"\s*:\s*)(?:"((?:[^"\\]|\\.)*)"|(\d+))"#
    ))
    .unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
});

static XML: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(<[A-Za-z0-9_:]*{NAMES}[A-Za-z0-9_]*>)([^<]*)"))
        .unwrap_or_else(|e| unreachable!("a fixed pattern: {e}"))
});

/// All but the last three bytes of `value` as `*`.
fn hidden(value: &[u8]) -> Vec<u8> {
    let keep = value.len().saturating_sub(3);
    value
        .iter()
        .enumerate()
        .map(|(i, b)| if i < keep { b'*' } else { *b })
        .collect()
}

/// `body` with every identity and phone number masked.
pub fn mask_personal(body: &[u8]) -> Cow<'_, [u8]> {
    let json = JSON.replace_all(body, |c: &Captures<'_>| {
        // Three characters or fewer (a kind such as `LoaiDinhDanh`) show nothing to hide.
        let value = c.get(2).or_else(|| c.get(3)).map_or(0, |m| m.len());
        if value <= 3 {
            return c[0].to_vec();
        }
        let mut out = c[1].to_vec();
        match (c.get(2), c.get(3)) {
            (Some(text), _) => {
                out.push(b'"');
                out.extend(hidden(text.as_bytes()));
                out.push(b'"');
            }
            (None, Some(number)) => {
                out.push(b'"');
                out.extend(hidden(number.as_bytes()));
                out.push(b'"');
            }
            (None, None) => {}
        }
        out
    });
    match XML.replace_all(&json, |c: &Captures<'_>| {
        let mut out = c[1].to_vec();
        out.extend(hidden(&c[2]));
        out
    }) {
        Cow::Borrowed(_) => json,
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        String::from_utf8_lossy(&mask_personal(text.as_bytes())).into_owned()
    }

    #[test]
    fn identity_and_phone_numbers_keep_their_last_three_characters() {
        assert_eq!(
            masked(
                r#"{"ChuHoSo":{"HoTen":"Lê Văn A","SoDinhDanh":"079203001234","SoDienThoai":"0901234567"}}"#
            ),
            r#"{"ChuHoSo":{"HoTen":"Lê Văn A","SoDinhDanh":"*********234","SoDienThoai":"*******567"}}"#
        );
        assert_eq!(
            masked(
                r#"{"applicant":{"id_number": "079203001234","phone":901234567},"SoTien":"300000000"}"#
            ),
            r#"{"applicant":{"id_number": "*********234","phone":"******567"},"SoTien":"300000000"}"#
        );
        assert_eq!(
            masked("<HoSo><NguoiDaiDien><SoDinhDanh>079203001234</SoDinhDanh></NguoiDaiDien><SoDienThoai>0901 234 567</SoDienThoai></HoSo>"),
            "<HoSo><NguoiDaiDien><SoDinhDanh>*********234</SoDinhDanh></NguoiDaiDien><SoDienThoai>*********567</SoDienThoai></HoSo>"
        );
        assert_eq!(masked(r#"{"LoaiDinhDanh": 3}"#), r#"{"LoaiDinhDanh": 3}"#);
        assert_eq!(
            masked(r#"{"representative.id_number":"0792\"03001234"}"#),
            r#"{"representative.id_number":"***********234"}"#
        );
    }

    #[test]
    fn a_body_without_them_is_left_as_it_is() {
        let body = br#"{"MaHoSoQG":"G22.99-261130-000123","SoTien":"079203001234"}"#;
        assert!(matches!(mask_personal(body), Cow::Borrowed(b) if b == body));
        let raw = [0xff, 0xfe, b'<', b'a', b'>'];
        assert_eq!(mask_personal(&raw).as_ref(), raw);
    }
}
