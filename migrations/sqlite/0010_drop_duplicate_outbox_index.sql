-- SQLite answers the claim's per-dossier NOT EXISTS from outbox_by_dossier_destination
-- (dossier_id, destination, state) as a covering index (EXPLAIN QUERY PLAN), never from this
-- partial index, which every outbox insert and outcome still had to maintain. PostgreSQL keeps
-- it: its planner needs the exact predicate while statistics are stale (0006). Kept in
-- lockstep with ../postgres/0010_drop_duplicate_outbox_index.sql.
DROP INDEX outbox_open_by_dossier;
