#!/usr/bin/env bash
# Side-by-side comparison of userimport against the floors and the usual
# alternatives, on the same generated files, in one go. Rewrites the results
# block of BENCHMARKS.md (between the `results` markers; the rest of the file
# is hand-written analysis) and prints the same table.
#
#   benches/compare.sh              # everything (about 5 minutes on 2 cores)
#   RUNS=5 benches/compare.sh       # more interleaved repetitions (default 3)
#   QUICK=1 benches/compare.sh      # skip the 4M-row RSS run and the 1M store
#   SKIP_BUILD=1 benches/compare.sh # use the release binaries already built
#   KEEP_STORE=1 benches/compare.sh # reuse bench-data/store-1m.db instead of re-applying 1M users
#   ONLY=check benches/compare.sh   # only the `check` rows: csv-core floor, check 1M rows
#     (empty store; and the 1M-user store unless QUICK=1), written to their own
#     block of BENCHMARKS.md (check-results markers); BASE_BIN=path/to/userimport
#     adds another build (e.g. an older commit's; BASE_LABEL names it in the block)
#     interleaved in the same runs
#   USERIMPORT_PG_URL=postgres://user@host/db benches/compare.sh   # adds psql \copy
#     (also read from USERIMPORT_BENCH_POSTGRES or USERIMPORT_TEST_POSTGRES; each run
#     uses a fresh schema, dropped afterwards)
#
# Needs: cargo, sqlite3, python3 with frictionless (`pip install frictionless`),
# GNU time (/usr/bin/time); psql only with USERIMPORT_PG_URL.
# Every timed command runs as its own process under /usr/bin/time: wall
# seconds, CPU seconds (user + sys) and peak RSS. Repetitions are interleaved
# (floor, ours, floor, ours …) so load on a shared machine hits both alike;
# the best wall time of the repetitions is reported, with its CPU time.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
mkdir -p "$DATA"

ONLY=${ONLY:-}
case "$ONLY" in "" | check) ;; *) echo "ONLY=$ONLY: only ONLY=check is known" >&2; exit 2 ;; esac
if [ -z "${SKIP_BUILD:-}" ]; then # SKIP_BUILD=1: use the binaries already built
    echo "== building (release)" >&2
    cargo build --release -q -p userimport-cli --bin userimport
    cargo build --release -q -p userimport-parse --example csv_core_floor
    cargo build --release -q -p userimport --example generate --example hashrate
fi
BIN=target/release/userimport
FLOOR=target/release/examples/csv_core_floor
GEN=target/release/examples/generate

gen() { # rows file [options]
    local rows=$1 file=$2
    shift 2
    if [ ! -s "$file" ] || [ "$(cat "$file.rows" 2>/dev/null)" != "$rows $*" ]; then
        echo "== generating $file ($rows rows $*)" >&2
        "$GEN" --rows "$rows" --out "$file" "$@"
        echo "$rows $*" > "$file.rows"
    fi
}
gen 1000000 "$DATA/users-1m.csv"
[ -n "${QUICK:-}" ] || gen 1000000 "$DATA/users-1m-hashed.csv" --prehashed
if [ "$ONLY" != check ]; then
    gen 100000 "$DATA/users-100k.csv"
    gen 200000 "$DATA/users-200k-hashed.csv" --prehashed
    gen 500 "$DATA/users-500.csv"
    [ -n "${QUICK:-}" ] || gen 4000000 "$DATA/users-4m.csv"
fi

# measure NAME CMD...: one timed run appended to $RESULTS/NAME as
# "wall cpu rss_kb"; the command's output is discarded (exit 0 or 1 accepted).
measure() {
    local name=$1
    shift
    local t="$RESULTS/time.$$"
    set +e
    /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" > /dev/null 2> "$RESULTS/$name.err"
    local rc=$?
    set -e
    if [ $rc -gt 1 ]; then
        echo "!! $name failed (exit $rc):" >&2
        tail -3 "$RESULTS/$name.err" >&2
        return 0
    fi
    awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$t" >> "$RESULTS/$name"
}
# best NAME: "wall cpu rss_kb" of the run with the lowest wall time.
best() { if [ -s "$RESULTS/$1" ]; then sort -n "$RESULTS/$1" | head -1; fi; }
wall() { best "$1" | awk '{ print $1 }'; }
cpu() { best "$1" | awk '{ print $2 }'; }
rss_mb() { if [ -s "$RESULTS/$1" ]; then sort -k3 -n "$RESULTS/$1" | tail -1 | awk '{ printf "%.0f", $3 / 1024 }'; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.1f", a / b }'; }
verdict() { # value op limit
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "n/a" || v == "") print "not measured";
        else if ((op == "<=" && v + 0 <= l + 0) || (op == ">=" && v + 0 >= l + 0)) print "met";
        else print "**missed**" }'
}

