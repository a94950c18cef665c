//! Intake: a verified portal request becomes a stored dossier, or a precise rejection.
//!
//! Order of work: parse (400), read the envelope and apply the procedure's mapping, collecting
//! every problem (422), then one store transaction that draws the code, queues the arrival's
//! messages and records the request with its answer in the message log. A replay of the same
//! content answers the first answer; different content under a known `MaHoSoQG` is a conflict
//! (409). Nothing is stored for a request rejected before the store.

use super::arrival::Arrival;
use crate::chain::NewMessage;
use crate::domain::code_template::Unstable;
use crate::domain::codes::AgencyCode;
use crate::domain::dossier::NewDossier;
use crate::domain::time::vn_date;
use crate::domain::validation::FieldError;
use crate::dossiers::status_cache::StatusCache;
use crate::mapping::Procedure;
use crate::mapping::{Mappings, ProcedureKind};
use crate::portal::json::parse_json;
use crate::portal::submission::read_envelope;
use crate::portal::tree::{Limits, Malformed};
use crate::portal::xml::parse_xml;
use crate::store::group_commit::GroupCommit;
use crate::store::{InsertOutcome, IntakeItem, IntakeReplies, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Which day's rules judge a body: the day it is received (intake), or the day its
/// `NgayNopHoSo` says it was submitted (a fixture checked offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesDay {
    /// The day the gateway receives it.
    Received,
    /// The day of its `NgayNopHoSo`.
    Submitted,
}

/// A procedure's versions' days, as a rejection names them: `2024-11-19..2026-01-04, 2026-01-05..`.
fn in_force_spans(versions: &[Arc<Procedure>]) -> String {
    let spans: Vec<String> = versions
        .iter()
        .map(|v| {
            let until = v.effective_until.map(|d| d.to_string()).unwrap_or_default();
            format!("{}..{until}", v.effective_from)
        })
        .collect();
    spans.join(", ")
}

/// The two body formats the portal may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/xml`, root `<HoSo>`.
    Xml,
    /// `application/json`, one object.
    Json,
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
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An arrival's texts could not be made into templates (500; a bug).
    #[error(transparent)]
    Render(#[from] Unstable),
}

impl From<Malformed> for IntakeError {
    fn from(m: Malformed) -> Self {
        IntakeError::Malformed(m.0)
    }
}

/// What intake records in the message log in the dossier's own transaction: the request, and
/// how its answer is recorded whatever the store finds (the answer sent is the one recorded).
pub struct Recording {
    /// The request as it crossed the wire.
    pub request: NewMessage,
    /// How the answer is recorded.
    pub replies: IntakeReplies,
}

/// Dossiers stored in one transaction at most.
pub const MAX_BATCH: usize = 64;

