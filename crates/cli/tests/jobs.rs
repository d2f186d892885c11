//! Background jobs with the real binary on both stores: an import killed
//! with SIGKILL half-way, then finished by `jobs resume` or by running the
//! same apply again, gives exactly the expected users, each written once;
//! `apply --detach` returns at once with the job ID and a detached worker
//! finishes.

#[path = "postgres_backend.rs"]
mod backend;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backend::TestDb;
use userimport::plan::Directory;
use userimport::sink::{Job, JobStatus, Jobs, PostgresSink, SqliteSink};
use userimport::{ApplyOptions, ImportSettings, Input, Phase, Store, StoreUrl};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// A file of `n` new users with one pre-hashed password (hashing is not
/// what these tests measure).
fn write_file(path: &Path, n: usize) {
    let hash = userimport::plan::hash_password("Job-Test-Password-1").expect("hash");
    let mut text = String::from("login_id,name,email,password_hash,groups\n");
    for i in 0..n {
        text.push_str(&format!(
            "user{i:06},User {i},user{i:06}@example.com,\"{hash}\",Team{}\n",
            i % 3
        ));
    }
    std::fs::write(path, text).expect("write file");
}

/// Reads the store the way the CLI does, with the library.
enum Reader {
    Sqlite(SqliteSink),
    Postgres(PostgresSink),
}

impl Reader {
    fn open(url: &str) -> Option<Reader> {
        match url.parse::<StoreUrl>().ok()? {
            StoreUrl::Sqlite(path) => {
                if !path.exists() {
                    return None;
                }
                // Whatever a kill left behind (a bulk load's rollback
                // journal too) opens for reading.
                let store = SqliteSink::open_existing(&path);
                Some(Reader::Sqlite(store.expect("the store opens for reading")))
            }
            StoreUrl::Postgres(url) => {
                let store = PostgresSink::open_existing(&url);
                Some(Reader::Postgres(
                    store.expect("the store opens for reading"),
                ))
            }
            _ => None,
        }
    }
    fn job(&self, id: i64) -> Option<Job> {
        match self {
            Reader::Sqlite(s) => s.job(id).ok().flatten(),
            Reader::Postgres(s) => s.job(id).ok().flatten(),
        }
    }
    /// The newest job (PostgreSQL does not reuse the ID of a job whose
    /// transaction rolled back).
    fn newest_job(&self) -> Option<Job> {
        let jobs = match self {
            Reader::Sqlite(s) => s.jobs(),
            Reader::Postgres(s) => s.jobs(),
        };
        jobs.ok()?.into_iter().next()
    }
    fn logins(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut f = |u: &userimport::plan::StoredUser| {
            out.push(u.login.clone().unwrap_or_default());
            true
        };
        match self {
            Reader::Sqlite(s) => s.for_each_user(&mut f).expect("users"),
            Reader::Postgres(s) => s.for_each_user(&mut f).expect("users"),
        }
        out
    }
}

fn run(args: &[&str], db: &TestDb) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db.url())
        .output()
        .expect("run userimport");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The options of the killed applies: `--skip-invalid` plans the whole file
/// first and then commits one-row batches from the first row on, so a kill
/// lands mid-way for sure. (The default, streamed apply holds its writes
/// until the file is checked: see `a_streamed_apply_killed_at_any_moment`.)
const BATCHED: [&str; 3] = ["--skip-invalid", "--job-batch", "1"];

/// Starts `apply FILE` as a job of one-row batches and kills it with SIGKILL
/// once some batches are committed; returns the job as the store has it.
fn apply_and_kill(db: &TestDb, file: &Path, n: u64) -> Job {
    let mut child = Command::new(BIN)
        .arg("apply")
        .arg(file)
        .args(BATCHED)
        .arg("--db")
        .arg(db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start userimport");
    let start = Instant::now();
    let mut reader: Option<Reader> = None;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the job never started"
        );
        // A store opened before the job's tables existed reads as empty:
        // open it again until the job shows.
        match reader.as_ref().and_then(|r| r.job(1)) {
            Some(job) if job.rows_done >= 100 => break,
            Some(_) => {}
            None => reader = Reader::open(&db.url()),
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the import ended ({status}) before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Beside its live worker the job is running, and resuming it says so
    // in one line.
    assert_eq!(
        reader.as_ref().and_then(|r| r.job(1)).map(|j| j.status),
        Some(JobStatus::Running)
    );
    let (code, stdout, stderr) = run(&["jobs", "resume", "1"], db);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            2,
            "",
            "userimport: job 1 is running: another worker is writing it\n"
        )
    );
    child.kill().expect("SIGKILL"); // SIGKILL on Unix
    child.wait().expect("reap");
    drop(reader);
    let reader = Reader::open(&db.url()).expect("store");
    let job = reader.job(1).expect("job 1");
    // Its worker is gone: interrupted, not running forever.
    assert_eq!(job.status, JobStatus::Interrupted, "{job:?}");
    assert!(
        job.rows_done > 0 && job.rows_done < n,
        "killed mid-way: {job:?}"
    );
    assert_consistent(&reader, Some(&job));
    job
}

