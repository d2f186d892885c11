#!/usr/bin/env bash
# Writes the fuzz seed corpora into fuzz/corpus/<target>/ from the project's
# test cases: hand-written edge cases (charsets, delimiters, quoting, line
# ends, limits), every example file (examples/data/**/*.csv with the options
# examples/README.md gives it, examples/profiles/*.toml), the CLI's
# templates, generated files with defects, the built-in profiles' TOML, and
# plan files (`userimport plan -o`) of the examples against a store holding
# the seed users of fuzz/seed-store.csv, the store the targets start from.
# Nothing here is committed: the corpus is made fresh each run (fuzz/corpus
# is git-ignored).
#
# Needs the main workspace's debug builds of the CLI (target/debug/userimport)
# and of the generator example (target/debug/examples/generate); builds them
# when missing (`cargo build`), and says what it skipped and why.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
targets=(parse check roundtrip profile plan_json apply)
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done
bin="$root/target/debug/userimport"
gen="$root/target/debug/examples/generate"
skipped=()
skip() {
    skipped+=("$*")
}

if [ ! -x "$bin" ]; then
    echo "seed corpus: building the CLI (cargo build --bin userimport)"
    (cd "$root" && cargo build --quiet --bin userimport) || skip "CLI build failed: no templates, no plan files"
fi
if [ ! -x "$gen" ]; then
    echo "seed corpus: building the generator (cargo build --example generate)"
    (cd "$root" && cargo build --quiet --example generate) || skip "generator build failed: no generated files"
fi

n=0
# csv NAME BYTES...: one CSV case, written for parse and check under a few
# mode bytes (the first byte picks charset, delimiter, header row, profile
# and mode in the targets).
csv() {
    local name="$1"
    shift
    local file
    file="$(mktemp)"
    printf "$@" >"$file"
    add_csv "$name" "$file"
    rm -f "$file"
}
# add_csv NAME FILE [PROFILE [full]]: one CSV case for every CSV target.
# parse takes one mode byte (charset, delimiter, header row); check four
# option bytes (profile and mode; charset, delimiter, header row; merge,
# keys, card IDs, sync; mapping), apply two (profile and mode; sync,
# passwords, card IDs, keys). PROFILE (0 standard, 1 team, 2 access) is the
# profile bits of byte 0. Hand-written cases get a few option sets, real
# files (`full`: examples, templates, generated) more; both stay small
# enough for CI to run the whole seed corpus in a few seconds per target.
add_csv() {
    local name="$1" file="$2" p="${3:-0}" weight="${4:-light}"
    local mode a check_opts apply_opts
    for mode in 00 01 02 05 0a 12 41 52 94; do
        { printf "\x$mode"; cat "$file"; } >"$corpus/parse/$name-$mode"
    done
    check_opts="00000000 0c003000 01000000 02000000"
    apply_opts="0000 0c03 0100 0200"
    if [ "$weight" = full ]; then
        check_opts="$check_opts 10000000 c0000000 00020000 00180000 00600000 00000900 00004000 000000d3"
        apply_opts="$apply_opts 2004 4004 0404 0010"
    fi
    # check: a b c d (the profile bits are or-ed into a)
    for opts in $check_opts; do
        a=$(printf '%02x' $(( 0x${opts:0:2} | (0x${opts:0:2} & 3 ? 0 : p) )))
        { printf "\x$a\x${opts:2:2}\x${opts:4:2}\x${opts:6:2}"; cat "$file"; } >"$corpus/check/$name-$a${opts:2}"
    done
    # apply: a b
    for opts in $apply_opts; do
        a=$(printf '%02x' $(( 0x${opts:0:2} | (0x${opts:0:2} & 3 ? 0 : p) )))
        { printf "\x$a\x${opts:2:2}"; cat "$file"; } >"$corpus/apply/$name-$a${opts:2}"
    done
    cp "$file" "$corpus/roundtrip/$name"
    n=$((n + 1))
}
# add_custom NAME PROFILE.toml FILE: a check case with a TOML profile
# (profile bits 3: the TOML, a NUL byte, the file).
add_custom() {
    local name="$1" toml="$2" file="$3" opts
    for opts in 03000000 0f003000 33000000; do
        { printf "\x${opts:0:2}\x${opts:2:2}\x${opts:4:2}\x${opts:6:2}"; cat "$toml"; printf '\0'; cat "$file"; } \
            >"$corpus/check/$name-$opts"
    done
}
# the same text in another charset (skipped when iconv cannot do it)
csv_in() {
    local name="$1" charset="$2" text="$3"
    local file
    file="$(mktemp)"
    if printf '%s' "$text" | iconv -f UTF-8 -t "$charset" >"$file" 2>/dev/null; then
        add_csv "$name" "$file"
    fi
    rm -f "$file"
}

