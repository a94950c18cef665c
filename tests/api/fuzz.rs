//! Property-based fuzzing of everything that reads partner input: the XML and JSON intake
//! (parser, envelope and mapping engine together), the VNPAY query parser and verifier, and the
//! PayGov confirmation checksum. No input may panic or hang, and each property says more than
//! that: every body is answered with a contract outcome whose parts are well formed; the same
//! body always gets the same outcome; a JSON body means the same whatever its key order and
//! whitespace; what the VNPAY parser reads encodes back to the same parameters. Runs
//! `FUZZ_CASES` cases per property (default 256; CI runs the default, a longer run is
//! `FUZZ_CASES=100000 cargo test --test api fuzz`).

use crate::helpers::*;
use motcua_gateway::dossiers::intake::{BodyFormat, Intake, IntakeError};
use motcua_gateway::mapping::Mappings;
use motcua_gateway::payment::{paygov, vnpay};
use proptest::prelude::*;
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

fn mappings() -> &'static Mappings {
    static M: OnceLock<Mappings> = OnceLock::new();
    M.get_or_init(|| Mappings::load_dir(&root().join("mappings")).expect("mappings load"))
}

fn valid_bodies() -> Vec<(BodyFormat, Vec<u8>)> {
    fixture_names("valid")
        .into_iter()
        .map(|n| {
            let format = if n.ends_with(".xml") {
                BodyFormat::Xml
            } else {
                BodyFormat::Json
            };
            (format, fixture(&format!("valid/{n}")))
        })
        .collect()
}

/// What intake made of a body, in a form two answers can be compared by.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Accepted: the portal id, the procedure and the content hash.
    Accepted(String, String, String),
    /// 400.
    Malformed,
    /// 422: every (field, code), sorted.
    Invalid(Vec<(String, &'static str)>),
}

/// Intake answers every body with acceptance, 400 or a non-empty 422 — never anything else —
/// and the same body twice with the same answer. An acceptance names a mapped procedure and a
/// SHA-256 content hash; a 400 says why; every 422 problem names its field and a code.
fn answered(format: BodyFormat, body: &[u8]) -> Result<Outcome, TestCaseError> {
    let now = chrono::Utc::now();
    let result = Intake::build(mappings(), format, body, now);
    let first = format!("{result:?}");
    prop_assert_eq!(
        format!("{:?}", Intake::build(mappings(), format, body, now)),
        first,
        "the same body, the same answer"
    );
    let outcome = match result {
        Ok(d) => {
            // Judged by the version in force the day it was received, which it names.
            let day = motcua_gateway::domain::time::vn_date(now);
            prop_assert_eq!(
                mappings()
                    .in_force(&d.procedure, day)
                    .map(|p| p.version.as_str()),
                Some(d.mapping_version.as_str()),
                "{}",
                d.procedure.as_str()
            );
            prop_assert!(
                d.content_hash.len() == 64 && d.content_hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                d.content_hash
            );
            Outcome::Accepted(
                d.portal_id.as_str().to_owned(),
                d.procedure.as_str().to_owned(),
                d.content_hash,
            )
        }
        Err(IntakeError::Malformed(why)) => {
            prop_assert!(!why.trim().is_empty(), "a 400 says why");
            Outcome::Malformed
        }
        Err(IntakeError::Invalid(errors)) => {
            prop_assert!(!errors.is_empty());
            let mut named: Vec<(String, &'static str)> = Vec::new();
            for e in errors {
                prop_assert!(
                    !e.field.is_empty() && !e.code.is_empty() && !e.message.is_empty(),
                    "{e:?}"
                );
                named.push((e.field, e.code));
            }
            named.sort();
            Outcome::Invalid(named)
        }
        Err(other) => return Err(TestCaseError::fail(format!("unexpected outcome {other}"))),
    };
    Ok(outcome)
}

/// A query string as an IPN might carry: mostly `vnp_` parameters whose values hold spaces,
/// `+`, escapes (whole, broken or of non-UTF-8 bytes) and any other character, sometimes other
/// parameters, empty ones and stray separators.
fn vnpay_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => "vnp_[A-Za-z]{1,6}",
        1 => "[a-z_]{1,6}",
    ];
    let value = "([A-Za-z0-9 +*._~-]|%[0-9A-F]{2}|%C3%A0|%[0-9a-z]{0,2}|.){0,16}";
    prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// The same JSON value written with its object keys in reverse order and pretty-printed.
fn rewritten(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| (k.clone(), rewritten(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(rewritten).collect())
        }
        other => other.clone(),
    }
}

