-- The officers' search by a full name at a million dossiers (issue 20): every word of
-- "Nguyễn Văn An" is common, and checking them dossier by dossier read tens of thousands of
-- dossiers. A full-text index intersects the words' lists of dossiers without reading any.
-- Kept in lockstep with the other backend's 0016_name_index.sql.
--
-- Each dossier's applicant name, folded and cut into words (domain::search), joined by one
-- space: read row by row where the list is read in another order (overdue first).
ALTER TABLE dossiers ADD COLUMN name_words TEXT NOT NULL DEFAULT '';
-- Every word ever kept, each once: a typed word (a prefix) is turned into the words it starts,
-- which the index then looks up whole (its own prefix search merges every matching word's
-- list at each query: 30 ms for "nguyen" at a million).
CREATE TABLE name_terms (word TEXT PRIMARY KEY) WITHOUT ROWID;
-- Words to dossiers (rowid = dossiers.id): no copy of the text (content=''), no positions
-- (detail=none); the words are already folded and split, so the tokenizer only splits at the
-- spaces; prefix indexes for the one- to three-letter prefixes too common to expand.
CREATE VIRTUAL TABLE dossier_names USING fts5(
    words, content = '', columnsize = 0, detail = none, tokenize = 'ascii', prefix = '1 2 3'
);
UPDATE dossiers SET name_words = (
    SELECT group_concat(word, ' ') FROM dossier_words w WHERE w.dossier_id = dossiers.id
) WHERE id IN (SELECT dossier_id FROM dossier_words);
INSERT INTO dossier_names (rowid, words) SELECT id, name_words FROM dossiers WHERE name_words <> '';
INSERT INTO name_terms (word) SELECT DISTINCT word FROM dossier_words;
DROP TABLE dossier_words;