SQL_TABLE="CREATE TABLE users(login_id TEXT, name TEXT, display_name TEXT, department TEXT,
  position TEXT, email TEXT, password_hash TEXT, notify TEXT, country TEXT, language TEXT,
  timezone TEXT, date_format TEXT, time_format TEXT, status TEXT, due_date_type TEXT,
  valid_days TEXT, groups_ TEXT, roles TEXT, delete_flag TEXT)"

STORE="$DATA/store-1m.db"
# Rebuilt every time (the store schema may have moved on); KEEP_STORE=1 reuses it.
if [ -z "${QUICK:-}" ] && [ -z "${KEEP_STORE:-}" -o ! -s "$STORE" ]; then
    echo "== building a store of 1M users ($STORE)" >&2
    rm -f "$STORE" "$STORE-wal" "$STORE-shm"
    "$BIN" apply "$DATA/users-1m-hashed.csv" --db "$STORE" > /dev/null
fi

# ONLY=check: the check rows alone (and BASE_BIN beside ours), in their own block.
check_only() {
    local base=${BASE_BIN:-} load_start
    load_start=$(cut -d' ' -f1-3 /proc/loadavg)
    for run in $(seq "$RUNS"); do
        echo "== run $run of $RUNS (check only)" >&2
        measure floor_1m "$FLOOR" "$DATA/users-1m.csv"
        measure check_1m "$BIN" check "$DATA/users-1m.csv" --db "$RESULTS/none.db" --format json
        [ -z "$base" ] || measure base_check_1m "$base" check "$DATA/users-1m.csv" --db "$RESULTS/none.db" --format json
        if [ -z "${QUICK:-}" ]; then
            measure check_1m_store "$BIN" check "$DATA/users-1m.csv" --db "$STORE" --format json
            [ -z "$base" ] || measure base_check_1m_store "$base" check "$DATA/users-1m.csv" --db "$STORE" --format json
        fi
    done
    row() { # label name goal
        [ -s "$RESULTS/$2" ] || return 0
        local r rc
        r=$(ratio "$(wall "$2")" "$(wall floor_1m)")
        rc=$(ratio "$(cpu "$2")" "$(cpu floor_1m)")
        echo "| $1 | ≤ $3x | **${r}x** wall, ${rc}x CPU | $(wall "$2") s wall, $(cpu "$2") s CPU, $(rss_mb "$2") MB | csv-core $(wall floor_1m) s wall, $(cpu floor_1m) s CPU | $(verdict "$r" "<=" "$3") |"
    }
    {
        echo "<!-- check-results:start (written by ONLY=check benches/compare.sh; edit outside these markers) -->"
        echo
        echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`ONLY=check benches/compare.sh\` at commit \`$(git rev-parse --short HEAD)\` (RUNS=$RUNS, best wall of $RUNS interleaved runs, CPU = user + sys of that run)."
        echo "Machine: $(nproc) cores, $(uname -sr); load average at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg) (shared with other builds: read the CPU ratios)."
        echo
        echo "| target | goal | measured | ours | reference | verdict |"
        echo "|---|---|---|---|---|---|"
        row "\`check\` 1M clean rows, empty store, vs raw csv-core" check_1m 4
        row "the same, BASE_BIN" base_check_1m 4
        row "\`check\` 1M rows against a store of 1M users" check_1m_store 8
        row "the same, BASE_BIN" base_check_1m_store 8
        echo
        echo "Raw runs (wall s, CPU s, peak RSS KB), in run order:"
        echo
        echo '```'
        for f in floor_1m check_1m base_check_1m check_1m_store base_check_1m_store; do
            if [ -s "$RESULTS/$f" ]; then printf '%-20s %s\n' "$f" "$(tr '\n' ';' < "$RESULTS/$f")"; fi
        done
        if [ -n "$base" ]; then echo "BASE_BIN: ${BASE_LABEL:-$base}"; fi
        echo '```'
        echo
        echo "<!-- check-results:end -->"
    } > "$RESULTS/check.md"
    cat "$RESULTS/check.md"
    python3 - "$RESULTS/check.md" << 'EOF'
import re, sys
block = open(sys.argv[1], encoding="utf-8").read().strip()
text = open("BENCHMARKS.md", encoding="utf-8").read()
pattern = r"<!-- check-results:start.*?<!-- check-results:end -->"
if re.search(pattern, text, flags=re.S):
    text = re.sub(pattern, lambda _: block, text, flags=re.S)
else:
    marker = "<!-- results:end -->"
    at = text.find(marker)
    at = len(text) if at < 0 else at + len(marker)
    text = text[:at] + "\n\n" + block + "\n" + text[at:]
open("BENCHMARKS.md", "w", encoding="utf-8").write(text)
EOF
    echo "== BENCHMARKS.md: check block updated" >&2
}
if [ "$ONLY" = check ]; then
    check_only
    exit 0
