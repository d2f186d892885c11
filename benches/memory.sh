#!/usr/bin/env bash
# Peak memory of the write path at 1M rows, every path: `check` (the
# reference), `plan -o` (written as it is planned), `apply --skip-invalid`
# into a new store (a job), and the default streamed apply.
#
#   benches/memory.sh                # builds, generates 1M pre-hashed rows once
#   ROWS=200000 benches/memory.sh    # a smaller run
#   SKIP_BUILD=1 benches/memory.sh   # use the release binaries already built
#
# Needs GNU time (/usr/bin/time). Prints one line per command: wall seconds
# and peak RSS in MB. The issue's bound is 300 MB for every path at 1M rows.
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
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || true
    read -r wall kib < <(tail -n 1 "$WORK/time")
    printf '%-34s %8.2f s %8d MB\n' "$name" "$wall" $((kib / 1024))
}
echo "rows: $ROWS"
measure "check (empty store)" "$BIN" check "$CLEAN" --db "$WORK/none.db"
measure "plan -o (empty store)" "$BIN" plan "$CLEAN" -o "$WORK/plan.json" --db "$WORK/none.db"
echo "  plan file: $(( $(stat -c %s "$WORK/plan.json") / 1024 / 1024 )) MB"
measure "apply --skip-invalid (new store)" "$BIN" apply "$DIRTY" --skip-invalid --db "$WORK/skip.db"
measure "apply, streamed (new store)" "$BIN" apply "$CLEAN" --db "$WORK/streamed.db"
