//! Property-based fuzzing of everything that reads partner input: the XML and JSON intake
//! (parser, envelope and mapping engine together), the VNPAY query parser and verifier, and the
//! PayGov confirmation checksum. No input may panic or hang; every one is answered with a
//! contract outcome. Runs `FUZZ_CASES` cases per property (default 256; CI runs the default,
//! a longer run is `FUZZ_CASES=100000 cargo test --test api fuzz`).

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

/// Intake answers every body with acceptance, 400 or a non-empty 422 — never anything else.
fn answered(format: BodyFormat, body: &[u8]) -> Result<(), TestCaseError> {
    match Intake::build(mappings(), format, body, chrono::Utc::now()) {
        Ok(_) | Err(IntakeError::Malformed(_)) => Ok(()),
        Err(IntakeError::Invalid(errors)) => {
            prop_assert!(!errors.is_empty());
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("unexpected outcome {other}"))),
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
    fn arbitrary_json_objects_are_answered(value in json_value()) {
        answered(BodyFormat::Json, value.to_string().as_bytes())?;
    }

    #[test]
    fn arbitrary_xml_text_is_answered(body in "<HoSo>(<[A-Za-z]{1,8}>[^<&]{0,20}</[A-Za-z]{1,8}>|&[a-z#0-9]{1,6};|<!\\[CDATA\\[.{0,10}\\]\\]>|<!--.{0,10}-->){0,12}</HoSo>") {
        answered(BodyFormat::Xml, body.as_bytes())?;
    }

    #[test]
    fn the_vnpay_query_parser_never_panics(query in ".{0,400}") {
        if let Some(params) = vnpay::parse_query(&query) {
            let _ = vnpay::verify(&params, "secret");
            // Whatever was parsed encodes back to something that parses to the same.
            let again = vnpay::parse_query(&vnpay::signing_string(&params));
            prop_assert!(again.is_some());
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
