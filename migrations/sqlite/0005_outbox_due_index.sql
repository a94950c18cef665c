-- The claim query orders pending messages by (next_attempt_at, id) and stops at its LIMIT only
-- if an index gives that order. SQLite's old index carried the rowid implicitly; PostgreSQL's
-- did not, so every claim sorted the whole backlog. Kept in lockstep with ../postgres/.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
DROP INDEX outbox_by_state;
