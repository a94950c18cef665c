//! What a new dossier's arrival writes besides the dossier: its first answer to the portal,
//! its progress record, and the messages it queues (the portal's status sync, and the push to
//! the department's one-stop software where there is one), each a [`CodeTemplate`] naming the
//! code the store will draw. Each text is a value of a derived `Serialize` type written
//! straight to JSON (docs/PERFORMANCE.md, ninth slice).

use crate::domain::applicant::Applicant;
use crate::domain::code_template::{CodeTemplate, Unstable};
use crate::domain::dossier::{Channel, DocumentRef, FeeLine, NewDossier, Progress};
use crate::domain::status::Status;
use crate::domain::time::format_wire;
use crate::portal::sync::{status_sync, SyncDates, ONESTOP, PORTAL};
use crate::store::{ArrivalRows, NewOutboxMessage};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What building an arrival's rows needs besides the dossier.
#[derive(Debug)]
pub(super) struct Arrival {
    pub(super) agency_name: String,
    /// The agency's province suffix (`H29`): the portal writes procedure codes in its form.
    pub(super) province: String,
    pub(super) onestop: bool,
}

impl Arrival {
    /// What a new dossier's arrival writes: its first answer, its progress record and its
    /// messages, each naming the code the store will draw.
    pub(super) fn rows(
        &self,
        d: &NewDossier,
        procedure_name: &str,
        now: DateTime<Utc>,
    ) -> Result<ArrivalRows, Unstable> {
        let status = Status::New.code();
        let received = format_wire(now);
        let first_answer = CodeTemplate::json(|code| FirstAnswer {
            error_code: "0",
            code,
            portal_id: d.portal_id.as_str(),
            status,
            received_at: &received,
        })?;
        let progress = Progress {
            action: "received".into(),
            status,
            officer_name: "Cổng Dịch vụ công Thành phố".into(),
            officer_title: "Hệ thống".into(),
            officer_unit: self.agency_name.clone(),
            note: Some("Tiếp nhận hồ sơ nộp trực tuyến, chờ Bộ phận Một cửa kiểm tra".into()),
            at: now.timestamp_millis(),
        };
        let procedure = d.procedure.with_province(&self.province);
        let mut outbox = vec![NewOutboxMessage {
            destination: PORTAL.into(),
            kind: "status".into(),
            payload: CodeTemplate::json(|code| {
                status_sync(
                    code,
                    d.portal_id.as_str(),
                    &procedure,
                    status,
                    SyncDates::default(),
                    &progress,
                )
            })?,
        }];
        if self.onestop {
            let submitted = format_wire(d.submitted_at);
            outbox.push(NewOutboxMessage {
                destination: ONESTOP.into(),
                kind: "dossier".into(),
                payload: CodeTemplate::json(|code| OnestopPush {
                    event: "dossier.received",
                    dossier: OnestopDossier {
                        code,
                        portal_id: d.portal_id.as_str(),
                        procedure: OnestopProcedure {
                            code: d.procedure.as_str(),
                            name: procedure_name,
                        },
                        status,
                        channel: d.channel,
                        submitted_at: &submitted,
                        received_at: &received,
                        applicant: &d.applicant,
                        summary: d.summary.as_deref(),
                        form: &d.form,
                        documents: &d.documents,
                        fees: &d.fees,
                    },
                })?,
            });
        }
        Ok(ArrivalRows {
            first_answer,
            outbox,
            progress,
        })
    }
}

/// A new dossier's answer to the portal (`201`), written as serialised: fields in this order.
#[derive(Serialize)]
struct FirstAnswer<'a> {
    error_code: &'static str,
    #[serde(rename = "MaHoSo")]
    code: &'a str,
    #[serde(rename = "MaHoSoQG")]
    portal_id: &'a str,
    #[serde(rename = "TrangThaiHoSo")]
    status: i64,
    #[serde(rename = "NgayNhan")]
    received_at: &'a str,
}

/// The push of a new dossier to the department's one-stop software.
#[derive(Serialize)]
struct OnestopPush<'a> {
    event: &'static str,
    dossier: OnestopDossier<'a>,
}

/// [`OnestopPush`]'s dossier.
#[derive(Serialize)]
struct OnestopDossier<'a> {
    code: &'a str,
    portal_id: &'a str,
    procedure: OnestopProcedure<'a>,
    status: i64,
    channel: Channel,
    submitted_at: &'a str,
    received_at: &'a str,
    applicant: &'a Applicant,
    summary: Option<&'a str>,
    form: &'a serde_json::Value,
    documents: &'a [DocumentRef],
    fees: &'a [FeeLine],
}

/// [`OnestopDossier`]'s procedure.
#[derive(Serialize)]
struct OnestopProcedure<'a> {
    code: &'a str,
    name: &'a str,
}
