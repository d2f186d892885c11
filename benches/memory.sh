#!/usr/bin/env bash
# Peak memory of the write path at 1M rows, every path: `check` (the
# reference), `plan -o` (written as it is planned), `apply --skip-invalid`
# into a new store (a job, two passes over the file), the same with
# `--detach` (the apply, then its detached worker), and the default
# streamed apply next to `--skip-invalid` of the same clean file (the wall
# and CPU cost of the second pass).
#
#   benches/memory.sh                # builds, generates 1M pre-hashed rows once
#   ROWS=200000 benches/memory.sh    # a smaller run
#   SKIP_BUILD=1 benches/memory.sh   # use the release binaries already built
#   BASE=/tmp/before/userimport benches/memory.sh   # also run the dirty-file
#                                    # paths with an earlier build
#
# Needs GNU time (/usr/bin/time) and bc. Prints one line per command: wall
# seconds, CPU seconds (user + system) and peak RSS in MB. The issue's bound is 300 MB for every path at 1M rows.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
DATA=${DATA:-bench-data}
mkdir -p "$DATA"
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release -q -p userimport-cli --bin userimport
    cargo build --release -q -p userimport --example generate
fi
BIN=$PWD/target/release/userimport
GEN=$PWD/target/release/examples/generate
CLEAN=$DATA/users-$ROWS-hashed.csv
DIRTY=$DATA/users-$ROWS-hashed-defects.csv
[ -f "$CLEAN" ] || "$GEN" --rows "$ROWS" --prehashed --out "$CLEAN"
[ -f "$DIRTY" ] || "$GEN" --rows "$ROWS" --prehashed --defects 0.001 --out "$DIRTY"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
measure() { # name, command…
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || true
    read -r wall user sys kib < <(tail -n 1 "$WORK/time")
    printf '%-44s %8.2f s wall %8.2f s CPU %8d MB\n' "$name" "$wall" \
        "$(echo "$user + $sys" | bc)" $((kib / 1024))
}
# The peak RSS (VmHWM) of the detached worker of job $1, read until it ends.
worker_peak() {
    local pid="" kib=0 seen
    for _ in $(seq 50); do
        pid=$(pgrep -f "^$BIN jobs worker $1( |$)" | head -n 1) && break
        sleep 0.1
    done
    [ -n "$pid" ] || { echo "  no worker for job $1"; return; }
    local start=$SECONDS
    while seen=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null); do
        [ -n "$seen" ] && kib=$seen
        sleep 0.2
    done
    printf '%-44s %8d s wall %17s %8d MB\n' "  its detached worker (jobs worker $1)" \
        $((SECONDS - start)) "" $((kib / 1024))
}
echo "rows: $ROWS"
measure "check (empty store)" "$BIN" check "$CLEAN" --db "$WORK/none.db"
measure "plan -o (empty store)" "$BIN" plan "$CLEAN" -o "$WORK/plan.json" --db "$WORK/none.db"
echo "  plan file: $(( $(stat -c %s "$WORK/plan.json") / 1024 / 1024 )) MB"
rm -f "$WORK/plan.json"
dirty_paths() { # label, binary
    measure "apply --skip-invalid (new store)$1" "$2" apply "$DIRTY" --skip-invalid --db "$WORK/skip.db"
    rm -f "$WORK"/skip.db*
    measure "apply --skip-invalid --detach (new store)$1" "$2" apply "$DIRTY" --skip-invalid --detach --db "$WORK/detach.db"
    BIN=$2 worker_peak "$(tr -dc 0-9 <"$WORK/out")"
    rm -f "$WORK"/detach.db*
}
dirty_paths "" "$BIN"
# BASE=path/to/an/earlier/userimport: the same two paths with that build.
[ -z "${BASE:-}" ] || dirty_paths ", BASE" "$BASE"
# The cost of two passes: the same clean file, streamed and with --skip-invalid.
measure "apply, streamed (new store)" "$BIN" apply "$CLEAN" --db "$WORK/streamed.db"
rm -f "$WORK"/streamed.db*
measure "apply --skip-invalid, clean file (new store)" "$BIN" apply "$CLEAN" --skip-invalid --db "$WORK/two.db"
rm -f "$WORK"/two.db*