std='login_id,name,email,password,groups,roles\r\n'
csv plain "${std}tanaka,Hanako Tanaka,hanako@example.com,Secret-123,\"Sales,Tokyo\",\r\n"
csv crlf-quoted-newline "${std}sato,\"Sato\r\nHanako\",sato@example.com,pw-xyz-123,,\r\n"
csv cr-only 'login_id,name,email\rA,B,c@example.com\r'
csv mixed-ends 'login_id,name\nA,B\r\nC,D\rE,F\n'
csv bom '\xef\xbb\xbflogin_id,name\r\nx,y\r\n'
csv bom-middle 'login_id,name\r\nx,\xef\xbb\xbfy\r\n'
csv semicolon 'login_id;name;email\r\nx;y;z@example.com\r\n'
csv tab 'login_id\tname\temail\r\nx\t"Tokyo, Japan"\tz@example.com\r\n'
csv sep-line 'sep=;\r\nlogin_id;name\r\nx;y\r\n'
csv unterminated 'login_id,name\r\nx,"never closed\r\n'
csv stray-quote 'login_id,name\r\nx,ab"c\r\n'
csv text-after-quote 'login_id,name\r\nx,"ab"c\r\n'
csv ragged 'login_id,name,email\r\nx\r\ny,z,w,v,u\r\n'
csv header-only 'login_id,name,email\r\n'
csv empty ''
csv blank-lines '\r\n\r\n\r\nlogin_id,name\r\n\r\nx,y\r\n\r\n'
csv duplicate-header 'login_id,Login ID,name\r\nx,y,z\r\n'
csv formula 'login_id,name,department\r\nx,=HYPERLINK("http://x"),+1\r\n'\''=y,-2,@SUM(A1)\r\n'
csv html 'login_id,name\r\nx,<script>alert(1)</script>\r\n'
csv path 'login_id,name\r\n../../etc/passwd,C:\\\\Windows\\\\system32\r\n'
csv nul 'login_id,name\r\nx,a\x00b\r\n'
csv controls 'login_id,name\r\nx,\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\r\n'
csv delete-flag 'member_id,login_id,name,delete\r\n1,admin,Admin,1\r\n2,user,,0\r\n'
csv suspend 'login_id,name,status\r\nadmin,Admin,Suspended\r\n'
csv groups 'login_id,name,groups,roles\r\nuser,User,"-Tokyo,Sales",Manager\r\nadmin,Admin,none,none\r\n'
csv team 'Current Status,Display Name,Primary Email,Role,Groups,Source Username(s)\r\nActive,Ann,ann@example.com,Admin,"a,b",okta:ann\r\n'
csv access 'user_id,name,email,department,card_id,start_date,end_date\r\nE1,山田,y@example.com,R&D,00ff,2026/01/01,2026-12-31\r\n'
csv codes 'login_id,name,country,language,timezone,date_format,time_format,due_date_type,valid_days_or_due_date\r\nx,y,Djibouti.,ja_JP,Asia/Tokyo,YYYYY-MM-DD,HH:mm:ss,ExpirationDate,2026/02/30\r\n'
csv fullwidth 'login_id,name\r\nx,＝1+1\r\ny,＠cmd\r\n'
csv_in sjis SHIFT_JIS $'ログインID,氏名,メールアドレス\r\nyamada,山田 太郎,yamada@example.com\r\n'
csv_in eucjp EUC-JP $'ログインID,氏名,メールアドレス\r\nyamada,山田 太郎,yamada@example.com\r\n'
csv_in utf16le UTF-16 $'login_id\tname\r\nx\ty\r\n'
csv_in utf16be UTF-16BE $'login_id\tname\r\nx\ty\r\n'
csv_in latin1 WINDOWS-1252 $'login_id,name\r\nx,Müller Ærø\r\n'

