-- Fewer bytes per delivery (issue 23): a message's payload in a table of its own, written once
-- when the message is queued and read when it is claimed. A delivery rewrites its message's row
-- twice (the claim's lease, then the outcome), and SQLite writes whole pages to the WAL: with
-- the payload in the row, four messages filled a page, so a cycle dirtied a page for every four
-- messages it claimed and again for every four it recorded; the narrow rows fit forty to a
-- page. Measured with docs/delivery_floor.py and `motcua bench outbox` (docs/PERFORMANCE.md).
-- PostgreSQL keeps the payload in the row: see ../postgres/0021_outbox_payloads_apart.sql.
CREATE TABLE outbox_payloads (
    message_id INTEGER PRIMARY KEY REFERENCES outbox (id),
    payload    TEXT    NOT NULL
);
INSERT INTO outbox_payloads (message_id, payload) SELECT id, payload FROM outbox;
ALTER TABLE outbox DROP COLUMN payload;
