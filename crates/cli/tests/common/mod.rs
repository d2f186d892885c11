//! Shared by the CLI's end-to-end tests: runs the real binary and reads
//! its answers, and makes the edited export the review tests check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use userimport::{CsvWriter, OutputCharset};

/// What a run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary in `dir` with `args`, no input and no store named by
/// the environment.
pub fn userimport(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_userimport"))
        .args(args)
        .current_dir(dir)
        .env_remove("USERIMPORT_DB")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`userimport`], which must succeed.
pub fn ok(dir: &Path, args: &[&str]) -> Run {
    let run = userimport(dir, args);
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
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
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
