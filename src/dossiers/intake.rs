//! Intake: a verified portal request becomes a stored dossier, or a precise rejection.
//!
//! Order of work: parse (400), read the envelope and apply the procedure's mapping, collecting
//! every problem (422), then one store transaction that draws the code, queues the arrival's
//! messages and records the request with its answer in the message log. A replay of the same
//! content answers the first answer; different content under a known `MaHoSoQG` is a conflict
//! (409). Nothing is stored for a request rejected before the store.

use crate::chain::NewMessage;
use crate::domain::codes::{AgencyCode, DossierCode};
use crate::domain::dossier::NewDossier;
use crate::domain::status::Status;
use crate::domain::time::{format_wire, vn_date};
use crate::domain::validation::FieldError;
use crate::dossiers::status_cache::StatusCache;
use crate::mapping::Mappings;
use crate::portal::submission::read_envelope;
use crate::portal::sync::{status_sync, SyncDates, ONESTOP, PORTAL};
use crate::portal::tree::{parse_json, parse_xml, Limits, Malformed};
use crate::store::group_commit::GroupCommit;
use crate::store::{
    InsertOutcome, IntakeItem, NewOutboxMessage, NewProgress, PreparedRows, Store, StoreError,
    SubmissionRaw,
};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;

/// The two body formats the portal may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/xml`, root `<HoSo>`.
    Xml,
    /// `application/json`, one object.
    Json,
}

/// What became of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    /// Stored now (201).
    Created {
        /// The dossier's code.
        code: String,
        /// The answer body.
        answer: String,
    },
    /// The same content again (200): the first answer.
    Replayed {
        /// The dossier's code.
        code: String,
        /// The first answer body.
        answer: String,
    },
}

/// Why a request was rejected.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Not well-formed, wrong types, bad encoding (400).
    #[error("malformed: {0}")]
    Malformed(String),
    /// Well-formed but invalid; every problem found (422).
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The portal id is known with different content (409).
    #[error("conflict with {0}")]
    Conflict(String),
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Malformed> for IntakeError {
    fn from(m: Malformed) -> Self {
        IntakeError::Malformed(m.0)
    }
}

/// What intake records in the message log in the dossier's own transaction: the request, and
/// its answer as rendered from the result (the same rendering that is then sent).
pub struct Recording {
    /// The request as it crossed the wire.
    pub request: NewMessage,
    /// The answer's record for a result.
    pub answer_of: RecordAnswer,
}

/// Makes the message-log record of the answer to a result.
pub type RecordAnswer =
    Box<dyn Fn(&Result<IntakeOutcome, IntakeError>) -> NewMessage + Send + Sync>;

/// Dossiers stored in one transaction at most.
pub const MAX_BATCH: usize = 64;

/// What building an arrival's rows needs besides the dossier.
#[derive(Debug)]
struct Arrival {
    agency_name: String,
    onestop: bool,
}

/// The intake service.
#[derive(Clone)]
pub struct Intake {
    mappings: Arc<Mappings>,
    arrival: Arc<Arrival>,
    outbox_wake: Arc<tokio::sync::Notify>,
    status_cache: Arc<StatusCache>,
    writer: GroupCommit<IntakeItem, Result<InsertOutcome, StoreError>>,
}

impl Intake {
    /// An intake over `store` with these mappings; `onestop` says whether new dossiers are
    /// also pushed to the department's one-stop software; `outbox_wake` is notified after each
    /// new dossier so its messages are delivered without waiting for the worker's next poll,
    /// and `status_cache` drops its kept list pages.
    pub fn new(
        store: Store,
        mappings: Arc<Mappings>,
        agency: AgencyCode,
        agency_name: String,
        onestop: bool,
        outbox_wake: Arc<tokio::sync::Notify>,
        status_cache: Arc<StatusCache>,
    ) -> Self {
        // One writer: dossiers arriving together are stored in one transaction (group commit),
        // and each is answered only after that commit.
        let writer = store.start_writer(
            "motcua-intake-writer",
            MAX_BATCH,
            move |store, items: Vec<IntakeItem>| {
                let agency = agency.clone();
                async move { store.insert_dossiers(&agency, &items).await }
            },
        );
        Self {
            mappings,
            arrival: Arc::new(Arrival {
                agency_name,
                onestop,
            }),
            outbox_wake,
            status_cache,
            writer,
        }
    }

