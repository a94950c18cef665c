//! The paged list of dossiers, for the API and the officers' page: filters, a search by code
//! or by the words of the applicant's name, and the officers' order, overdue first (two parts
//! read one after the other, each through an index of its own). Also the folding of names
//! stored before the words were kept.

use super::dossier_rows::{DossierFilter, DossierSummary};
use super::dossiers::decode_json;
use super::{with_pool, with_tx, Store, StoreError};
use crate::domain::search::{prefix_range, words};
use sqlx::Row;

/// Statuses whose clock runs (`Status::clock_runs`), as the partial index
/// `dossiers_running_by_due` of migration 0015 is written: the two must agree.
pub const RUNNING: &str = "status IN (1, 2, 4)";

/// Names a word's range is counted up to, when a search chooses how to read: past it a word
/// is common (a twentieth of a million names), and counting further would cost more than
/// the choice saves.
pub const COUNTED: i64 = 50_000;

/// The range that should pick the dossiers (see `Store::rarest`), from each range's count,
/// the dossiers stored and the rows wanted; `None`: read dossiers newest first.
fn pick(counts: &[i64], stored: i64, limit: i64) -> Option<usize> {
    let (rarest, fewest) = counts.iter().copied().enumerate().min_by_key(|(_, n)| *n)?;
    if fewest >= COUNTED {
        // Counted no further: it may be a third of the store. Never gathered.
        return None;
    }
    let stored = stored.max(1) as f64;
    let share: f64 = counts
        .iter()
        .map(|n| (*n as f64 / stored).clamp(1.0 / stored, 1.0))
        .product();
    let words = counts.len() as f64;
    let scan = (limit as f64 / share).min(stored) * words;
    let gather = fewest as f64 * words;
    (gather <= scan).then_some(rarest)
}

/// Which part of a list with overdue dossiers first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The overdue dossiers, the longest overdue first; after `(due_at, id)` of the page before.
    Overdue {
        /// The previous page's last `(due_at, id)`.
        after: Option<(i64, i64)>,
    },
    /// Every other dossier, newest first (`before_id` pages it).
    Rest,
}

/// Overdue first: which dossiers are overdue at `now`, and which part is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueFirst {
    /// The moment (ms).
    pub now: i64,
    /// Procedures that are notices: never overdue.
    pub notices: Vec<String>,
    /// The part.
    pub part: Part,
}

enum Arg {
    Int(i64),
    Text(String),
}

/// Conditions with numbered placeholders, as they are added.
#[derive(Default)]
struct Conditions {
    text: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Adds `cond`, each `?` in it taking the next of `args`.
    fn add(&mut self, cond: &str, args: Vec<Arg>) {
        let mut out = String::new();
        let mut parts = cond.split('?');
        out.push_str(parts.next().unwrap_or(""));
        for (part, arg) in parts.zip(args) {
            self.args.push(arg);
            out.push_str(&format!("${}", self.args.len()));
            out.push_str(part);
        }
        self.text.push(out);
    }

    /// Binds a word range without a condition: its two placeholders' numbers.
    fn bind_range(&mut self, from: &str, to: &str) -> (usize, usize) {
        self.args.push(Arg::Text(from.to_owned()));
        self.args.push(Arg::Text(to.to_owned()));
        (self.args.len() - 1, self.args.len())
    }

    /// `status IN (1, 2, 4) AND due_at < now AND procedure_code NOT IN (notices)`, with its args.
    fn overdue(&mut self, o: &OverdueFirst) -> (String, Vec<Arg>) {
        let mut cond = format!("{RUNNING} AND due_at IS NOT NULL AND due_at < ?");
        let mut args = vec![Arg::Int(o.now)];
        if !o.notices.is_empty() {
            let marks = vec!["?"; o.notices.len()].join(", ");
            cond.push_str(&format!(" AND procedure_code NOT IN ({marks})"));
            args.extend(o.notices.iter().map(|n| Arg::Text(n.clone())));
        }
        (cond, args)
    }
}

