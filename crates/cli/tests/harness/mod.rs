//! Shared by the CLI's end-to-end tests: runs the real `userimport`
//! binary, streams generated input to it, and measures its peak RSS; reads
//! its answers; makes the edited export the review tests check.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use userimport::{CsvWriter, OutputCharset};

/// Writes a generated input file to the child's standard input.
pub type Input = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

pub const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Raw stdout and stderr together, for byte-level checks.
    pub raw: Vec<u8>,
    /// The child's peak resident set, in KiB.
    pub max_rss_kib: i64,
}

/// `struct rusage` on Linux (x86_64 and aarch64): two timevals, then 14 longs.
#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

/// Runs the binary with `args`, streaming `input` (if any) to its stdin,
/// and measures its peak RSS with `wait4`.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its rusage
pub fn run(args: &[&str], input: Option<Input>, cwd: &Path) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("USERIMPORT_DB")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let writer = input.map(|make| {
        let stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let mut out = io::BufWriter::with_capacity(1 << 16, stdin);
            // The child may stop reading early (a limit, an error): a broken
            // pipe is expected then.
            let _ = make(&mut out).and_then(|()| out.flush());
        })
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let mut err_buf = Vec::new();
    stderr.read_to_end(&mut err_buf).unwrap();
    let out_buf = out_thread.join().unwrap();
    let mut status = 0i32;
    let mut usage = Rusage::default();
    // SAFETY: `status` and `usage` are valid for writes; the pid is our child,
    // not yet waited for (std's `Child::wait` is never called on it).
    let pid = unsafe { wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    let signal = status & 0x7f;
    assert_eq!(signal, 0, "{args:?}: killed by signal {signal}");
    let code = (status >> 8) & 0xff;
    let mut raw = out_buf.clone();
    raw.extend_from_slice(&err_buf);
    Run {
        code,
        stdout: String::from_utf8_lossy(&out_buf).into_owned(),
        stderr: String::from_utf8_lossy(&err_buf).into_owned(),
        raw,
        max_rss_kib: usage.maxrss,
    }
}

/// Runs the binary in the current directory with no input:
/// (exit code, stdout, stderr). The seed-system tests' runner.
pub fn userimport(args: &[&str]) -> (i32, String, String) {
    let r = run(args, None, Path::new("."));
    (r.code, r.stdout, r.stderr)
}

/// The path of a file under the repository's `examples/` folder.
pub fn example_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(relative)
        .display()
        .to_string()
}

/// Runs the binary in `dir` with no input.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run(args, None, dir)
}

/// [`run_in`], which must succeed.
pub fn ok(dir: &Path, args: &[&str]) -> Run {
    let run = run_in(dir, args);
    assert_eq!(run.code, 0, "{args:?}\n{}\n{}", run.stdout, run.stderr);
    run
}

/// The JSON on standard output.
pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// A file of `examples/data`.
pub fn example(name: &str) -> PathBuf {
    PathBuf::from(example_path(&format!("data/{name}")))
}

/// Every row of a CSV file, the header first.
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = userimport::parse::ReaderBuilder::new()
        .build(bytes)
        .unwrap();
    let mut rows = vec![reader.header().iter().map(str::to_string).collect()];
    let mut record = userimport::parse::Record::new();
    while reader.read_record(&mut record).unwrap() {
        rows.push(record.iter().map(str::to_string).collect());
    }
    rows
}

/// What Excel's "CSV" on Japanese Windows writes: Shift_JIS, every
/// character it cannot hold replaced by `?`.
pub fn excel_save_shift_jis(rows: &[Vec<String>]) -> Vec<u8> {
    let sjis = OutputCharset::parse("shift_jis").unwrap();
    let lossy = |cell: &String| -> String {
        cell.chars()
            .map(|c| match sjis.encoding().encode(&c.to_string()).2 {
                true => '?',
                false => c,
            })
            .collect()
    };
    let mut writer = CsvWriter::new(Vec::new(), sjis).unwrap();
    for row in rows {
        writer.write_row(row.iter().map(lossy)).unwrap();
    }
    writer.finish().unwrap()
}

/// The index of `header` in the header row.
pub fn column(rows: &[Vec<String>], header: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no column {header:?} in {:?}", rows[0]))
}

/// The example users applied to the store that `store` names (`--db …`),
/// exported, and edited as an administrator would: two departments
/// renamed, groups added and removed, one user deleted, one added, the
/// file saved by Excel on Japanese Windows (`María` becomes `Mar?a`,
/// `김민지` becomes `???`). Returns the edited file's name (in `dir`).
pub fn edited_export(dir: &Path, store: &[&str]) -> &'static str {
    let users = example("users.csv");
    let users = users.to_str().unwrap();
    ok(dir, &[&["apply", users], store].concat());
    let export = ["export", "--charset", "utf-8", "-o", "export.csv"];
    ok(dir, &[&export, store].concat());
    let mut rows = parse_csv(&std::fs::read(dir.join("export.csv")).unwrap());
    let (login, department, groups, delete) = (
        column(&rows, "Login ID"),
        column(&rows, "Department"),
        column(&rows, "Belong to"),
        column(&rows, "Delete flag"),
    );
    for row in rows.iter_mut().skip(1) {
        match row[login].as_str() {
            "tanaka.hanako" | "suzuki.ichiro" => row[department] = "Sales & Marketing".into(),
            "j.smith" => row[groups] = "Engineering,Managers,-Remote".into(),
            "wang.fang" => row[delete] = "1".into(),
            _ => {}
        }
    }
    let mut new = vec![String::new(); rows[0].len()];
    new[login] = "sato.ken".into();
    new[column(&rows, "Name")] = "佐藤 健".into();
    new[column(&rows, "Email address")] = "ken.sato@example.jp".into();
    new[groups] = "Sales,Interns".into();
    rows.push(new);
    std::fs::write(dir.join("edited.csv"), excel_save_shift_jis(&rows)).unwrap();
    "edited.csv"
}

/// The header of a results file (`--results`).
pub const RESULTS_HEADER: [&str; 7] = [
    "line",
    "row",
    "outcome",
    "member_id",
    "reason",
    "login_id",
    "email",
];

/// The row of a changes CSV (`--changes-csv`) for `login`'s `column` (its
/// header; empty for the user's own row).
pub fn change_row<'a>(rows: &'a [Vec<String>], login: &str, column: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[3] == login && r[7] == column)
        .unwrap_or_else(|| panic!("no row for {login} {column}: {rows:#?}"))
}

/// The first ten columns of the changes CSV's row for a department that
/// [`edited_export`] renames.
pub const RENAMED_DEPARTMENT: [&str; 10] = [
    "update",
    "3",
    "2",
    "suzuki.ichiro",
    "ichiro.suzuki@example.com",
    "鈴木 一郎",
    "",
    "Department",
    "Sales",
    "Sales & Marketing",
];
