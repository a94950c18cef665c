//! The applicant's name as the store keeps it for the officers' search: each dossier's folded
//! words (`dossiers.name_words`, one space between them), every word ever kept (`name_terms`,
//! which turns a typed prefix into the words it starts) and an index from words to dossiers —
//! SQLite's FTS5 table `dossier_names`, PostgreSQL's GIN index `dossiers_by_name` — that
//! intersects several common words ("nguyen van an") without reading their dossiers.
//!
//! A typed word matches a dossier when one of its name's words starts with it (`domain::search`).
//! The index is asked for the whole words a typed word starts (`"an"` → `an OR anh`), which it
//! looks up in a few steps; a prefix starting more than [`MAX_TERMS`] words is left to the
//! index's own prefix search. Row by row, the same rule is `' ' || name_words` holding
//! `' ' || typed` ([`NameSearch::row_checks`]). Names of dossiers stored before the words were
//! kept are folded after start (`Store::name_unnamed`).

use super::{with_pool, with_tx, Store, StoreError, WriteTx};
use crate::domain::search::{prefix_range, words};
use sqlx::Row;
use std::collections::BTreeSet;

/// Words a typed prefix is turned into, at most.
pub const MAX_TERMS: usize = 32;

/// PostgreSQL's words of a dossier as lexemes taken whole (no parser, no dictionary), written
/// exactly as the index `dossiers_by_name` of migration 0016 is: the two must agree for the
/// planner to use the index.
pub const NAME_VECTOR: &str = "array_to_tsvector(string_to_array(name_words, ' '))";

/// What one typed word stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stands {
    /// These kept words (none: the typed word starts no name, and nothing matches).
    Words(Vec<String>),
    /// Too many to list: the index's prefix search.
    Prefix(String),
}

/// A search by the words of a name, ready for the index and for a check row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameSearch {
    typed: Vec<String>,
    stands: Vec<Stands>,
}

impl NameSearch {
    /// True when a typed word starts no kept word: no dossier matches.
    pub fn matches_nothing(&self) -> bool {
        self.stands
            .iter()
            .any(|s| matches!(s, Stands::Words(w) if w.is_empty()))
    }

    /// The FTS5 query: each typed word's words OR-ed, the typed words AND-ed. The words are
    /// letters and digits only (`domain::search::words`), so quoting them is enough.
    pub fn fts5(&self) -> String {
        self.join(" AND ", |s| match s {
            Stands::Words(w) => {
                let alts: Vec<String> = w.iter().map(|t| format!("\"{t}\"")).collect();
                format!("({})", alts.join(" OR "))
            }
            Stands::Prefix(p) => format!("\"{p}\"*"),
        })
    }

    /// PostgreSQL's `tsquery` text, in the same shape, each lexeme quoted and taken whole.
    pub fn tsquery(&self) -> String {
        self.join(" & ", |s| match s {
            Stands::Words(w) => {
                let alts: Vec<String> = w.iter().map(|t| quote_lexeme(t)).collect();
                format!("({})", alts.join(" | "))
            }
            Stands::Prefix(p) => format!("{}:*", quote_lexeme(p)),
        })
    }

    /// The check of one dossier's row, for each typed word: the condition (one `?`) and the
    /// text it binds.
    pub fn row_checks(&self, sqlite: bool) -> Vec<(&'static str, String)> {
        let cond = if sqlite {
            "instr(' ' || name_words, ?) > 0"
        } else {
            "strpos(' ' || name_words, ?) > 0"
        };
        self.typed.iter().map(|t| (cond, format!(" {t}"))).collect()
    }

    fn join(&self, sep: &str, each: impl Fn(&Stands) -> String) -> String {
        let parts: Vec<String> = self.stands.iter().map(each).collect();
        parts.join(sep)
    }
}

/// `word` as a quoted `tsquery` lexeme: quotes and backslashes escaped (the words never hold
/// them; the escape is there so that no text could change the query's shape).
fn quote_lexeme(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('\'', "''");
    format!("'{escaped}'")
}

