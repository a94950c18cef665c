-- Fewer bytes per dossier (issue 23): a message-log body of 512 bytes or more is stored
-- LZ4-compressed when that saves at least 64 bytes (body_encoding 1; 0 as it came). The chain's
-- hashes are of the body as it came, so verification is unchanged. Existing records stay as they
-- are (0). See src/store/log_body.rs.
-- Kept in lockstep with ../postgres/0020_log_bodies_packed.sql.
ALTER TABLE message_log ADD COLUMN body_encoding INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_log_kept ADD COLUMN body_encoding INTEGER NOT NULL DEFAULT 0;
