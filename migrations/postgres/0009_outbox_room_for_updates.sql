-- A message's row is updated twice per attempt (claimed, then its outcome). With full pages
-- every update moved the row to another page and added an entry to each of its indexes, so
-- each claim's index scan walked the dead entries of the messages just claimed. Room on the
-- page lets the claim (which changes no indexed column) update in place (HOT). Kept in
-- lockstep with ../sqlite/0009_outbox_room_for_updates.sql.
ALTER TABLE outbox SET (fillfactor = 50);
