-- Lifecycle and delivery: the columns the state machine needs, idempotency keys of the internal
-- API, and the outbox's leases (with fencing tokens) and attempt log.
-- Kept in lockstep with ../postgres/0002_lifecycle_outbox.sql.

ALTER TABLE dossiers ADD COLUMN status_before_payment INTEGER;
ALTER TABLE dossiers ADD COLUMN extended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dossiers ADD COLUMN supplement_requested_at INTEGER;

CREATE TABLE idempotency_keys (
    client       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (client, key)
);

ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
ALTER TABLE outbox ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN dead_at INTEGER;
CREATE INDEX outbox_by_destination_state ON outbox (destination, state, id);

CREATE TABLE outbox_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES outbox (id),
    attempt     INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    http_status INTEGER,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
CREATE INDEX outbox_attempts_by_message ON outbox_attempts (message_id, id);
