-- Nothing to do on PostgreSQL, whose planner uses outbox_open_by_dossier for the claim while
-- statistics are stale (0006); kept so that both backends number their migrations alike (see
-- ../sqlite/0010_drop_duplicate_outbox_index.sql).
SELECT 1;
