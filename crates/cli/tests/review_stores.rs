//! The review before execute on both stores (a SQLite file and a schema on
//! the PostgreSQL server): on a realistic edit of an export (two departments
//! renamed, groups added and removed, a deletion, a new user, the file saved
//! by Excel on Japanese Windows) `check` and `apply` list the same changes
//! in text, JSON and CSV, at once and as a job; the error report and the
//! results file carry each row's member ID, login ID and e-mail; a job
//! cancelled with `jobs cancel` stops at a batch boundary, one killed with
//! SIGKILL shows as interrupted, and both resume.

#[path = "postgres_backend.rs"]
mod backend;
mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backend::TestDb;
use harness::{RENAMED_DEPARTMENT, RESULTS_HEADER, Run, change_row, example, json, parse_csv};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// Runs the binary in `dir` against the store `db`.
fn userimport(dir: &Path, db: &TestDb, args: &[&str]) -> Run {
    let url = db.url();
    harness::run_in(dir, &[args, &["--db", url.as_str()]].concat())
}

fn ok(dir: &Path, db: &TestDb, args: &[&str]) -> Run {
    let run = userimport(dir, db, args);
    assert_eq!(run.code, 0, "{args:?}\n{}\n{}", run.stdout, run.stderr);
    run
}

/// [`harness::edited_export`] on the store `db`.
fn edited_export(dir: &Path, db: &TestDb) -> &'static str {
    let url = db.url();
    harness::edited_export(dir, &["--db", url.as_str()])
}

/// The change listing of a text report: from `changes:` to the blank line.
fn listing(text: &str) -> String {
    let start = text
        .find("changes: ")
        .unwrap_or_else(|| panic!("no change listing in:\n{text}"));
    let block = &text[start..];
    block[..block.find("\n\n").unwrap_or(block.len())].to_string()
}

/// The lines an administrator reads to see who changes and how.
const EXPECTED_LINES: [&str; 7] = [
    "changes: create 1, update 7, delete 1, groups to create 1",
    "  update  line 2: member 1, login \"tanaka.hanako\", e-mail \"hanako.tanaka@example.com\", name \"田中 花子\"\n          Department: \"Sales\" -> \"Sales & Marketing\"",
    "Name: \"María García\" -> \"Mar?a Garc?a\"",
    "Name: \"김민지\" -> \"???\"",
    "Belong to: +\"Managers\" -\"Remote\"",
    "  delete  line 11: member 10, login \"wang.fang\"",
    "  create  line 12: login \"sato.ken\", e-mail \"ken.sato@example.jp\", name \"佐藤 健\"",
];

fn apply_shows_who_changes_as_check_does(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let edited = edited_export(dir, db);
    let check = ok(dir, db, &["check", edited, "--generate-passwords"]).stdout;
    let expected = listing(&check);
    for line in EXPECTED_LINES {
        assert!(expected.contains(line), "{line:?} not in:\n{expected}");
    }
    assert!(
        expected.contains("  create group \"Interns\""),
        "{expected}"
    );

    // The apply's own report: the same listing, then the outcome.
    let applied = ok(
        dir,
        db,
        &[
            "apply",
            edited,
            "--generate-passwords",
            "--results",
            "results.csv",
        ],
    )
    .stdout;
    assert_eq!(listing(&applied), expected, "{applied}");
    // The results name every user, the deleted one too (no longer stored).
    let results = results_by_login(&dir.join("results.csv"));
    for expected in [
        ("wang.fang", "deleted", "10", "fang.wang@example.cn"),
        ("tanaka.hanako", "updated", "1", "hanako.tanaka@example.com"),
        ("sato.ken", "created", "11", "ken.sato@example.jp"),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2.to_string(),
            expected.3.to_string(),
        );
        assert!(
            results.contains(&expected),
            "{expected:?} not in {results:#?}"
        );
    }
    let outcome = applied
        .find("applied: 1 created, 7 updated, 1 deleted, 2 unchanged, 0 skipped, 0 failed")
        .unwrap_or_else(|| panic!("no outcome in:\n{applied}"));
    assert!(applied.find("changes: ").unwrap() < outcome, "{applied}");
    // The lossy re-save is warned about in the apply's report too.
    assert_eq!(applied.matches("update.lossy_text").count(), 6, "{applied}");

    // The store exported and applied: nothing changes, and no listing is shown.
    ok(
        dir,
        db,
        &["export", "--charset", "utf-8", "-o", "after.csv"],
    );
    let again = ok(dir, db, &["apply", "after.csv"]).stdout;
    assert!(!again.contains("changes: "), "{again}");
    assert!(
        again.contains("applied: 0 created, 0 updated, 0 deleted, 10 unchanged"),
        "{again}"
    );
}

