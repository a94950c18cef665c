-- Nothing to do on PostgreSQL, which keeps each outbox message's payload in its row; kept so
-- that both backends number their migrations alike (see ../sqlite/0021_outbox_payloads_apart.sql,
-- where the payloads moved to a table of their own). Measured here the same way and not kept
-- (docs/PERFORMANCE.md): the table cost PostgreSQL's intake 3-5 % (the store alone and over
-- HTTP, three alternating pairs of `motcua bench intake`; its own floor 6 % with a foreign key,
-- 1.5 % without) and gave deliveries no more than the runs' spread.
SELECT 1;
