-- The due date in force after each progress record, so that a report can tell, for a moment
-- past, which open dossiers were overdue then (the city's monthly indicators: overdue at the
-- month's end). Acceptance sets a due date, a supplement's return and the one extension move
-- it later; the arrival has none. Records written before this column are given their
-- dossier's present due date, which is later than or equal to the one then in force: for a
-- month before this migration the overdue count can err low, never high.
-- Kept in lockstep with the other backend's 0014_progress_due.sql.
ALTER TABLE progress ADD COLUMN due_at INTEGER;
UPDATE progress SET due_at = (SELECT d.due_at FROM dossiers d WHERE d.id = progress.dossier_id)
WHERE status <> 1;