# Every example file, with the profile and options examples/README.md runs
# it with (example_options prints the CLI options, one a line).
example_options() {
    case "$1" in
        learning/*) echo "--profile"; echo "$root/examples/profiles/learning.toml" ;;
        member/*_shift_jis.csv)
            printf '%s\n' --profile "$root/examples/profiles/members.toml" --charset shift_jis --generate-passwords ;;
        member/by_email.csv) printf '%s\n' --profile "$root/examples/profiles/members.toml" --key id,email --skip-invalid ;;
        member/by_login.csv) printf '%s\n' --profile "$root/examples/profiles/members.toml" --key id,login --skip-invalid ;;
        team/*) printf '%s\n' --profile team ;;
        access/employees.csv) printf '%s\n' --profile access --header-row 3 --card-id-type hex --skip-invalid ;;
        access/update.csv) printf '%s\n' --profile access --card-id-type hex --merge keep-existing ;;
        access/staff_other_system.csv)
            printf '%s\n' --profile access --map 'user_id=Staff No' --map 'name=Full name' --map email=Mail \
                --map department=none --map 'card_id=Badge no.' --map 'start_date=Valid from' --map 'end_date=Valid until' ;;
        access/*) printf '%s\n' --profile access ;;
        *) ;;
    esac
}
# The profile bits of the option bytes (check, apply) for an example.
example_profile() {
    case "$1" in
        team/*) echo 1 ;;
        access/*) echo 2 ;;
        *) echo 0 ;;
    esac
}
examples=()
while IFS= read -r f; do
    examples+=("${f#"$root/examples/data/"}")
done < <(find "$root/examples/data" -name '*.csv' -type f | sort)
for rel in "${examples[@]}"; do
    f="$root/examples/data/$rel"
    name="example-$(echo "${rel%.csv}" | tr / -)"
    add_csv "$name" "$f" "$(example_profile "$rel")" full
    # header row 3 (access/employees.csv) and hex card IDs: bytes 1 and 2
    if [ "$rel" = access/employees.csv ]; then
        { printf '\x02\x60\x08\x00'; cat "$f"; } >"$corpus/check/$name-hdr3-hex"
        { printf '\x42\x08'; cat "$f"; } >"$corpus/apply/$name-hex-skip"
    fi
done
# Every example profile, alone and over every example file.
profiles=()
while IFS= read -r f; do profiles+=("$f"); done < <(find "$root/examples/profiles" -name '*.toml' -type f | sort)
for toml in "${profiles[@]}"; do
    pname="$(basename "$toml" .toml)"
    cp "$toml" "$corpus/profile/example-$pname.toml"
    case "$pname" in
        learning) own=learning/ ;;
        members) own=member/ ;;
        *) own=/ ;;
    esac
    for rel in "${examples[@]}"; do
        # its own system's files and the top-level ones
        if [ "${rel#"$own"}" = "$rel" ] && [ "${rel#*/}" != "$rel" ]; then
            continue
        fi
        add_custom "example-$pname-$(echo "${rel%.csv}" | tr / -)" "$toml" "$root/examples/data/$rel"
    done
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -x "$bin" ]; then
    for p in standard team access; do
        for c in utf-8-bom shift_jis; do
            if "$bin" template --profile "$p" --charset "$c" -o "$tmp/t.csv" >/dev/null 2>&1; then
                add_csv "template-$p-$c" "$tmp/t.csv" "$(example_profile "$p/")" full
            else
                skip "template --profile $p --charset $c: the CLI refused"
            fi
        done
        # .xlsx inputs: workbooks are recognised by their bytes.
        "$bin" template --profile "$p" -o "$tmp/t.xlsx" && add_csv "template-$p-xlsx" "$tmp/t.xlsx"
    done
else
    skip "templates: no CLI at $bin"
fi
add_csv libreoffice-xlsx "$root/crates/parse/tests/data/libreoffice.xlsx"
if [ -x "$gen" ]; then
    for p in standard team access; do
        if "$gen" --rows 30 --defects 0.3 --profile "$p" --seed 7 --out "$tmp/g.csv" >/dev/null 2>&1; then
            add_csv "generated-$p" "$tmp/g.csv" "$(example_profile "$p/")" full
        else
            skip "generated file for profile $p: the generator refused"
        fi
    done
else
    skip "generated files: no generator at $gen"
fi

