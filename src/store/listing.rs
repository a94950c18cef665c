//! The paged list of dossiers, for the API and the officers' page: filters, a search by code
//! or by the words of the applicant's name, and the officers' order, overdue first (two parts
//! read one after the other, each through an index of its own; notices, never overdue, kept
//! out of the first). How a name is found is `store::names`.

use super::dossier_rows::{DossierFilter, DossierSummary};
use super::dossiers::decode_json;
use super::names::{NameSearch, NAME_VECTOR};
use super::{with_pool, Store, StoreError};

/// Statuses whose clock runs (`Status::clock_runs`), as the partial index
/// `dossiers_running_by_due` of migration 0017 is written: the two must agree.
pub const RUNNING: &str = "status IN (1, 2, 4)";

/// Dossiers a search by name checks in the part's order before it asks PostgreSQL's name
/// index: a common name ("nguyen", a third of the city) fills a page from them.
pub const TRIED: i64 = 2_000;

/// Dossiers a search by name gathers from the index at most: past it, every dossier in the
/// part's order is checked (a common name under filters that keep few dossiers).
pub const GATHERED: usize = 5_000;

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

/// Overdue first: which dossiers are overdue at `now` (running, not a notice, past due), and
/// which part is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueFirst {
    /// The moment (ms).
    pub now: i64,
    /// The part.
    pub part: Part,
}

#[derive(Clone)]
enum Arg {
    Int(i64),
    Text(String),
}

