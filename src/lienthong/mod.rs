//! Inter-agency processing (một cửa liên thông, contract section 9), the parts that are neither
//! the store's nor HTTP's: the configured agencies as the gateway uses them (name, secret,
//! working hours), the part of a dossier forwarded to an agency — only the fields and document
//! components its step declares, each document as a link to the gateway's stored copy — and
//! the agency's answer read and checked (`answer`).

pub mod answer;

use crate::config::Config;
use crate::domain::time::format_wire_millis;
use crate::mapping::steps::Step;
use crate::signing::WebhookSecret;
use crate::store::{DocumentRow, StoredDossier};
use serde_json::{json, Map, Value};

/// Where an agency receives forwarded steps, under its `base_url`.
pub const FORWARD_PATH: &str = "/lienthong/v1/dossiers";

/// The outbox destination of an agency.
pub fn destination(code: &str) -> String {
    format!("agency:{code}")
}

/// The idempotency client under which an agency's answers are kept by `webhook-id`.
pub fn answer_client(code: &str) -> String {
    format!("agency:{code}")
}

/// One configured agency.
#[derive(Debug, Clone)]
pub struct Agency {
    /// Its e-ID.
    pub code: String,
    /// Its name, as people read it.
    pub name: String,
    /// Signs what is forwarded and checks what it answers.
    pub secret: WebhookSecret,
    /// The `calendar.offices` entry whose hours it keeps (else the department's).
    pub office: Option<String>,
    /// `host:port` of its `base_url`: the only place its result documents are fetched from.
    pub host: String,
}

/// The configured agencies.
#[derive(Debug, Clone, Default)]
pub struct Agencies(Vec<Agency>);

impl Agencies {
    /// From `[[agencies]]`.
    pub fn new(config: &Config) -> Self {
        Self(
            config
                .agencies
                .iter()
                .map(|a| Agency {
                    code: a.code.as_str().to_owned(),
                    name: a.name.clone(),
                    secret: a.secret.clone(),
                    office: a.office.clone(),
                    host: host_port(a.base_url.as_str()),
                })
                .collect(),
        )
    }

    /// The agency with this e-ID.
    pub fn get(&self, code: &str) -> Option<&Agency> {
        self.0.iter().find(|a| a.code == code)
    }

    /// Every agency.
    pub fn all(&self) -> &[Agency] {
        &self.0
    }

    /// Its name, or the code where the configuration no longer has it.
    pub fn name_of<'a>(&'a self, code: &'a str) -> &'a str {
        self.get(code).map_or(code, |a| a.name.as_str())
    }
}

/// `host:port` of an http(s) URL (the port the scheme implies when none is written).
pub fn host_port(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(format!("{host}:{}", u.port_or_known_default()?))
        })
        .unwrap_or_default()
}

/// The link an agency fetches a forwarded document from: the gateway's stored copy, served to
/// that agency's signed request only (`GET /lienthong/v1/steps/{ref}/documents/{id}`).
pub fn document_link(public_url: &str, reference: &str, document: i64) -> String {
    format!(
        "{}/lienthong/v1/steps/{reference}/documents/{document}",
        public_url.trim_end_matches('/')
    )
}

/// The documents of `d` a step receives: its declared components, the applicant's (not
/// another agency's results).
pub fn step_documents<'d>(d: &'d StoredDossier, step: &Step) -> Vec<&'d DocumentRow> {
    d.documents
        .iter()
        .filter(|doc| doc.step.is_none() && step.documents.contains(&doc.component))
        .collect()
}

/// The declared fields of the mapped form, at their own places: no more of the citizen's data
/// than the step needs.
pub fn step_fields(form: &Value, step: &Step) -> Value {
    let mut out = Value::Object(Map::new());
    for dotted in &step.fields {
        let Some(value) = dotted
            .split('.')
            .try_fold(form, |v, key| v.get(key))
            .cloned()
        else {
            continue;
        };
        let mut at = &mut out;
        let keys: Vec<&str> = dotted.split('.').collect();
        for (i, key) in keys.iter().enumerate() {
            let Value::Object(map) = at else { break };
            if i + 1 == keys.len() {
                map.insert((*key).to_owned(), value);
                break;
            }
            at = map
                .entry((*key).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    out
}

/// What is forwarded to the agency (contract section 9): `POST {base_url}/lienthong/v1/dossiers`.
pub fn forward_body(
    d: &StoredDossier,
    step: &Step,
    reference: &str,
    due_at: i64,
    public_url: &str,
) -> String {
    let documents: Vec<Value> = step_documents(d, step)
        .into_iter()
        .map(|doc| {
            json!({
                "MaThanhPhanHoSo": doc.component,
                "TenTepDinhKem": doc.file_name,
                "MaHash": doc.sha256.to_ascii_lowercase(),
                "KichThuoc": doc.size,
                "DuongDan": document_link(public_url, reference, doc.id),
            })
        })
        .collect();
    json!({
        "MaHoSo": d.code,
        "MaTTHC": d.procedure_code,
        "BuocXuLy": {"id": step.id, "name": step.name, "ref": reference},
        "HanXuLy": format_wire_millis(due_at),
        "DuLieu": step_fields(&d.form, step),
        "TaiLieu": documents,
    })
    .to_string()
}

/// A new forwarding's `ref`: the dossier's code, the step, and a random part, so that a step
/// forwarded again gets another and none can be guessed from the last.
pub fn new_reference(dossier_code: &str, step: &str) -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{dossier_code}.{step}.{n:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(fields: &[&str]) -> Step {
        Step {
            id: "s".into(),
            agency: "000.20.07.H29".into(),
            name: "n".into(),
            working_days: 5,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            documents: vec!["TP01".into()],
            after: vec![],
            legal_basis: "x".into(),
        }
    }

    #[test]
    fn only_the_declared_fields_travel_at_their_own_places() {
        let form = json!({
            "business": {"name": "Sao Việt", "registration_number": "0312345678"},
            "representative": {"name": "Trần Văn Bình", "id_number": "079085004321"},
            "rooms_count": 3,
        });
        let got = step_fields(
            &form,
            &step(&["business.name", "rooms_count", "venue.address"]),
        );
        assert_eq!(
            got,
            json!({"business": {"name": "Sao Việt"}, "rooms_count": 3})
        );
    }

    #[test]
    fn host_port_names_the_scheme_s_port_when_none_is_written() {
        assert_eq!(host_port("http://127.0.0.1:9106"), "127.0.0.1:9106");
        assert_eq!(
            host_port("https://PC07.example.vn/api"),
            "pc07.example.vn:443"
        );
        assert_eq!(host_port("not a url"), "");
    }

    #[test]
    fn references_differ_each_time() {
        let a = new_reference("000.00.12.H29-251201-0001", "nghiem-thu-pccc");
        let b = new_reference("000.00.12.H29-251201-0001", "nghiem-thu-pccc");
        assert_ne!(a, b);
        assert!(a.starts_with("000.00.12.H29-251201-0001.nghiem-thu-pccc."));
    }
}
