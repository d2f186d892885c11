#!/usr/bin/env bash
# The web frontend against the CLI, on the same machine and files:
#  1. POST /api/imports of a 100k-row file (upload streamed to disk, then
#     checked) vs `userimport check` of the same file; best of 3,
#     interleaved; target: within 1.5x.
#  2. 16 concurrent uploads of 10k rows each: wall time, and the server's
#     peak RSS (VmHWM) against its RSS at rest; an upload is never held
#     whole in memory, so the peak stays far below 16 x the file size.
# Data is generated (examples/generate.rs), never committed.
# Usage: benches/web.sh [ROWS] (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
data=bench-data/web
mkdir -p "$data"
cargo build --release -q --bin userimport
cargo build --release -q -p userimport --example generate
bin=target/release/userimport
gen=target/release/examples/generate

[ -f "$data/users-$rows.csv" ] || "$gen" --rows "$rows" --prehashed --out "$data/users-$rows.csv"
[ -f "$data/users-10000.csv" ] || "$gen" --rows 10000 --prehashed --seed 2 --out "$data/users-10000.csv"
big="$data/users-$rows.csv"
small="$data/users-10000.csv"

work=$(mktemp -d)
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
db="sqlite://$work/bench.db"
# The web imports as the signed-in user, so the bench user holds every
# group and role the files name (the CLI's check runs as it too).
names() {
    python3 -c 'import csv,sys
col = sys.argv[1]; seen = set()
for path in sys.argv[2:]:
    for row in csv.DictReader(open(path, encoding="utf-8-sig")):
        seen.update(n.strip() for n in (row.get(col) or "").split(",") if n.strip())
print(",".join(sorted(seen)))' "$@"
}
groups=$(names "Belong to" "$big" "$small")
roles=$(names "Management roles" "$big" "$small")
IFS=, read -r -a group_list <<<"$groups"
[ "${#group_list[@]}" -gt 0 ] && "$bin" groups add "${group_list[@]}" --db "$db" >/dev/null
printf 'Login ID,Name,Email address,Password,Management roles,Belong to\nbench,Bench,bench@example.com,Bench-Admin-Pass-2026,"admin,%s","%s"\n' "$roles" "$groups" >"$work/admin.csv"
"$bin" apply "$work/admin.csv" --db "$db" >/dev/null
token=$("$bin" serve token create --actor bench --db "$db" | tail -n 1 | awk '{print $NF}')

start_server() {
    "$bin" serve --db "$db" --listen 127.0.0.1:0 --upload-dir "$work/uploads" >"$work/serve.log" 2>&1 &
    server_pid=$!
    url=""
    for _ in $(seq 1 100); do
        url=$(sed -n 's/^userimport serve: listening on \(http:[^ ]*\)$/\1/p' "$work/serve.log")
        [ -n "$url" ] && return 0
        sleep 0.1
    done
    cat "$work/serve.log"; echo "server did not start"; exit 1
}
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$server_pid/status"; }
now() { date +%s.%N; }
upload() {
    curl -sf -o "$2" -H "Authorization: Bearer $token" -F "file=@$1" -F 'options={}' "${url}api/imports"
}

start_server
echo "file: $big ($(wc -c <"$big") bytes, $rows rows)"
best_cli=999999; best_web=999999
for i in 1 2 3; do
    t0=$(now); "$bin" check "$big" --db "$db" --actor bench --format json --changes 100 >"$work/cli.json" || true; t1=$(now)
    upload "$big" "$work/web.json"; t2=$(now)
    cli=$(echo "$t1 - $t0" | bc); web=$(echo "$t2 - $t1" | bc)
    echo "run $i: cli check ${cli}s, POST /api/imports ${web}s"
    best_cli=$(echo "if ($cli < $best_cli) $cli else $best_cli" | bc)
    best_web=$(echo "if ($web < $best_web) $web else $best_web" | bc)
done
if ! python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); b.pop("id"); sys.exit(a!=b)' "$work/cli.json" "$work/web.json"; then
    diff <(python3 -m json.tool --sort-keys "$work/cli.json") <(python3 -m json.tool --sort-keys "$work/web.json") | head -20
    echo "the web report differs from the CLI's"; exit 1
fi
ratio=$(echo "scale=2; $best_web / $best_cli" | bc)
echo "check ${rows} rows: cli ${best_cli}s, web ${best_web}s, ratio ${ratio}x (target <= 1.5x); the reports are identical"

stop_server
start_server
rest=$(rss_kb VmRSS)
t0=$(now)
pids=()
for i in $(seq 1 16); do
    upload "$small" "$work/c$i.json" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(now)
peak=$(rss_kb VmHWM)
echo "16 concurrent uploads of 10000 rows ($(wc -c <"$small") bytes each): $(echo "$t1 - $t0" | bc)s wall, ${failed} failed; server RSS at rest $((rest / 1024)) MB, peak $((peak / 1024)) MB"
