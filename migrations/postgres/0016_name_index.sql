-- The officers' search by a full name at a million dossiers (issue 20): every word of
-- "Nguyễn Văn An" is common, and checking them dossier by dossier read tens of thousands of
-- dossiers. A GIN index intersects the words' lists of dossiers without reading any.
-- Kept in lockstep with the other backend's 0016_name_index.sql.
--
-- Each dossier's applicant name, folded and cut into words (domain::search), joined by one
-- space.
ALTER TABLE dossiers ADD COLUMN name_words TEXT NOT NULL DEFAULT '';
-- Every word ever kept, each once: a typed word (a prefix) is turned into the words it starts,
-- which the index then looks up whole (a prefix match builds the whole list of every
-- matching word: 56 ms against 12 for "nguyen van an" at a million). Compared byte by byte
-- ("C"), as SQLite compares them.
CREATE TABLE name_terms (word TEXT COLLATE "C" PRIMARY KEY);
UPDATE dossiers d SET name_words = w.words
FROM (SELECT dossier_id, string_agg(word, ' ') AS words FROM dossier_words GROUP BY dossier_id) w
WHERE w.dossier_id = d.id;
INSERT INTO name_terms (word) SELECT DISTINCT word FROM dossier_words;
-- The words as lexemes taken whole (no parser, no dictionary): store::names::NAME_VECTOR must
-- be written exactly so for the planner to use it.
CREATE INDEX dossiers_by_name ON dossiers USING gin (array_to_tsvector(string_to_array(name_words, ' ')));
DROP TABLE dossier_words;
