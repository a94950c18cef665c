//! The portal's dossier envelope (`HoSo`): reading its fixed fields out of a parsed body.
//!
//! Shape problems in the envelope (an object where a value belongs, a repeated value) make
//! the body MALFORMED (400); a missing or invalid value is a VALIDATION problem (422), and every
//! one of them is collected, not only the first. `DuLieuBieuMau` is left as a tree for the
//! procedure's mapping to read.

use super::applicant::read_applicant;
use super::fields::Fields;
use super::tree::{Malformed, Node};
use crate::domain::applicant::Applicant;
use crate::domain::codes::{PortalDossierId, ProcedureCode};
use crate::domain::dossier::{Channel, DocumentRef};
use crate::domain::form::write_canonical_map;
use crate::domain::time::parse_wire;
use crate::domain::validation::FieldError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Longest `TrichYeuHoSo` accepted.
pub const MAX_SUMMARY_CHARS: usize = 1000;
/// What the envelope yields: every value that was valid, and every problem found.
#[derive(Debug)]
pub struct Envelope {
    /// `MaHoSoQG`.
    pub portal_id: Option<PortalDossierId>,
    /// `MaTTHC`, as a code stem.
    pub procedure: Option<ProcedureCode>,
    /// `KenhThucHien`.
    pub channel: Option<Channel>,
    /// `NgayNopHoSo`.
    pub submitted_at: Option<DateTime<Utc>>,
    /// `ChuHoSo`.
    pub applicant: Option<Applicant>,
    /// `TrichYeuHoSo`.
    pub summary: Option<String>,
    /// `TaiLieuNop`.
    pub documents: Vec<DocumentRef>,
    /// `DuLieuBieuMau`, for the mapping.
    pub form: Node,
    /// Every problem found in the envelope.
    pub errors: Vec<FieldError>,
    /// SHA-256 of the canonical content (same fields and values → same hash).
    pub content_hash: String,
}

/// Reads the envelope out of a parsed body.
pub fn read_envelope(root: &Node) -> Result<Envelope, Malformed> {
    let mut errors = Vec::new();
    let top = Fields::new(root, "");

    let portal_id = top.required_text("MaHoSoQG", &mut errors)?.and_then(|t| {
        PortalDossierId::parse(t)
            .map_err(|e| errors.push(FieldError::new("MaHoSoQG", "invalid", e.to_string())))
            .ok()
    });
    let procedure = top.required_text("MaTTHC", &mut errors)?.and_then(|t| {
        ProcedureCode::parse(t)
            .map_err(|e| errors.push(FieldError::new("MaTTHC", "invalid", e.to_string())))
            .ok()
    });
    let channel = top
        .required_text("KenhThucHien", &mut errors)?
        .and_then(|t| {
            Channel::from_code(t)
                .ok_or_else(|| {
                    errors.push(FieldError::new(
                        "KenhThucHien",
                        "not_allowed",
                        "KenhThucHien is 1, 2 or 3",
                    ))
                })
                .ok()
        });
    let submitted_at = top
        .required_text("NgayNopHoSo", &mut errors)?
        .and_then(|t| {
            parse_wire(t)
                .ok_or_else(|| {
                    errors.push(FieldError::new(
                        "NgayNopHoSo",
                        "invalid_format",
                        "a time is yyyyMMddHHmmss",
                    ))
                })
                .ok()
        });
    let summary = top.text("TrichYeuHoSo")?.map(str::to_owned);
    if summary
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUMMARY_CHARS)
    {
        errors.push(FieldError::new(
            "TrichYeuHoSo",
            "too_long",
            format!("at most {MAX_SUMMARY_CHARS} characters"),
        ));
    }
    let applicant = match top.map("ChuHoSo")? {
        Some(node) => read_applicant(&Fields::new(node, "ChuHoSo."), &mut errors)?,
        None => {
            errors.push(FieldError::required("ChuHoSo"));
            None
        }
    };
    let documents = read_documents(root, &mut errors)?;
    let form = top
        .map("DuLieuBieuMau")?
        .cloned()
        .unwrap_or(Node::Map(Vec::new()));

    Ok(Envelope {
        portal_id,
        procedure,
        channel,
        submitted_at,
        applicant,
        summary,
        documents,
        form,
        errors,
        content_hash: content_hash(root),
    })
}

