#!/usr/bin/env bash
# The apply targets alone, quicker than benches/compare.sh: `apply` of 200k
# pre-hashed rows into a new SQLite store against `sqlite3 .import` of the
# same file, and (with a PostgreSQL URL) into a fresh schema against
# `psql \copy`, interleaved RUNS times so load hits both alike; prints each
# run and the ratios of the best wall and the best CPU times. With RSS_1M=1 it also runs
# `apply --skip-invalid` creating 1M users under `/usr/bin/time -v` and
# prints its peak RSS.
#
#   benches/apply_ratio.sh
#   RUNS=5 USERIMPORT_PG_URL=postgres://user:pw@127.0.0.1/db benches/apply_ratio.sh
#   SKIP_BUILD=1 RSS_1M=1 benches/apply_ratio.sh
#   BASE=/tmp/userimport-before benches/apply_ratio.sh   # another build, in the same rounds
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$DATA"
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p userimport-cli --bin userimport
    cargo build --release -q -p userimport --example generate
fi
BIN=${BIN:-target/release/userimport} # BIN=path/to/userimport compares another build
FILE="$DATA/users-200k-hashed.csv"
if [ ! -s "$FILE" ] || [ "$(cat "$FILE.rows" 2>/dev/null)" != "200000 --prehashed" ]; then
    target/release/examples/generate --rows 200000 --out "$FILE" --prehashed
    echo "200000 --prehashed" > "$FILE.rows"
fi
COLUMNS_SQL="(login_id TEXT, name TEXT, display_name TEXT, department TEXT,
  position TEXT, email TEXT, password_hash TEXT, notify TEXT, country TEXT, language TEXT,
  timezone TEXT, date_format TEXT, time_format TEXT, status TEXT, due_date_type TEXT,
  valid_days TEXT, groups_ TEXT, roles TEXT, delete_flag TEXT)"

# timed NAME CMD...: appends "wall cpu rss_kb" of one run to $OUT/NAME.
timed() {
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/t" "$@" > /dev/null 2> "$OUT/$name.err" || {
        echo "!! $name failed:" >&2
        tail -3 "$OUT/$name.err" >&2
        return 0
    }
    awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$OUT/t" >> "$OUT/$name"
}
best() { sort -n "$OUT/$1" | head -1 | awk '{ print $1 }'; }
# best_cpu NAME: the least CPU (user + system) of NAME's runs.
best_cpu() { sort -n -k2 "$OUT/$1" | head -1 | awk '{ print $2 }'; }
# ratio A B LABEL: best wall and best CPU of A over B's.
ratio() {
    [ -s "$OUT/$1" ] && [ -s "$OUT/$2" ] || return 0
    awk -v a="$(best "$1")" -v b="$(best "$2")" -v c="$(best_cpu "$1")" -v d="$(best_cpu "$2")" -v l="$3" \
        'BEGIN { printf "%s: wall %.2f s / %.2f s = %.2fx; CPU %.2f s / %.2f s = %.2fx\n", l, a, b, a / b, c, d, c / d }'
}

# No NOTICE for each table a `DROP SCHEMA … CASCADE` takes with it.
export PGOPTIONS="${PGOPTIONS:--c client_min_messages=warning}"
PG_URL=${USERIMPORT_PG_URL:-${USERIMPORT_BENCH_POSTGRES:-${USERIMPORT_TEST_POSTGRES:-}}}
for run in $(seq "$RUNS"); do
    rm -f "$OUT"/import.db* "$OUT"/apply.db* "$OUT"/base.db*
    timed sqlite_import sqlite3 "$OUT/import.db" -cmd "CREATE TABLE users $COLUMNS_SQL" \
        ".import --csv --skip 1 $FILE users" ".exit"
    timed apply_sqlite "$BIN" apply "$FILE" --db "$OUT/apply.db"
    [ -z "${BASE:-}" ] || timed base_sqlite "$BASE" apply "$FILE" --db "$OUT/base.db"
    if [ -n "$PG_URL" ]; then
        schema="uiratio_$$_$run"
        sep='?'
        case "$PG_URL" in *\?*) sep='&' ;; esac
        psql "$PG_URL" -q -c "CREATE SCHEMA $schema; CREATE TABLE $schema.bench_users $COLUMNS_SQL" > /dev/null
        timed psql_copy psql "$PG_URL" -q -c "\\copy $schema.bench_users FROM '$FILE' WITH (FORMAT csv, HEADER true)"
        # A schema of its own: the store refuses one holding another
        # application's table (bench_users).
        psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE; CREATE SCHEMA $schema" > /dev/null
        timed apply_pg "$BIN" apply "$FILE" --db "$PG_URL${sep}options=-c%20search_path%3D$schema"
        psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE" > /dev/null
        if [ -n "${BASE:-}" ]; then
            psql "$PG_URL" -q -c "CREATE SCHEMA $schema" > /dev/null
            timed base_pg "$BASE" apply "$FILE" --db "$PG_URL${sep}options=-c%20search_path%3D$schema"
            psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE" > /dev/null
        fi
    fi
done
for f in "$OUT"/*; do
    case "$f" in *.err | */t | *.db*) continue ;; esac
    printf '%-14s %s\n' "$(basename "$f")" "$(tr '\n' ';' < "$f")"
done
ratio apply_sqlite sqlite_import "apply 200k vs sqlite3 .import"
ratio apply_pg psql_copy "apply 200k vs psql \\copy"
ratio base_sqlite sqlite_import "base: apply 200k vs sqlite3 .import"
ratio base_pg psql_copy "base: apply 200k vs psql \\copy"
if [ -n "${RSS_1M:-}" ]; then
    RSS_FILE="$DATA/users-1m-hashed.csv"
    if [ ! -s "$RSS_FILE" ] || [ "$(cat "$RSS_FILE.rows" 2>/dev/null)" != "1000000 --prehashed" ]; then
        target/release/examples/generate --rows 1000000 --out "$RSS_FILE" --prehashed
        echo "1000000 --prehashed" > "$RSS_FILE.rows"
    fi
    rm -f "$OUT"/skip.db*
    /usr/bin/time -v "$BIN" apply "$RSS_FILE" --skip-invalid --db "$OUT/skip.db" \
        > /dev/null 2> "$OUT/skip.time" || true
    grep -E "Maximum resident|Elapsed" "$OUT/skip.time"
fi