/// The listing of an apply that was a job is the check's, in every format.
fn apply_json_lists_the_changes_at_once_and_as_a_job(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let edited = edited_export(dir, db);
    let base = ["--generate-passwords", "--format", "json"];
    let check = json(&ok(
        dir,
        db,
        &[
            &["check", edited, "--changes-csv", "check-changes.csv"][..],
            &base[..],
        ]
        .concat(),
    ));
    let changes = check["changes"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 10, "{changes:#?}");

    // At once: the check's changes, the same CSV, and what was written.
    let at_once = json(&ok(
        dir,
        db,
        &[
            &["apply", edited, "--changes-csv", "apply-changes.csv"][..],
            &base[..],
        ]
        .concat(),
    ));
    assert_eq!(at_once["changes"], check["changes"]);
    assert_eq!(at_once["changes_omitted"], serde_json::json!({}));
    assert_eq!(at_once["job"], serde_json::Value::Null);
    assert_eq!(at_once["results"]["updated"], 7);
    let csv = |name: &str| std::fs::read(dir.join(name)).unwrap();
    assert!(csv("apply-changes.csv").starts_with(b"\xEF\xBB\xBF"));
    assert_eq!(csv("apply-changes.csv"), csv("check-changes.csv"));
    // kind,line,member_id,login_id,email,name,group,column,old,new,added,removed
    let rows = parse_csv(&csv("apply-changes.csv"));
    let find = |login: &str, column: &str| change_row(&rows, login, column);
    assert_eq!(
        find("suzuki.ichiro", "Department")[..10],
        RENAMED_DEPARTMENT
    );
    assert_eq!(find("kim.minji", "Name")[8..10], ["김민지", "???"]);
    assert_eq!(find("j.smith", "Belong to")[10..], ["Managers", "Remote"]);
    assert_eq!(find("wang.fang", "")[..3], ["delete", "11", "10"]);
    assert_eq!(find("sato.ken", "")[0], "create");
    assert!(
        rows.iter()
            .any(|r| r[0] == "create_group" && r[6] == "Interns")
    );

    // As a job (more rows than the threshold), listing at most 2 per kind:
    // the first two of each kind, and how many are left out.
    let job_db = TestDb::like(db);
    let job_dir = tempfile::tempdir().unwrap();
    let job_dir = job_dir.path();
    let edited = edited_export(job_dir, &job_db);
    let args = [
        "apply",
        edited,
        "--background-threshold",
        "5",
        "--job-batch",
        "2",
        "--changes",
        "2",
        "--results",
        "results.csv",
    ];
    let job = json(&ok(job_dir, &job_db, &[&args[..], &base[..]].concat()));
    let results = results_by_login(&job_dir.join("results.csv"));
    assert_eq!(results.len(), 11, "{results:#?}");
    assert!(
        results.contains(&(
            "wang.fang".into(),
            "deleted".into(),
            "10".into(),
            "fang.wang@example.cn".into()
        )),
        "{results:#?}"
    );
    assert_eq!(job["job"]["status"], "done", "{job:#}");
    assert_eq!(job["job"]["id"], 1);
    assert_eq!(job["results"]["updated"], 7);
    assert_eq!(job["changes_omitted"], serde_json::json!({"update": 5}));
    let mut updates = 0;
    let first_two: Vec<&serde_json::Value> = changes
        .iter()
        .filter(|c| {
            if c["kind"] != "update" {
                return true;
            }
            updates += 1;
            updates <= 2
        })
        .collect();
    let listed: Vec<&serde_json::Value> = job["changes"].as_array().unwrap().iter().collect();
    assert_eq!(listed, first_two);
}

/// Japanese headers; a bad e-mail on an existing user, a bad due date typed
/// in the seed's wording, a renamed user and a new one.
const JA_FILE: &str = "ログインID,氏名,メールアドレス,有効期限タイプ,有効日数/有効期限\n\
    tanaka.hanako,田中 花子,hanako@@example.com,,\n\
    suzuki.ichiro,鈴木 一郎,ichiro.suzuki@example.com,effective date,next week\n\
    kim.minji,Kim Minji,minji.kim@example.kr,,\n\
    new.user,新 規,new.user@example.jp,,\n";