/// Exactly the rows the job says are done are written (none without a job).
fn assert_consistent(reader: &Reader, job: Option<&Job>) {
    let done = job.map_or(0, |j| j.rows_done);
    let logins = reader.logins();
    assert_eq!(logins.len() as u64, done, "{job:?}");
    if let Some(job) = job {
        assert_eq!(job.created, job.rows_done);
    }
    let expected: Vec<String> = (0..done).map(|i| format!("user{i:06}")).collect();
    assert_eq!(logins, expected);
}

fn assert_finished(db: &TestDb, n: u64) {
    let reader = Reader::open(&db.url()).expect("store");
    let job = reader.newest_job().expect("a job");
    assert_eq!(job.status, JobStatus::Done, "{job:?}");
    // Every row created by this job, or (when the apply ran again after its
    // job had finished) found unchanged by a new one.
    assert_eq!(
        (job.rows_done, job.created + job.unchanged, job.failed),
        (n, n, 0),
        "{job:?}"
    );
    let logins = reader.logins();
    assert_eq!(logins.len() as u64, n, "every user exactly once");
    let unique: BTreeSet<&String> = logins.iter().collect();
    assert_eq!(unique.len() as u64, n);
    let expected: BTreeSet<String> = (0..n).map(|i| format!("user{i:06}")).collect();
    assert_eq!(unique, expected.iter().collect());
}

const ROWS: u64 = 6_000;

fn killed_then_resumed(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, ROWS as usize);
    apply_and_kill(db, &file, ROWS);
    let (code, stdout, stderr) = run(&["jobs", "resume", "1"], db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("job 1: done"), "{stdout}");
    assert_finished(db, ROWS);
    // The job shows its results, one per row.
    let (code, stdout, _) = run(&["jobs", "1", "--format", "json"], db);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["results"].as_array().unwrap().len() as u64, ROWS);
}

fn killed_then_applied_again(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, ROWS as usize);
    apply_and_kill(db, &file, ROWS);
    let mut args = vec!["apply", file.to_str().unwrap()];
    args.extend(BATCHED);
    let (code, stdout, stderr) = run(&args, db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("resuming job 1"), "{stderr}");
    assert_finished(db, ROWS);
    let (_, stdout, _) = run(&["jobs", "--format", "json"], db);
    let jobs: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "no second job: {jobs}");
}

/// The default apply streams: its writes are held in one transaction until
/// the whole file is checked, then committed, the rest in batches. Killed at
/// any moment, the store holds either nothing (and no job) or exactly the
/// rows its job says are done; running the same apply again finishes it.
fn a_streamed_apply_killed_at_any_moment(like: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, 10_000);
    for delay_ms in [0, 40, 120, 300] {
        // A new store of the same kind for each kill.
        let db = match like {
            TestDb::Sqlite { .. } => TestDb::sqlite(),
            TestDb::Postgres { .. } => TestDb::postgres().expect("postgres"),
        };
        let mut child = Command::new(BIN)
            .arg("apply")
            .arg(&file)
            .args(["--job-batch", "1", "--db"])
            .arg(db.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start userimport");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        if let Some(reader) = Reader::open(&db.url()) {
            let job = reader.newest_job();
            assert_consistent(&reader, job.as_ref());
        }
        let (code, stdout, stderr) = run(&["apply", file.to_str().unwrap()], &db);
        assert_eq!(code, 0, "killed after {delay_ms} ms: {stdout}{stderr}");
        assert_finished(&db, 10_000);
    }
}

