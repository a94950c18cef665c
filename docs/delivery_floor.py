"""What SQLite itself takes to record deliveries, without the gateway.

Run from the repository's root: `python3 docs/delivery_floor.py` (`pip install lz4`). It
applies the SQLite migrations to a new file in a temporary folder, in WAL mode with
`synchronous=FULL` as the gateway runs, queues M messages (default 30,000, one dossier each, a
payload of P bytes, default 700), then runs delivery cycles back to back with Python's own
`sqlite3` module, as `store::DeliveryCycle` writes one: in one transaction, the outcomes of the
messages the cycle before claimed recorded as delivered (one `UPDATE … FROM (VALUES …)`) with
their attempt rows, up to C due messages claimed (default 256, as `motcua bench outbox` runs the
worker: 16 a slot, 16 slots) and leased, and for each message its answer and its signed request
appended to the message log (the request's body LZ4-packed as the gateway stores it), the
log's head moved on. It prints the messages recorded per second: a floor for the drain on the
same machine, to set against the bare loop of `motcua bench outbox` (see docs/PERFORMANCE.md).

Environment, each leaving one kind of row out or changing its shape, to measure what it costs:
NOATTEMPTS=1 writes no attempt rows, NOLOG=1 no message-log records, INLINE=1 keeps each
payload in its message's row (as before migration 0021, so that the claim and the outcome
rewrite it), PARTIAL=1 keeps only pending messages in the claim's due index. SYNC sets
`synchronous` (default FULL), CK `wal_autocheckpoint` (default 1000; with 0 it also prints the
WAL pages written a message), PARTS=1 the time each statement took a message.
"""

import glob
import json
import os
import sqlite3
import tempfile
import time

import lz4.block

MESSAGES = int(os.environ.get("M", "30000"))
PER_CYCLE = int(os.environ.get("C", "256"))
PAYLOAD = int(os.environ.get("P", "700"))
no_attempts = os.environ.get("NOATTEMPTS") == "1"
no_log = os.environ.get("NOLOG") == "1"
inline = os.environ.get("INLINE") == "1"
partial = os.environ.get("PARTIAL") == "1"

