-- Every version of a procedure's rules the gateway has loaded, as the canonical text it was
-- compiled from, keyed by its SHA-256 (the id each dossier records as mapping_version). A
-- dossier is judged by the version in force the day it arrived for its whole life (contract
-- section 5), so the text outlives the mapping file it came from: a gateway started with a file
-- that no longer holds that version takes it from here. Rows are never changed or deleted.
-- Kept in lockstep with ../sqlite/0013_rule_versions.sql.
CREATE TABLE rule_versions (
    id             TEXT    PRIMARY KEY,
    procedure_code TEXT    NOT NULL,
    effective_from TEXT    NOT NULL,
    rules          TEXT    NOT NULL,
    first_loaded   BIGINT NOT NULL
);
