//! `GET /admin/indicators?month=YYYY-MM`: the city's monthly indicators for officers, the same
//! report as the API's and `motcua report indicators` (`dossiers::report`), as a table and a
//! chart of the dossiers finished early, on time and late, per procedure.

use super::chart::{stacked_bars, Series};
use super::lang::Lang;
use super::reply::{failed, page};
use super::session::{acts, Officer};
use crate::domain::indicators::{Figures, Month, Share};
use crate::http::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The chart's series: finished early, on time, late.
fn finished(t: Lang) -> [Series; 3] {
    [
        Series {
            name: t.w("Trước hạn", "Early"),
            colour: "#2e7d32",
        },
        Series {
            name: t.w("Đúng hạn", "On time"),
            colour: "#1565c0",
        },
        Series {
            name: t.w("Trễ hạn", "Late"),
            colour: "#c62828",
        },
    ]
}

/// One line of the table, every figure in words.
pub struct Line {
    /// The procedure, or "Tổng cộng".
    pub label: String,
    /// Received: at the counter, online, by post, in all.
    pub received: [i64; 4],
    /// Finished: early, on time, late, in all.
    pub finished: [i64; 4],
    /// Notices deemed consented.
    pub deemed: i64,
    /// Open at the month's end.
    pub open: i64,
    /// Overdue at the month's end.
    pub overdue: i64,
    /// Shares: synced, paid online, documents stored.
    pub shares: [String; 3],
}

/// A share as people read it: `97,5 % (39/40)`, or a dash where nothing was counted.
pub fn percent(s: &Share) -> String {
    match s.share {
        Some(q) => format!(
            "{} % ({}/{})",
            format!("{:.1}", q * 100.0).replace('.', ","),
            s.count,
            s.of
        ),
        None => "—".to_owned(),
    }
}

impl Line {
    fn new(label: String, f: &Figures) -> Self {
        Self {
            label,
            received: [
                f.received.in_person,
                f.received.online,
                f.received.post,
                f.received.total,
            ],
            finished: [
                f.finished.early,
                f.finished.on_time,
                f.finished.late,
                f.finished.total,
            ],
            deemed: f.deemed_consent,
            open: f.open_at_end,
            overdue: f.overdue_at_end,
            shares: [
                percent(&f.synced),
                percent(&f.paid_online),
                percent(&f.documents_stored),
            ],
        }
    }
}

/// The page.
#[derive(Template)]
#[template(path = "admin/indicators.html")]
pub struct IndicatorsPage<'a> {
    /// The page's language.
    pub t: Lang,
    /// The department's name.
    pub agency: &'a str,
    /// Who is signed in.
    pub officer: &'a str,
    /// Whether they may act.
    pub acts: bool,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// `YYYY-MM`.
    pub month: String,
    /// Whether the month asked for was not understood (the month under way is shown).
    pub misread: bool,
    /// Counted up to, `dd/MM/yyyy HH:mm`.
    pub counted_at: String,
    /// Each procedure, then the total.
    pub lines: Vec<Line>,
    /// The chart, SVG.
    pub chart: String,
    /// Inter-agency steps per agency: its name, finished on time, late, held at the month's
    /// end, of which late then.
    pub agencies: Vec<(String, [i64; 4])>,
}

/// The month asked for.
#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

/// The handler.
pub async fn indicators(
    State(state): State<AppState>,
    officer: Officer,
    Query(q): Query<MonthQuery>,
) -> Response {
    let now = chrono::Utc::now();
    let asked = q.month.as_deref().filter(|m| !m.is_empty());
    let month = asked
        .and_then(Month::parse)
        .unwrap_or_else(|| Month::of(now));
    let report = match crate::dossiers::report::indicators(
        &state.store,
        &state.mappings,
        state.lifecycle.agencies(),
        month,
        now,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let name = |code: &str, name: &Option<String>| {
        name.as_ref()
            .map_or_else(|| code.to_owned(), |n| format!("{code} · {n}"))
    };
    let bars: Vec<(String, [i64; 3])> = report
        .procedures
        .iter()
        .map(|p| {
            let f = &p.figures.finished;
            (name(&p.code, &p.name), [f.early, f.on_time, f.late])
        })
        .collect();
    let t = &report.total.finished;
    let lang = officer.lang;
    let summary = match lang {
        Lang::Vi => format!(
            "Tháng {}: {} hồ sơ giải quyết xong, {} trước hạn, {} đúng hạn, {} trễ hạn.",
            report.month, t.total, t.early, t.on_time, t.late
        ),
        Lang::En => format!(
            "{}: {} dossiers finished, {} early, {} on time, {} late.",
            report.month, t.total, t.early, t.on_time, t.late
        ),
    };
    let mut lines: Vec<Line> = report
        .procedures
        .iter()
        .map(|p| Line::new(name(&p.code, &p.name), &p.figures))
        .collect();
    lines.push(Line::new(
        lang.w("Tổng cộng", "Total").to_owned(),
        &report.total,
    ));
    let counted_at = crate::domain::time::parse_wire(&report.counted_at)
        .map(|t| crate::domain::time::format_people_millis(t.timestamp_millis()))
        .unwrap_or_default();
    let view = IndicatorsPage {
        t: lang,
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        month: report.month.clone(),
        misread: asked.is_some_and(|m| Month::parse(m).is_none()),
        counted_at,
        lines,
        agencies: report
            .agencies
            .iter()
            .map(|a| {
                (
                    a.name.clone().unwrap_or_else(|| a.agency.clone()),
                    [a.on_time, a.late, a.open_at_end, a.late_at_end],
                )
            })
            .collect(),
        chart: stacked_bars(
            lang.w(
                "Hồ sơ giải quyết xong trong tháng",
                "Dossiers finished in the month",
            ),
            &summary,
            &finished(lang),
            &bars,
        ),
    };
    let status = if view.misread {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(status, view.render())
}