    /// Parses, validates and maps a body without storing anything (also used by
    /// `motcua mappings check`).
    pub fn build(
        mappings: &Mappings,
        format: BodyFormat,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<NewDossier, IntakeError> {
        let limits = Limits::default();
        let root = match format {
            BodyFormat::Xml => parse_xml(body, "HoSo", limits)?,
            BodyFormat::Json => parse_json(body, limits)?,
        };
        let env = read_envelope(&root)?;
        let mut errors = env.errors;
        let procedure = env.procedure.as_ref().and_then(|code| {
            let found = mappings.get(code);
            if found.is_none() {
                errors.push(FieldError::new(
                    "MaTTHC",
                    "unknown_procedure",
                    format!("procedure {code} is not handled by this gateway"),
                ));
            }
            found
        });
        let form = procedure.map(|p| p.map_form(&env.form, &mut errors));
        match (
            env.portal_id,
            env.procedure,
            env.channel,
            env.submitted_at,
            env.applicant,
            procedure,
            form,
        ) {
            (
                Some(portal_id),
                Some(code),
                Some(channel),
                Some(submitted_at),
                Some(applicant),
                Some(p),
                Some(form),
            ) if errors.is_empty() => {
                let fees = p.fees_for(&form, vn_date(now));
                Ok(NewDossier {
                    portal_id,
                    procedure: code,
                    channel,
                    submitted_at,
                    applicant,
                    summary: env.summary,
                    documents: env.documents,
                    form,
                    fees,
                    mapping_version: p.version.clone(),
                    content_hash: env.content_hash,
                })
            }
            _ => Err(IntakeError::Invalid(errors)),
        }
    }

    /// Builds the store's item for one verified request: parsed, validated and mapped, with
    /// the rows its code will decide and the records of its exchange. Also how the harness
    /// measures the store alone (`motcua bench intake`).
    pub fn item(
        &self,
        format: BodyFormat,
        raw: SubmissionRaw,
        now: DateTime<Utc>,
        recording: Recording,
    ) -> Result<Pending, IntakeError> {
        let dossier = Self::build(&self.mappings, format, &raw.body, now)?;
        let procedure_name = self
            .mappings
            .get(&dossier.procedure)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let content_hash = dossier.content_hash.clone();
        let arrival = self.arrival.clone();
        let item = IntakeItem {
            dossier,
            received_at: now,
            raw,
            prepare: Box::new(move |code, d| arrival.prepare(code, d, &procedure_name, now)),
            request: recording.request,
            answer_of: {
                let (answer_of, content_hash) = (recording.answer_of, content_hash.clone());
                Box::new(move |outcome| answer_of(&judge(outcome, &content_hash)))
            },
        };
        Ok(Pending { item, content_hash })
    }

    /// Takes one verified request. When the result comes from the store (created, replayed
    /// or conflict), `recording` was committed with it; a request rejected before the store
    /// (400, 422) or a store failure left nothing recorded.
    pub async fn submit(
        &self,
        format: BodyFormat,
        raw: SubmissionRaw,
        now: DateTime<Utc>,
        recording: Recording,
    ) -> Result<IntakeOutcome, IntakeError> {
        let Pending { item, content_hash } = self.item(format, raw, now, recording)?;
        let outcome = self
            .writer
            .submit(item)
            .await
            .map_err(|stopped| StoreError::Corrupt(stopped.to_string()))??;
        let result = judge(&outcome, &content_hash);
        if matches!(result, Ok(IntakeOutcome::Created { .. })) {
            self.status_cache.forget_pages();
            self.outbox_wake.notify_one();
        }
        result
    }
}

/// A request ready for the store.
pub struct Pending {
    /// What the store takes.
    pub item: IntakeItem,
    /// Its content's hash, which tells a replay from a conflict.
    pub content_hash: String,
}

/// What the store's outcome means for a request whose content hashes to `content_hash`: new,
/// a replay of the same content, or a conflict.
fn judge(outcome: &InsertOutcome, content_hash: &str) -> Result<IntakeOutcome, IntakeError> {
    match outcome {
        InsertOutcome::Created { code, answer } => Ok(IntakeOutcome::Created {
            code: code.clone(),
            answer: answer.clone(),
        }),
        InsertOutcome::Existing {
            code,
            content_hash: stored_hash,
            answer,
        } => {
            if content_hash == stored_hash {
                Ok(IntakeOutcome::Replayed {
                    code: code.clone(),
                    answer: answer.clone(),
                })
            } else {
                Err(IntakeError::Conflict(code.clone()))
            }
        }
    }
}

impl Arrival {
    fn prepare(
        &self,
        code: &DossierCode,
        d: &NewDossier,
        procedure_name: &str,
        now: DateTime<Utc>,
    ) -> PreparedRows {
        let status = Status::New.code();
        let first_answer = json!({
            "error_code": "0",
            "MaHoSo": code.as_str(),
            "MaHoSoQG": d.portal_id.as_str(),
            "TrangThaiHoSo": status,
            "NgayNhan": format_wire(now),
        })
        .to_string();
        let progress = NewProgress {
            action: "received".into(),
            status,
            officer_name: "Cổng Dịch vụ công Thành phố".into(),
            officer_title: "Hệ thống".into(),
            officer_unit: self.agency_name.clone(),
            note: Some("Tiếp nhận hồ sơ nộp trực tuyến, chờ Bộ phận Một cửa kiểm tra".into()),
            at: now.timestamp_millis(),
        };
        let mut outbox = vec![NewOutboxMessage {
            destination: PORTAL.into(),
            kind: "status".into(),
            payload: status_sync(
                code.as_str(),
                d.portal_id.as_str(),
                d.procedure.as_str(),
                status,
                SyncDates::default(),
                &progress,
            ),
        }];
        if self.onestop {
            outbox.push(NewOutboxMessage {
                destination: ONESTOP.into(),
                kind: "dossier".into(),
                payload: json!({
                    "event": "dossier.received",
                    "dossier": {
                        "code": code.as_str(),
                        "portal_id": d.portal_id.as_str(),
                        "procedure": { "code": d.procedure.as_str(), "name": procedure_name },
                        "status": status,
                        "channel": d.channel,
                        "submitted_at": format_wire(d.submitted_at),
                        "received_at": format_wire(now),
                        "applicant": d.applicant,
                        "summary": d.summary,
                        "form": d.form,
                        "documents": d.documents,
                        "fees": d.fees,
                    }
                })
                .to_string(),
            });
        }
        PreparedRows {
            first_answer,
            outbox,
            progress,
        }
    }
}