/// A valid fixture with some bytes changed, removed or inserted.
fn mutated() -> impl Strategy<Value = (BodyFormat, Vec<u8>)> {
    let bodies = valid_bodies();
    (
        0..bodies.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
    )
        .prop_map(move |(i, edits)| {
            let (format, mut body) = bodies[i].clone();
            for (at, byte, kind) in edits {
                if body.is_empty() {
                    break;
                }
                let pos = at.index(body.len());
                match kind {
                    0 => body[pos] = byte,
                    1 => {
                        body.remove(pos);
                    }
                    _ => body.insert(pos, byte),
                }
            }
            (format, body)
        })
}

/// Arbitrary JSON values in the portal's field names.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let names = prop::sample::select(vec![
        "MaHoSoQG",
        "MaTTHC",
        "KenhThucHien",
        "NgayNopHoSo",
        "ChuHoSo",
        "HoTen",
        "SoDinhDanh",
        "LoaiDinhDanh",
        "DuLieuBieuMau",
        "TaiLieuNop",
        "SoPhong",
        "DanhSachPhong",
        "Phong",
        "DienTich",
        "TenDoanhNghiep",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,40}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "1.001029",
            "20261127080000",
            "079203001234",
            "3",
            "-1",
            "1e999"
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_answered_in_both_formats(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        answered(BodyFormat::Xml, &body)?;
        answered(BodyFormat::Json, &body)?;
    }

    #[test]
    fn mutated_fixtures_are_answered((format, body) in mutated()) {
        answered(format, &body)?;
    }

    #[test]
    fn a_json_body_means_the_same_whatever_its_key_order_and_whitespace(value in json_value()) {
        let compact = answered(BodyFormat::Json, value.to_string().as_bytes())?;
        let pretty = serde_json::to_string_pretty(&rewritten(&value)).unwrap();
        prop_assert_eq!(answered(BodyFormat::Json, pretty.as_bytes())?, compact);
    }

    #[test]
    fn arbitrary_xml_text_is_answered(body in "<HoSo>(<[A-Za-z]{1,8}>[^<&]{0,20}</[A-Za-z]{1,8}>|&[a-z#0-9]{1,6};|<!\\[CDATA\\[.{0,10}\\]\\]>|<!--.{0,10}-->){0,12}</HoSo>") {
        answered(BodyFormat::Xml, body.as_bytes())?;
    }

    #[test]
    fn what_the_vnpay_parser_reads_encodes_back_to_the_same_signed_parameters(query in vnpay_query()) {
        if let Some(params) = vnpay::parse_query(&query) {
            // The signed parameters (non-empty `vnp_`, the hash itself left out) come back
            // exactly from their signing string.
            let signed: std::collections::BTreeMap<String, String> = params
                .iter()
                .filter(|(k, v)| {
                    k.starts_with("vnp_") && !v.is_empty() && *k != "vnp_SecureHash" && *k != "vnp_SecureHashType"
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            prop_assert_eq!(vnpay::parse_query(&vnpay::signing_string(&params)), Some(signed.clone()));
            // Signed with one secret, they verify with it and with no other.
            let mut sealed = signed;
            sealed.insert("vnp_SecureHash".into(), vnpay::secure_hash(&params, "secret"));
            prop_assert!(vnpay::verify(&sealed, "secret"));
            prop_assert!(!vnpay::verify(&sealed, "other"));
        }
    }

    #[test]
    fn a_paygov_checksum_over_any_fields_verifies_only_itself(fields in prop::collection::vec(".{0,30}", 10), other in "[0-9a-f]{64}") {
        let f = paygov::ConfirmFields {
            kind: fields[0].clone(), code: fields[1].clone(), partner: fields[2].clone(), reference: fields[3].clone(),
            amount: fields[4].clone(), currency: fields[5].clone(), transaction: fields[6].clone(), bank: fields[7].clone(),
            time: fields[8].clone(), info: fields[9].clone(),
        };
        let good = paygov::confirm_checksum(&f, "s");
        prop_assert!(paygov::verify_confirm(&f, &good, "s"));
        prop_assert!(paygov::verify_confirm(&f, &good.to_uppercase(), "s"));
        prop_assert_eq!(paygov::verify_confirm(&f, &other, "s"), other == good);
    }
}

#[test]
fn every_valid_json_fixture_means_the_same_in_any_key_order_and_whitespace() {
    for name in fixture_names("valid")
        .iter()
        .filter(|n| n.ends_with(".json"))
    {
        let body = fixture(&format!("valid/{name}"));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let pretty = serde_json::to_string_pretty(&rewritten(&value)).unwrap();
        let (a, b) = (
            answered(BodyFormat::Json, &body).unwrap(),
            answered(BodyFormat::Json, pretty.as_bytes()).unwrap(),
        );
        assert!(matches!(a, Outcome::Accepted(..)), "{name}: {a:?}");
        assert_eq!(a, b, "{name}");
    }
}