impl Store {
    /// A page of dossiers: newest first, or in the part of the officers' order `overdue` names.
    pub async fn list_dossiers(
        &self,
        filter: &DossierFilter,
    ) -> Result<Vec<DossierSummary>, StoreError> {
        let mut c = Conditions::default();
        if let Some(s) = filter.status {
            // Written into the statement, not bound: PostgreSQL's generic plan for a bound
            // status guesses a third of the store for any status and reads every dossier
            // newest first to find a rare one (a status of old dossiers, at a million: seconds).
            c.text.push(format!("status = {s}"));
        }
        if let Some(p) = filter.procedure.as_deref() {
            c.add("procedure_code = ?", vec![Arg::Text(p.to_owned())]);
        }
        if let Some(f) = filter.from {
            c.add("received_at >= ?", vec![Arg::Int(f)]);
        }
        if let Some(t) = filter.to {
            c.add("received_at < ?", vec![Arg::Int(t)]);
        }
        if let Some(code) = filter.code.as_deref() {
            c.add(
                "(code = ? OR portal_id = ?)",
                vec![Arg::Text(code.to_owned()), Arg::Text(code.to_owned())],
            );
        }
        // The rarest word picks the dossiers (through the words' key) where that is cheaper
        // than reading dossiers newest first; every other word is checked dossier by dossier
        // (through `dossier_words_by_dossier`). A word as common as "nguyen" alone never
        // picks: a third of the store would be gathered before the first row is given.
        let ranges: Vec<(String, String)> = filter
            .words
            .iter()
            .filter_map(|w| prefix_range(w))
            .collect();
        let driver = self.rarest(&ranges, filter.limit).await?;
        let mut source = "dossiers".to_owned();
        for (i, (from, to)) in ranges.iter().enumerate() {
            if Some(i) == driver {
                // Its dossiers first, each once, then the dossier of each: SQLite keeps a
                // CROSS JOIN's order, so the plan cannot turn into a scan of every dossier.
                let (n, m) = c.bind_range(from, to);
                source = format!(
                    "(SELECT DISTINCT dossier_id FROM dossier_words WHERE word >= ${n} AND word < ${m}) g \
                     CROSS JOIN dossiers"
                );
                c.text.push("dossiers.id = g.dossier_id".to_owned());
            } else {
                c.add(
                    "EXISTS (SELECT 1 FROM dossier_words w WHERE w.dossier_id = dossiers.id \
                     AND w.word >= ? AND w.word < ?)",
                    vec![Arg::Text(from.clone()), Arg::Text(to.clone())],
                );
            }
        }
        // SQLite plans without statistics: told which index reads the overdue part in order.
        let mut hint = "";
        let order = match &filter.overdue {
            Some(
                o @ OverdueFirst {
                    part: Part::Overdue { after },
                    ..
                },
            ) => {
                if matches!(self, Store::Sqlite { .. }) && driver.is_none() {
                    hint = "INDEXED BY dossiers_running_by_due";
                }
                let (cond, args) = c.overdue(o);
                c.add(&cond, args);
                if let Some((due, id)) = after {
                    c.add(
                        "(due_at > ? OR (due_at = ? AND id > ?))",
                        vec![Arg::Int(*due), Arg::Int(*due), Arg::Int(*id)],
                    );
                }
                "due_at, id"
            }
            Some(
                o @ OverdueFirst {
                    part: Part::Rest, ..
                },
            ) => {
                let (cond, args) = c.overdue(o);
                c.add(&format!("NOT ({cond})"), args);
                if let Some(b) = filter.before_id {
                    c.add("id < ?", vec![Arg::Int(b)]);
                }
                "id DESC"
            }
            None => {
                if let Some(b) = filter.before_id {
                    c.add("id < ?", vec![Arg::Int(b)]);
                }
                "id DESC"
            }
        };
        let where_clause = if c.text.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", c.text.join(" AND "))
        };
        let name = match self {
            Store::Sqlite { .. } => "json_extract(applicant, '$.name')",
            Store::Postgres(_) => "(applicant::json ->> 'name')",
        };
        let columns = format!(
            "id, code, portal_id, procedure_code, status, received_at, due_at, COALESCE({name}, '') AS applicant"
        );
        let sql = format!(
            "SELECT {} AS page FROM (SELECT {columns} FROM {source} {hint} {where_clause} \
             ORDER BY {order} LIMIT {}) p",
            self.json_rows(
                "id, code, portal_id, procedure_code, status, received_at, due_at, applicant",
                order
            ),
            filter.limit.clamp(1, 1000)
        );
        type Item = (i64, String, String, String, i64, i64, Option<i64>, String);
        let page: String = with_pool!(read self, pool => {
            let mut q = sqlx::query_scalar(&sql);
            for a in &c.args {
                q = match a {
                    Arg::Int(i) => q.bind(*i),
                    Arg::Text(t) => q.bind(t.as_str()),
                };
            }
            q.fetch_one(pool).await?
        });
        Ok(decode_json::<Vec<Item>>(&page, "page")?
            .into_iter()
            .map(
                |(id, code, portal_id, procedure_code, status, received_at, due_at, applicant)| {
                    DossierSummary {
                        id,
                        code,
                        portal_id,
                        procedure_code,
                        status,
                        received_at,
                        due_at,
                        applicant,
                    }
                },
            )
            .collect())
    }

    /// Which word range, if any, should pick the dossiers of a search of `limit` rows: the
    /// rarest, when gathering its dossiers (about as many lookups as it matches, for each
    /// word) costs less than reading dossiers newest first until `limit` of them hold every
    /// word (expected `limit` divided by the share of names holding all of them, the words
    /// taken as independent). Each range is counted up to [`COUNTED`] names.
    async fn rarest(
        &self,
        ranges: &[(String, String)],
        limit: i64,
    ) -> Result<Option<usize>, StoreError> {
        if ranges.is_empty() {
            return Ok(None);
        }
        let mut counts = Vec::with_capacity(ranges.len());
        for (from, to) in ranges {
            let n: i64 = with_pool!(read self, pool => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM dossier_words WHERE word >= $1 AND word < $2 LIMIT $3) f",
                )
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(COUNTED)
                .fetch_one(pool)
                .await?
            });
            counts.push(n);
        }
        let stored: i64 = with_pool!(read self, pool => {
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM dossiers").fetch_one(pool).await?
        });
        Ok(pick(&counts, stored, limit))
    }

    /// Keeps the name words of up to `batch` dossiers stored before they were kept (marked
    /// `unnamed` by migration 0015), in one transaction; how many it did (0: none is left).
    pub async fn name_unnamed(&self, batch: i64) -> Result<u64, StoreError> {
        let rows: Vec<(i64, String)> = with_pool!(read self, pool => {
            let rows = sqlx::query("SELECT id, applicant FROM dossiers WHERE unnamed = 1 ORDER BY id LIMIT $1")
                .bind(batch)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("applicant")?)))
                .collect::<Result<Vec<_>, StoreError>>()?
        });
        if rows.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_tx().await?;
        with_tx!(&mut tx, t => {
            for (id, applicant) in &rows {
                let name = serde_json::from_str::<serde_json::Value>(applicant)
                    .ok()
                    .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                    .unwrap_or_default();
                let found = words(&name);
                if !found.is_empty() {
                    let mut q = sqlx::QueryBuilder::new("INSERT INTO dossier_words (dossier_id, word) ");
                    q.push_values(&found, |mut b, w| {
                        b.push_bind(*id).push_bind(w.as_str());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(&mut **t).await?;
                }
                sqlx::query("UPDATE dossiers SET unnamed = 0 WHERE id = $1")
                    .bind(*id)
                    .execute(&mut **t)
                    .await?;
            }
        });
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::{pick, RUNNING};

    #[test]
    fn a_search_gathers_from_its_rarest_word_only_when_that_is_cheaper() {
        // "nguyen van an" at a million: a third, a tenth, a fortieth; the fortieth is gathered.
        assert_eq!(pick(&[50_000, 50_000, 24_000], 1_000_000, 50), Some(2));
        // "nguyen": 50 of every three rows read; gathering a third of the store is not.
        assert_eq!(pick(&[50_000], 1_000_000, 50), None);
        // A word no name holds: gathering nothing is cheapest.
        assert_eq!(pick(&[50_000, 0], 1_000_000, 50), Some(1));
        // A rare surname alone: 300 names gathered, not 160,000 rows read.
        assert_eq!(pick(&[300], 1_000_000, 50), Some(0));
        assert_eq!(pick(&[], 1_000_000, 50), None);
        // Every word past the count ("nguyen van an" where "an" also starts "anh"): their
        // sizes are unknown, so none is gathered; the dossiers are read newest first.
        assert_eq!(pick(&[50_000, 50_000, 50_000], 1_000_000, 50), None);
    }
    use crate::dossiers::view::clock_runs;

    #[test]
    fn the_running_statuses_are_those_whose_clock_runs() {
        let codes: Vec<String> = (0..=20)
            .filter(|c| clock_runs(*c))
            .map(|c| c.to_string())
            .collect();
        assert_eq!(format!("status IN ({})", codes.join(", ")), RUNNING);
    }
}
