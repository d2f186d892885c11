//! Hostile and malformed files through the real `userimport` binary.
//!
//! Every case is generated here (nothing large is committed) and streamed to
//! the child's standard input, so a 64 MiB field or ten million empty lines
//! cost no disk and no memory in the test. For each file, `check` and then
//! `apply` must:
//! - exit 0, 1 or 2 (never 101, never a signal, never the panic hook's
//!   "internal error"),
//! - say where: the expected text (line, column, limit …) is in the output,
//! - stay within a bounded peak RSS (the child's `ru_maxrss` from `wait4`),
//! - write nothing to the store when the file is refused or has errors.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod harness;

use harness::{Run, run};

/// Peak RSS allowed for `check` (the debug binary, every hostile file):
/// checking streams, so this holds whatever the file's size.
const MAX_RSS_KIB: i64 = 96 * 1024;
/// Peak RSS allowed for `apply`: it keeps the plan (every change) in memory
/// before writing, so its memory grows with the rows read before a limit
/// stops it (about 140 MiB for the 5 MB access-profile file below).
const MAX_APPLY_RSS_KIB: i64 = 192 * 1024;

/// A generator that writes one file.
type Gen = fn(&mut dyn Write) -> io::Result<()>;

/// One hostile file and what the tool must say about it.
struct Case {
    name: &'static str,
    make: Gen,
    /// Extra options for `check` and `apply` (`--charset`, `--profile` …).
    args: &'static [&'static str],
    /// The exit code of `check`.
    code: i32,
    /// Texts the output of `check` must contain (line, column, limit …).
    says: &'static [&'static str],
    /// Run `apply` too and require an empty store afterwards (true for
    /// every case with an error); false for files whose rows are valid.
    apply: bool,
}

fn db_is_empty(dir: &Path, db: &Path) -> Result<(), String> {
    let db = db.to_str().unwrap();
    if !Path::new(db).exists() {
        return Ok(());
    }
    let export = run(&["export", "--db", db, "--charset", "utf-8"], None, dir);
    if export.code != 0 {
        return Err(format!("export failed: {export:?}"));
    }
    let lines = export.stdout.lines().count();
    if lines != 1 {
        return Err(format!(
            "the store holds users after a refused apply:\n{}",
            export.stdout
        ));
    }
    let groups = run(&["groups", "--db", db], None, dir);
    if !groups.stdout.trim().is_empty() {
        return Err(format!(
            "the store holds groups after a refused apply: {}",
            groups.stdout
        ));
    }
    Ok(())
}

fn no_panic(what: &str, r: &Run, max_rss_kib: i64) {
    assert!(
        matches!(r.code, 0..=2),
        "{what}: exit {} (only 0, 1, 2 are allowed)\n{}{}",
        r.code,
        r.stdout,
        r.stderr
    );
    for bad in ["internal error", "panicked", "RUST_BACKTRACE"] {
        assert!(!r.stderr.contains(bad), "{what}: a panic\n{}", r.stderr);
    }
    assert!(
        !r.raw.contains(&0x1b),
        "{what}: a raw escape character reached the terminal"
    );
    assert!(
        r.max_rss_kib < max_rss_kib,
        "{what}: peak RSS {} KiB is over {} KiB",
        r.max_rss_kib,
        max_rss_kib
    );
}

