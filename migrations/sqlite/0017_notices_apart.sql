-- Notices (a notice's date is a deemed-consent date, not a deadline: never overdue) kept out of
-- the officers' overdue reading (issue 20). Kept in lockstep with the other backend's
-- 0017_notices_apart.sql.
--
-- A notice nobody closes stays open past its date for good; with the notices inside the index
-- of running dossiers by due date, the list's overdue part read every one of them, row by row,
-- before it found the first overdue licence (at a million: seconds a page). `notice` is set at
-- intake from the procedure's mapping and brought in line with the mappings at every start.
ALTER TABLE dossiers ADD COLUMN notice INTEGER NOT NULL DEFAULT 0;
DROP INDEX dossiers_running_by_due;
-- Dossiers whose clock runs (statuses 1, 2 and 4: Status::clock_runs) and that have a
-- deadline, by due date: the overdue ones are the first entries.
CREATE INDEX dossiers_running_by_due ON dossiers (due_at, id) WHERE status IN (1, 2, 4) AND notice = 0;
-- The notices, for the start's check against the mappings.
CREATE INDEX dossiers_notices ON dossiers (procedure_code) WHERE notice = 1;
