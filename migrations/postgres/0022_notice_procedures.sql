-- The procedures whose dossiers carry the notice mark (migration 0017), as the last start left
-- them. Kept in lockstep with the other backend's 0022_notice_procedures.sql.
--
-- Every start brought the marks in line with the mappings by reading every dossier of every
-- notice procedure for one still unmarked, through dossiers_by_procedure and each row: 88 ms
-- at 80,000 dossiers on SQLite, growing with the notices stored, before the gateway served.
-- With the set recorded, a start marks only the dossiers of procedures that have become
-- notices since (a changed mapping); unmarking stays a read of the notices' own index. Empty
-- here: the first start after this migration marks every notice procedure once, as before.
CREATE TABLE notice_procedures (procedure_code TEXT PRIMARY KEY);
