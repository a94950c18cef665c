//! Online fee payment: the providers' wire formats and signatures (`paygov`, `vnpay`).
//!
//! Signing and verification are pure functions over the exact strings the contract names,
//! checked against vectors computed independently (`fixtures/payment/vectors.py`).

pub mod callbacks;
pub mod paygov;
pub mod reconcile;
pub mod request;
pub mod service;
pub mod vnpay;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lower-case hex SHA-256 of `fields` joined by `|`, then `|secret` (PayGov's `MaXacThuc`).
pub fn pipe_sha256(fields: &[&str], secret: &str) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update(b"|");
    }
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two hex digests in constant time, ignoring case.
pub fn hex_eq(expected: &str, given: &str) -> bool {
    let given = given.to_ascii_lowercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    //! The Rust signers against `fixtures/payment/vectors.json`, computed by Python's hashlib and
    //! hmac (`fixtures/payment/vectors.py`), and the signed fixtures.
    use super::paygov::{self, ConfirmFields, InitFields};
    use super::vnpay;
    use serde_json::Value;
    use std::collections::BTreeMap;

    const PAYGOV: &str = "test-paygov-secret-0001";
    const VNPAY: &str = "TESTVNPAYHASHSECRET0001";

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/payment")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn json_fixture(name: &str) -> Value {
        serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn vectors() -> Value {
        json_fixture("vectors.json")
    }

    /// A string field the fixture must hold: a missing one fails the test, named.
    fn s(v: &Value, k: &str) -> String {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no string {k:?} in {v}"))
            .to_owned()
    }

    fn confirm_fields(v: &Value) -> ConfirmFields {
        ConfirmFields {
            kind: s(v, "LoaiBanTin"),
            code: s(v, "MaLoi"),
            partner: s(v, "MaDoiTac"),
            reference: s(v, "MaThamChieu"),
            amount: s(v, "SoTien"),
            currency: s(v, "MaTienTe"),
            transaction: s(v, "MaGiaoDich"),
            bank: s(v, "MaNganHang"),
            time: s(v, "ThoiGianGD"),
            info: s(v, "ThongTinGiaoDich"),
        }
    }

    fn params(v: &Value) -> BTreeMap<String, String> {
        v.as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .map(|k| (k.clone(), s(v, k)))
            .collect()
    }

    #[test]
    fn paygov_checksums_match_the_independent_vectors() {
        let v = vectors();
        let i = &v["paygov"]["init"];
        let init = InitFields {
            partner: &s(i, "partner"),
            reference: &s(i, "reference"),
            amount: &s(i, "amount"),
            info: &s(i, "info"),
            time: &s(i, "time"),
            ip: &s(i, "ip"),
        };
        assert_eq!(paygov::init_checksum(&init, PAYGOV), s(i, "checksum"));
        let c = &v["paygov"]["confirm"];
        assert_eq!(
            paygov::confirm_checksum(&confirm_fields(c), PAYGOV),
            s(c, "MaXacThuc")
        );
        let a = &v["paygov"]["answer"];
        assert_eq!(
            paygov::answer_checksum(
                &s(a, "MaLoi"),
                &s(a, "MaDoiTac"),
                &s(a, "MaThamChieu"),
                &s(a, "ThoiGianGD"),
                PAYGOV
            ),
            s(a, "checksum")
        );
        let q = &v["paygov"]["query"];
        assert_eq!(
            paygov::query_checksum(&s(q, "partner"), &s(q, "reference"), &s(q, "time"), PAYGOV),
            s(q, "checksum")
        );
    }

    #[test]
    fn vnpay_hashes_match_the_independent_vectors() {
        let v = vectors();
        let p = &v["vnpay"]["payment"];
        let pay = params(&p["params"]);
        assert_eq!(vnpay::signing_string(&pay), s(p, "signing_string"));
        assert_eq!(vnpay::secure_hash(&pay, VNPAY), s(p, "secure_hash"));
        let ipn = params(&v["vnpay"]["ipn"]["params"]);
        assert_eq!(
            vnpay::signing_string(&ipn),
            s(&v["vnpay"]["ipn"], "signing_string")
        );
        assert!(vnpay::verify(&ipn, VNPAY));
        let q = &v["vnpay"]["querydr"];
        let values: Vec<&str> = q["values"]
            .as_array()
            .unwrap_or_else(|| panic!("no values in {q}"))
            .iter()
            .map(|x| x.as_str().unwrap_or_else(|| panic!("not a string: {x}")))
            .collect();
        let refs: [&str; 9] = values
            .try_into()
            .unwrap_or_else(|v: Vec<&str>| panic!("querydr signs 9 values, not {}", v.len()));
        assert_eq!(vnpay::querydr_hash(&refs, VNPAY), s(q, "secure_hash"));
        assert!(vnpay::verify_querydr_answer(
            &v["vnpay"]["querydr_answer"],
            VNPAY
        ));
        let mut forged = v["vnpay"]["querydr_answer"].clone();
        forged["vnp_TransactionStatus"] = Value::String("02".into());
        assert!(!vnpay::verify_querydr_answer(&forged, VNPAY));
    }

    #[test]
    fn signed_fixtures_verify_and_tampered_ones_do_not() {
        for (name, ok) in [
            ("paygov-confirm-valid.json", true),
            ("paygov-confirm-tampered.json", false),
            ("paygov-confirm-wrong-amount.json", true),
            ("paygov-confirm-unknown-reference.json", true),
        ] {
            let v = json_fixture(name);
            assert_eq!(
                paygov::verify_confirm(&confirm_fields(&v), &s(&v, "MaXacThuc"), PAYGOV),
                ok,
                "{name}"
            );
            assert!(
                !paygov::verify_confirm(&confirm_fields(&v), &s(&v, "MaXacThuc"), "other-secret"),
                "{name}"
            );
        }
        for (name, ok) in [
            ("vnpay-ipn-valid.txt", true),
            ("vnpay-ipn-tampered.txt", false),
            ("vnpay-ipn-wrong-amount.txt", true),
            ("vnpay-ipn-unknown-reference.txt", true),
        ] {
            let p = vnpay::parse_query(fixture(name).trim())
                .unwrap_or_else(|| panic!("{name} is not a query string"));
            assert_eq!(vnpay::verify(&p, VNPAY), ok, "{name}");
        }
    }
}