# Plan files: every example planned (`userimport plan -o`) against a store
# holding the seed users, which is where the plan_json target applies them
# (same users, same IDs, same revision; the store ID, random, is written as
# `fuzz-seed-store`, which the target reads as its own). A file the CLI
# refuses (exit 2: a Shift_JIS file for the UTF-8-only access profile …)
# gives no plan.
plans=0
if [ -x "$bin" ]; then
    db="$tmp/seed.db"
    if "$bin" apply "$here/seed-store.csv" --db "$db" --generate-passwords >/dev/null 2>&1; then
        plan_one() {
            local name="$1" file="$2"
            shift 2
            local out="$corpus/plan_json/$name.json"
            "$bin" plan "$file" --db "$db" -o "$out" "$@" >/dev/null 2>&1 || true
            if [ -s "$out" ]; then
                # the seed store's random ID → the name the target gives its own
                sed -i -E 's/"store_id": *"[^"]*"/"store_id": "fuzz-seed-store"/' "$out"
                plans=$((plans + 1))
            else
                rm -f "$out"
                skip "plan of $name: the CLI refused the file"
            fi
        }
        for rel in "${examples[@]}"; do
            f="$root/examples/data/$rel"
            name="$(echo "${rel%.csv}" | tr / -)"
            mapfile -t opts < <(example_options "$rel")
            plan_one "$name" "$f" "${opts[@]}"
            if [[ " ${opts[*]} " == *" --skip-invalid "* ]]; then
                plan_one "$name-actor" "$f" "${opts[@]}" --actor admin
            else
                plan_one "$name-actor" "$f" "${opts[@]}" --actor admin --skip-invalid
            fi
            plan_one "$name-sync" "$f" "${opts[@]}" --mode sync --max-delete 100
            case "$rel" in
                learning/* | team/* | users.csv)
                    plan_one "$name-suspend" "$f" "${opts[@]}" --mode sync --max-delete 100 --sync-action suspend ;;
            esac
        done
        # the seed users' own export, edited by the plan: updates and deletes
        "$bin" export --db "$db" -o "$tmp/export.csv" >/dev/null 2>&1 || true
        if [ -s "$tmp/export.csv" ]; then
            sed -e 's/,Manager$/,none/' "$tmp/export.csv" >"$tmp/edited.csv"
            plan_one export-edited "$tmp/edited.csv" --actor admin
            plan_one export-delete "$tmp/export.csv" --mode sync --max-delete 100
            add_csv export "$tmp/export.csv" 0 full
        else
            skip "the seed store's export: the CLI refused"
        fi
    else
        skip "plan files: the CLI could not load fuzz/seed-store.csv"
    fi
else
    skip "plan files: no CLI at $bin"
fi

# profiles: the TOML cases of the schema crate's tests and docs.
cat >"$corpus/profile/members.toml" <<'TOML'
name = "members"
key_order = ["id", "email"]
[[columns]]
key = "member_id"
label = "Member ID"
purpose = "member_id"
kind = { type = "integer", min = 1 }
[[columns]]
key = "email"
label = "E-mail"
purpose = "email"
required = true
kind = { type = "email" }
[[columns]]
key = "shoe_size"
label = "Shoe size"
kind = { type = "integer", min = 10, max = 60 }
[[columns]]
key = "plan"
label = "Plan"
kind = { type = "enum", values = [{ canonical = "Gold", aliases = ["G"] }, { canonical = "Free" }] }
TOML
cat >"$corpus/profile/extends-access.toml" <<'TOML'
name = "portal"
extends = "access"
charsets = ["UTF-8"]
[limits]
max_rows = 500
max_field_bytes = 1024
[groups]
create_unknown = false
default_group = "Everyone"
[[columns]]
key = "department"
label = "Team"
kind = { type = "text", max_len = 40 }
[[columns]]
key = "badge_color"
label = "Badge colour"
kind = { type = "enum", values = [{ canonical = "Red" }, { canonical = "Blue" }] }
TOML
cat >"$corpus/profile/extends-standard.toml" <<'TOML'
name = "members"
extends = "standard"
key_order = ["id"]
sources = ["okta", "ldap"]
[groups]
default_group = "Members"
[[columns]]
key = "shoe_size"
label = "Shoe size"
kind = { type = "integer", min = 15, max = 35 }
TOML
for base in standard team access; do
    printf 'name = "%s-copy"\nextends = "%s"\n' "$base" "$base" >"$corpus/profile/extends-$base-only.toml"
done
printf 'name = "x"\nextends = "nope"\n' >"$corpus/profile/bad-base.toml"
printf 'name = 3\n' >"$corpus/profile/bad-name.toml"
for t in "${targets[@]}"; do
    echo "seed corpus: $t: $(find "$corpus/$t" -type f | wc -l) files"
done
echo "seed corpus: $n CSV cases, ${#examples[@]} example files, ${#profiles[@]} example profiles, $plans plan files; $(find "$corpus" -type f | wc -l) files in $corpus"
for s in "${skipped[@]}"; do
    echo "seed corpus: skipped: $s"
done
