"""What SQLite itself takes to store the rows of one dossier, without the gateway.

Run from the repository's root: `B=30 python3 docs/sqlite_floor.py` (B: dossiers per commit).
It applies the SQLite migrations to a new file in a temporary folder, in WAL mode with
`synchronous=FULL` as the gateway runs, and commits 6,000 dossiers in batches of B with
Python's own `sqlite3` module, no thread hand-off, and, as `Store::insert_dossiers` writes a
batch, one multi-row statement a table: the dossiers (each naming its submission's record in
the log), the words of their applicants' names in the text index and its list of words, three
documents each, a progress record each, an outbox message each (its payload in a row of its
own, migration 0021), and each one's request (a 2.4 KB fixture body, stored LZ4-packed as the
gateway stores it: `pip install lz4`) and answer in the message log; with the batch's day
counter advanced and the log's head moved on. It prints
the time per batch, the commit's part of it, and the time per dossier: a floor for
`Store::insert_dossiers` on the same machine (see docs/PERFORMANCE.md). Environment: ROWS=each
writes one statement a row instead (as this script did before 1 December 2026), CK sets
`wal_autocheckpoint` (default 1000, SQLite's), NOBODY=1 stores empty submission bodies, OLD=1
writes the rows of before migration 0019 (the raw submission a second time in
dossier_submissions, the answer a second time in the dossier, the body in the log as it came,
the outbox's payloads in its rows), INLINE=1 only the last (the rows of before migration 0021).
"""

import glob
import os
import sqlite3
import tempfile
import time

BATCH = int(os.environ.get("B", "30"))
TOTAL = 6000

folder = tempfile.mkdtemp()
path = os.path.join(folder, "floor.db")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("PRAGMA foreign_keys=ON")
db.execute("PRAGMA wal_autocheckpoint=%d" % int(os.environ.get("CK", "1000")))
old = os.environ.get("OLD") == "1"
inline = old or os.environ.get("INLINE") == "1"
for migration in sorted(glob.glob("migrations/sqlite/*.sql")):
    if inline and os.path.basename(migration) >= "0021":
        break
    with open(migration) as f:
        db.executescript(f.read())

with open("fixtures/portal/valid/karaoke.xml", "rb") as f:
    body = f.read()
raw = b"" if os.environ.get("NOBODY") else body
if old:
    logged, encoding = body, 0
else:
    import lz4.block  # the gateway's format: LZ4 block, its size prepended (little-endian u32)

    logged, encoding = lz4.block.compress(body, store_size=True), 1
applicant = (
    '{"name":"Nguyễn Văn A","id_number":"079123456789","address":"12 Lê Lợi, Quận 1, '
    'TP. Hồ Chí Minh","phone":"0901234567","email":"a@example.vn"}'
)
form = '{"x":"' + "y" * 600 + '"}'

each = os.environ.get("ROWS") == "each"


def insert(sql, rows, returning=False):
    """Writes rows: one multi-row statement for all of them (as the gateway writes a batch), or,
    with ROWS=each, one statement a row. Returns the new rows' ids with `returning`, else the
    last row's id."""
    head, _, values = sql.partition(" VALUES ")
    tail = " RETURNING id" if returning else ""
    if each:
        one = head + " VALUES " + values + tail
        cursors = [db.execute(one, row) for row in rows]
        if not returning:
            return cursors[-1].lastrowid
        return [r[0] for c in cursors for r in c.fetchall()]
    statement = head + " VALUES " + ",".join([values] * len(rows)) + tail
    cursor = db.execute(statement, [v for row in rows for v in row])
    return [r[0] for r in cursor.fetchall()] if returning else cursor.lastrowid


