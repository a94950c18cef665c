//! VNPAY 2.1.0: the payment URL, IPN verification and querydr, all signed with HMAC-SHA512.
//!
//! The signed string is every `vnp_` parameter but `vnp_SecureHash` and `vnp_SecureHashType`,
//! empty values dropped, sorted by name in byte order, and form-urlencoded by one fixed rule
//! (letters, digits and `*-._` unchanged, space as `+`, every other UTF-8 byte as `%XX` upper
//! case). An IPN is verified by decoding its parameters and encoding them again by that rule, so
//! the sender's encoder does not matter.

use crate::domain::money::Vnd;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use std::collections::BTreeMap;

type HmacSha512 = Hmac<Sha512>;

/// The API version.
pub const VERSION: &str = "2.1.0";

/// Form-urlencodes `text` by the contract's rule, which is exactly the WHATWG
/// `application/x-www-form-urlencoded` serializer's (`url::form_urlencoded::byte_serialize`).
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Decodes one form-urlencoded component (`+` is a space); `None` if it has a broken escape
/// or is not UTF-8 once decoded (refused, not guessed at: the lenient WHATWG parser would keep
/// a broken escape as text and replace bad bytes).
pub fn decode(text: &str) -> Option<String> {
    let whole_escapes = text
        .split('%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !whole_escapes {
        return None;
    }
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Parses a query string into decoded parameters; `None` on a broken one or a repeated name.
pub fn parse_query(query: &str) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if params.insert(decode(k)?, decode(v)?).is_some() {
            return None;
        }
    }
    Some(params)
}

fn hmac_hex(secret: &str, data: &str) -> String {
    #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
    let mut mac =
        <HmacSha512 as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The string VNPAY signs: sorted, non-empty `vnp_` parameters, encoded, joined `k=v&k=v`.
pub fn signing_string(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, v)| {
            k.starts_with("vnp_")
                && !v.is_empty()
                && *k != "vnp_SecureHash"
                && *k != "vnp_SecureHashType"
        })
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `vnp_SecureHash` of a parameter set.
pub fn secure_hash(params: &BTreeMap<String, String>, secret: &str) -> String {
    hmac_hex(secret, &signing_string(params))
}

/// Whether a parameter set's own `vnp_SecureHash` is right (constant time).
pub fn verify(params: &BTreeMap<String, String>, secret: &str) -> bool {
    params
        .get("vnp_SecureHash")
        .is_some_and(|given| super::hex_eq(&secure_hash(params, secret), given))
}

/// `vnp_Amount` for an amount: whole đồng times 100.
pub fn wire_amount(amount: Vnd) -> String {
    format!("{}00", amount.get())
}

/// The amount a `vnp_Amount` states: digits only, a whole number of đồng times 100.
pub fn amount_from_wire(text: &str) -> Option<Vnd> {
    let hundreds = text.strip_suffix("00")?;
    if hundreds.is_empty() {
        return Some(Vnd::ZERO);
    }
    Vnd::parse(hundreds)
}

/// The payment URL: `pay_url?` + the encoded parameters + `vnp_SecureHash`.
pub fn payment_url(pay_url: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let query = signing_string(params);
    format!(
        "{pay_url}?{query}&vnp_SecureHash={}",
        hmac_hex(secret, &query)
    )
}

/// Keeps only what the gateway may put in a value it chooses: letters and digits without
/// diacritics, spaces and `.,:-_#/`. Vietnamese letters lose their marks (`đ` → `d`).
pub fn plain_text(text: &str) -> String {
    text.chars()
        .map(strip_diacritic)
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | ':' | '-' | '_' | '#' | '/')
        })
        .collect()
}

