-- Nothing to do on SQLite, which rewrites rows in place; kept so that both backends number
-- their migrations alike (see ../postgres/0009_outbox_room_for_updates.sql).
SELECT 1;