seq = 0
committing = 0.0
started = time.time()
for _ in range(TOTAL // BATCH):
    db.execute("BEGIN IMMEDIATE")
    seqs = list(range(seq + 1, seq + BATCH + 1))
    seq += BATCH
    # The batch's own statements: the day's counter advanced, the log's seqs reserved.
    db.execute(
        "INSERT INTO dossier_sequences (agency, day, last_value) VALUES ('H29', '20261128', ?) "
        "ON CONFLICT (agency, day) DO UPDATE SET last_value = last_value + ? RETURNING last_value",
        (BATCH, BATCH),
    ).fetchall()
    db.execute(
        "UPDATE message_log_head SET last_seq = last_seq + ? WHERE id = 1 RETURNING last_seq",
        (2 * BATCH,),
    ).fetchall()
    ids = insert(
        "INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, "
        "submitted_at, received_at, applicant, form, fees, summary, mapping_version, "
        "content_hash, first_answer, submission_seq, name_words, notice) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [("000.00.00.H29-261128-%06d" % n, "G-%d" % (n * 7919 % 1000003), "1.0000%d" % (n % 5),
          1, 2, n, n, applicant, form, "[]", "summary", "v1", "h" * 64,
          '{"error_code":"0","MaHoSo":"000.00.00.H29-261128-%06d"}' % n if old else "",
          None if old else 2 * n - 1, "nguyen van a", 0) for n in seqs],
        returning=True,
    )
    pairs = list(zip(ids, seqs))
    insert("INSERT INTO dossier_names (rowid, words) VALUES (?, ?)",
           [(dossier, "nguyen van a") for dossier in ids])
    db.execute("INSERT INTO name_terms (word) VALUES ('a'), ('nguyen'), ('van') ON CONFLICT DO NOTHING")
    if old:
        insert(
            "INSERT INTO dossier_submissions VALUES (?,?,?,?,?,?,?)",
            [(dossier, "application/xml", raw, "msg_%d" % n, "1764300000", "v1," + "a" * 44, n)
             for dossier, n in pairs],
        )
    insert(
        "INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, "
        "sha256, size, next_attempt_at) VALUES (?,?,?,?,?,?,?,?)",
        [(dossier, position, "component", "file.pdf", "https://portal.example/f/%d" % n,
          "a" * 64, 1000, n) for dossier, n in pairs for position in range(3)],
    )
    insert(
        "INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, "
        "officer_unit, note, at) VALUES (?,?,?,?,?,?,?,?)",
        [(dossier, "received", 1, "Cổng dịch vụ công", "title", "unit", None, n)
         for dossier, n in pairs],
    )
    payload = '{"p":"' + "z" * 500 + '"}'
    if inline:
        insert(
            "INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, "
            "next_attempt_at) VALUES (?,?,?,?,?,?)",
            [("portal", dossier, "status", payload, n, n) for dossier, n in pairs],
        )
    else:
        last = insert(
            "INSERT INTO outbox (destination, dossier_id, kind, created_at, next_attempt_at) "
            "VALUES (?,?,?,?,?)",
            [("portal", dossier, "status", n, n) for dossier, n in pairs],
        )
        insert("INSERT INTO outbox_payloads (message_id, payload) VALUES (?,?)",
               [(message, payload) for message in range(last - len(pairs) + 1, last + 1)])
    insert(
        "INSERT INTO message_log (seq, at, direction, partner, peer, reply_to, target, "
        "headers, body, body_encoding, verdict, body_sha256, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(2 * n - 1 + answer, n, "in", "portal", "127.0.0.1", None, "POST /portal/v1/dossiers",
          "content-type: application/xml",
          b'{"error_code":"0","MaHoSo":"000.00.00.H29-261128-%06d"}' % n if answer else logged,
          0 if answer else encoding, "received", "a" * 64, "b" * 64, "c" * 64)
         for n in seqs for answer in (False, True)],
    )
    db.execute("UPDATE message_log_head SET last_hash = ? WHERE id = 1", ("d" * 64,))
    t = time.time()
    db.execute("COMMIT")
    committing += time.time() - t
elapsed = time.time() - started
batches = TOTAL // BATCH
print(
    "batches of %d: %.2f ms a batch, of which the commit %.2f ms; %.0f µs a dossier (%.0f/s)"
    % (BATCH, elapsed / batches * 1000, committing / batches * 1000,
       elapsed / TOTAL * 1e6, TOTAL / elapsed)
)