/// How a page of a search by name is read (see `Store::list_dossiers`).
enum Route<'a> {
    /// No name.
    Plain,
    /// SQLite's name index gives the dossiers, newest first.
    IndexDrives(&'a NameSearch),
    /// The first [`TRIED`] dossiers in the part's order, each checked.
    Tried(&'a NameSearch),
    /// The name's dossiers, by their ids (a JSON array).
    Gathered(String),
    /// Every dossier in the part's order, each checked.
    Checked(&'a NameSearch),
}

/// A page's conditions, order and size, before the name.
struct Query {
    c: Conditions,
    /// SQLite's index for the part's order.
    hint: &'static str,
    /// The order inside, and of the page's rows.
    order: &'static str,
    outer: &'static str,
    limit: i64,
}

/// `WHERE` and the conditions, or nothing.
fn where_of(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// Conditions with numbered placeholders, as they are added.
#[derive(Default, Clone)]
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

    /// `status IN (1, 2, 4) AND notice = 0 AND due_at < now` (the partial index
    /// `dossiers_running_by_due`), with its args.
    fn overdue(&mut self, o: &OverdueFirst) -> (String, Vec<Arg>) {
        (
            format!("{RUNNING} AND notice = 0 AND due_at IS NOT NULL AND due_at < ?"),
            vec![Arg::Int(o.now)],
        )
    }
}

/// Newest first, below the previous page's last id, `column` being the dossiers' id or the
/// name index's, whichever drives: the inner and outer orders.
fn newest_first(
    c: &mut Conditions,
    before: Option<i64>,
    column: &str,
) -> (&'static str, &'static str) {
    if let Some(b) = before {
        c.add(&format!("{column} < ?"), vec![Arg::Int(b)]);
    }
    if column == "id" {
        ("id DESC", "id DESC")
    } else {
        ("dossier_names.rowid DESC", "id DESC")
    }
}

impl Store {
    /// A page of dossiers: newest first, or in the part of the officers' order `overdue` names.
    /// A search by name: on SQLite newest first, its index drives. Otherwise the name's
    /// dossiers are gathered from the index (at most [`GATHERED`]; past that, every dossier
    /// in the part's order is checked); on PostgreSQL only after the first [`TRIED`]
    /// dossiers in the part's order, each checked, did not fill the page.
    pub async fn list_dossiers(
        &self,
        filter: &DossierFilter,
    ) -> Result<Vec<DossierSummary>, StoreError> {
        let names = if filter.words.is_empty() {
            None
        } else {
            let n = self.name_search(&filter.words).await?;
            if n.matches_nothing() {
                return Ok(Vec::new());
            }
            Some(n)
        };
        let overdue_part = matches!(
            &filter.overdue,
            Some(OverdueFirst {
                part: Part::Overdue { .. },
                ..
            })
        );
        let sqlite = matches!(self, Store::Sqlite { .. });
        let Some(n) = names else {
            return self.page(&self.query(filter, false), Route::Plain).await;
        };
        if sqlite && !overdue_part {
            // The index gives the name's dossiers newest first and the page stops at its
            // size: a common name costs as little as a rare one.
            return self
                .page(&self.query(filter, true), Route::IndexDrives(&n))
                .await;
        }
        let query = self.query(filter, false);
        // On SQLite the index counts a name's dossiers in a few milliseconds; PostgreSQL's
        // visits each one's row, so a common name is first tried in order.
        if !sqlite {
            let tried = self.page(&query, Route::Tried(&n)).await?;
            if tried.len() >= usize::try_from(query.limit).unwrap_or(0) {
                return Ok(tried);
            }
        }
        match self.named_ids(&n).await? {
            Some(ids) => self.page(&query, Route::Gathered(ids)).await,
            None => self.page(&query, Route::Checked(&n)).await,
        }
    }

    /// The filter's conditions, order and size, the newest-first cursor on the name index's
    /// rowid where `index_drives`.
    fn query(&self, filter: &DossierFilter, index_drives: bool) -> Query {
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
        let id_column = if index_drives {
            "dossier_names.rowid"
        } else {
            "id"
        };
        // SQLite plans without statistics: told which index reads the overdue part in order.
        let mut hint = "";
        let (order, outer) = match &filter.overdue {
            Some(
                o @ OverdueFirst {
                    part: Part::Overdue { after },
                    ..
                },
            ) => {
                if matches!(self, Store::Sqlite { .. }) {
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
                ("due_at, id", "due_at, id")
            }
            Some(
                o @ OverdueFirst {
                    part: Part::Rest, ..
                },
            ) => {
                let (cond, args) = c.overdue(o);
                c.add(&format!("NOT ({cond})"), args);
                newest_first(&mut c, filter.before_id, id_column)
            }
            None => newest_first(&mut c, filter.before_id, id_column),
        };
        Query {
            c,
            hint,
            order,
            outer,
            limit: filter.limit.clamp(1, 1000),
        }
    }

    /// The page `query` gives, read by `route`.
    async fn page(
        &self,
        query: &Query,
        route: Route<'_>,
    ) -> Result<Vec<DossierSummary>, StoreError> {
        let sqlite = matches!(self, Store::Sqlite { .. });
        let mut c = query.c.clone();
        let mut source = format!("dossiers {}", query.hint);
        let checks = |c: &mut Conditions, n: &NameSearch| {
            for (cond, text) in n.row_checks(sqlite) {
                c.add(cond, vec![Arg::Text(text)]);
            }
        };
        match route {
            Route::Plain => {}
            Route::IndexDrives(n) => {
                // SQLite keeps a CROSS JOIN's order: the index drives.
                source = "dossier_names CROSS JOIN dossiers".to_owned();
                c.add("dossier_names MATCH ?", vec![Arg::Text(n.fts5())]);
                c.text.push("dossiers.id = dossier_names.rowid".to_owned());
            }
            Route::Tried(n) => {
                source = format!(
                    "(SELECT * FROM {source} {} ORDER BY {} LIMIT {TRIED}) dossiers",
                    where_of(&c.text),
                    query.order
                );
                c.text.clear();
                checks(&mut c, n);
            }
            Route::Gathered(ids) => {
                // By their ids, not through the overdue index.
                source = "dossiers".to_owned();
                let cond = if sqlite {
                    "id IN (SELECT value FROM json_each(?))"
                } else {
                    "id IN (SELECT value::bigint FROM json_array_elements_text(?::json))"
                };
                c.add(cond, vec![Arg::Text(ids)]);
            }
            Route::Checked(n) => checks(&mut c, n),
        }
        let name = if sqlite {
            "json_extract(applicant, '$.name')"
        } else {
            "(applicant::json ->> 'name')"
        };
        let columns = format!(
            "id, code, portal_id, procedure_code, status, received_at, due_at, COALESCE({name}, '') AS applicant"
        );
        let sql = format!(
            "SELECT {} AS page FROM (SELECT {columns} FROM {source} {} ORDER BY {} LIMIT {}) p",
            self.json_rows(
                "id, code, portal_id, procedure_code, status, received_at, due_at, applicant",
                query.outer
            ),
            where_of(&c.text),
            query.order,
            query.limit
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

    /// The ids of the dossiers `names` matches, as a JSON array, when there are at most
    /// [`GATHERED`] of them. Gathered into one row by the database itself: a row each would
    /// cost more in the passing than in the finding.
    async fn named_ids(&self, names: &NameSearch) -> Result<Option<String>, StoreError> {
        let (found, ids): (i64, String) = match self {
            Store::Sqlite { read, .. } => {
                sqlx::query_as(
                    "SELECT COUNT(*), json_group_array(rowid) FROM \
                     (SELECT rowid FROM dossier_names WHERE dossier_names MATCH $1 LIMIT $2)",
                )
                .bind(names.fts5())
                .bind(GATHERED as i64 + 1)
                .fetch_one(read)
                .await?
            }
            // Planned for its words (an unnamed statement gets no generic plan, which would
            // guess the same share of the store for every name).
            Store::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "SELECT COUNT(*), COALESCE(json_agg(id), '[]')::text FROM \
                     (SELECT id FROM dossiers WHERE {NAME_VECTOR} @@ $1::tsquery LIMIT $2) f"
                ))
                .persistent(false)
                .bind(names.tsquery())
                .bind(GATHERED as i64 + 1)
                .fetch_one(pool)
                .await?
            }
        };
        Ok((found <= GATHERED as i64).then_some(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::RUNNING;
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