/// The results file's rows by login ID: (outcome, member ID, e-mail).
fn results_by_login(path: &Path) -> Vec<(String, String, String, String)> {
    let rows = parse_csv(&std::fs::read(path).unwrap());
    assert_eq!(rows[0], RESULTS_HEADER);
    let mut out: Vec<_> = rows[1..]
        .iter()
        .map(|r| (r[5].clone(), r[2].clone(), r[3].clone(), r[6].clone()))
        .collect();
    out.sort();
    out
}

fn reports_and_results_carry_the_rows_keys(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let users = example("users.csv");
    ok(dir, db, &["apply", users.to_str().unwrap()]);
    std::fs::write(dir.join("ja.csv"), JA_FILE).unwrap();

    // The error report: the column as the file heads it, the value as
    // typed, and the row's member ID (of the user it matched), login ID
    // and e-mail.
    let run = userimport(dir, db, &["check", "ja.csv", "--format", "csv"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let rows = parse_csv(run.stdout.as_bytes());
    assert_eq!(
        rows[0][6..],
        ["value", "member_id", "login_id", "email"],
        "{rows:?}"
    );
    let email = rows.iter().find(|r| r[4] == "email.invalid").unwrap();
    assert_eq!(email[2], "メールアドレス");
    assert_eq!(
        email[6..],
        [
            "hanako@@example.com",
            "1",
            "tanaka.hanako",
            "hanako@@example.com"
        ]
    );
    let due = rows.iter().find(|r| r[2] == "有効日数/有効期限").unwrap();
    assert_eq!(
        due[6..],
        [
            "next week",
            "2",
            "suzuki.ichiro",
            "ichiro.suzuki@example.com"
        ]
    );

    // The results file, at once and as a job: every row with its keys; a
    // failed row with the member ID of the user it matched.
    let expected = vec![
        (
            "kim.minji".into(),
            "updated".into(),
            "6".into(),
            "minji.kim@example.kr".into(),
        ),
        (
            "new.user".into(),
            "created".into(),
            "11".into(),
            "new.user@example.jp".into(),
        ),
        (
            "suzuki.ichiro".into(),
            "failed".into(),
            "2".into(),
            "ichiro.suzuki@example.com".into(),
        ),
        (
            "tanaka.hanako".into(),
            "failed".into(),
            "1".into(),
            "hanako@@example.com".into(),
        ),
    ];
    let apply = ["apply", "ja.csv", "--skip-invalid", "--generate-passwords"];
    let run = userimport(
        dir,
        db,
        &[&apply[..], &["--results", "at-once.csv"]].concat(),
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(results_by_login(&dir.join("at-once.csv")), expected);

    // `--format csv`: the error report on stdout, the outcome on stderr.
    let csv_db = TestDb::like(db);
    ok(dir, &csv_db, &["apply", users.to_str().unwrap()]);
    let run = userimport(dir, &csv_db, &[&apply[..], &["--format", "csv"]].concat());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = parse_csv(run.stdout.as_bytes());
    // (The check above had no --generate-passwords: new.user lacked one.)
    let checked: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r[4] != "password.missing")
        .cloned()
        .collect();
    assert_eq!(report, checked, "the check's error report");
    assert!(
        run.stderr
            .contains("applied: 1 created, 1 updated, 0 deleted, 0 unchanged, 0 skipped, 2 failed"),
        "{}",
        run.stderr
    );

    let job_db = TestDb::like(db);
    ok(dir, &job_db, &["apply", users.to_str().unwrap()]);
    let as_job = [
        "--results",
        "job.csv",
        "--background-threshold",
        "1",
        "--job-batch",
        "1",
    ];
    let run = userimport(dir, &job_db, &[&apply[..], &as_job[..]].concat());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("job 1: done: 1 created, 1 updated, 0 deleted, 0 unchanged, 2 failed"),
        "{}",
        run.stdout
    );
    assert_eq!(results_by_login(&dir.join("job.csv")), expected);
}

/// A file of `n` new users with one pre-hashed password.
fn write_users(path: &Path, n: usize) {
    let hash = userimport::plan::hash_password("Cancel-Test-Password-1").expect("hash");
    let mut text = String::from("login_id,name,email,password_hash\n");
    for i in 0..n {
        text.push_str(&format!(
            "user{i:06},User {i},user{i:06}@example.com,\"{hash}\"\n"
        ));
    }
    std::fs::write(path, text).expect("write file");
}

/// The job as `jobs ID --format json` shows it, once it exists.
fn job_json(dir: &Path, db: &TestDb, id: &str) -> Option<serde_json::Value> {
    let run = userimport(dir, db, &["jobs", id, "--format", "json"]);
    (run.code == 0).then(|| json(&run))
}

/// Starts `apply users.csv` as a job of one-row batches committed from the
/// first row on, and returns it once 100 rows are committed.
fn start_job(dir: &Path, db: &TestDb) -> std::process::Child {
    let mut child = Command::new(BIN)
        .args(["apply", "users.csv", "--skip-invalid", "--job-batch", "1"])
        .arg("--db")
        .arg(db.url())
        .current_dir(dir)
        .env_remove("USERIMPORT_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start userimport");
    let start = Instant::now();
    loop {
        let done = job_json(dir, db, "1").map_or(0, |j| j["rows_done"].as_u64().unwrap_or(0));
        if done >= 100 {
            return child;
        }
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the import ended before it could be stopped"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no job");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const JOB_ROWS: u64 = 6_000;

/// The job stopped part-way: its status, exactly its done rows written,
/// and `jobs` saying so; then `jobs resume` writes the rest, each user once.
fn stopped_then_resumed(dir: &Path, db: &TestDb, status: &str) {
    const ROWS: u64 = JOB_ROWS;
    let job = job_json(dir, db, "1").expect("job 1");
    assert_eq!(job["status"], status, "{job:#}");
    let done = job["rows_done"].as_u64().unwrap();
    assert!((100..ROWS).contains(&done), "{job:#}");
    assert_eq!(job["created"].as_u64(), Some(done));
    assert_eq!(db.query("SELECT count(*) FROM users"), done.to_string());
    let list = ok(dir, db, &["jobs"]).stdout;
    assert!(
        list.starts_with(&format!("job 1: {status} {done}/{ROWS} rows")),
        "{list}"
    );
    let resumed = ok(dir, db, &["jobs", "resume", "1"]).stdout;
    assert!(
        resumed.contains(&format!("job 1: done {ROWS}/{ROWS} rows; {ROWS} created")),
        "{resumed}"
    );
    assert_eq!(db.query("SELECT count(*) FROM users"), ROWS.to_string());
    assert_eq!(
        db.query("SELECT count(DISTINCT login) FROM users"),
        ROWS.to_string()
    );
}

/// Killed with SIGKILL, the job's worker is gone: `jobs` shows it
/// interrupted (not running forever), and it resumes.
fn an_interrupted_job_shows_as_interrupted_and_resumes(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_users(&dir.join("users.csv"), JOB_ROWS as usize);
    let mut child = start_job(dir, db);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    stopped_then_resumed(dir, db, "interrupted");
}

fn a_cancelled_job_stops_at_a_batch_boundary_and_resumes(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    write_users(&dir.join("users.csv"), JOB_ROWS as usize);
    let child = start_job(dir, db);
    // `jobs cancel` shows the job as it reads it just after the request:
    // still running (the request noted), or already stopped by its worker.
    // (On PostgreSQL under load it has once read `interrupted` for that
    // instant: the worker's lock gone before its status is seen; the job
    // ends cancelled all the same, as asserted below.)
    let cancel = ok(dir, db, &["jobs", "cancel", "1"]).stdout;
    let requested = cancel.starts_with("job 1: running ")
        && cancel
            .contains("\njob 1: cancel requested: its worker stops at the next batch boundary");
    let stopped = ["job 1: cancelled ", "job 1: interrupted "]
        .iter()
        .any(|s| cancel.starts_with(s));
    assert!(requested || stopped, "{cancel}");
    let out = child.wait_with_output().expect("the import ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.ends_with(
            "userimport: job 1 was cancelled at a batch boundary: the rows before it are written; finish with `userimport jobs resume 1`\n"
        ),
        "{stderr}"
    );
    stopped_then_resumed(dir, db, "cancelled");
}

both_backends!(
    apply_shows_who_changes_as_check_does,
    apply_json_lists_the_changes_at_once_and_as_a_job,
    reports_and_results_carry_the_rows_keys,
    a_cancelled_job_stops_at_a_batch_boundary_and_resumes,
    an_interrupted_job_shows_as_interrupted_and_resumes,
);
