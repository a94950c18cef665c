-- Payments: one row per payment request of a dossier's fees, and the audit of every provider
-- message as received. Kept in lockstep with ../sqlite/0003_payments.sql.

CREATE TABLE payments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference    TEXT    NOT NULL UNIQUE,
    dossier_id   BIGINT  NOT NULL REFERENCES dossiers (id),
    provider     TEXT    NOT NULL,
    amount       BIGINT  NOT NULL,
    fees         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    pay_url      TEXT,
    provider_txn TEXT    UNIQUE,
    created_at   BIGINT  NOT NULL,
    settled_at   BIGINT,
    checked_at   BIGINT
);
CREATE INDEX payments_by_state ON payments (state, created_at);
CREATE INDEX payments_by_dossier ON payments (dossier_id, id);

CREATE TABLE payment_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference TEXT,
    provider  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    raw       BYTEA   NOT NULL,
    verified  BIGINT  NOT NULL,
    verdict   TEXT    NOT NULL,
    at        BIGINT  NOT NULL
);
CREATE INDEX payment_events_by_reference ON payment_events (reference, id);
