#!/bin/sh
# Peak RSS of `check` of a 1M-row update file against a 1M-user store, with
# the change listing on, for two builds of the binary side by side
# (interleaved runs, /usr/bin/time -v). Usage:
#   benches/review_rss.sh BASE_BIN NEW_BIN [DATA_DIR] [RUNS]
# BASE_BIN: the binary before the change (e.g. built from `git archive <commit>`),
# NEW_BIN: target/release/userimport. DATA_DIR (default bench-data) gets
# users-1m-hashed.csv (the store's users), store-1m.db, and update-1m.csv:
# users-1m.csv with every 2nd department renamed, every 7th row's groups
# edited (+Tokyo, -the old group) and every 50th name changed.
set -eu
BASE=$1 NEW=$2 DATA=${3:-bench-data} RUNS=${4:-3}
GEN=target/release/examples/generate
mkdir -p "$DATA"
[ -x "$GEN" ] || cargo build --release -q -p userimport --example generate
[ -s "$DATA/users-1m-hashed.csv" ] || "$GEN" --rows 1000000 --prehashed --out "$DATA/users-1m-hashed.csv"
[ -s "$DATA/users-1m.csv" ] || "$GEN" --rows 1000000 --out "$DATA/users-1m.csv"
[ -s "$DATA/store-1m.db" ] || "$BASE" apply "$DATA/users-1m-hashed.csv" --db "$DATA/store-1m.db" > /dev/null
[ -s "$DATA/update-1m.csv" ] || python3 - "$DATA" <<'PY'
import csv, sys
d = sys.argv[1]
r = csv.reader(open(f"{d}/users-1m.csv", newline="", encoding="utf-8"))
w = csv.writer(open(f"{d}/update-1m.csv", "w", newline="", encoding="utf-8"), lineterminator="\r\n")
h = next(r); w.writerow(h)
dep, name, groups = h.index("Department"), h.index("Name"), h.index("Belong to")
for i, row in enumerate(r):
    if i % 2 == 0: row[dep] += " Dept"
    if i % 7 == 0: row[groups] = "Tokyo,-" + row[groups] if row[groups] else "Tokyo"
    if i % 50 == 0: row[name] += " ?"
    w.writerow(row)
PY
measure() { # name cmd...: "name wall peak_rss_kb exit"
    name=$1; shift
    set +e
    /usr/bin/time -v "$@" > /dev/null 2> "$DATA/time-$name.txt"
    code=$?
    set -e
    echo "$name $(awk '/Elapsed \(wall/ {print $NF}' "$DATA/time-$name.txt") $(awk '/Maximum resident/ {print $NF}' "$DATA/time-$name.txt") $code"
}
for _ in $(seq "$RUNS"); do
    measure base "$BASE" check "$DATA/update-1m.csv" --db "$DATA/store-1m.db" --format json
    measure new "$NEW" check "$DATA/update-1m.csv" --db "$DATA/store-1m.db" --format json
    measure new-changes-1000 "$NEW" check "$DATA/update-1m.csv" --db "$DATA/store-1m.db" --format json --changes 1000
    measure new-text "$NEW" check "$DATA/update-1m.csv" --db "$DATA/store-1m.db"
done