folder = tempfile.mkdtemp()
db = sqlite3.connect(os.path.join(folder, "floor.db"), isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=%s" % os.environ.get("SYNC", "FULL"))
db.execute("PRAGMA foreign_keys=ON")
db.execute("PRAGMA wal_autocheckpoint=%d" % int(os.environ.get("CK", "1000")))
for migration in sorted(glob.glob("migrations/sqlite/*.sql")):
    if inline and os.path.basename(migration) >= "0021":
        break
    with open(migration) as f:
        db.executescript(f.read())
if partial:
    db.execute("DROP INDEX outbox_due")
    db.execute("CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending'")

payload = '{"MaHoSo":"000.00.12.H29-261201-0001","TrangThaiHoSo":2,"note":"' + "x" * max(
    0, PAYLOAD - 64) + '"}'
db.execute("BEGIN")
db.executemany(
    "INSERT INTO dossiers (id, code, portal_id, procedure_code, status, channel, submitted_at, received_at, "
    "applicant, form, fees, summary, mapping_version, content_hash, first_answer, name_words) "
    "VALUES (?,?,?,'1.0',1,2,0,0,'{}','{}','[]','s','v1','h','','a')",
    [(n, "000.00.00.H29-261201-%06d" % n, "G-%d" % n) for n in range(1, MESSAGES + 1)],
)
if inline:
    db.executemany(
        "INSERT INTO outbox (id, destination, dossier_id, kind, payload, created_at, "
        "next_attempt_at) VALUES (?,?,?,?,?,?,?)",
        [(n, "portal", n, "status", payload, n, n) for n in range(1, MESSAGES + 1)],
    )
else:
    db.executemany(
        "INSERT INTO outbox (id, destination, dossier_id, kind, created_at, next_attempt_at) "
        "VALUES (?,?,?,?,?,?)",
        [(n, "portal", n, "status", n, n) for n in range(1, MESSAGES + 1)],
    )
    db.executemany("INSERT INTO outbox_payloads (message_id, payload) VALUES (?, ?)",
                   [(n, payload) for n in range(1, MESSAGES + 1)])
db.execute("COMMIT")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

due = ("SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ? "
       "AND (o.lease_until IS NULL OR o.lease_until < ?) "
       "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.dossier_id = o.dossier_id "
       "AND p.destination = o.destination AND p.id < o.id AND p.state IN ('pending', 'dead')) "
       "ORDER BY o.next_attempt_at, o.id LIMIT ?")
chosen_sql = (
    "SELECT json_group_array(json_array(o.id, o.fence + 1, o.destination, o.dossier_id, %s, "
    "o.attempts, o.created_at, o.next_attempt_at)) FROM outbox o %s WHERE o.id IN (%s)"
    % (("o.payload", "", due) if inline
       else ("b.payload", "JOIN outbox_payloads b ON b.message_id = o.id", due)))
request_headers = ("content-type: application/json\nwebhook-id: msg_%d\nwebhook-timestamp: "
                   "1764300000\nwebhook-signature: v1," + "a" * 44)
answer_headers = "content-type: application/json\ncontent-length: 33"
answer_body = b'{"error_code":"0","message":"ok"}'
log_sql = ("INSERT INTO message_log (seq, at, direction, partner, peer, reply_to, target, headers, "
           "body, body_encoding, verdict, body_sha256, prev_hash, hash) VALUES ")
log_values = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

parts = {}


def timed(name, sql, args=()):
    """Runs one statement, adding its time to its part (printed with PARTS=1)."""
    t = time.time()
    result = db.execute(sql, args)
    rows = result.fetchall()
    parts[name] = parts.get(name, 0.0) + time.time() - t
    return rows


seq = 0
done = []
delivered = 0
cycles = 0
started = time.time()
while True:
    now = int(time.time() * 1000)
    timed("begin", "BEGIN IMMEDIATE")
    records = []
    if done:
        timed("outcomes",
            "WITH v (id, fence, state, next_attempt_at, delivered_at, dead_at, last_error) AS "
            "(VALUES " + ",".join(["(?,?,?,?,?,?,?)"] * len(done)) + ") "
            "UPDATE outbox SET state = v.state, attempts = outbox.attempts + 1, "
            "next_attempt_at = v.next_attempt_at, delivered_at = v.delivered_at, "
            "dead_at = v.dead_at, last_error = v.last_error, lease_owner = NULL, "
            "lease_until = NULL FROM v WHERE outbox.id = v.id AND outbox.fence = v.fence",
            [x for (i, fence, _) in done for x in (i, fence, "delivered", now, now, None, None)],
        )
        if not no_attempts:
            timed("attempts",
                "INSERT INTO outbox_attempts (message_id, attempt, worker, started_at, "
                "latency_ms, http_status, outcome, error) VALUES "
                + ",".join(["(?,?,?,?,?,?,?,?)"] * len(done)),
                [x for (i, _, _) in done
                 for x in (i, 1, "host-1234-abcdef", now, 1, 200, "delivered", None)],
            )
        records += [("in", reply, "200 OK", answer_headers, answer_body, 0)
                    for (_, _, reply) in done]
        delivered += len(done)
    chosen = json.loads(timed("claim", chosen_sql, (now, now, PER_CYCLE))[0][0])
    if chosen:
        timed("lease",
            "UPDATE outbox SET lease_owner = ?, lease_until = ?, fence = fence + 1 "
            "WHERE id IN (SELECT value FROM json_each(?))",
            ("host-1234-abcdef", now + 60000, json.dumps([c[0] for c in chosen])),
        )
    requests = [("out", None, "POST /dossiers/sync", request_headers % c[0],
                 lz4.block.compress(c[4].encode(), store_size=True), 1) for c in chosen]
    records += requests
    if no_log:
        reply_seqs = [None] * len(chosen)
    else:
        first = seq + 1
        seq += len(records)
        timed("log", "UPDATE message_log_head SET last_seq = ? WHERE id = 1", (seq,))
        if records:
            timed("log",
                log_sql + ",".join([log_values] * len(records)),
                [x for n, (direction, reply, target, headers, body, encoding)
                 in enumerate(records, first)
                 for x in (n, now, direction, "portal", "127.0.0.1:8080", reply, target,
                           headers, body, encoding, "sent", "a" * 64, "b" * 64, "c" * 64)],
            )
        timed("log", "UPDATE message_log_head SET last_hash = ? WHERE id = 1", ("d" * 64,))
        reply_seqs = range(seq - len(requests) + 1, seq + 1)
    timed("commit", "COMMIT")
    cycles += 1
    if not chosen and not done:
        break
    done = [(c[0], c[1], r) for c, r in zip(chosen, reply_seqs)]
elapsed = time.time() - started
frames = (os.path.getsize(os.path.join(folder, "floor.db-wal")) - 32) // 4120
print("%d messages delivered in %d cycles of up to %d: %.1f µs a message (%.0f/s)"
      % (delivered, cycles, PER_CYCLE, elapsed / delivered * 1e6, delivered / elapsed))
if os.environ.get("CK") == "0":
    print("%.2f WAL pages a message" % (frames / delivered))
if os.environ.get("PARTS") == "1":
    print("µs a message by part: " + ", ".join(
        "%s %.1f" % (name, t / delivered * 1e6) for name, t in parts.items()))