fn check_case(case: &Case) {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("store.db");
    let dbs = db.to_str().unwrap().to_string();
    let make = case.make;
    let mut args = vec!["check", "-", "--db", &dbs];
    args.extend_from_slice(case.args);
    let check = run(
        &args,
        Some(Box::new(move |w: &mut dyn Write| make(w))),
        dir.path(),
    );
    eprintln!(
        "{}: check exit {}, peak RSS {} KiB",
        case.name, check.code, check.max_rss_kib
    );
    no_panic(&format!("{}: check", case.name), &check, MAX_RSS_KIB);
    let text = format!("{}{}", check.stdout, check.stderr);
    assert_eq!(
        check.code, case.code,
        "{}: check exit code\n{text}",
        case.name
    );
    for want in case.says {
        assert!(
            text.contains(want),
            "{}: the output does not say {want:?}\n{text}",
            case.name
        );
    }
    if check.code == 2 {
        assert!(
            check.stderr.starts_with("userimport: "),
            "{}: a file-level error goes to stderr with the program's name\n{text}",
            case.name
        );
    }
    assert!(!db.exists(), "{}: check created the store", case.name);
    // preview reads the same file with the options it knows.
    let mut args = vec!["preview", "-", "--rows", "5"];
    for pair in case.args.chunks(2) {
        if matches!(pair[0], "--charset" | "--header-row" | "--profile") {
            args.extend_from_slice(pair);
        }
    }
    let preview = run(
        &args,
        Some(Box::new(move |w: &mut dyn Write| make(w))),
        dir.path(),
    );
    no_panic(&format!("{}: preview", case.name), &preview, MAX_RSS_KIB);
    if case.apply {
        let mut args = vec!["apply", "-", "--db", &dbs];
        args.extend_from_slice(case.args);
        let apply = run(
            &args,
            Some(Box::new(move |w: &mut dyn Write| make(w))),
            dir.path(),
        );
        eprintln!(
            "{}: apply exit {}, peak RSS {} KiB",
            case.name, apply.code, apply.max_rss_kib
        );
        no_panic(&format!("{}: apply", case.name), &apply, MAX_APPLY_RSS_KIB);
        assert_eq!(
            apply.code, case.code,
            "{}: apply exit code\n{}{}",
            case.name, apply.stdout, apply.stderr
        );
        if case.code != 0 {
            db_is_empty(dir.path(), &db).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        }
    }
    // Nothing but the store may appear in the working directory (path-like
    // values are data, never file names).
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("store.db"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{}: files appeared: {left:?}", case.name);
}

// ---------------------------------------------------------------------------
// Generators

const HEADER: &str = "login_id,name,email,password\r\n";
const GOOD: &str = "tanaka,Hanako Tanaka,hanako@example.com,Secret-pass-123\r\n";

fn w(out: &mut dyn Write, s: &str) -> io::Result<()> {
    out.write_all(s.as_bytes())
}

fn row(out: &mut dyn Write, name: &str) -> io::Result<()> {
    // A valid row whose name is `name` (quoted as needed by the caller).
    write!(out, "user1,{name},user1@example.com,Secret-pass-123\r\n")
}

/// Deterministic pseudo-random bytes (xorshift), `n` of them.
fn noise(out: &mut dyn Write, mut seed: u64, n: usize) -> io::Result<()> {
    let mut buf = Vec::with_capacity(n);
    for _ in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        buf.push(seed as u8);
    }
    out.write_all(&buf)
}

fn repeat(out: &mut dyn Write, chunk: &[u8], times: usize) -> io::Result<()> {
    let block: Vec<u8> = chunk.repeat((64 * 1024 / chunk.len()).max(1));
    let per_block = block.len() / chunk.len();
    let mut left = times;
    while left >= per_block {
        out.write_all(&block)?;
        left -= per_block;
    }
    out.write_all(&chunk.repeat(left))
}