/// SHA-256 (hex) of the body's canonical form, with `TaiLieuNop` flattened so that XML's
/// `<TaiLieuNop><TepDinhKem>…` and JSON's `"TaiLieuNop":[…]` compare equal.
pub fn content_hash(root: &Node) -> String {
    // Written whole, then hashed once: the canonical form comes in many small pieces, each of
    // which would otherwise be its own call into the hasher. Writing into a `Vec` cannot fail.
    let mut text = Vec::with_capacity(4096);
    let _ = canonical_form(root, &mut text);
    hex::encode(Sha256::digest(&text))
}

/// The canonical form `content_hash` hashes, written to `out` as it is made.
fn canonical_form(root: &Node, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    match root {
        Node::Map(entries) => write_canonical_map(
            entries.iter().flat_map(|(k, v)| {
                let values = if k == "TaiLieuNop" {
                    document_nodes(v)
                } else {
                    vec![v]
                };
                values.into_iter().map(move |v| (k.as_str(), v))
            }),
            out,
        ),
        other => other.write_canonical(out),
    }
}

/// The file entries of one `TaiLieuNop` node, in either shape.
fn document_nodes(node: &Node) -> Vec<&Node> {
    match node {
        Node::Map(entries)
            if !entries.is_empty() && entries.iter().all(|(k, _)| k == "TepDinhKem") =>
        {
            entries.iter().map(|(_, v)| v).collect()
        }
        other => vec![other],
    }
}