fi

python3 benches/frictionless_schema.py crates/schema/src/codes/seed_tables.rs > "$RESULTS/schema.json"

for run in $(seq "$RUNS"); do
    echo "== run $run of $RUNS" >&2
    measure floor_1m "$FLOOR" "$DATA/users-1m.csv"
    measure check_1m "$BIN" check "$DATA/users-1m.csv" --db "$RESULTS/none.db" --format json
    [ -n "${QUICK:-}" ] || measure check_1m_store "$BIN" check "$DATA/users-1m.csv" --db "$STORE" --format json
    measure floor_100k "$FLOOR" "$DATA/users-100k.csv"
    measure check_100k "$BIN" check "$DATA/users-100k.csv" --db "$RESULTS/none.db" --format json
    rm -f "$RESULTS"/import.db*
    measure sqlite_import sqlite3 "$RESULTS/import.db" -cmd "$SQL_TABLE" \
        ".import --csv --skip 1 $DATA/users-200k-hashed.csv users" ".exit"
    rm -f "$RESULTS"/apply.db*
    measure apply_200k "$BIN" apply "$DATA/users-200k-hashed.csv" --db "$RESULTS/apply.db"
done
# Slow or memory-only runs, once.
[ -n "${QUICK:-}" ] || measure check_4m "$BIN" check "$DATA/users-4m.csv" --db "$RESULTS/none.db" --format json
echo "== frictionless validate (100k rows, once)" >&2
# frictionless refuses absolute paths ("not safe"): run it inside $DATA.
cp "$RESULTS/schema.json" "$DATA/frictionless-schema.json"
(cd "$DATA" && RESULTS=$RESULTS measure frictionless frictionless validate --schema frictionless-schema.json users-100k.csv)
echo "== password hashing" >&2
# The single-hash rate is measured right before and right after the apply,
# and the faster of the two is the reference (load changes within seconds).
target/release/examples/hashrate > "$RESULTS/hashrate.txt"
rm -f "$RESULTS"/hash.db*
# Batches of 100 rows: the passwords of batch N+1 are hashed while batch N is written.
measure apply_500_plain "$BIN" apply "$DATA/users-500.csv" --db "$RESULTS/hash.db" --job-batch 100
target/release/examples/hashrate > "$RESULTS/hashrate2.txt"
FAST=$(awk -F= '/^single_ms=/ { print $2 }' "$RESULTS/hashrate.txt" "$RESULTS/hashrate2.txt" | sort -n | head -1)
[ "$(awk -F= '/^single_ms=/ { print $2 }' "$RESULTS/hashrate2.txt")" = "$FAST" ] && cp "$RESULTS/hashrate2.txt" "$RESULTS/hashrate.best" || cp "$RESULTS/hashrate.txt" "$RESULTS/hashrate.best"