macro_rules! cases {
    ($($name:ident: $make:expr, args $args:expr, exit $code:expr, says $says:expr, apply $apply:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_case(&Case {
                    name: stringify!($name),
                    make: $make,
                    args: &$args,
                    code: $code,
                    says: &$says,
                    apply: $apply,
                });
            }
        )*
        /// Every case, counted.
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

#[test]
fn at_least_forty_hostile_files() {
    assert!(CASES.len() >= 40, "{} cases", CASES.len());
}

cases! {
    empty_file: |_| Ok(()),
        args [], exit 2, says ["no header row"], apply true;
    header_only: |o| w(o, HEADER),
        args [], exit 0, says ["0 rows"], apply true;
    blank_lines_only: |o| w(o, "\r\n\n   \r\n\t\n,,,\r\n"),
        args [], exit 2, says ["no header row"], apply true;
    binary_png: |o| o.write_all(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0"),
        args [], exit 2, says ["binary", "byte offset"], apply true;
    binary_zip_xlsx: |o| { o.write_all(b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0")?; noise(o, 3, 4096) },
        args [], exit 2, says ["workbook: not a readable .xlsx workbook"], apply true;
    random_bytes: |o| noise(o, 0x9e37_79b9_7f4a_7c15, 256 * 1024),
        args [], exit 2, says ["byte offset"], apply true;
    random_bytes_after_header: |o| { w(o, HEADER)?; noise(o, 42, 200 * 1024) },
        args [], exit 2, says ["byte offset"], apply true;
    nul_in_first_field: |o| { w(o, HEADER)?; o.write_all(b"a\0b,Name,a@example.com,Secret-pass-123\r\n") },
        args [], exit 2, says ["binary", "byte offset"], apply true;
    nul_after_sniff_window: |o| {
            w(o, HEADER)?;
            for i in 0..2000 { write!(o, "user{i},Name {i},u{i}@example.com,Secret-pass-123\r\n")?; }
            o.write_all(b"bad,Na\0me,bad@example.com,Secret-pass-123\r\n")
        },
        args [], exit 2, says ["binary", "byte offset"], apply true;
    control_characters: |o| { w(o, HEADER)?; row(o, "a\x01b\x02c\x03d\x04e\x05f\x06g\x07h\x08i\x0bj\x0ek\x0fl") },
        args [], exit 2, says ["binary"], apply true;
    ansi_escape_in_name: |o| { w(o, HEADER)?; row(o, "\x1b[31mred\x1b[0m\x1b]0;pwned\x07") },
        args [], exit 1, says ["     2  name", "field.control_character", "U+001B"], apply true;
    unterminated_quote: |o| { w(o, HEADER)?; w(o, "tanaka,\"Hanako,hanako@example.com,pw\r\n") },
        args [], exit 2, says ["line 2, column 2", "unterminated"], apply true;
    unterminated_quote_late: |o| { w(o, HEADER)?; w(o, GOOD)?; w(o, GOOD)?; w(o, GOOD)?; w(o, "x,y,\"z\r\n\r\n\r\n") },
        args [], exit 2, says ["line 5, column 3", "unterminated"], apply true;
    stray_quote: |o| { w(o, HEADER)?; w(o, "tanaka,Ha\"nako,hanako@example.com,pw\r\n") },
        args [], exit 1, says ["field.stray_quote", "line 2, column 2"], apply true;
    text_after_quote: |o| { w(o, HEADER)?; w(o, "tanaka,\"Hanako\"x,hanako@example.com,pw\r\n") },
        args [], exit 2, says ["line 2, column 2"], apply true;
    quote_storm: |o| { w(o, HEADER)?; repeat(o, b"\"\"\"", 100_000) },
        args [], exit 2, says ["line 2"], apply true;
    ragged_short_row: |o| { w(o, HEADER)?; w(o, "tanaka,Hanako\r\n") },
        args [], exit 1, says ["row.ragged", "     2"], apply true;
    ragged_long_row: |o| { w(o, HEADER)?; w(o, "tanaka,Hanako,hanako@example.com,Secret-pass-123,extra,more\r\n") },
        args [], exit 1, says ["row.ragged", "     2"], apply true;
    columns_20000_header: |o| { for i in 0..20_000 { write!(o, "c{i},")?; } w(o, "x\r\nx\r\n") },
        args [], exit 2, says ["line 1", "max_columns"], apply true;
    columns_20000_row: |o| { w(o, HEADER)?; repeat(o, b"a,", 20_000)?; w(o, "\r\n") },
        args [], exit 2, says ["line 2", "max_columns"], apply true;
    field_64_mib: |o| { w(o, HEADER)?; w(o, "tanaka,")?; repeat(o, b"A", 64 << 20)?; w(o, ",a@example.com,pw\r\n") },
        args [], exit 2, says ["line 2, column 2", "max_field_bytes"], apply true;
    quoted_field_64_mib_of_newlines: |o| { w(o, HEADER)?; w(o, "tanaka,\"")?; repeat(o, b"\n", 64 << 20)?; w(o, "\",a@example.com,pw\r\n") },
        args [], exit 2, says ["line 2, column 2", "max_field_bytes"], apply true;
    header_cell_1_mib: |o| { repeat(o, b"H", 1 << 20)?; w(o, ",name\r\nx,y\r\n") },
        args [], exit 2, says ["line 1, column 1", "max_field_bytes"], apply true;
    ten_million_empty_lines: |o| {
            w(o, HEADER)?;
            repeat(o, b"\n", 10_000_000)?;
            w(o, "tanaka,Hanako,not-an-email,Secret-pass-123\r\n")
        },
        args [], exit 1, says ["10000002", "email"], apply true;
    mixed_line_ends: |o| {
            w(o, "login_id,name,email,password\n")?;
            w(o, "a,A,a@example.com,Secret-pass-123\r\n")?;
            w(o, "b,B,b@example.com,Secret-pass-123\r")?;
            w(o, "c,\"C\r\nc\",c@example.com,Secret-pass-123\n")?;
            w(o, "d,D,bad-email,Secret-pass-123\r\n")
        },
        args [], exit 1, says ["     6", "email"], apply true;
    invalid_utf8: |o| { w(o, HEADER)?; w(o, GOOD)?; o.write_all(b"x,Bad \xff\xfe name,x@example.com,pw-123456789\r\n") },
        args ["--charset", "utf-8"], exit 2, says ["line 3", "UTF-8"], apply true;
    invalid_utf8_after_sniff_window: |o| {
            w(o, HEADER)?;
            for i in 0..2000 { write!(o, "user{i},Name {i},u{i}@example.com,Secret-pass-123\r\n")?; }
            o.write_all(b"x,Bad \xc3\x28 name,x@example.com,pw-123456789\r\n")
        },
        args ["--charset", "utf-8"], exit 2, says ["line 2002", "UTF-8"], apply true;
    invalid_shift_jis: |o| { w(o, HEADER)?; o.write_all(b"x,\x82\xa0\x82,x@example.com,pw-123456789\r\n") },
        args ["--charset", "shift_jis"], exit 2, says ["line 2", "Shift_JIS"], apply true;
    invalid_euc_jp: |o| { w(o, HEADER)?; o.write_all(b"x,\xa4\xa2\x8e\x20,x@example.com,pw-123456789\r\n") },
        args ["--charset", "euc-jp"], exit 2, says ["line 2", "EUC-JP"], apply true;
    invalid_utf16le_lone_surrogate: |o| {
            let mut bytes: Vec<u8> = "login_id,name\r\nx,".encode_utf16().flat_map(u16::to_le_bytes).collect();
            bytes.extend_from_slice(&0xD800u16.to_le_bytes());
            bytes.extend("y\r\n".encode_utf16().flat_map(u16::to_le_bytes));
            o.write_all(&bytes)
        },
        args ["--charset", "utf-16le"], exit 2, says ["line 2", "UTF-16LE"], apply true;
    invalid_utf16be_odd_length: |o| {
            let mut bytes: Vec<u8> = "login_id,name\r\nx,y".encode_utf16().flat_map(u16::to_be_bytes).collect();
            bytes.push(0x41);
            o.write_all(&bytes)
        },
        args ["--charset", "utf-16be"], exit 2, says ["line 2", "UTF-16BE"], apply true;
    windows_1252_undefined_bytes: |o| { w(o, HEADER)?; o.write_all(b"x,Caf\xe9 \x81\x8d\x8f\x90\x9d,x@example.com,Secret-pass-123\r\n") },
        args ["--charset", "windows-1252"], exit 1, says ["     2  name", "field.control_character", "U+0081"], apply true;
    utf8_under_access_profile_sjis: |o| {
            o.write_all(b"user_id,name,email,department,card_id,start_date,end_date\r\nE1,\x8eR\x93c,y@example.com,R,1,2026/01/01,2026/12/31\r\n")
        },
        args ["--profile", "access"], exit 2, says ["UTF-8"], apply true;
    bom_in_the_middle: |o| { w(o, HEADER)?; w(o, GOOD)?; w(o, "\u{feff}login_id,name,email,password\r\n")?; w(o, "sato,Sato,sato@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["     3  email", "email.invalid"], apply true;
    bom_inside_a_value: |o| { w(o, HEADER)?; w(o, "\u{feff}admin,Admin,admin@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2  login_id", "field.control_character", "U+FEFF"], apply true;
    bidi_override_in_login: |o| { w(o, HEADER)?; w(o, "admin\u{202e}gpj.exe,Admin,a@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2  login_id", "U+202E"], apply true;
    zero_width_space_in_email: |o| { w(o, HEADER)?; w(o, "x,X,admin\u{200b}@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2  email"], apply true;
    duplicate_header: |o| { w(o, "login_id,name,Login ID,password\r\n")?; w(o, GOOD) },
        args [], exit 2, says ["duplicate column", "login_id"], apply true;
    duplicate_unknown_headers: |o| { w(o, "login_id,name,email,password,extra,extra\r\n")?; w(o, "tanaka,Hanako Tanaka,hanako@example.com,Secret-pass-123,a,b\r\n") },
        args [], exit 0, says ["column.unknown"], apply false;
    missing_required_column_create_mode: |o| { w(o, "login_id,email,password\r\n")?; w(o, "tanaka,hanako@example.com,Secret-pass-123\r\n") },
        args ["--mode", "create"], exit 2, says ["missing required column", "name"], apply true;
    missing_required_column_upsert: |o| { w(o, "login_id,email,password\r\n")?; w(o, "tanaka,hanako@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2  Name", "field.required"], apply true;
    missing_key_columns: |o| { w(o, "name,password\r\n")?; w(o, "Hanako,Secret-pass-123\r\n") },
        args [], exit 2, says ["line 1", "key column"], apply true;
    header_row_past_the_end: |o| { w(o, HEADER)?; w(o, GOOD) },
        args ["--header-row", "50"], exit 2, says ["no header row", "line 50"], apply true;
    sep_line_only: |o| w(o, "sep=;\r\n"),
        args [], exit 2, says ["no header row"], apply true;
    formula_cells: |o| {
            w(o, "login_id,name,department,position,email,password\r\n")?;
            w(o, "f1,\"=HYPERLINK(\"\"http://evil.example\"\")\",+SUM(A1),-1+1,f1@example.com,Secret-pass-123\r\n")?;
            w(o, "f2,\"@cmd|' /C calc'!A0\",\tx,\"\rq\",f2@example.com,Secret-pass-123\r\n")
        },
        args [], exit 0, says ["2 valid"], apply false;
    formula_cells_full_width: |o| { w(o, "login_id,name,department,email,password\r\n")?; w(o, "f3,＝1+1,＠SUM(A1),f3@example.com,Secret-pass-123\r\n") },
        args [], exit 0, says ["1 valid"], apply false;
    html_script_in_names: |o| { w(o, HEADER)?; row(o, "\"<script>alert('x')</script><img src=x onerror=alert(1)>\"") },
        args ["--format", "json"], exit 0, says ["\"valid\": 1"], apply false;
    over_long_name: |o| { w(o, HEADER)?; row(o, &"n".repeat(256)) },
        args [], exit 1, says ["     2", "name", "field.too_long"], apply true;
    over_long_login_id: |o| { w(o, HEADER)?; write!(o, "{},Name,x@example.com,Secret-pass-123\r\n", "l".repeat(101)) },
        args [], exit 1, says ["     2", "login_id", "field.too_long"], apply true;
    over_long_password: |o| { w(o, HEADER)?; write!(o, "x,Name,x@example.com,{}\r\n", "p".repeat(5000)) },
        args [], exit 1, says ["     2", "password"], apply true;
    path_like_values: |o| {
            w(o, "login_id,name,department,email,password\r\n")?;
            w(o, "../../etc/passwd,/etc/shadow,C:\\Windows\\System32,p@example.com,Secret-pass-123\r\n")?;
            w(o, "file:///tmp/x,\\\\server\\share,~/.ssh/id_rsa,q@example.com,Secret-pass-123\r\n")
        },
        args [], exit 0, says ["2 valid"], apply false;
    member_id_overflow: |o| { w(o, "member_id,login_id,name,password\r\n")?; w(o, "99999999999999999999999,x,y,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2", "member_id"], apply true;
    negative_member_id: |o| { w(o, "member_id,login_id,name,password\r\n")?; w(o, "-1,x,y,Secret-pass-123\r\n") },
        args [], exit 1, says ["     2", "member_id"], apply true;
    team_profile_over_2000_rows: |o| {
            w(o, "Primary Email,Display Name\r\n")?;
            for i in 0..2001 { write!(o, "u{i}@example.com,U {i}\r\n")?; }
            Ok(())
        },
        args ["--profile", "team"], exit 2, says ["max_rows", "line 2002"], apply true;
    access_profile_over_5_mb: |o| {
            w(o, "user_id,name,email\r\n")?;
            for i in 0..200_000 { write!(o, "E{i},Name {i},e{i}@example.com\r\n")?; }
            Ok(())
        },
        args ["--profile", "access"], exit 2, says ["max_bytes"], apply true;
    delimiter_only_lines: |o| { w(o, HEADER)?; repeat(o, b",,,\r\n", 50_000)?; w(o, GOOD) },
        args [], exit 0, says ["1 rows"], apply false;
    an_error_on_every_one_of_300000_rows: |o| {
            w(o, HEADER)?;
            for i in 0..300_000 { write!(o, "u{i},Name,bad-email-{i},Secret-pass-123\r\n")?; }
            Ok(())
        },
        args [], exit 1, says ["300000 errors", "report.truncated", "290000 more issues"], apply false;
    the_same_login_on_300000_rows: |o| {
            w(o, HEADER)?;
            for i in 0..300_000 { write!(o, "same,Name,u{i}@example.com,Secret-pass-123\r\n")?; }
            Ok(())
        },
        args [], exit 1, says ["300000 errors", "key.duplicate", "report.truncated"], apply false;
    a_profile_that_never_ends: |o| { w(o, HEADER)?; w(o, GOOD) },
        args ["--profile", "/dev/zero"], exit 2, says ["not a profile"], apply true;
    duplicate_keys: |o| { w(o, HEADER)?; w(o, GOOD)?; w(o, GOOD)?; w(o, "TANAKA ,Other,other@example.com,Secret-pass-123\r\n") },
        args [], exit 1, says ["key.duplicate", "     2", "     3", "     4"], apply true;
}

/// Formula, HTML and path-like values are data: applied as given, exported
/// neutralised (no cell starts like a formula), and the export imports back
/// with no change.
#[test]
fn hostile_values_are_stored_verbatim_and_exported_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let dbs = db.to_str().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(
        &file,
        "login_id,name,department,position,email,password\r\n\
         f1,\"=HYPERLINK(\"\"http://evil.example\"\")\",+SUM(A1),-1+1,f1@example.com,Secret-pass-123\r\n\
         f2,\"@cmd|' /C calc'!A0\",＝1+1,＠x,f2@example.com,Secret-pass-123\r\n\
         f3,<script>alert(1)</script>,../../etc/passwd,C:\\Windows,f3@example.com,Secret-pass-123\r\n",
    )
    .unwrap();
    let files = file.to_str().unwrap();
    let apply = run(&["apply", files, "--db", dbs], None, dir.path());
    no_panic("apply", &apply, MAX_APPLY_RSS_KIB);
    assert_eq!(apply.code, 0, "{apply:?}");
    let export = run(&["export", "--db", dbs, "-o", "out.csv"], None, dir.path());
    assert_eq!(export.code, 0, "{export:?}");
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    for needle in [
        "'=HYPERLINK",
        "'+SUM(A1)",
        "'-1+1",
        "'@cmd",
        "'＝1+1",
        "'＠x",
        "<script>alert(1)</script>",
        "../../etc/passwd",
    ] {
        assert!(out.contains(needle), "{needle:?} not in the export:\n{out}");
    }
    for line in out.lines() {
        for cell in line.trim_start_matches('\u{feff}').split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\0', '＝', '＋', '－', '＠']),
                "cell {cell:?} starts like a formula"
            );
        }
    }
    let check = run(&["check", "out.csv", "--db", dbs], None, dir.path());
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check
            .stdout
            .contains("create 0, update 0, delete 0, unchanged 3"),
        "export -> import changes nothing:\n{}",
        check.stdout
    );
}
