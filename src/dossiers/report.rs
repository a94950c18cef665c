//! The month's indicators as the API and `motcua report indicators` give them: the store's
//! counts per procedure, with what depends on the procedure's kind applied (a notice is never
//! overdue; only a notice is deemed consented), each procedure named, and the total; and the
//! inter-agency steps each agency finished on time or late, and held at the month's end.

use crate::domain::codes::ProcedureCode;
use crate::domain::indicators::{Figures, Month};
use crate::domain::time::format_wire_millis;
use crate::lienthong::Agencies;
use crate::mapping::{Mappings, ProcedureKind};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One procedure's line of the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = IndicatorLine)]
pub struct ProcedureLine {
    /// The procedure's code, as stored.
    #[serde(rename = "MaTTHC")]
    pub code: String,
    /// Its name, when a mapping knows it.
    #[serde(rename = "TenTTHC")]
    pub name: Option<String>,
    /// `approval` or `notice`, when a mapping knows it.
    pub kind: Option<&'static str>,
    /// The figures.
    pub figures: Figures,
}

/// The month's report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Indicators)]
pub struct Report {
    /// `YYYY-MM`.
    pub month: String,
    /// The month's first moment, `yyyyMMddHHmmss` Vietnam time.
    pub from: String,
    /// The next month's first moment.
    pub to: String,
    /// The moment "at the month's end" means: the end, or now for the month under way.
    pub counted_at: String,
    /// Each procedure with a dossier to count, by code.
    pub procedures: Vec<ProcedureLine>,
    /// Every procedure together.
    pub total: Figures,
    /// Inter-agency steps per agency (contract section 9), by code.
    pub agencies: Vec<AgencyLine>,
}

/// One agency's steps in the month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgencyLine {
    /// The agency's e-ID.
    pub agency: String,
    /// Its name, where the configuration has it.
    pub name: Option<String>,
    /// Steps it finished (done or refused) in the month on or before their due day.
    pub on_time: i64,
    /// Steps it finished in the month after their due day.
    pub late: i64,
    /// Steps it held at the month's end.
    pub open_at_end: i64,
    /// Of those, past their `HanXuLy` then.
    pub late_at_end: i64,
}

/// The indicators of `month`, as of `now`.
pub async fn indicators(
    store: &Store,
    mappings: &Mappings,
    agencies: &Agencies,
    month: Month,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (from, to) = month.bounds();
    let end = to.min(now.timestamp_millis());
    let counts = store.indicator_counts(from, to, end).await?;
    let last_day =
        crate::domain::time::vn_date(DateTime::from_timestamp_millis(end - 1).unwrap_or(now));
    let mut total = Figures::default();
    let procedures = counts
        .into_iter()
        .map(|(code, mut figures)| {
            let rules = ProcedureCode::parse(&code).ok().and_then(|c| {
                mappings
                    .in_force(&c, last_day)
                    .or_else(|| mappings.versions(&c).last())
                    .cloned()
            });
            let notice = rules
                .as_ref()
                .is_some_and(|p| p.kind == ProcedureKind::Notice);
            if notice {
                figures.overdue_at_end = 0;
            } else {
                figures.deemed_consent = 0;
            }
            total = total.add(&figures);
            ProcedureLine {
                code,
                name: rules.as_ref().map(|p| p.name.clone()),
                kind: rules.as_ref().map(|p| match p.kind {
                    ProcedureKind::Approval => "approval",
                    ProcedureKind::Notice => "notice",
                }),
                figures,
            }
        })
        .collect();
    let offset_ms = i64::from(crate::domain::time::vn_offset().local_minus_utc()) * 1000;
    let agencies = store
        .step_counts(from, end, offset_ms)
        .await?
        .into_iter()
        .map(|(code, c)| AgencyLine {
            name: agencies.get(&code).map(|a| a.name.clone()),
            agency: code,
            on_time: c.on_time,
            late: c.late,
            open_at_end: c.open,
            late_at_end: c.open_late,
        })
        .collect();
    Ok(Report {
        agencies,
        month: month.label(),
        from: format_wire_millis(from),
        to: format_wire_millis(to),
        counted_at: format_wire_millis(end),
        procedures,
        total,
    })
}