/// A first import into an empty SQLite store is a bulk load through the
/// rollback journal, its pages written into the file as they spill. Killed
/// in the middle of it, the store opens (for reading too) as it was before,
/// and the same apply then completes.
#[test]
fn a_bulk_load_killed_mid_way_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, 80_000);
    let db = TestDb::sqlite();
    let TestDb::Sqlite { dir: store_dir } = &db else {
        unreachable!("an SQLite store")
    };
    let path = store_dir.path().join("users.db");
    let journal = store_dir.path().join("users.db-journal");
    let mut child = Command::new(BIN)
        .arg("apply")
        .arg(&file)
        .args(["--db", &db.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start userimport");
    // Killed once the load has spilled pages into the file.
    let start = Instant::now();
    loop {
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if journal.exists() && size > 8 << 20 {
            break;
        }
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the apply ended before its load spilled"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no bulk load");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(journal.exists(), "killed with its journal beside it");
    let reader = Reader::open(&db.url()).expect("store");
    assert_consistent(&reader, reader.newest_job().as_ref());
    assert!(reader.logins().is_empty(), "nothing committed yet");
    drop(reader);
    // The load dropped the look-up indexes in its transaction: back too.
    assert_eq!(lookup_indexes(&path), LOOKUP_INDEXES);
    let (code, stdout, stderr) = run(&["apply", file.to_str().unwrap()], &db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_finished(&db, 80_000);
    assert_eq!(lookup_indexes(&path), LOOKUP_INDEXES);
}

/// The indexes a bulk load builds after its rows.
const LOOKUP_INDEXES: [&str; 4] = [
    "identities_folded",
    "users_card_id",
    "users_email_skeleton",
    "users_login_skeleton",
];

/// Which of [`LOOKUP_INDEXES`] the SQLite store at `path` has.
fn lookup_indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
        .expect("prepare");
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query");
    names
        .map(|n| n.expect("name"))
        .filter(|n| LOOKUP_INDEXES.contains(&n.as_str()))
        .collect()
}

fn detached_apply_returns_the_job_id(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, 500);
    // The groups exist, so the check has nothing to say before the job ID.
    let (code, _, stderr) = run(&["groups", "add", "Team0", "Team1", "Team2"], db);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(&["apply", file.to_str().unwrap(), "--detach"], db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "1");
    // From the moment its ID is printed its worker holds it: running (or
    // done already), never interrupted.
    let (_, listed, _) = run(&["jobs"], db);
    assert!(
        listed.starts_with("job 1: running") || listed.starts_with("job 1: done"),
        "{listed}"
    );
    let start = Instant::now();
    loop {
        let done = Reader::open(&db.url())
            .and_then(|r| r.job(1))
            .is_some_and(|j| j.status == JobStatus::Done);
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the detached job did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_finished(db, 500);
}

fn small_files_apply_at_once(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    write_file(&file, 100);
    let (code, stdout, stderr) = run(&["apply", file.to_str().unwrap()], db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("applied: 100 created"), "{stdout}");
    let (_, stdout, _) = run(&["jobs"], db);
    assert_eq!(stdout.trim(), "no jobs");
}

/// A job of `n` rows recorded by a detached apply (with `--skip-invalid`,
/// read twice), its worker not started: the library's, as `apply --detach`
/// leaves it for the worker it spawns.
fn detached_job(db: &TestDb, dir: &Path, n: usize) -> i64 {
    let file = dir.join("users.csv");
    write_file(&file, n);
    let (code, _, stderr) = run(&["groups", "add", "Team0", "Team1", "Team2"], db);
    assert_eq!(code, 0, "{stderr}");
    let mut settings = ImportSettings::default();
    settings.skip_invalid = true;
    let mut how = ApplyOptions::default();
    how.detach = true;
    let applied = userimport::apply(&db.url(), Input::Path(file), &settings, &how, &mut |_| true)
        .expect("detached apply");
    applied.job.expect("a job").job.id
}

/// A job whose run is stopped by its progress callback while its file is
/// checked (before any batch) reads cancelled in `jobs` and `jobs ID`, and
/// `jobs resume` finishes it as any cancelled job.
fn a_job_stopped_while_its_file_is_checked_reads_cancelled(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let id = detached_job(db, dir.path(), 500);
    let mut store = Store::open(&db.url()).expect("store");
    let planning = Store::open_existing(&db.url()).expect("planning");
    let stopped = userimport::jobs::resume_with(&mut store, planning, id, 100, &mut |p| {
        p.phase == Phase::Writing
    });
    assert!(stopped.is_err(), "{stopped:?}");
    drop(store);
    let line = format!("job {id}: cancelled 0/500 rows");
    let (code, stdout, stderr) = run(&["jobs"], db);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&line), "{stdout}");
    let (code, stdout, stderr) = run(&["jobs", &id.to_string()], db);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&line), "{stdout}");
    let (code, stdout, stderr) = run(&["jobs", "resume", &id.to_string()], db);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_finished(db, 500);
}

/// `jobs cancel` before the worker `apply --detach` spawned has taken the
/// job: the worker leaves it cancelled, writing nothing.
fn a_detached_job_cancelled_before_its_worker_starts_stays_cancelled(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let id = detached_job(db, dir.path(), 500);
    let (code, stdout, stderr) = run(&["jobs", "cancel", &id.to_string()], db);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("job {id}: cancelled")),
        "{stdout}"
    );
    let (_, _, stderr) = run(&["jobs", "worker", &id.to_string()], db);
    let (_, stdout, _) = run(&["jobs", &id.to_string()], db);
    assert!(
        stdout.starts_with(&format!("job {id}: cancelled 0/500 rows")),
        "{stdout}{stderr}"
    );
    let reader = Reader::open(&db.url()).expect("store");
    assert!(reader.logins().is_empty(), "nothing written");
}

both_backends!(
    a_job_stopped_while_its_file_is_checked_reads_cancelled,
    a_detached_job_cancelled_before_its_worker_starts_stays_cancelled,
    a_streamed_apply_killed_at_any_moment,
    killed_then_resumed,
    killed_then_applied_again,
    detached_apply_returns_the_job_id,
    small_files_apply_at_once,
);
