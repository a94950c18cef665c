//! The month's indicators counted in the store: one aggregate query per family of figures,
//! grouped by procedure, on SQLite and PostgreSQL alike (docs/DOMAIN-RULES.md, "The city's
//! monthly indicators"). What depends on a procedure's kind (a notice is never overdue; only a
//! notice is deemed consented) is left to the caller, which knows the rules: the counts here
//! are the same for every kind.

use super::{with_pool, Store, StoreError};
use crate::domain::indicators::{Figures, Share};
use crate::portal::sync::PORTAL;
use std::collections::BTreeMap;

/// Per procedure: received in the month, by channel.
const RECEIVED: &str = "SELECT procedure_code, channel, COUNT(*) FROM dossiers \
     WHERE received_at >= $1 AND received_at < $2 GROUP BY procedure_code, channel";

/// Per procedure: finished in the month, by timeliness.
const FINISHED: &str = "SELECT procedure_code, COALESCE(timeliness, ''), COUNT(*) FROM dossiers \
     WHERE finished_at >= $1 AND finished_at < $2 GROUP BY procedure_code, timeliness";

/// Per procedure: due date passed in the month (before `$3`, the report's end) with no
/// rejection, withdrawal, stop or finish: a notice's deemed consent.
const DUE_PASSED: &str = "SELECT procedure_code, COUNT(*) FROM dossiers \
     WHERE due_at >= $1 AND due_at < $2 AND due_at < $3 AND finished_at IS NULL \
     AND status NOT IN (3, 7, 8) GROUP BY procedure_code";

/// Per procedure, at `$1` (the month's end, or now): open dossiers by their last progress
/// record before it, and of those, overdue by the due date that record put in force.
const AT_END: &str = "SELECT d.procedure_code, \
     CAST(SUM(CASE WHEN p.status NOT IN (3, 7, 8, 9, 10) THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN p.status NOT IN (3, 5, 6, 7, 8, 9, 10) AND p.due_at IS NOT NULL \
          AND p.due_at < $1 THEN 1 ELSE 0 END) AS BIGINT) \
     FROM dossiers d JOIN progress p ON p.id = (SELECT q.id FROM progress q \
          WHERE q.dossier_id = d.id AND q.at < $1 ORDER BY q.at DESC, q.id DESC LIMIT 1) \
     WHERE d.received_at < $1 GROUP BY d.procedure_code";

/// Per procedure, of the dossiers received in the month (and meeting `{of}`): how many meet
/// `{count}`.
fn share_query(of: &str, count: &str) -> String {
    format!(
        "SELECT d.procedure_code, COUNT(*), CAST(SUM(CASE WHEN {count} THEN 1 ELSE 0 END) AS BIGINT) \
         FROM dossiers d WHERE d.received_at >= $1 AND d.received_at < $2 AND {of} \
         GROUP BY d.procedure_code"
    )
}

/// Which share a query fills.
#[derive(Clone, Copy)]
enum Which {
    Synced,
    PaidOnline,
    DocumentsStored,
}

impl Store {
    /// The month `[from, to)`'s figures per procedure code, with the open and overdue counts
    /// taken at `end` (the month's end, or now for the month under way) and due dates passed
    /// before it. Every kind of procedure is counted alike (see the module's note).
    pub async fn indicator_counts(
        &self,
        from: i64,
        to: i64,
        end: i64,
    ) -> Result<BTreeMap<String, Figures>, StoreError> {
        let mut out: BTreeMap<String, Figures> = BTreeMap::new();
        let synced = share_query(
            "1 = 1",
            &format!(
                "NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dossier_id = d.id \
                 AND o.destination = '{PORTAL}' AND o.state <> 'delivered')"
            ),
        );
        let paid = share_query(
            "d.fees <> '[]'",
            "EXISTS (SELECT 1 FROM payments p WHERE p.dossier_id = d.id AND p.state = 'paid' \
             AND p.provider IN ('paygov', 'vnpay'))",
        );
        let stored = share_query(
            "EXISTS (SELECT 1 FROM dossier_documents x WHERE x.dossier_id = d.id)",
            "NOT EXISTS (SELECT 1 FROM dossier_documents x WHERE x.dossier_id = d.id \
             AND x.state <> 'stored')",
        );
        with_pool!(read self, pool => {
            let rows: Vec<(String, i64, i64)> =
                sqlx::query_as(RECEIVED).bind(from).bind(to).fetch_all(pool).await?;
            for (code, channel, n) in rows {
                out.entry(code).or_default().received.count(channel, n);
            }
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as(FINISHED).bind(from).bind(to).fetch_all(pool).await?;
            for (code, timeliness, n) in rows {
                out.entry(code).or_default().finished.count(&timeliness, n);
            }
            let rows: Vec<(String, i64)> = sqlx::query_as(DUE_PASSED)
                .bind(from)
                .bind(to)
                .bind(end)
                .fetch_all(pool)
                .await?;
            for (code, n) in rows {
                out.entry(code).or_default().deemed_consent = n;
            }
            let rows: Vec<(String, i64, i64)> =
                sqlx::query_as(AT_END).bind(end).fetch_all(pool).await?;
            for (code, open, overdue) in rows {
                let f = out.entry(code).or_default();
                f.open_at_end = open;
                f.overdue_at_end = overdue;
            }
            for (which, sql) in [
                (Which::Synced, &synced),
                (Which::PaidOnline, &paid),
                (Which::DocumentsStored, &stored),
            ] {
                let rows: Vec<(String, i64, i64)> =
                    sqlx::query_as(sql).bind(from).bind(to).fetch_all(pool).await?;
                for (code, of, count) in rows {
                    let f = out.entry(code).or_default();
                    let share = Share::new(count, of);
                    match which {
                        Which::Synced => f.synced = share,
                        Which::PaidOnline => f.paid_online = share,
                        Which::DocumentsStored => f.documents_stored = share,
                    }
                }
            }
            Ok(out)
        })
    }
}
