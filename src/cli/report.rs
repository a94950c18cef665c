//! `motcua report indicators --month YYYY-MM`: the city's monthly indicators, as the API gives
//! them (`dossiers::report`), printed as a table for a person or as CSV for a spreadsheet.

use crate::config::Config;
use crate::domain::indicators::{Figures, Month, Share};
use crate::dossiers::report::{indicators, Report};
use crate::mapping::Mappings;
use crate::store::Store;
use anyhow::Context;

/// The columns, in order.
const HEADER: [&str; 17] = [
    "MaTTHC",
    "received",
    "in_person",
    "online",
    "post",
    "finished",
    "early",
    "on_time",
    "late",
    "deemed_consent",
    "open_at_end",
    "overdue_at_end",
    "synced",
    "paid_online",
    "documents_stored",
    "kind",
    "TenTTHC",
];

/// A share as `count/of`.
fn share(s: Share) -> String {
    format!("{}/{}", s.count, s.of)
}

fn row(code: &str, kind: &str, name: &str, f: &Figures) -> Vec<String> {
    let n = |v: i64| v.to_string();
    vec![
        code.to_owned(),
        n(f.received.total),
        n(f.received.in_person),
        n(f.received.online),
        n(f.received.post),
        n(f.finished.total),
        n(f.finished.early),
        n(f.finished.on_time),
        n(f.finished.late),
        n(f.deemed_consent),
        n(f.open_at_end),
        n(f.overdue_at_end),
        share(f.synced),
        share(f.paid_online),
        share(f.documents_stored),
        kind.to_owned(),
        name.to_owned(),
    ]
}

fn rows(report: &Report) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = report
        .procedures
        .iter()
        .map(|p| {
            row(
                &p.code,
                p.kind.unwrap_or(""),
                p.name.as_deref().unwrap_or(""),
                &p.figures,
            )
        })
        .collect();
    rows.push(row("total", "", "", &report.total));
    rows
}

/// CSV (RFC 4180): a field with a comma, a quote or a line break is quoted.
fn csv(rows: &[Vec<String>]) -> String {
    let field = |f: &str| {
        if f.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_owned()
        }
    };
    let mut out = String::new();
    for r in std::iter::once(HEADER.map(str::to_owned).to_vec()).chain(rows.iter().cloned()) {
        out.push_str(&r.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// Columns padded to their widest cell; the name, last, is not padded.
fn table(report: &Report, rows: &[Vec<String>]) -> String {
    let all: Vec<Vec<String>> = std::iter::once(HEADER.map(str::to_owned).to_vec())
        .chain(rows.iter().cloned())
        .collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "indicators of {} (from {} to {}, open and overdue as at {}); shares are count/of\n",
        report.month, report.from, report.to, report.counted_at
    );
    for r in &all {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i + 1 == HEADER.len() {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Prints the month's indicators.
pub async fn run(config: &Config, month: &str, as_csv: bool) -> anyhow::Result<()> {
    let month = Month::parse(month).context("--month: a month YYYY-MM")?;
    let mappings = Mappings::load_dir(&config.mappings.dir).map_err(|problems| {
        anyhow::anyhow!(
            "the mappings do not load: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let store = Store::connect(&config.database.url, 2)
        .await
        .context("cannot open the database")?;
    let agencies = crate::lienthong::Agencies::new(config);
    let report = indicators(&store, &mappings, &agencies, month, chrono::Utc::now()).await;
    store.close().await;
    let report = report?;
    let rows = rows(&report);
    if as_csv {
        print!("{}", csv(&rows));
    } else {
        print!("{}", table(&report, &rows));
    }
    Ok(())
}