PG_URL=${USERIMPORT_PG_URL:-${USERIMPORT_BENCH_POSTGRES:-${USERIMPORT_TEST_POSTGRES:-}}}
PG_ROW="| \`apply\` 200k pre-hashed vs \`psql \\copy\` | ≤ 2x | not measured yet (set USERIMPORT_PG_URL to a server URL) | | |"
if [ -n "$PG_URL" ]; then
    echo "== PostgreSQL (a fresh schema per run)" >&2
    for run in $(seq "$RUNS"); do
        schema="uibench_$$_$run"
        sep='?'
        case "$PG_URL" in *\?*) sep='&' ;; esac
        url="$PG_URL${sep}options=-c%20search_path%3D$schema"
        if ! psql "$PG_URL" -q -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema; ${SQL_TABLE/users(/$schema.bench_users(}" > /dev/null; then
            echo "!! psql cannot reach $PG_URL: PostgreSQL not measured" >&2
            break
        fi
        measure psql_copy psql "$PG_URL" -q -c "\\copy $schema.bench_users FROM '$DATA/users-200k-hashed.csv' WITH (FORMAT csv, HEADER true)"
        measure apply_200k_pg "$BIN" apply "$DATA/users-200k-hashed.csv" --db "$url"
        psql "$PG_URL" -q -c "DROP SCHEMA $schema CASCADE" > /dev/null || true
    done
    if [ -s "$RESULTS/apply_200k_pg" ] && [ -s "$RESULTS/psql_copy" ]; then
        PG_ROW="| \`apply\` 200k pre-hashed vs \`psql \\copy\` | ≤ 2x | **$(ratio "$(wall apply_200k_pg)" "$(wall psql_copy)")x** wall, $(ratio "$(cpu apply_200k_pg)" "$(cpu psql_copy)")x CPU (client side) | $(wall apply_200k_pg) s wall | psql \\copy $(wall psql_copy) s wall | "
    else
        PG_ROW="| \`apply\` 200k pre-hashed vs \`psql \\copy\` | ≤ 2x | not measured: a run failed ($(tail -1 "$RESULTS/apply_200k_pg.err" 2> /dev/null | cut -c1-80)) | | |"
    fi
fi

R_CHECK=$(ratio "$(wall check_1m)" "$(wall floor_1m)")
R_CHECK_CPU=$(ratio "$(cpu check_1m)" "$(cpu floor_1m)")
R_STORE=$(ratio "$(wall check_1m_store)" "$(wall floor_1m)")
R_STORE_CPU=$(ratio "$(cpu check_1m_store)" "$(cpu floor_1m)")
R_FL=$(ratio "$(wall frictionless)" "$(wall check_100k)")
R_FL_CPU=$(ratio "$(cpu frictionless)" "$(cpu check_100k)")
R_APPLY=$(ratio "$(wall apply_200k)" "$(wall sqlite_import)")
R_APPLY_CPU=$(ratio "$(cpu apply_200k)" "$(cpu sqlite_import)")
SINGLE=$(awk -F= '/^single_ms=/ { print $2 }' "$RESULTS/hashrate.best")
CORES=$(awk -F= '/^cores=/ { print $2 }' "$RESULTS/hashrate.best")
PAR_EFF=$(awk -F= '/^parallel_efficiency=/ { print $2 }' "$RESULTS/hashrate.best")
APPLY_EFF=$(awk -v w="$(wall apply_500_plain)" -v s="$SINGLE" -v c="$CORES" \
    'BEGIN { if (w == "" || w == 0) print "n/a"; else printf "%.0f", 100 * (500 / w) / (c * 1000 / s) }')
RSS1=$(rss_mb check_1m)
RSS4=$(rss_mb check_4m)
GROWTH=$(awk -v a="$RSS1" -v b="$RSS4" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.0f", (b - a) * 1048576 / 3000000 }')

{
    echo "<!-- results:start (written by benches/compare.sh; edit outside these markers) -->"
    echo
    echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`benches/compare.sh\` (RUNS=$RUNS, best wall of $RUNS interleaved runs, CPU = user + sys of that run)."
    echo "Machine: $(nproc) cores, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (shared with other builds)."
    echo
    echo "| target | goal | measured | ours | reference | verdict |"
    echo "|---|---|---|---|---|---|"
    echo "| \`check\` 1M clean rows, empty store, vs raw csv-core | ≤ 4x | **${R_CHECK}x** wall, ${R_CHECK_CPU}x CPU | $(wall check_1m) s wall, $(cpu check_1m) s CPU | csv-core $(wall floor_1m) s wall, $(cpu floor_1m) s CPU | $(verdict "$R_CHECK" "<=" 4) |"
    echo "| \`check\` 1M rows against a store of 1M users | ≤ 8x | **${R_STORE}x** wall, ${R_STORE_CPU}x CPU | $(wall check_1m_store) s wall, $(cpu check_1m_store) s CPU | csv-core $(wall floor_1m) s | $(verdict "$R_STORE" "<=" 8) |"
    echo "| peak RSS, \`check\` 1M rows | < 150 MB | **${RSS1} MB** | | | $(verdict "$RSS1" "<=" 150) |"
    echo "| RSS growth per row, 1M → 4M rows | ≤ 64 B/row | **${GROWTH} B/row** (4M: ${RSS4} MB) | | | $(verdict "$GROWTH" "<=" 64) |"
    echo "| faster than frictionless \`validate\`, 100k rows | ≥ 50x | **${R_FL}x** wall, ${R_FL_CPU}x CPU | $(wall check_100k) s | frictionless $(wall frictionless) s wall, $(cpu frictionless) s CPU | $(verdict "$R_FL" ">=" 50) |"
    echo "| \`apply\` 200k pre-hashed rows vs \`sqlite3 .import\` | ≤ 2x | **${R_APPLY}x** wall, ${R_APPLY_CPU}x CPU | $(wall apply_200k) s wall, $(cpu apply_200k) s CPU, $(rss_mb apply_200k) MB | sqlite3 $(wall sqlite_import) s wall, $(cpu sqlite_import) s CPU | $(verdict "$R_APPLY" "<=" 2) |"
    if [ -n "$PG_URL" ] && [ -s "$RESULTS/apply_200k_pg" ] && [ -s "$RESULTS/psql_copy" ]; then
        echo "$PG_ROW $(verdict "$(ratio "$(wall apply_200k_pg)" "$(wall psql_copy)")" "<=" 2) |"
    else
        echo "$PG_ROW not measured |"
    fi
    echo "| password hashing, parallel hashes vs cores × single-hash rate | ≥ 80% | **${PAR_EFF}%** | single hash ${SINGLE} ms, ${CORES} cores | | $(verdict "$PAR_EFF" ">=" 80) |"
    echo "| \`apply\` 500 plaintext rows in batches of 100 (hash streamed with write) vs cores × single-hash rate | ≥ 80% | **${APPLY_EFF}%** | $(wall apply_500_plain) s wall | $(awk -v s="$SINGLE" -v c="$CORES" 'BEGIN { printf "%.2f", 500 * s / 1000 / c }') s ideal | $(verdict "$APPLY_EFF" ">=" 80) |"
    echo
    echo "Other figures: \`check\` 100k rows $(wall check_100k) s wall / $(cpu check_100k) s CPU (csv-core $(wall floor_100k) s);"
    echo "raw runs (wall s, CPU s, peak RSS KB) per measurement:"
    echo
    echo '```'
    for f in "$RESULTS"/*; do
        case "$f" in *.err | *.json | *.txt | *.best | *.md | *.db* | */time.*) continue ;; esac
        [ -f "$f" ] && printf '%-16s %s\n' "$(basename "$f")" "$(tr '\n' ';' < "$f")"
    done
    echo "hashrate before the apply:"
    cat "$RESULTS/hashrate.txt"
    echo "hashrate after the apply:"
    cat "$RESULTS/hashrate2.txt"
    echo '```'
    echo
    echo "Commands (what the script runs, per repetition):"
    echo
    echo '```sh'
    echo "target/release/examples/csv_core_floor $DATA/users-1m.csv"
    echo "target/release/userimport check $DATA/users-1m.csv --db /tmp/none.db --format json      # empty store"
    echo "target/release/userimport check $DATA/users-1m.csv --db $STORE --format json  # 1M users"
    echo "sqlite3 import.db -cmd 'CREATE TABLE users(…19 TEXT columns…)' '.import --csv --skip 1 $DATA/users-200k-hashed.csv users'"
    echo "target/release/userimport apply $DATA/users-200k-hashed.csv --db apply.db               # fresh store"
    echo "frictionless validate --schema schema.json $DATA/users-100k.csv   # schema: benches/frictionless_schema.py"
    echo "psql \$USERIMPORT_PG_URL -c \"\\copy bench_users FROM '$DATA/users-200k-hashed.csv' WITH (FORMAT csv, HEADER true)\""
    echo "target/release/examples/hashrate; target/release/userimport apply $DATA/users-500.csv --db hash.db --job-batch 100"
    echo '```'
    echo
    echo "<!-- results:end -->"
} > "$RESULTS/block.md"

cat "$RESULTS/block.md"
if [ -f BENCHMARKS.md ] && grep -q '<!-- results:start' BENCHMARKS.md; then
    python3 - "$RESULTS/block.md" << 'EOF'
import re, sys
block = open(sys.argv[1], encoding="utf-8").read().strip()
text = open("BENCHMARKS.md", encoding="utf-8").read()
text = re.sub(r"<!-- results:start.*?<!-- results:end -->", lambda _: block, text, flags=re.S)
open("BENCHMARKS.md", "w", encoding="utf-8").write(text)
EOF
else
    { echo "# Benchmarks"; echo; cat "$RESULTS/block.md"; } > BENCHMARKS.md
fi
echo "== BENCHMARKS.md updated" >&2
