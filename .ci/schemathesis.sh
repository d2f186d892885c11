#!/usr/bin/env bash
# API fuzzing: schemathesis (from PyPI) generates requests from
# /api/openapi.json and sends them to a started `userimport serve`, signed
# in with an API token; any 5xx fails. Time budget: ST_SECONDS (default 75).
# Usage: .ci/schemathesis.sh [path/to/userimport]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-target/debug/userimport}")"
budget="${ST_SECONDS:-75}"
venv="${ST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/userimport-schemathesis}"
if [ ! -x "$venv/bin/schemathesis" ]; then
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q schemathesis
fi
"$venv/bin/schemathesis" --version

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

db="sqlite://$work/fuzz.db"
printf 'Login ID,Name,Email address,Password,Management roles\nadmin,Admin,admin@example.com,Fuzz-Admin-Pass-2026,admin\n' >"$work/admin.csv"
"$bin" apply "$work/admin.csv" --db "$db" >/dev/null
token=$("$bin" serve token create --actor admin --db "$db" | tail -n 1 | awk '{print $NF}')
"$bin" serve --db "$db" --listen 127.0.0.1:0 --upload-dir "$work/uploads" >"$work/serve.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 50); do
    url=$(sed -n 's/^userimport serve: listening on \(http:[^ ]*\)$/\1/p' "$work/serve.log")
    [ -n "$url" ] && break
    sleep 0.2
done
if [ -z "$url" ]; then
    cat "$work/serve.log"
    echo "userimport serve did not start"
    exit 1
fi
echo "fuzzing ${url}api/openapi.json for ${budget}s"
status=0
# schemathesis keeps its state in ./.schemathesis: run it in the work directory.
(cd "$work" && "$venv/bin/schemathesis" run "${url}api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error \
    --max-time "$budget" \
    --request-timeout 30 \
    --workers 2) || status=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/serve.log"
    echo "the server died during fuzzing"
    exit 1
fi
exit "$status"