fn read_documents(
    root: &Node,
    errors: &mut Vec<FieldError>,
) -> Result<Vec<DocumentRef>, Malformed> {
    let mut docs = Vec::new();
    let nodes: Vec<&Node> = root
        .children("TaiLieuNop")
        .flat_map(document_nodes)
        .collect();
    for (i, node) in nodes.into_iter().enumerate() {
        let prefix = format!("TaiLieuNop[{i}].");
        let f = Fields::new(node, &prefix);
        if matches!(node, Node::Text(_)) {
            return Err(Malformed(format!("TaiLieuNop[{i}] must be an object")));
        }
        let before = errors.len();
        let component = f.required_text("MaThanhPhanHoSo", errors)?;
        let file_name = f.required_text("TenTepDinhKem", errors)?;
        let url = f.required_text("DuongDanTaiTepTin", errors)?;
        if let Some(u) = url {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                errors.push(FieldError::new(
                    f.path("DuongDanTaiTepTin"),
                    "invalid_format",
                    "an http(s) URL",
                ));
            }
        }
        let hash = f.required_text("MaHash", errors)?;
        if hash.is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
            errors.push(FieldError::new(
                f.path("MaHash"),
                "invalid_format",
                "a SHA-256 in 64 hex digits",
            ));
        }
        let size = f.required_text("KichThuoc", errors)?.and_then(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
                .or_else(|| {
                    errors.push(FieldError::new(
                        f.path("KichThuoc"),
                        "invalid_format",
                        "a size in bytes",
                    ));
                    None
                })
        });
        if errors.len() == before {
            if let (Some(component), Some(file_name), Some(url), Some(hash), Some(size)) =
                (component, file_name, url, hash, size)
            {
                docs.push(DocumentRef {
                    component: component.to_owned(),
                    file_name: file_name.to_owned(),
                    url: url.to_owned(),
                    sha256: hash.to_ascii_lowercase(),
                    size,
                });
            }
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portal::json::parse_json;
    use crate::portal::tree::Limits;

    fn envelope(json: &str) -> Result<Envelope, Malformed> {
        read_envelope(&parse_json(json.as_bytes(), Limits::default())?)
    }

    const GOOD: &str = r#"{"MaHoSoQG":"G1","MaTTHC":"1.001029.000.00.00.H29","KenhThucHien":2,
        "NgayNopHoSo":"20261127080000","ChuHoSo":{"HoTen":"Nguyễn Văn A","LoaiDoiTuong":1,
        "LoaiDinhDanh":1,"SoDinhDanh":"079203001234","SoDienThoai":"0901234567"},
        "TaiLieuNop":[{"MaThanhPhanHoSo":"TP1","TenTepDinhKem":"a.pdf","DuongDanTaiTepTin":"https://f.example/a.pdf",
        "MaHash":"AB00000000000000000000000000000000000000000000000000000000000000","KichThuoc":10}]}"#;

    /// The hash as it was first computed (a `serde_json::Value` built, then written): stored
    /// dossiers' hashes must not change, or a replay would be taken for a conflict.
    fn hash_as_built(root: &Node) -> String {
        let normalized = match root {
            Node::Map(entries) => Node::Map(
                entries
                    .iter()
                    .flat_map(|(k, v)| {
                        document_nodes(v)
                            .into_iter()
                            .filter(|_| k == "TaiLieuNop")
                            .map(|d| (k.clone(), d.clone()))
                            .chain((k != "TaiLieuNop").then(|| (k.clone(), v.clone())))
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        let bytes = serde_json::to_vec(&normalized.canonical()).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_built_form_for_every_fixture() {
        let mut checked = 0;
        for dir in ["fixtures/portal/valid", "fixtures/portal/invalid"] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                panic!("{dir}")
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let root = if path.extension().is_some_and(|e| e == "xml") {
                    crate::portal::xml::parse_xml(&bytes, "HoSo", Limits::default())
                } else {
                    parse_json(&bytes, Limits::default())
                };
                let Ok(root) = root else { continue };
                assert_eq!(
                    content_hash(&root),
                    hash_as_built(&root),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        // Escapes too: quotes, backslashes, control characters and non-ASCII in keys and values.
        let odd = parse_json(
            "{\"b\\\"k\":\"x\\u0001y\\\\z\\\"\",\"a\":[\"Lê\",{\"TaiLieuNop\":\"t\"}],\"TaiLieuNop\":{\"TepDinhKem\":[\"1\",\"2\"]}}".as_bytes(),
            Limits::default(),
        );
        let Ok(odd) = odd else { panic!("{odd:?}") };
        assert_eq!(content_hash(&odd), hash_as_built(&odd));
        assert!(checked >= 20, "{checked} fixtures");
    }

    #[test]
    fn a_good_envelope_has_no_errors() {
        let e = envelope(GOOD).map_err(|m| m.0);
        let Ok(e) = e else { panic!("{e:?}") };
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        assert_eq!(
            e.procedure.map(|p| p.as_str().to_owned()).as_deref(),
            Some("1.001029")
        );
        assert_eq!(e.documents.len(), 1);
        assert!(e.documents[0].sha256.starts_with("ab"));
    }

    #[test]
    fn every_problem_is_listed() {
        let e =
            envelope(r#"{"KenhThucHien":"9","ChuHoSo":{"LoaiDinhDanh":"1","SoDinhDanh":"123"}}"#);
        let Ok(e) = e else { panic!("should parse") };
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        for expected in [
            "MaHoSoQG",
            "MaTTHC",
            "KenhThucHien",
            "NgayNopHoSo",
            "ChuHoSo.HoTen",
            "ChuHoSo.LoaiDoiTuong",
            "ChuHoSo.SoDinhDanh",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        assert!(envelope(r#"{"ChuHoSo":"x"}"#).is_err());
        assert!(envelope(r#"{"MaHoSoQG":{"a":"b"}}"#).is_err());
        assert!(envelope(r#"{"MaHoSoQG":["a","b"]}"#).is_err());
    }

    #[test]
    fn key_order_and_format_do_not_change_the_content_hash() {
        let a = envelope(GOOD).map(|e| e.content_hash);
        let reordered = r#"{"MaTTHC":"1.001029.000.00.00.H29","MaHoSoQG":"G1","KenhThucHien":"2",
        "NgayNopHoSo":"20261127080000","ChuHoSo":{"LoaiDoiTuong":1,"HoTen":"Nguyễn Văn A",
        "LoaiDinhDanh":1,"SoDinhDanh":"079203001234","SoDienThoai":"0901234567"},
        "TaiLieuNop":{"TepDinhKem":[{"MaThanhPhanHoSo":"TP1","TenTepDinhKem":"a.pdf","DuongDanTaiTepTin":"https://f.example/a.pdf",
        "MaHash":"AB00000000000000000000000000000000000000000000000000000000000000","KichThuoc":10}]}}"#;
        assert_eq!(a, envelope(reordered).map(|e| e.content_hash));
        let changed = GOOD.replace("Nguyễn Văn A", "Nguyễn Văn B");
        assert_ne!(a, envelope(&changed).map(|e| e.content_hash));
    }
}
