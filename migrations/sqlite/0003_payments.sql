-- Payments: one row per payment request of a dossier's fees, and the audit of every provider
-- message as received. Kept in lockstep with ../postgres/0003_payments.sql.

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    reference    TEXT    NOT NULL UNIQUE,
    dossier_id   INTEGER NOT NULL REFERENCES dossiers (id),
    provider     TEXT    NOT NULL,
    amount       INTEGER NOT NULL,
    fees         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    pay_url      TEXT,
    provider_txn TEXT    UNIQUE,
    created_at   INTEGER NOT NULL,
    settled_at   INTEGER,
    checked_at   INTEGER
);
CREATE INDEX payments_by_state ON payments (state, created_at);
CREATE INDEX payments_by_dossier ON payments (dossier_id, id);

CREATE TABLE payment_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT,
    provider  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    raw       BLOB    NOT NULL,
    verified  INTEGER NOT NULL,
    verdict   TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX payment_events_by_reference ON payment_events (reference, id);
