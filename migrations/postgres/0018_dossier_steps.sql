-- Inter-agency steps (một cửa liên thông, contract section 9): each forwarding of a step of a
-- dossier to an agency, with the agency's answers folded in, and the result documents an
-- agency sends back. Kept in lockstep with the other backend's 0018_dossier_steps.sql.
--
-- A step forwarded again after a refusal is a new row with a new `ref`; the dossier's JSON
-- shows each step's latest. `state`: forwarded (queued for the agency, no answer yet),
-- received, processing, then done or refused (final).
CREATE TABLE dossier_steps (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dossier_id   BIGINT  NOT NULL REFERENCES dossiers (id),
    step         TEXT    NOT NULL,
    agency       TEXT    NOT NULL,
    ref          TEXT    NOT NULL UNIQUE,
    state        TEXT    NOT NULL,
    forwarded_at BIGINT  NOT NULL,
    due_at       BIGINT  NOT NULL,
    answered_at  BIGINT,
    finished_at  BIGINT,
    handler      TEXT,
    note         TEXT,
    result_no    TEXT
);
-- One open forwarding per step of a dossier (STEP_OPEN holds under any race).
CREATE UNIQUE INDEX dossier_steps_one_open ON dossier_steps (dossier_id, step)
    WHERE state IN ('forwarded', 'received', 'processing');
CREATE INDEX dossier_steps_by_dossier ON dossier_steps (dossier_id, id);
-- GET /api/v1/lienthong: the open steps by due time.
CREATE INDEX dossier_steps_open_by_due ON dossier_steps (due_at, id)
    WHERE state IN ('forwarded', 'received', 'processing');
-- The indicators: steps finished in a month.
CREATE INDEX dossier_steps_by_finish ON dossier_steps (finished_at) WHERE finished_at IS NOT NULL;

-- A document an agency sent back with its result: the forwarding it answers.
ALTER TABLE dossier_documents ADD COLUMN step_ref TEXT;
