-- Lifecycle and delivery: the columns the state machine needs, idempotency keys of the internal
-- API, and the outbox's leases (with fencing tokens) and attempt log.
-- Kept in lockstep with ../sqlite/0002_lifecycle_outbox.sql.

ALTER TABLE dossiers ADD COLUMN status_before_payment BIGINT;
ALTER TABLE dossiers ADD COLUMN extended BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE dossiers ADD COLUMN supplement_requested_at BIGINT;

CREATE TABLE idempotency_keys (
    client       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       BIGINT  NOT NULL,
    body         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (client, key)
);

ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT;
ALTER TABLE outbox ADD COLUMN fence BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN dead_at BIGINT;
CREATE INDEX outbox_by_destination_state ON outbox (destination, state, id);

CREATE TABLE outbox_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  BIGINT  NOT NULL REFERENCES outbox (id),
    attempt     BIGINT  NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  BIGINT  NOT NULL,
    latency_ms  BIGINT  NOT NULL,
    http_status BIGINT,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
CREATE INDEX outbox_attempts_by_message ON outbox_attempts (message_id, id);
