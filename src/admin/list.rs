//! `GET /admin`: the dossiers' list for officers. Overdue dossiers come first, the longest
//! overdue at the top, then every other dossier, newest first; each part is read through an
//! index of its own (`store::listing`), so a page costs the same at a million dossiers. Filters
//! by status, procedure and day received; a search by dossier code (or the portal's), or by the
//! words of the applicant's name with or without diacritics (`domain::search`).

use super::reply::{failed, page};
use super::session::{acts, Officer};
use super::views;
use crate::domain::codes::ProcedureCode;
use crate::domain::search::words;
use crate::domain::status::Status;
use crate::domain::time::{parse_bound, Edge};
use crate::http::AppState;
use crate::store::{DossierFilter, DossierSummary, OverdueFirst, Part};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Dossiers on one page of the list.
pub const PAGE: i64 = 50;

/// The list's query: filters, search, and where the page starts.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    procedure: Option<String>,
    /// Received from this day (`YYYY-MM-DD`, Vietnam time).
    from: Option<String>,
    /// Received up to this day, included.
    to: Option<String>,
    /// A dossier code, a portal id, or words of the applicant's name.
    q: Option<String>,
    /// `due.id` of the last overdue dossier of the page before.
    after: Option<String>,
    /// The last id of the page before, once past the overdue ones.
    before: Option<i64>,
}

/// Whether `q` is a code rather than a name: one token with a digit and a `.` or `-`.
fn is_code(q: &str) -> bool {
    !q.contains(char::is_whitespace)
        && q.chars().any(|c| c.is_ascii_digit())
        && q.contains(['.', '-'])
}

/// A day of a date field as a bound of the received time.
fn day(text: Option<&str>, edge: Edge) -> Option<i64> {
    let compact: String = text?.chars().filter(|c| *c != '-').collect();
    (compact.len() == 8)
        .then(|| parse_bound(&compact, edge))
        .flatten()
        .map(|t| t.timestamp_millis())
}

/// The filters as asked, for the next page's link.
fn kept(q: &ListQuery) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("status", &q.status),
        ("procedure", &q.procedure),
        ("from", &q.from),
        ("to", &q.to),
        ("q", &q.q),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// The handler.
pub async fn dossiers(
    State(state): State<AppState>,
    officer: Officer,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = q.status.as_deref().and_then(|s| s.parse::<i64>().ok());
    let procedure = q
        .procedure
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(|p| ProcedureCode::parse(p).ok());
    let search = q.q.as_deref().map(str::trim).unwrap_or("");
    let now = chrono::Utc::now().timestamp_millis();
    let base = DossierFilter {
        status,
        procedure: procedure.as_ref().map(|p| p.as_str().to_owned()),
        from: day(q.from.as_deref(), Edge::Start),
        to: day(q.to.as_deref(), Edge::End),
        code: is_code(search).then(|| search.to_owned()),
        words: if is_code(search) {
            Vec::new()
        } else {
            words(search)
        },
        limit: PAGE,
        ..DossierFilter::default()
    };
    let after = q.after.as_deref().and_then(|a| {
        let (due, id) = a.split_once('.')?;
        Some((due.parse().ok()?, id.parse().ok()?))
    });
    let part = |part: Part, before_id: Option<i64>, limit: i64| DossierFilter {
        before_id,
        limit,
        overdue: Some(OverdueFirst { now, part }),
        ..base.clone()
    };
    // The overdue part first, unless the page before was already past it.
    let mut rows: Vec<DossierSummary> = Vec::new();
    let mut overdue_rows = 0;
    if q.before.is_none() {
        match state
            .store
            .list_dossiers(&part(Part::Overdue { after }, None, PAGE))
            .await
        {
            Ok(found) => {
                overdue_rows = found.len();
                rows = found;
            }
            Err(e) => return failed(&e),
        }
    }
    let room = PAGE - rows.len() as i64;
    if room > 0 {
        match state
            .store
            .list_dossiers(&part(Part::Rest, q.before, room))
            .await
        {
            Ok(found) => rows.extend(found),
            Err(e) => return failed(&e),
        }
    }
    let filters = kept(&q);
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last())
        .flatten()
        .map(|last| {
            let at = if rows.len() == overdue_rows {
                format!("after={}.{}", last.due_at.unwrap_or(0), last.id)
            } else {
                format!("before={}", last.id)
            };
            if filters.is_empty() {
                format!("/admin?{at}")
            } else {
                format!("/admin?{filters}&{at}")
            }
        });
    let today = crate::domain::time::vn_date(chrono::Utc::now());
    let t = officer.lang;
    let view = views::Dossiers {
        t,
        agency: &state.config.agency.name,
        officer: &officer.client.name,
        acts: acts(&officer.client),
        csrf: &officer.session.csrf,
        statuses: (1..=10)
            .filter_map(Status::from_code)
            .map(|s| (s.code(), t.status(s.code()), Some(s.code()) == status))
            .collect(),
        procedures: state
            .mappings
            .iter()
            .map(|(code, versions)| {
                let name = state
                    .mappings
                    .in_force(code, today)
                    .or(versions.last())
                    .map_or_else(String::new, |p| p.name.clone());
                (
                    code.as_str().to_owned(),
                    name,
                    procedure.as_ref() == Some(code),
                )
            })
            .collect(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        q: search.to_owned(),
        rows: rows
            .iter()
            .map(|r| {
                let rules = ProcedureCode::parse(&r.procedure_code)
                    .ok()
                    .and_then(|c| state.mappings.versions(&c).last().cloned());
                views::Row::new(r, rules.as_deref(), now, t)
            })
            .collect(),
        next,
    };
    page(StatusCode::OK, view.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_told_from_a_name() {
        for code in [
            "000.00.12.H29-261130-0001",
            "G22.99-2611-000123",
            "H29-261130-0001",
        ] {
            assert!(is_code(code), "{code}");
        }
        for name in ["Nguyễn Văn An", "an", "Công ty 3-D", "2026"] {
            assert!(!is_code(name), "{name}");
        }
    }

    #[test]
    fn a_day_field_bounds_the_whole_day() {
        let from = day(Some("2026-11-30"), Edge::Start);
        let to = day(Some("2026-11-30"), Edge::End);
        assert_eq!(to.zip(from).map(|(t, f)| t - f), Some(86_400_000));
        assert_eq!(day(Some("30/11/2026"), Edge::Start), None);
        assert_eq!(day(Some(""), Edge::Start), None);
    }

    #[test]
    fn the_next_link_keeps_the_filters_encoded() {
        let q = ListQuery {
            status: Some("4".into()),
            q: Some("Nguyễn Văn".into()),
            to: Some(String::new()),
            ..ListQuery::default()
        };
        assert_eq!(kept(&q), "status=4&q=Nguy%E1%BB%85n+V%C4%83n");
    }
}
