#!/usr/bin/env bash
# What PostgreSQL itself takes to store the rows of a batch of dossiers, without the gateway.
#
# Run from the repository's root: `B=64 C=1 T=10 bash docs/postgres_floor.sh`
# (B: dossiers per transaction, C: pgbench clients writing at once, T: seconds; URL: the
# server, default postgres://postgres@127.0.0.1:5432).
#
# It creates a scratch database, applies the project's PostgreSQL migrations, and runs
# `pgbench` (C, prepared statements, no Rust, no HTTP) with one transaction per batch of B
# dossiers, writing the same rows as `Store::insert_dossiers` does for each: the day's
# sequence, the dossier (naming its submission's record in the log, with the words of its
# applicant's name in the text index), three documents, a progress record, an outbox message,
# and the request (the 2.4 KB karaoke fixture, LZ4-packed as the gateway stores it: needs
# `pip install lz4`) and its answer in the message log under its head row's lock. OLD=1 writes
# the rows of before migrations 0019 and 0020: the raw submission a second time in
# dossier_submissions, the answer a second time in the dossier, the body in the log as it came. Each table gets one multi-row statement, all in a single round trip
# (data-modifying CTEs), which is fewer round trips than the gateway makes: the figure is a
# floor for the store on this machine, not a target. It prints dossiers per second (the
# transactions' rate times B) and drops the scratch database. NOFK=1 drops every foreign key
# first, to show what they cost. See docs/PERFORMANCE.md.
set -euo pipefail

B=${B:-64}
C=${C:-1}
T=${T:-10}
URL=${URL:-postgres://postgres@127.0.0.1:5432}
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
DB="motcua_floor_$$"
SCRIPT=$(mktemp)
trap 'rm -f "$SCRIPT"; psql -q "$URL/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null' EXIT

psql -q "$URL/postgres" -c "CREATE DATABASE $DB" >/dev/null
for migration in migrations/postgres/*.sql; do
    psql -q -v ON_ERROR_STOP=1 "$URL/$DB" -f "$migration" >/dev/null
done
psql -q -v ON_ERROR_STOP=1 "$URL/$DB" >/dev/null <<SQL
CREATE TABLE floor_fixture (body BYTEA NOT NULL);
INSERT INTO floor_fixture VALUES (decode('$(base64 -w0 fixtures/portal/valid/karaoke.xml)', 'base64'));
CREATE TABLE floor_packed (body BYTEA NOT NULL);
INSERT INTO floor_packed VALUES (decode('$(python3 -c 'import base64, lz4.block, sys; sys.stdout.write(base64.b64encode(lz4.block.compress(open("fixtures/portal/valid/karaoke.xml", "rb").read(), store_size=True)).decode())')', 'base64'));
CREATE SEQUENCE floor_seq;
SQL
if [ "${NOFK:-}" = 1 ]; then
    psql -q -v ON_ERROR_STOP=1 "$URL/$DB" >/dev/null <<'SQL'
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint WHERE contype = 'f' LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
  END LOOP;
END $$;
SQL
fi

if [ "${OLD:-}" = 1 ]; then
    FIRST_ANSWER="'{\"error_code\":\"0\",\"MaHoSo\":\"000.00.00.H29-261128-' || lpad(k::text, 9, '0') || '\"}'"
    SUBMISSION_SEQ=NULL
    LOGGED="f.body"
    ENCODING=0
    SUBMISSIONS="s AS (
  INSERT INTO dossier_submissions
  SELECT d.id, 'application/xml', f.body, 'msg_' || d.k, '1764300000', 'v1,' || repeat('a', 44), d.k
  FROM d, floor_fixture f
),"
else
    FIRST_ANSWER="''"
    SUBMISSION_SEQ="2 * k - 1"
    SUBMISSIONS=""
    LOGGED="(SELECT body FROM floor_packed)"
    ENCODING=1
fi

cat >"$SCRIPT" <<SQL
BEGIN;
INSERT INTO dossier_sequences (agency, day, last_value) VALUES ('000.00.00.H29', '20261128', $B)
  ON CONFLICT (agency, day) DO UPDATE SET last_value = dossier_sequences.last_value + $B;
WITH n AS (
  SELECT nextval('floor_seq') AS k FROM generate_series(1, $B)
), d AS (
  INSERT INTO dossiers (code, portal_id, procedure_code, status, channel, submitted_at,
    received_at, applicant, form, fees, summary, mapping_version, content_hash, first_answer,
    submission_seq, name_words, notice)
  SELECT '000.00.00.H29-261128-' || lpad(k::text, 9, '0'), 'G-' || k, '1.00000' || (k % 5),
    1, 2, k, k,
    '{"name":"Nguyễn Văn A","id_number":"079123456789","address":"12 Lê Lợi, Quận 1, TP. Hồ Chí Minh","phone":"0901234567","email":"a@example.vn"}',
    '{"x":"' || repeat('y', 600) || '"}', '[]', 'summary', 'v1', repeat('h', 64),
    $FIRST_ANSWER, $SUBMISSION_SEQ, 'nguyen van a', 0
  FROM n RETURNING id, received_at AS k
), $SUBMISSIONS doc AS (
  INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, sha256, size,
    next_attempt_at)
  SELECT d.id, p, 'component', 'file.pdf', 'https://portal.example/f/' || d.k, repeat('a', 64),
    1000, d.k
  FROM d, generate_series(0, 2) p
), pr AS (
  INSERT INTO progress (dossier_id, action, status, officer_name, officer_title, officer_unit,
    note, at)
  SELECT d.id, 'received', 1, 'Cổng dịch vụ công', 'title', 'unit', NULL, d.k FROM d
), o AS (
  INSERT INTO outbox (destination, dossier_id, kind, payload, created_at, next_attempt_at)
  SELECT 'portal', d.id, 'status', '{"p":"' || repeat('z', 500) || '"}', d.k, d.k FROM d
), h AS (
  UPDATE message_log_head SET last_seq = last_seq + 2 * $B WHERE id = 1
  RETURNING last_seq
)
INSERT INTO message_log (seq, at, direction, partner, peer, reply_to, target, headers, body,
  body_encoding, verdict, body_sha256, prev_hash, hash)
SELECT h.last_seq - 2 * $B + row_number() OVER (), d.k, 'in', 'portal',
  '127.0.0.1', NULL, 'POST /portal/v1/dossiers', 'content-type: application/xml',
  CASE WHEN a = 1 THEN convert_to('{"error_code":"0","MaHoSo":"000.00.00.H29-261128-' ||
    lpad(d.k::text, 9, '0') || '"}', 'UTF8') ELSE $LOGGED END,
  CASE WHEN a = 1 THEN 0 ELSE $ENCODING END, 'received',
  repeat('a', 64), repeat('b', 64), repeat('c', 64)
FROM d, h, floor_fixture f, generate_series(0, 1) a;
UPDATE message_log_head SET last_hash = repeat('d', 64) WHERE id = 1;
COMMIT;
SQL

tps=$("$PGBENCH" -n -M prepared -c "$C" -j "$C" -T "$T" -f "$SCRIPT" "$URL/$DB" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')
stored=$(psql -tA "$URL/$DB" -c "SELECT count(*) FROM dossiers")
awk -v tps="$tps" -v b="$B" -v c="$C" -v n="$stored" 'BEGIN {
    printf "batches of %d, %d client(s): %.2f ms a batch, %.0f dossiers/s (%d stored)\n",
        b, c, 1000 / tps * c, tps * b, n
}'