/// The name of the intake writer's thread (`motcua bench` reads its scheduling by it).
pub const WRITER_THREAD: &str = "motcua-intake-writer";

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
        let province = agency.province().to_owned();
        let writer_agency = agency;
        // One writer: dossiers arriving together are stored in one transaction (group commit),
        // and each is answered only after that commit.
        let writer = store.start_writer(
            WRITER_THREAD,
            MAX_BATCH,
            move |store, items: Vec<IntakeItem>| {
                let agency = writer_agency.clone();
                async move { store.insert_dossiers(&agency, &items).await }
            },
        );
        Self {
            mappings,
            arrival: Arc::new(Arrival {
                agency_name,
                province,
                onestop,
            }),
            outbox_wake,
            status_cache,
            writer,
        }
    }

    /// The sizes of the intake writer's batches: dossiers stored per transaction.
    pub fn batch_sizes(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.writer.batch_sizes()
    }

    /// Parses, validates and maps a body received `now` without storing anything, under the
    /// rules in force that day.
    pub fn build(
        mappings: &Mappings,
        format: BodyFormat,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<NewDossier, IntakeError> {
        Self::build_under(mappings, format, body, now, RulesDay::Received)
    }

    /// [`Intake::build`] under the rules of the day `day` names (`motcua mappings check` runs
    /// each fixture under the version in force on its `NgayNopHoSo`).
    pub fn build_under(
        mappings: &Mappings,
        format: BodyFormat,
        body: &[u8],
        now: DateTime<Utc>,
        day: RulesDay,
    ) -> Result<NewDossier, IntakeError> {
        let limits = Limits::default();
        let root = match format {
            BodyFormat::Xml => parse_xml(body, "HoSo", limits)?,
            BodyFormat::Json => parse_json(body, limits)?,
        };
        let env = read_envelope(&root)?;
        let mut errors = root.control_characters();
        errors.extend(env.errors);
        let rules_day = match (day, env.submitted_at) {
            (RulesDay::Submitted, Some(submitted)) => vn_date(submitted),
            _ => vn_date(now),
        };
        let procedure = env.procedure.as_ref().and_then(|code| {
            let found = mappings.in_force(code, rules_day);
            match mappings.versions(code) {
                [] => errors.push(FieldError::new(
                    "MaTTHC",
                    "unknown_procedure",
                    format!("procedure {code} is not handled by this gateway"),
                )),
                versions if found.is_none() => errors.push(FieldError::new(
                    "MaTTHC",
                    "procedure_not_in_force",
                    format!(
                        "procedure {code} has no rules in force on {rules_day} (its versions run {})",
                        in_force_spans(versions)
                    ),
                )),
                _ => {}
            }
            found
        });
        let form = procedure.map(|p| p.map_form(&env.form, &mut errors));
        // Every document the procedure requires must be attached (contract section 6).
        for required in procedure
            .iter()
            .flat_map(|p| p.documents.iter().filter(|d| d.required))
        {
            if !env.documents.iter().any(|d| d.component == required.code) {
                errors.push(FieldError::new(
                    format!("TaiLieuNop.{}", required.code),
                    "missing_document",
                    format!("{} is required", required.name),
                ));
            }
        }
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
                let fees = p
                    .fees_for(&form, rules_day)
                    .map_err(|problem| IntakeError::Invalid(vec![problem]))?;
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

    /// Builds the store's item for one verified request's `body`: parsed, validated and
    /// mapped, with the rows its arrival writes and the records of its exchange (the body is
    /// kept once, in the request's record). Also how the harness measures the store alone
    /// (`motcua bench intake`).
    pub fn item(
        &self,
        format: BodyFormat,
        body: &[u8],
        now: DateTime<Utc>,
        recording: Recording,
    ) -> Result<IntakeItem, IntakeError> {
        let dossier = Self::build(&self.mappings, format, body, now)?;
        let judged =
            self.mappings
                .judged_by(&dossier.procedure, &dossier.mapping_version, vn_date(now));
        let procedure_name = judged.map(|p| p.name.as_str()).unwrap_or_default();
        let notice = judged.is_some_and(|p| p.kind == ProcedureKind::Notice);
        let rows = self.arrival.rows(&dossier, procedure_name, now)?;
        Ok(IntakeItem {
            dossier,
            received_at: now,
            notice,
            rows,
            request: recording.request,
            replies: recording.replies,
        })
    }

    /// Takes one verified request. When the result comes from the store (created, replayed
    /// or conflict), `recording` was committed with it; a request rejected before the store
    /// (400, 422) or a store failure left nothing recorded.
    pub async fn submit(
        &self,
        format: BodyFormat,
        body: &[u8],
        now: DateTime<Utc>,
        recording: Recording,
    ) -> Result<InsertOutcome, IntakeError> {
        let item = self.item(format, body, now, recording)?;
        let outcome = self.writer.submit(item).await.map_err(StoreError::from)??;
        if matches!(outcome, InsertOutcome::Created { .. }) {
            self.status_cache.forget_pages();
            self.outbox_wake.notify_one();
        }
        Ok(outcome)
    }
}
