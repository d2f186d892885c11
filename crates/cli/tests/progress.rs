//! What an administrator sees while a file big enough to be a job is
//! applied: in a real pseudo-terminal (util-linux `script`, from Debian's
//! essential `bsdutils` package) the bar shows the checking phase as bytes
//! read of the file's size, then rows written with the job's ID, then the
//! final counts; with stderr piped no bar is drawn, only progress lines.

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// Rows of the file: enough for the check to take many frames in a debug build.
const ROWS: u64 = 40_000;

/// A file of `n` new users sharing one pre-hashed password (hashing is not
/// what this test watches).
fn write_file(path: &Path, n: u64) {
    let hash = userimport::plan::hash_password("Progress-Test-Password-1").expect("hash");
    let mut text = String::from("login_id,name,email,password_hash\n");
    for i in 0..n {
        text.push_str(&format!(
            "user{i:06},User {i},user{i:06}@example.com,\"{hash}\"\n"
        ));
    }
    std::fs::write(path, text).expect("write file");
}

/// The apply's arguments: a job from 100 rows on, committed in small batches.
fn apply_args(file: &Path, db: &Path) -> Vec<String> {
    [
        "apply",
        &file.display().to_string(),
        "--db",
        &db.display().to_string(),
        "--background-threshold",
        "100",
        "--job-batch",
        "500",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// The text a terminal shows, frame by frame: escape sequences removed,
/// split at every carriage return and newline, blank frames left out.
fn frames(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ended by a byte in @..~.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// `1234567` as indicatif's `human_pos` writes it: `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The `N/M` before `unit` in a bar frame, as numbers.
fn counts(frame: &str, unit: &str) -> Option<(u64, u64)> {
    let before = frame.split(&format!(" {unit}")).next()?;
    let pair = before.rsplit(' ').next()?;
    let (n, m) = pair.split_once('/')?;
    let number = |s: &str| s.replace(',', "").parse::<u64>().ok();
    Some((number(n)?, number(m)?))
}

#[test]
fn a_job_shows_its_phases_in_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, ROWS);
    let size = std::fs::metadata(&file).unwrap().len();
    let db = dir.path().join("users.db");
    let command: Vec<String> = std::iter::once(BIN.to_string())
        .chain(apply_args(&file, &db))
        .map(|a| shell_quote(&a))
        .collect();
    // `script -q -e -c CMD /dev/null`: CMD on a new pseudo-terminal, its
    // output copied to our stdout, its exit code returned.
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("USERIMPORT_DB")
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` runs (Debian: bsdutils, installed on every system)");
    let frames = frames(&out.stdout);
    let shown = frames.join("\n");
    assert_eq!(out.status.code(), Some(0), "{shown}");

    // Checking: bytes read of the file's size, with the rows checked so far.
    let of_size = format!("/{} bytes read", grouped(size));
    let checking: Vec<(usize, &String)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.starts_with("apply: checking ("))
        .collect();
    assert!(!checking.is_empty(), "no checking phase shown:\n{shown}");
    for (_, frame) in &checking {
        assert!(frame.contains(&of_size), "{frame:?} (file of {size} bytes)");
        let (read, total) = counts(frame, "bytes read").expect("bytes read");
        assert!(read <= total, "{frame:?}");
    }
    assert!(
        checking.iter().any(|(_, f)| {
            let (read, _) = counts(f, "bytes read").unwrap_or_default();
            read > 0 && read < size
        }),
        "the check is never shown mid-way:\n{shown}"
    );
    assert!(
        checking.iter().any(|(_, f)| f.contains(" rows) [")),
        "{shown}"
    );

    // Writing: rows written with the job's ID, to the file's last row.
    let writing: Vec<(usize, &String)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.starts_with("job 1: writing ["))
        .collect();
    assert!(!writing.is_empty(), "no writing phase shown:\n{shown}");
    for (_, frame) in &writing {
        let (written, total) = counts(frame, "rows written").expect("rows written");
        assert!(written <= total && total <= ROWS, "{frame:?}");
        assert!(frame.ends_with("left)"), "with its ETA: {frame:?}");
    }
    let last = writing.last().map(|(_, f)| f.as_str()).unwrap_or_default();
    assert_eq!(counts(last, "rows written"), Some((ROWS, ROWS)), "{shown}");
    let first_writing = writing[0].0;
    let last_checking = checking.last().map_or(0, |(i, _)| *i);
    assert!(
        last_checking < first_writing,
        "checking, then writing:\n{shown}"
    );
    // No empty bar before the first progress.
    assert!(!frames.iter().any(|f| f.contains(" 0/0 ")), "{shown}");

    // Then the report: who was created, and the final counts.
    let done = frames
        .iter()
        .position(|f| {
            f == "job 1: done: 40000 created, 0 updated, 0 deleted, 0 unchanged, 0 failed"
        })
        .unwrap_or_else(|| panic!("no final counts:\n{shown}"));
    assert!(done > first_writing);
    assert!(
        frames.contains(&"changes: create 40000".to_string()),
        "{shown}"
    );
}

#[test]
fn piped_output_has_no_bar() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, ROWS);
    let db = dir.path().join("users.db");
    let out = Command::new(BIN)
        .args(apply_args(&file, &db))
        .env_remove("USERIMPORT_DB")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for drawn in ["\u{1b}", "\r", "bytes read", "rows written", "[="] {
        assert!(
            !stderr.contains(drawn) && !stdout.contains(drawn),
            "{drawn:?} drawn into a pipe:\n{stderr}"
        );
    }
    assert!(
        stderr.starts_with("job 1: written as the file is checked; committed once it is clean\n"),
        "{stderr}"
    );
    assert!(
        stdout.contains("job 1: done: 40000 created, 0 updated, 0 deleted, 0 unchanged, 0 failed"),
        "{stdout}"
    );
}
