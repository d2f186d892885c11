//! Executing what was checked, as a frontend does (`userimport::launch`):
//! the "checked at revision R" guard of `apply`, and a job started with its
//! ID handed back while a worker writes it, on SQLite and PostgreSQL.
//!
//! PostgreSQL cases run when `USERIMPORT_TEST_POSTGRES` names a server
//! (each test gets a schema of its own); without it they say they were
//! skipped (and fail in CI).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use userimport::launch::{self, Started, Worker};
use userimport::plan::Directory;
use userimport::sink::JobStatus;
use userimport::{ApplyOptions, Error, ImportSettings, Input, Phase, Store, jobs};

const POSTGRES_VAR: &str = "USERIMPORT_TEST_POSTGRES";

/// A store to test on, with a folder for its files.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres {
        base: String,
        schema: String,
        files: tempfile::TempDir,
    },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Db {
    /// SQLite, and PostgreSQL when it is configured.
    fn all() -> Vec<Db> {
        let mut dbs = vec![Db::Sqlite(tempfile::tempdir().unwrap())];
        match std::env::var(POSTGRES_VAR) {
            Ok(base) => {
                let schema = format!(
                    "l{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap();
                let files = tempfile::tempdir().unwrap();
                dbs.push(Db::Postgres {
                    base,
                    schema,
                    files,
                });
            }
            Err(_) => {
                assert!(
                    std::env::var("CI").is_err(),
                    "{POSTGRES_VAR} must be set in CI"
                );
                eprintln!("NOTE: PostgreSQL launch tests SKIPPED: {POSTGRES_VAR} is not set");
            }
        }
        dbs
    }

    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.path().join("store.db").display()),
            Db::Postgres { base, schema, .. } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }

    fn dir(&self) -> &Path {
        match self {
            Db::Sqlite(dir) => dir.path(),
            Db::Postgres { files, .. } => files.path(),
        }
    }

    /// A users file of `rows` rows named `prefix…`, written beside the store.
    fn file(&self, prefix: &str, rows: usize) -> PathBuf {
        let mut text = String::from("Login ID,Name,Email address,Password hash\n");
        let h = hash();
        for i in 0..rows {
            text.push_str(&format!(
                "{prefix}{i},User {i},{prefix}{i}@example.com,\"{h}\"\n"
            ));
        }
        let path = self.dir().join(format!("{prefix}.csv"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn store(&self) -> Store {
        Store::open(&self.url()).unwrap()
    }

    /// Checks `file` as a frontend does: the store's revision, then the check.
    fn check(&self, file: &Path) -> u64 {
        let store = self.store();
        let revision = launch::revision(&store).unwrap();
        let checked = ImportSettings::default()
            .importer()
            .unwrap()
            .check(std::fs::File::open(file).unwrap(), &store)
            .unwrap();
        assert!(checked.is_clean(), "{:?}", checked.issues);
        revision
    }

    fn apply(&self, file: &Path, how: &ApplyOptions) -> Result<userimport::Applied, Error> {
        userimport::apply(
            &self.url(),
            Input::Path(file.to_path_buf()),
            &ImportSettings::default(),
            how,
            &mut |_| true,
        )
    }

    fn users(&self) -> u64 {
        self.store().user_count().unwrap()
    }

    /// Starts `file`, checked at revision `at`, as a job (batches of 10).
    fn start_job(&self, file: &Path, at: u64) -> (userimport::Applied, Worker) {
        match launch::start(
            &self.url(),
            file,
            &ImportSettings::default(),
            &checked_at(at),
        ) {
            Ok(Started::Job(applied, worker)) => (applied, worker),
            Ok(Started::Refused(applied)) => panic!("not a job: {:?}", applied.issues),
            Err(e) => panic!("not started: {e}"),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { base, schema, .. } = self
            && let Ok(mut client) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| userimport::plan::hash_password("Secret-pass-1").unwrap())
}

fn checked_at(revision: u64) -> ApplyOptions {
    let mut how = ApplyOptions::default();
    how.background_threshold = 20;
    how.job_batch = 10;
    how.expected_revision = Some(revision);
    how
}

#[test]
fn apply_of_a_file_checked_before_the_store_moved_is_refused_and_writes_nothing() {
    for db in Db::all() {
        let (small, large) = (db.file("small", 5), db.file("large", 50));
        let other = db.file("other", 3);
        let small_at = db.check(&small);
        let large_at = db.check(&large);
        // Someone else imports in between.
        db.apply(&other, &ApplyOptions::default()).unwrap();
        let moved_to = db.store().revision().unwrap();
        assert!(moved_to > small_at);
        // At once, and as a job (planned whole, then written in batches).
        for (file, at) in [(&small, small_at), (&large, large_at)] {
            match db.apply(file, &checked_at(at)) {
                Err(Error::StoreMoved {
                    checked,
                    now,
                    history,
                }) => {
                    assert_eq!((checked, now), (at, moved_to));
                    assert!(!history.is_empty(), "what moved it is told");
                }
                other => panic!("{}: not refused: {other:?}", db.url()),
            }
        }
        // Started for a worker: refused before any job is recorded.
        let started = launch::start(
            &db.url(),
            &large,
            &ImportSettings::default(),
            &checked_at(large_at),
        );
        let message = match started {
            Err(e @ Error::StoreMoved { .. }) => e.to_string(),
            other => panic!("not refused: {other:?}"),
        };
        assert!(
            message.contains(&format!("revision {large_at}, now {moved_to}"))
                && message.contains("check the file again"),
            "{message}"
        );
        assert_eq!(db.users(), 3, "only the other file's users");
        assert!(jobs::list(&db.store()).unwrap().is_empty());
        // Checked again, it applies.
        let now = db.check(&small);
        let applied = db.apply(&small, &checked_at(now)).unwrap();
        assert_eq!((applied.results.created, applied.job.is_none()), (5, true));
    }
}

#[test]
fn a_started_job_has_its_id_at_once_runs_on_a_worker_and_stops_when_asked() {
    for db in Db::all() {
        let file = db.file("big", 60);
        let at = db.check(&file);
        let (applied, worker) = db.start_job(&file, at);
        let job = applied.job.as_ref().expect("the job").job.clone();
        assert_eq!((job.id, job.status), (worker.id(), JobStatus::Running));
        assert_eq!((job.rows_done, job.spec.rows_total), (0, 60));
        // Another connection sees it running (its worker holds it), and
        // cannot resume it beside the worker.
        assert_eq!(
            jobs::get(&db.store(), job.id).unwrap().status,
            JobStatus::Running
        );
        assert!(jobs::resume(&mut db.store(), job.id, 10, &mut |_| true).is_err());
        assert_eq!(db.users(), 0, "nothing written before the worker runs");

        // The worker, on its own thread, stopped by its progress callback
        // after two batches.
        let mut seen = Vec::new();
        let stopped = std::thread::spawn(move || {
            let ran = worker.run(&mut |p| {
                seen.push(p.rows_written);
                p.rows_written < 20
            });
            (ran, seen)
        })
        .join()
        .unwrap();
        let (ran, seen) = stopped;
        assert!(ran.is_err(), "stopped");
        assert_eq!(seen.last(), Some(&20), "{seen:?}");
        let record = jobs::get(&db.store(), job.id).unwrap();
        assert_eq!(
            (record.status, record.rows_done),
            (JobStatus::Cancelled, 20)
        );
        assert_eq!(db.users(), 20);

        // Resumed through the library, from any connection, it finishes.
        let done = jobs::resume(&mut db.store(), job.id, 10, &mut |_| true).unwrap();
        assert_eq!((done.status, done.created), (JobStatus::Done, 60));
        assert_eq!(db.users(), 60);
    }
}

#[test]
fn a_job_whose_store_moves_before_its_worker_starts_writes_nothing_and_fails() {
    for db in Db::all() {
        let file = db.file("late", 40);
        let at = db.check(&file);
        let (_, worker) = db.start_job(&file, at);
        db.apply(&db.file("between", 2), &ApplyOptions::default())
            .unwrap();
        let id = worker.id();
        let refused = worker.run(&mut |_| true).unwrap_err();
        assert!(matches!(refused, Error::StoreMoved { checked, .. } if checked == at));
        let record = jobs::get(&db.store(), id).unwrap();
        assert_eq!((record.status, record.rows_done), (JobStatus::Failed, 0));
        assert!(
            record
                .error
                .as_deref()
                .is_some_and(|e| e.contains("the store changed since the file was checked")),
            "{record:?}"
        );
        assert_eq!(db.users(), 2);
    }
}

#[test]
fn a_started_file_with_errors_records_nothing() {
    for db in Db::all() {
        let path = db.dir().join("bad.csv");
        let mut text = String::from("Login ID,Name,Email address\n");
        for i in 0..30 {
            text.push_str(&format!("bad{i},User {i},not-an-email\n"));
        }
        std::fs::write(&path, text).unwrap();
        let started =
            launch::start(&db.url(), &path, &ImportSettings::default(), &checked_at(0)).unwrap();
        let Started::Refused(applied) = started else {
            panic!("started a file with errors")
        };
        assert_eq!(applied.summary.errors, 30);
        assert!(jobs::list(&db.store()).unwrap().is_empty());
        assert_eq!(db.users(), 0);
    }
}

#[test]
fn a_started_job_is_cancelled_from_another_connection_at_its_next_batch() {
    for db in Db::all() {
        let file = db.file("far", 60);
        let at = db.check(&file);
        let (_, worker) = db.start_job(&file, at);
        let id = worker.id();
        let (batch_done, wait) = std::sync::mpsc::channel();
        let (go_on, proceed) = std::sync::mpsc::channel::<()>();
        let running = std::thread::spawn(move || {
            let mut first = true;
            // The callback never stops the job itself: only the store's
            // cancel request can.
            worker.run(&mut |p| {
                if p.rows_written > 0 && std::mem::take(&mut first) {
                    let _ = batch_done.send(());
                    let _ = proceed.recv();
                }
                true
            })
        });
        // After its first batch, another connection (a CLI, another
        // server) asks the job to stop.
        wait.recv().unwrap();
        let asked = jobs::cancel(&mut db.store(), id).unwrap();
        assert!(asked.cancel_requested, "{asked:?}");
        go_on.send(()).unwrap();
        assert!(running.join().unwrap().is_err(), "stopped");
        let record = jobs::get(&db.store(), id).unwrap();
        assert_eq!(record.status, JobStatus::Cancelled, "{record:?}");
        assert!(record.rows_done < 60, "{record:?}");
        assert_eq!(db.users(), record.rows_done);
    }
}

#[test]
fn a_started_job_stopped_while_its_file_is_checked_is_cancelled() {
    for db in Db::all() {
        let file = db.file("early", 60);
        let at = db.check(&file);
        let (_, worker) = db.start_job(&file, at);
        let id = worker.id();
        // Stopped at the first word of its worker: the file is being
        // checked again, nothing is written yet.
        let ran = std::thread::spawn(move || worker.run(&mut |p| p.phase != Phase::Checking))
            .join()
            .unwrap();
        assert!(
            matches!(ran, Err(Error::Stopped { job }) if job == id),
            "{ran:?}"
        );
        let record = jobs::get(&db.store(), id).unwrap();
        assert_eq!(
            (record.status, record.rows_done),
            (JobStatus::Cancelled, 0),
            "{record:?}"
        );
        assert_eq!(
            jobs::list(&db.store()).unwrap()[0].status,
            JobStatus::Cancelled
        );
        assert_eq!(db.users(), 0);
        let done = jobs::resume(&mut db.store(), id, 10, &mut |_| true).unwrap();
        assert_eq!((done.status, done.created), (JobStatus::Done, 60));
    }
}

#[test]
fn a_started_job_cancelled_before_its_worker_runs_writes_nothing() {
    for db in Db::all() {
        let file = db.file("soon", 60);
        let at = db.check(&file);
        let (_, worker) = db.start_job(&file, at);
        let id = worker.id();
        // Asked to stop from another connection while the frontend's
        // answer is on its way, before the worker wrote anything.
        let asked = jobs::cancel(&mut db.store(), id).unwrap();
        assert_eq!(
            (asked.status, asked.cancel_requested),
            (JobStatus::Running, true)
        );
        let ran = std::thread::spawn(move || worker.run(&mut |_| true))
            .join()
            .unwrap();
        assert!(
            matches!(ran, Err(Error::Stopped { job }) if job == id),
            "{ran:?}"
        );
        let record = jobs::get(&db.store(), id).unwrap();
        assert_eq!(
            (record.status, record.rows_done, record.cancel_requested),
            (JobStatus::Cancelled, 0, false),
            "{record:?}"
        );
        assert_eq!(db.users(), 0, "nothing written");
    }
}
