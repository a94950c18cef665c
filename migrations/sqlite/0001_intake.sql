-- Intake: dossiers as received from the portal, their raw submissions, documents, progress,
-- per-day code sequences and the outbox. Kept in lockstep with ../postgres/0001_intake.sql.
-- Times are milliseconds since the Unix epoch (UTC); JSON columns hold the department's model.

CREATE TABLE dossiers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code            TEXT    NOT NULL UNIQUE,
    portal_id       TEXT    NOT NULL UNIQUE,
    procedure_code  TEXT    NOT NULL,
    status          INTEGER NOT NULL,
    channel         INTEGER NOT NULL,
    submitted_at    INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    accepted_at     INTEGER,
    due_at          INTEGER,
    finished_at     INTEGER,
    returned_at     INTEGER,
    timeliness      TEXT,
    applicant       TEXT    NOT NULL,
    form            TEXT    NOT NULL,
    fees            TEXT    NOT NULL,
    summary         TEXT,
    mapping_version TEXT    NOT NULL,
    content_hash    TEXT    NOT NULL,
    first_answer    TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX dossiers_by_status ON dossiers (status, id);
CREATE INDEX dossiers_by_procedure ON dossiers (procedure_code, id);
CREATE INDEX dossiers_by_received ON dossiers (received_at, id);

CREATE TABLE dossier_sequences (
    agency     TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    last_value INTEGER NOT NULL,
    PRIMARY KEY (agency, day)
);

CREATE TABLE dossier_submissions (
    dossier_id        INTEGER PRIMARY KEY REFERENCES dossiers (id),
    content_type      TEXT    NOT NULL,
    body              BLOB    NOT NULL,
    webhook_id        TEXT    NOT NULL,
    webhook_timestamp TEXT    NOT NULL,
    webhook_signature TEXT    NOT NULL,
    received_at       INTEGER NOT NULL
);

CREATE TABLE dossier_documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dossier_id      INTEGER NOT NULL REFERENCES dossiers (id),
    position        INTEGER NOT NULL,
    component       TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    UNIQUE (dossier_id, position)
);
CREATE INDEX dossier_documents_by_state ON dossier_documents (state, next_attempt_at);

CREATE TABLE progress (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    dossier_id    INTEGER NOT NULL REFERENCES dossiers (id),
    action        TEXT    NOT NULL,
    status        INTEGER NOT NULL,
    officer_name  TEXT    NOT NULL,
    officer_title TEXT    NOT NULL,
    officer_unit  TEXT    NOT NULL,
    note          TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX progress_by_dossier ON progress (dossier_id, id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    destination     TEXT    NOT NULL,
    dossier_id      INTEGER REFERENCES dossiers (id),
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_dossier ON outbox (dossier_id, id);
