-- Nothing to do on SQLite, which neither compresses nor moves out long values; kept so that
-- both backends number their migrations alike (see ../postgres/0008_inline_raw_bodies.sql).
SELECT 1;
