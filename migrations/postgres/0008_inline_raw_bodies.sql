-- Raw bodies (about 2 KB) made their rows just long enough for TOAST: each was compressed
-- with pglz on insert, which cost more server time than any other part of an intake batch.
-- Rows up to a page now stay inline and uncompressed. Kept in lockstep with
-- ../sqlite/0008_inline_raw_bodies.sql.
ALTER TABLE message_log SET (toast_tuple_target = 8160);
ALTER TABLE dossier_submissions SET (toast_tuple_target = 8160);