fn strip_diacritic(c: char) -> char {
    const GROUPS: [(&str, char); 14] = [
        ("àáạảãâầấậẩẫăằắặẳẵ", 'a'),
        ("ÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴ", 'A'),
        ("èéẹẻẽêềếệểễ", 'e'),
        ("ÈÉẸẺẼÊỀẾỆỂỄ", 'E'),
        ("ìíịỉĩ", 'i'),
        ("ÌÍỊỈĨ", 'I'),
        ("òóọỏõôồốộổỗơờớợởỡ", 'o'),
        ("ÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠ", 'O'),
        ("ùúụủũưừứựửữ", 'u'),
        ("ÙÚỤỦŨƯỪỨỰỬỮ", 'U'),
        ("ỳýỵỷỹ", 'y'),
        ("ỲÝỴỶỸ", 'Y'),
        ("đ", 'd'),
        ("Đ", 'D'),
    ];
    GROUPS
        .iter()
        .find(|(set, _)| set.contains(c))
        .map_or(c, |(_, plain)| *plain)
}

/// `vnp_SecureHash` of a querydr request: its values in the contract's order joined by `|`.
pub fn querydr_hash(values: &[&str; 9], secret: &str) -> String {
    hmac_hex(secret, &values.join("|"))
}

/// The fields of a querydr answer that VNPAY signs, in its documented order.
pub const QUERYDR_ANSWER_FIELDS: [&str; 15] = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
];

/// The text a querydr answer's `vnp_SecureHash` covers: its signed fields joined by `|`.
fn querydr_answer_data(answer: &serde_json::Value) -> String {
    let text = |k: &str| match answer.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    QUERYDR_ANSWER_FIELDS
        .iter()
        .map(|k| text(k))
        .collect::<Vec<_>>()
        .join("|")
}

/// Whether a querydr answer's `vnp_SecureHash` is right (constant time).
pub fn verify_querydr_answer(answer: &serde_json::Value, secret: &str) -> bool {
    let data = querydr_answer_data(answer);
    answer
        .get("vnp_SecureHash")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|given| super::hex_eq(&hmac_hex(secret, &data), given))
}

/// Signs a querydr answer as VNPAY does (the simulator's side).
pub fn sign_querydr_answer(answer: &mut serde_json::Value, secret: &str) {
    let hash = hmac_hex(secret, &querydr_answer_data(answer));
    answer["vnp_SecureHash"] = serde_json::Value::String(hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnp_amount_is_whole_dong_times_a_hundred_both_ways() {
        let amount = Vnd::new(1_500_000).unwrap_or_default();
        assert_eq!(wire_amount(amount), "150000000");
        assert_eq!(amount_from_wire("150000000"), Some(amount));
        assert_eq!(amount_from_wire("00"), Some(Vnd::ZERO));
        assert_eq!(amount_from_wire("1500000").map(Vnd::get), Some(15_000));
        for bad in ["150000050", "", "0", "-150000000", "1.5e8", "15000000 0"] {
            assert_eq!(amount_from_wire(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_follows_the_form_rule() {
        assert_eq!(
            encode("Thanh toan phi #12/2026"),
            "Thanh+toan+phi+%2312%2F2026"
        );
        assert_eq!(encode("a*b-c.d_e~f"), "a*b-c.d_e%7Ef");
        assert_eq!(encode("đ"), "%C4%91");
        assert_eq!(
            decode("Thanh+toan%20phi").as_deref(),
            Some("Thanh toan phi")
        );
        assert!(decode("%zz").is_none());
        assert!(decode("%C4").is_none(), "not UTF-8");
    }

    #[test]
    fn repeated_or_broken_parameters_are_refused() {
        assert!(parse_query("vnp_A=1&vnp_A=2").is_none());
        assert!(parse_query("vnp_A=%G1").is_none());
        assert_eq!(parse_query("vnp_A=1&&vnp_B=").map(|p| p.len()), Some(2));
    }

    #[test]
    fn plain_text_drops_diacritics_and_unsafe_characters() {
        assert_eq!(
            plain_text("Thanh toán phí hồ sơ 000.00.12.H29-261127-0001 (karaoke)!"),
            "Thanh toan phi ho so 000.00.12.H29-261127-0001 karaoke"
        );
        assert_eq!(plain_text("Đường Lê Lợi"), "Duong Le Loi");
    }
}
