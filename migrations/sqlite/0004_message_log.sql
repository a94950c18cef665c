-- The tamper-evident message log: every partner message as it crossed the wire, chained by
-- SHA-256 (see src/audit/mod.rs). Kept in lockstep with ../postgres/0004_message_log.sql.

CREATE TABLE message_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    direction   TEXT    NOT NULL,
    partner     TEXT    NOT NULL,
    peer        TEXT    NOT NULL,
    reply_to    INTEGER,
    target      TEXT    NOT NULL,
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    verdict     TEXT    NOT NULL,
    body_sha256 TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX message_log_by_time ON message_log (at);

-- The chain's head: the last record's seq and hash. Appends lock this row, so that
-- several gateways on one database extend one chain.
CREATE TABLE message_log_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
INSERT INTO message_log_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- What pruning left: the seq and hash of the last record removed, from which the remaining
-- records still verify.
CREATE TABLE message_log_checkpoints (
    up_to_seq     INTEGER PRIMARY KEY,
    hash          TEXT    NOT NULL,
    pruned_before INTEGER NOT NULL,
    at            INTEGER NOT NULL
);
