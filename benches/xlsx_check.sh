#!/usr/bin/env bash
# `check` of the same rows as CSV and as an .xlsx workbook, side by side.
#
#   benches/xlsx_check.sh            # 100,000 rows, best of 3 interleaved runs
#   ROWS=20000 RUNS=5 benches/xlsx_check.sh
#
# The rows come from the generate example (standard profile, clean); the
# workbook is the same file converted by the csv_to_xlsx example (text cells
# in the shared-string table, as Excel saves them). Both are checked against
# a missing (empty) store by the release binary under GNU time: wall seconds,
# CPU seconds (user + sys), peak RSS. Prints a Markdown table and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${ROWS:-100000}"
runs="${RUNS:-3}"
data="bench-data"
mkdir -p "$data"
cargo build --release --quiet --bin userimport --example generate --example csv_to_xlsx
csv="$data/xlsx-check-$rows.csv"
xlsx="$data/xlsx-check-$rows.xlsx"
target/release/examples/generate --rows "$rows" --seed 11 --out "$csv"
target/release/examples/csv_to_xlsx "$csv" "$xlsx"
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
measure() {
    local name="$1" file="$2"
    /usr/bin/time -f "%e %U %S %M" -o "$results/time" \
        target/release/userimport check "$file" --db "$results/none.db" >"$results/$name.out" 2>&1 || [ $? -eq 1 ]
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$results/time" >>"$results/$name"
}
for _ in $(seq "$runs"); do
    measure csv "$csv"
    measure xlsx "$xlsx"
done
best() { sort -n "$results/$1" | head -1; }
read -r csv_wall csv_cpu csv_rss <<<"$(best csv)"
read -r x_wall x_cpu x_rss <<<"$(best xlsx)"
grep -q "file: $rows rows" "$results/xlsx.out" || { cat "$results/xlsx.out"; exit 1; }
ratio=$(awk -v a="$x_wall" -v b="$csv_wall" 'BEGIN { printf "%.1f", a / b }')
cpu_ratio=$(awk -v a="$x_cpu" -v b="$csv_cpu" 'BEGIN { printf "%.1f", a / b }')
echo "| \`check\` $rows rows | file | wall | CPU | peak RSS |"
echo "|---|---|---|---|---|"
echo "| CSV | $(du -k "$csv" | cut -f1) KB | $csv_wall s | $csv_cpu s | $((csv_rss / 1024)) MB |"
echo "| .xlsx | $(du -k "$xlsx" | cut -f1) KB | $x_wall s | $x_cpu s | $((x_rss / 1024)) MB |"
echo
echo "xlsx / csv: ${ratio}x wall, ${cpu_ratio}x CPU (best of $runs interleaved runs; $(nproc) cores; $(date -u +%F))"
