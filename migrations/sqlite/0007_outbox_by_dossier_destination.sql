-- A dossier's sync summary (GET /api/v1/dossiers/{MaHoSo}) counts its portal messages by state:
-- WHERE dossier_id = ? AND destination = 'portal' GROUP BY state. Without statistics SQLite
-- answered it from outbox_by_destination_state (destination = ?), reading every portal message
-- of every dossier for each read; no other query used that index. This index serves the summary
-- with both equalities and the state, and still serves every lookup by dossier alone, so it
-- replaces outbox_by_dossier too: two fewer indexes to maintain on every outbox insert.
-- Kept in lockstep with ../postgres/0007_outbox_by_dossier_destination.sql.
DROP INDEX outbox_by_destination_state;
DROP INDEX outbox_by_dossier;
CREATE INDEX outbox_by_dossier_destination ON outbox (dossier_id, destination, state);
