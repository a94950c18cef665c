-- The officers' list at a million dossiers (issue 20): found by the applicant's name, overdue
-- first. Kept in lockstep with the other backend's 0015_officers_search.sql.
--
-- Each dossier's applicant name, folded (lower case, no diacritics) and cut into words
-- (domain::search), one row a word: a typed word matches the start of a stored one through
-- this table's key, `word >= prefix AND word < next`.
CREATE TABLE dossier_words (
    word       TEXT    NOT NULL,
    dossier_id INTEGER NOT NULL,
    PRIMARY KEY (word, dossier_id)
) WITHOUT ROWID;
-- The same words by dossier: a common word ("nguyen") is checked dossier by dossier as the
-- list is read newest first, rather than gathered whole.
CREATE INDEX dossier_words_by_dossier ON dossier_words (dossier_id, word);
-- Dossiers stored before this table are folded by the gateway itself (SQL cannot fold
-- Vietnamese), a batch at a time after start: `unnamed` marks those still to do.
ALTER TABLE dossiers ADD COLUMN unnamed INTEGER NOT NULL DEFAULT 0;
UPDATE dossiers SET unnamed = 1;
CREATE INDEX dossiers_unnamed ON dossiers (id) WHERE unnamed = 1;
-- Dossiers whose clock runs (statuses 1, 2 and 4: Status::clock_runs) by due date: the
-- overdue ones are the first entries of this index, read before any other dossier.
CREATE INDEX dossiers_running_by_due ON dossiers (due_at, id) WHERE status IN (1, 2, 4);
