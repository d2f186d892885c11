//! The SQLite store's bulk load (`Sink::begin_bulk_load`): a large first
//! import into an empty store written through the rollback journal rather
//! than the WAL, on a real file.

use std::path::{Path, PathBuf};

use userimport_plan::{Directory, EmptyDirectory, Plan, PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{Error, Sink, SqliteSink};
use userimport_validate::{Cell, Row, Secret};

mod backends;

use backends::write_batch as write;

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdefghijklmnopqrstuvwxyzABCDE";

/// `n` new users from `first` on, each about 1 KB, so that a few
/// thousand overflow the store's 16 MiB page cache and spill to the file.
fn users(first: u64, n: u64) -> Vec<Row> {
    let profile = Profile::standard();
    let long = "x".repeat(700);
    (first..first + n)
        .map(|i| {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            for (key, cell) in [
                ("login_id", Cell::Value(format!("user{i:06}"))),
                ("name", Cell::Value(format!("User {i} {long}"))),
                ("email", Cell::Value(format!("user{i:06}@example.com"))),
                ("password_hash", Cell::Secret(Secret::new(HASH))),
            ] {
                cells[profile.column_index(key).expect("column")] = cell;
            }
            Row {
                line: i + 1,
                row: i,
                cells,
                valid: true,
            }
        })
        .collect()
}

fn plan(store: &impl Directory, rows: Vec<Row>) -> Plan {
    let plan = Planner::plan_rows(&Profile::standard(), PlanOptions::default(), rows, store)
        .expect("plan");
    assert!(plan.is_clean(), "{:?}", plan.issues);
    plan
}

/// The file beside the store with `suffix` (`-journal`, `-wal`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// What another connection finds: journal mode, users, integrity.
fn inspect(path: &Path) -> (String, i64, String) {
    let conn = rusqlite::Connection::open(path).expect("open");
    let mode = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    let users = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .expect("count");
    let integrity = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    (mode, users, integrity)
}

fn snapshot(store: &SqliteSink) -> EmptyDirectory {
    EmptyDirectory::new(store.revision().unwrap(), store.groups().unwrap())
}

#[test]
fn a_load_into_an_empty_store_is_written_once_through_the_rollback_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let mut store = SqliteSink::open(&path).unwrap();
    let empty_size = std::fs::metadata(&path).unwrap().len();
    assert!(
        store.begin_bulk_load().unwrap(),
        "an empty store loads in bulk"
    );
    assert!(
        !beside(&path, "-wal").exists(),
        "the WAL is checkpointed away"
    );

    // Held: the pages that spill go straight into the database file, with
    // the rollback journal beside it to take them back.
    let first = plan(&snapshot(&store), users(1, 20_000));
    let held = write(&mut store, &first, 0, true);
    assert!(held.held && held.created == 20_000, "{held:?}");
    assert!(beside(&path, "-journal").exists());
    assert!(
        std::fs::metadata(&path).unwrap().len() > empty_size + (4 << 20),
        "spilled pages are written in place"
    );
    assert!(
        !beside(&path, "-wal").exists(),
        "nothing goes through a WAL"
    );

    // Committed with the last batch: back in WAL mode, every user there.
    let second = plan(&store, users(20_001, 100));
    let done = write(&mut store, &second, held.revision, false);
    assert!(done.committed, "{done:?}");
    assert!(!beside(&path, "-journal").exists());
    assert_eq!(
        inspect(&path),
        ("wal".to_string(), 20_100, "ok".to_string())
    );
    assert_eq!(store.user_count().unwrap(), 20_100);

    // The store is no longer empty: later applies write through the WAL.
    assert!(!store.begin_bulk_load().unwrap());
    let third = plan(&store, users(30_000, 10));
    let more = write(&mut store, &third, done.revision, false);
    assert!(more.committed && more.created == 10);
    assert_eq!(inspect(&path).1, 20_110);
}

#[test]
fn a_rolled_back_load_leaves_the_store_empty_and_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let mut store = SqliteSink::open(&path).unwrap();
    assert!(store.begin_bulk_load().unwrap());
    let load = plan(&snapshot(&store), users(1, 20_000));
    assert!(write(&mut store, &load, 0, true).held);
    store.rollback().unwrap();
    assert!(!beside(&path, "-journal").exists());
    assert_eq!(store.user_count().unwrap(), 0);
    assert_eq!(store.revision().unwrap(), 0);
    assert_eq!(inspect(&path), ("wal".to_string(), 0, "ok".to_string()));
    // And it loads in bulk again.
    assert!(store.begin_bulk_load().unwrap());
    let done = write(&mut store, &load, 0, false);
    assert!(done.committed && done.created == 20_000);
    assert_eq!(inspect(&path).1, 20_000);
}

#[test]
fn a_bulk_load_is_refused_while_the_store_has_users_or_other_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let mut store = SqliteSink::open(&path).unwrap();
    // Another connection keeps the store in WAL mode (it could be reading).
    let other = SqliteSink::open_existing(&path).unwrap();
    assert_eq!(other.user_count().unwrap(), 0);
    assert!(!store.begin_bulk_load().unwrap());
    // Nothing is left open: a write commits on its own.
    let some = plan(&store, users(1, 3));
    assert!(write(&mut store, &some, 0, false).committed);
    assert_eq!(other.user_count().unwrap(), 3);
    drop(other);
    // Alone now, but no longer empty.
    assert!(!store.begin_bulk_load().unwrap());
    assert_eq!(inspect(&path).0, "wal");
    // A store in memory has no file to load into.
    let mut memory = SqliteSink::open_in_memory().unwrap();
    assert!(!memory.begin_bulk_load().unwrap());
    // Nor does a store opened for reading.
    let mut reader = SqliteSink::open_existing(&path).unwrap();
    assert!(matches!(reader.begin_bulk_load(), Err(Error::ReadOnly)));
}

#[test]
fn a_reader_arriving_during_a_bulk_load_is_told_why_it_waited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let mut store = SqliteSink::open(&path).unwrap();
    assert!(store.begin_bulk_load().unwrap());
    let load = plan(&snapshot(&store), users(1, 20_000));
    let held = write(&mut store, &load, 0, true);
    assert!(held.held);
    // The load has spilled: nobody may read until it ends (the wait is the
    // store's busy timeout).
    let refused = SqliteSink::open_existing(&path).unwrap_err();
    assert!(matches!(refused, Error::Busy(_)), "{refused:?}");
    assert!(refused.to_string().contains("loading in bulk"), "{refused}");
    // The live load was left alone, and commits.
    let last = plan(&store, users(20_001, 1));
    let done = write(&mut store, &last, held.revision, false);
    assert!(done.committed, "{done:?}");
    assert_eq!(inspect(&path).1, 20_001);
}
