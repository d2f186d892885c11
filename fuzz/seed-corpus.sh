#!/usr/bin/env bash
# Writes the fuzz seed corpora into fuzz/corpus/<target>/ from the project's
# test cases: hand-written edge cases (charsets, delimiters, quoting, line
# ends, limits), the example data, the CLI's templates, generated files with
# defects, and the built-in profiles' TOML. Nothing here is committed: the
# corpus is made fresh each run (fuzz/corpus is git-ignored).
#
# Uses the main workspace's debug builds when they exist (target/debug/
# userimport and target/debug/examples/generate, both built by
# `cargo test --workspace`); without them only the hand-written cases are made.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
mkdir -p "$corpus"/{parse,check,roundtrip,profile}
bin="$root/target/debug/userimport"
gen="$root/target/debug/examples/generate"

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
add_csv() {
    local name="$1" file="$2"
    for mode in 00 01 02 05 0a 12 41 52 94; do
        { printf "\x$mode"; cat "$file"; } >"$corpus/parse/$name-$mode"
        { printf "\x$mode"; cat "$file"; } >"$corpus/check/$name-$mode"
    done
    cp "$file" "$corpus/roundtrip/$name"
    n=$((n + 1))
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

for f in "$root"/examples/data/*.csv; do
    [ -f "$f" ] && add_csv "example-$(basename "$f" .csv)" "$f"
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -x "$bin" ]; then
    for p in standard team access; do
        for c in utf-8-bom shift_jis; do
            "$bin" template --profile "$p" --charset "$c" -o "$tmp/t.csv" && add_csv "template-$p-$c" "$tmp/t.csv"
        done
        # .xlsx inputs: workbooks are recognised by their bytes.
        "$bin" template --profile "$p" -o "$tmp/t.xlsx" && add_csv "template-$p-xlsx" "$tmp/t.xlsx"
    done
fi
add_csv libreoffice-xlsx "$root/crates/parse/tests/data/libreoffice.xlsx"
if [ -x "$gen" ]; then
    for p in standard team access; do
        "$gen" --rows 30 --defects 0.3 --profile "$p" --seed 7 --out "$tmp/g.csv" && add_csv "generated-$p" "$tmp/g.csv"
    done
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
echo "seed corpus: $n CSV cases, $(find "$corpus" -type f | wc -l) files in $corpus"