impl Store {
    /// What each typed (folded) word stands for, from the kept words.
    pub(super) async fn name_search(&self, typed: &[String]) -> Result<NameSearch, StoreError> {
        let mut stands = Vec::with_capacity(typed.len());
        for t in typed {
            let Some((from, to)) = prefix_range(t) else {
                continue;
            };
            let found: Vec<String> = with_pool!(read self, pool => {
                sqlx::query_scalar(
                    "SELECT word FROM name_terms WHERE word >= $1 AND word < $2 ORDER BY word LIMIT $3",
                )
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(MAX_TERMS as i64 + 1)
                .fetch_all(pool)
                .await?
            });
            stands.push(if found.len() > MAX_TERMS {
                Stands::Prefix(t.clone())
            } else {
                Stands::Words(found)
            });
        }
        Ok(NameSearch {
            typed: typed.iter().filter(|t| !t.is_empty()).cloned().collect(),
            stands,
        })
    }
}

impl Store {
    /// Keeps the name words of up to `batch` dossiers stored before they were kept (marked
    /// `unnamed` by migration 0015) for the search (`store::names`), in one transaction; how
    /// many it read (0: none is left).
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
        let mut named = Vec::with_capacity(rows.len());
        for (id, applicant) in &rows {
            let name = serde_json::from_str::<serde_json::Value>(applicant)
                .ok()
                .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .unwrap_or_default();
            let found = words(&name);
            // Only a dossier still unnamed: another gateway on the same database may have
            // done it since it was read.
            let done = with_tx!(&mut tx, t => {
                sqlx::query("UPDATE dossiers SET unnamed = 0, name_words = $2 WHERE id = $1 AND unnamed = 1")
                    .bind(*id)
                    .bind(found.join(" "))
                    .execute(&mut **t)
                    .await?
                    .rows_affected()
            });
            if done == 1 {
                named.push((*id, found));
            }
        }
        keep_names(&mut tx, &named).await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }
}

/// Keeps the words of each `(dossier id, words)` for the search, in `tx`: the dossiers' rows
/// hold them already (`name_words`); this adds the words not kept before to `name_terms` and,
/// on SQLite, the dossiers to the index (PostgreSQL's index follows the rows by itself).
pub(super) async fn keep_names(
    tx: &mut WriteTx,
    named: &[(i64, Vec<String>)],
) -> Result<(), StoreError> {
    let named: Vec<&(i64, Vec<String>)> = named.iter().filter(|(_, w)| !w.is_empty()).collect();
    if named.is_empty() {
        return Ok(());
    }
    // Sorted and once each: concurrent batches meet new words in the same order.
    let terms: BTreeSet<&str> = named
        .iter()
        .flat_map(|(_, w)| w.iter().map(String::as_str))
        .collect();
    if let WriteTx::Sqlite(t) = tx {
        let mut q = sqlx::QueryBuilder::new("INSERT INTO dossier_names (rowid, words) ");
        q.push_values(&named, |mut b, (id, words)| {
            b.push_bind(*id).push_bind(words.join(" "));
        });
        q.build().execute(&mut **t).await?;
    }
    with_tx!(tx, t => {
        let mut q = sqlx::QueryBuilder::new("INSERT INTO name_terms (word) ");
        q.push_values(&terms, |mut b, w| {
            b.push_bind(*w);
        });
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut **t).await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{NameSearch, Stands};

    fn search(stands: Vec<Stands>) -> NameSearch {
        NameSearch {
            typed: vec!["nguyen".into(), "an".into()],
            stands,
        }
    }

    #[test]
    fn typed_words_become_queries_of_whole_words() {
        let s = search(vec![
            Stands::Words(vec!["nguyen".into()]),
            Stands::Words(vec!["an".into(), "anh".into()]),
        ]);
        assert_eq!(s.fts5(), r#"("nguyen") AND ("an" OR "anh")"#);
        assert_eq!(s.tsquery(), "('nguyen') & ('an' | 'anh')");
        assert!(!s.matches_nothing());
        assert_eq!(
            s.row_checks(true),
            [
                ("instr(' ' || name_words, ?) > 0", " nguyen".to_owned()),
                ("instr(' ' || name_words, ?) > 0", " an".to_owned())
            ]
        );
        let p = search(vec![
            Stands::Prefix("n".into()),
            Stands::Words(vec!["an".into()]),
        ]);
        assert_eq!(p.fts5(), r#""n"* AND ("an")"#);
        assert_eq!(p.tsquery(), "'n':* & ('an')");
        let none = search(vec![
            Stands::Words(vec!["nguyen".into()]),
            Stands::Words(vec![]),
        ]);
        assert!(none.matches_nothing());
    }

    #[test]
    fn a_lexeme_cannot_change_the_query_shape() {
        assert_eq!(super::quote_lexeme("a'b\\"), "'a''b\\\\'");
    }
}
