#!/usr/bin/env bash
# Do two builds report the same? Runs `check --format json` of both on every
# example file and on generated files (defects, CRLF and CR-only line ends,
# quoting edge cases), with each profile, against an empty store and a store
# of 3,000 users, in each mode; compares standard output, standard error and
# the exit code byte for byte. For changes that must not change what a user
# sees (speed work).
#
#   BASE=path/to/other/userimport benches/same_reports.sh
#   BIN=... (default target/release/userimport)  GEN=... (default
#   target/release/examples/generate, built with
#   `cargo build --release -p userimport --example generate`)
#
# Prints one line per difference and a count; exits 1 when any run differs.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/userimport}
BASE=${BASE:?BASE=path to the build to compare with}
GEN=${GEN:-target/release/examples/generate}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

files=(examples/data/*.csv examples/data/*/*.csv crates/parse/tests/data/libreoffice.csv fuzz/seed-store.csv)
"$GEN" --rows 20000 --defects 0.01 --seed 7 --out "$WORK/defects.csv"
sed 's/$/\r/' "$WORK/defects.csv" > "$WORK/defects-crlf.csv"
tr '\n' '\r' < "$WORK/defects.csv" > "$WORK/defects-cr.csv"
"$GEN" --rows 5000 --defects 0.02 --seed 3 --profile team --out "$WORK/team.csv"
"$GEN" --rows 5000 --defects 0.02 --seed 4 --profile access --out "$WORK/access.csv"
"$GEN" --rows 5000 --defects 0.02 --seed 5 --profile examples/profiles/members.toml --out "$WORK/members.csv"
# Quoting and layout edge cases in the standard profile's columns.
python3 - "$WORK/defects.csv" "$WORK" << 'EOF'
import random, sys
src, work = sys.argv[1], sys.argv[2]
lines = open(src, encoding="utf-8").read().split("\n")
header, rows = lines[0], [l for l in lines[1:2001] if l]
rnd = random.Random(11)
def mangle(row):
    cells = row.split(",")
    k = rnd.randrange(10)
    i = rnd.randrange(len(cells))
    if k == 0:
        cells[i] = '"' + cells[i] + '"'
    elif k == 1:
        cells[i] = '"' + cells[i] + '\nsecond line"'
    elif k == 2:
        cells[i] = '"' + cells[i] + ' ""quoted"" "'
    elif k == 3:
        cells[i] = cells[i][:2] + '"' + cells[i][2:]
    elif k == 4:
        cells = cells[:-2]
    elif k == 5:
        cells.append("extra")
    elif k == 6:
        return row + "\n\n  \n"
    elif k == 7:
        cells[i] = '"a,b' + cells[i] + '"'
    return ",".join(cells)
body = [mangle(r) for r in rows]
with open(f"{work}/quoted.csv", "w", encoding="utf-8", newline="") as f:
    f.write(header + "\n" + "\n".join(body))  # no final line end
with open(f"{work}/quoted-bom-semicolon.csv", "w", encoding="utf-8-sig", newline="") as f:
    f.write("\r\n".join(l.replace(",", ";") for l in [header] + body) + "\r\n")
EOF
files+=("$WORK"/*.csv)

"$GEN" --rows 3000 --seed 9 --prehashed --out "$WORK/store-users.csv"
"$BIN" apply "$WORK/store-users.csv" --db "$WORK/store.db" > /dev/null
stores=("$WORK/none.db" "$WORK/store.db")
profiles=(standard team access examples/profiles/learning.toml examples/profiles/members.toml)
modes=(upsert update create sync)

runs=0
diffs=0
for f in "${files[@]}"; do
    for p in "${profiles[@]}"; do
        for s in "${stores[@]}"; do
            for m in "${modes[@]}"; do
                args=(check "$f" --profile "$p" --db "$s" --mode "$m" --format json)
                set +e
                "$BIN" "${args[@]}" > "$WORK/a.out" 2> "$WORK/a.err"
                a=$?
                "$BASE" "${args[@]}" > "$WORK/b.out" 2> "$WORK/b.err"
                b=$?
                set -e
                runs=$((runs + 1))
                if [ $a != $b ] || ! cmp -s "$WORK/a.out" "$WORK/b.out" || ! cmp -s "$WORK/a.err" "$WORK/b.err"; then
                    diffs=$((diffs + 1))
                    echo "DIFFERS (exit $a vs $b): ${args[*]}"
                fi
            done
        done
    done
done
echo "$runs runs, $diffs differ"
[ "$diffs" = 0 ]
