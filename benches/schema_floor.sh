#!/usr/bin/env bash
# The floor of our store schemas: how long the database engine alone takes to
# write the 200k pre-hashed users of `apply`'s benchmark into our tables, with
# every row already prepared (keys folded, attributes as JSON) and nothing of
# ours in the way. `apply` cannot be faster than this; BENCHMARKS.md sets it
# against `sqlite3 .import` and `psql \copy` of the same file into a plain table.
#
#   benches/schema_floor.sh                      # SQLite
#   USERIMPORT_PG_URL=postgres://… benches/schema_floor.sh   # and PostgreSQL
#
# Needs sqlite3 (and psql); the file comes from benches/compare.sh (or
# `cargo run --release -p userimport --example generate -- --rows 200000
# --prehashed --out bench-data/users-200k-hashed.csv`).
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${FILE:-bench-data/users-200k-hashed.csv}
[ -s "$FILE" ] || { echo "no $FILE: run benches/compare.sh (or the generator) first" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COLUMNS_SQL="login_id TEXT, name TEXT, display_name TEXT, department TEXT, position TEXT,
  email TEXT, password_hash TEXT, notify TEXT, country TEXT, language TEXT, timezone TEXT,
  date_format TEXT, time_format TEXT, status TEXT, due_date_type TEXT, valid_days TEXT,
  groups_ TEXT, roles TEXT, delete_flag TEXT"
JSON_SQL="'country',country,'date_format',date_format,'department',department,
  'display_name',display_name,'due_date_type',due_date_type,'language',language,'name',name,
  'notify_announcements',notify,'position',position,'status',status,'time_format',time_format,
  'timezone',timezone,'valid_days_or_due_date',valid_days"

# SQLite: the rows prepared in a source database first (not timed).
sqlite3 "$WORK/src.db" -cmd "CREATE TABLE raw($COLUMNS_SQL)" ".import --csv --skip 1 $FILE raw" \
    "CREATE TABLE s AS SELECT rowid AS id, login_id AS login, lower(login_id) AS login_key,
       email, lower(email) AS email_key, password_hash, json_object($JSON_SQL) AS data FROM raw;" ".exit"
# Two ways the store writes: a first import into an empty store is a bulk
# load through the rollback journal (each page written once); any other
# apply writes through the WAL (each page written twice: WAL, checkpoint).
# Pages of 16 KiB, as in a store this program creates. The look-up indexes
# issue 15 added (look-alike skeletons, card ID); the folded keys stand in
# for the skeletons, which have the same shape.
SQLITE_LOOKUP_INDEXES="CREATE INDEX users_login_skeleton ON users (login_skeleton);
CREATE INDEX users_email_skeleton ON users (email_skeleton);
CREATE INDEX users_card_id ON users (json_extract(data, '\$.card_id')) WHERE data GLOB '*card_id\"*';"
sqlite_floor() { # JOURNAL_PRAGMAS [DDL_BEFORE_ROWS DDL_AFTER_ROWS] → best of three, in seconds
    local best=""
    for run in 1 2 3; do
        rm -f "$WORK"/floor.db*
        start=$(date +%s.%N)
        sqlite3 "$WORK/floor.db" > /dev/null <<SQL
PRAGMA page_size=16384;
$1
PRAGMA cache_size=-16384;
PRAGMA temp_store=MEMORY;
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, login TEXT, login_key TEXT UNIQUE,
  email TEXT, email_key TEXT UNIQUE, password_hash TEXT, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, first_login TEXT, last_login TEXT, data TEXT,
  login_skeleton TEXT, email_skeleton TEXT);
CREATE TABLE memberships (user_id INTEGER NOT NULL, group_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;
${2:-}
ATTACH '$WORK/src.db' AS src;
BEGIN;
INSERT INTO users (login, login_key, email, email_key, password_hash, data, created_at, updated_at,
  login_skeleton, email_skeleton)
  SELECT login, login_key, email, email_key, password_hash, data, '2026-01-01T00:00:00Z',
  '2026-01-01T00:00:00Z', $SKELETONS FROM src.s ORDER BY id;
INSERT INTO memberships SELECT id, 1 FROM src.s;
${3:-}
COMMIT;
SQL
        end=$(date +%s.%N)
        t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    done
    echo "$best"
}
BULK="PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
SKELETONS="NULL, NULL"
echo "sqlite_bulk_floor_s=$(sqlite_floor "$BULK")   # users (2 unique indexes), memberships; rollback journal, as a first import"
echo "sqlite_wal_floor_s=$(sqlite_floor "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=16384;")   # the same through the WAL: commit and checkpoint"
SKELETONS="login_key, email_key"
echo "sqlite_bulk_lookups_floor_s=$(sqlite_floor "$BULK" "$SQLITE_LOOKUP_INDEXES" "")   # plus skeletons and the look-up indexes, kept row by row"
echo "sqlite_bulk_lookups_after_floor_s=$(sqlite_floor "$BULK" "" "$SQLITE_LOOKUP_INDEXES")   # the same, the look-up indexes built after the rows (apply's bulk load)"

PG_URL=${USERIMPORT_PG_URL:-${USERIMPORT_BENCH_POSTGRES:-${USERIMPORT_TEST_POSTGRES:-}}}
[ -n "$PG_URL" ] || exit 0
schema="uifloor_$$"
psql "$PG_URL" -q -v ON_ERROR_STOP=1 > /dev/null <<SQL
CREATE SCHEMA $schema; SET search_path = $schema;
CREATE TABLE raw($COLUMNS_SQL);
\copy raw FROM '$FILE' WITH (FORMAT csv, HEADER true)
CREATE TABLE prepared AS SELECT row_number() OVER () AS id, login_id AS login,
  lower(login_id) AS login_key, email, lower(email) AS email_key, password_hash,
  '2026-01-01T00:00:00Z'::text AS created_at, '2026-01-01T00:00:00Z'::text AS updated_at,
  json_build_object($JSON_SQL)::text AS data, lower(login_id) AS login_skeleton,
  lower(email) AS email_skeleton FROM raw;
\copy (SELECT id, login, login_key, email, email_key, password_hash, created_at, updated_at, data FROM prepared) TO '$WORK/prepared.bin' WITH (FORMAT binary)
\copy prepared TO '$WORK/prepared_lookups.bin' WITH (FORMAT binary)
SQL
best_pg=""
for run in 1 2 3; do
    psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; SET search_path = $schema; DROP TABLE IF EXISTS users;
      CREATE TABLE users (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, login TEXT,
        login_key TEXT COLLATE \"C\" UNIQUE, email TEXT, email_key TEXT COLLATE \"C\" UNIQUE,
        password_hash TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL)" > /dev/null
    start=$(date +%s.%N)
    psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "\\copy $schema.users (id, login, login_key, email, email_key, password_hash, created_at, updated_at, data) FROM '$WORK/prepared.bin' WITH (FORMAT binary)" > /dev/null
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ -z "$best_pg" ] || awk -v t="$t" -v b="$best_pg" 'BEGIN { exit !(t < b) }'; then best_pg=$t; fi
done
# The look-up indexes of issue 15, built after the rows in the COPY's
# transaction, as apply's bulk load does.
best_lookups=""
for run in 1 2 3; do
    psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; SET search_path = $schema; DROP TABLE IF EXISTS users;
      CREATE TABLE users (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, login TEXT,
        login_key TEXT COLLATE \"C\" UNIQUE, email TEXT, email_key TEXT COLLATE \"C\" UNIQUE,
        password_hash TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL,
        login_skeleton TEXT COLLATE \"C\", email_skeleton TEXT COLLATE \"C\")" > /dev/null
    start=$(date +%s.%N)
    psql "$PG_URL" -q -v ON_ERROR_STOP=1 > /dev/null <<SQL
SET search_path = $schema;
BEGIN;
\copy users (id, login, login_key, email, email_key, password_hash, created_at, updated_at, data, login_skeleton, email_skeleton) FROM '$WORK/prepared_lookups.bin' WITH (FORMAT binary)
CREATE INDEX users_login_skeleton ON users (login_skeleton);
CREATE INDEX users_email_skeleton ON users (email_skeleton);
CREATE INDEX users_card_id ON users (((data::jsonb) ->> 'card_id')) WHERE strpos(data, '"card_id"') > 0;
COMMIT;
SQL
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    if [ -z "$best_lookups" ] || awk -v t="$t" -v b="$best_lookups" 'BEGIN { exit !(t < b) }'; then best_lookups=$t; fi
done
psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE" > /dev/null 2>&1 || true
echo "postgres_users_floor_s=$best_pg   # binary COPY of the prepared rows into users (3 unique indexes) only"
echo "postgres_users_lookups_floor_s=$best_lookups   # the same with skeletons, the look-up indexes built after the rows"
