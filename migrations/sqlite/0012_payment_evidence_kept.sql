-- Payment evidence outlives the message log's retention: when the log's prefix is pruned, the
-- records exchanged with the payment providers (partner paygov or vnpay) are moved here whole,
-- with their hashes, and kept for audit.payment_retention (ten years by default: the Law on
-- Accounting 2015, Art. 41). Each still proves its own content (its hash is over its previous
-- record's hash and its fields). Kept in lockstep with ../postgres/0012_payment_evidence_kept.sql.
CREATE TABLE message_log_kept (
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
CREATE INDEX message_log_kept_by_time ON message_log_kept (at);
