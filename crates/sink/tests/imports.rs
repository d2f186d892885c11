//! What a frontend keeps in the store ([`ImportStore`]), on a real SQLite
//! file and on the real PostgreSQL server (`USERIMPORT_TEST_POSTGRES`, a
//! fresh schema; skipped, saying so, without it): checked imports read
//! back from another connection, applied once only, their results,
//! expiry, sign-in failures, and one apply lock per store.

mod backends;

use backends::{Backend, Postgres, Sqlite};
use userimport_sink::{ImportApplied, ImportStore, Outcome, RowResult, StoredImport};

fn import(id: &str, expires_at: &str) -> StoredImport {
    StoredImport::new(
        id,
        "admin",
        "users.csv",
        r#"{"profile":"standard"}"#,
        &format!("/tmp/uploads/{id}.upload"),
        r#"{"summary":{"create":2}}"#,
        7,
        expires_at,
    )
}

fn row(row: u64, outcome: Outcome, id: Option<i64>) -> RowResult {
    RowResult {
        line: row + 1,
        row,
        outcome,
        id,
        reason: (outcome == Outcome::Failed).then(|| "email.invalid: no @".to_string()),
    }
}

fn imports_are_kept_applied_once_and_expire<B>(backend: &B)
where
    B: Backend,
    B::Store: ImportStore,
{
    let mut writer = backend.open();
    writer
        .save_import(&import("a1", "2999-01-01T00:00:00Z"))
        .unwrap();
    writer
        .save_import(&import("old", "2000-01-01T00:00:00Z"))
        .unwrap();
    writer
        .save_import(&import("job", "2000-01-01T00:00:00Z"))
        .unwrap();

    let reader = backend.open();
    let found = reader.import("a1").unwrap().expect("stored");
    let mut expected = import("a1", "2999-01-01T00:00:00Z");
    expected.created_at = found.created_at.clone(); // made a moment apart
    assert_eq!(found, expected);
    assert!(!found.is_applied());
    assert!(reader.import("nope").unwrap().is_none());

    let results = [
        row(2, Outcome::Failed, None),
        row(1, Outcome::Created, Some(10)),
    ];
    let applied = ImportApplied::Now {
        outcome: r#"{"created":1}"#,
        results: &results,
    };
    assert!(writer.mark_import_applied("a1", applied).unwrap());
    assert!(
        !backend
            .open()
            .mark_import_applied("a1", ImportApplied::Job(3))
            .unwrap(),
        "applied once only"
    );
    let found = reader.import("a1").unwrap().unwrap();
    assert!(found.is_applied());
    assert_eq!(found.applied_outcome.as_deref(), Some(r#"{"created":1}"#));
    assert_eq!(found.applied_job, None);
    let read = reader.import_results("a1").unwrap();
    assert_eq!(
        read.iter().map(|r| r.row).collect::<Vec<_>>(),
        [1, 2],
        "in row order"
    );
    assert_eq!(read[1].reason.as_deref(), Some("email.invalid: no @"));
    assert!(
        writer
            .mark_import_applied("job", ImportApplied::Job(3))
            .unwrap()
    );

    // Only unapplied imports expire.
    let expired = writer.expire_imports("2026-12-01T00:00:00Z").unwrap();
    assert_eq!(
        expired.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["old"]
    );
    assert!(reader.import("old").unwrap().is_none());
    assert!(reader.import("job").unwrap().is_some());

    let gone = writer.delete_import("a1").unwrap().expect("was there");
    assert_eq!(gone.file, "/tmp/uploads/a1.upload");
    assert!(reader.import_results("a1").unwrap().is_empty());
    assert!(writer.delete_import("a1").unwrap().is_none());
}

fn sign_in_failures_are_counted_per_key_in_the_window<B>(backend: &B)
where
    B: Backend,
    B::Store: ImportStore,
{
    let mut first = backend.open();
    let second = backend.open();
    let keys = ["account:admin", "address:127.0.0.1"];
    first
        .record_sign_in_failure(&keys, "2026-12-01T10:00:00Z", "2026-12-01T09:45:00Z")
        .unwrap();
    first
        .record_sign_in_failure(&keys[..1], "2026-12-01T10:05:00Z", "2026-12-01T09:50:00Z")
        .unwrap();
    assert_eq!(
        second
            .sign_in_failures("account:admin", "2026-12-01T09:50:00Z")
            .unwrap(),
        2
    );
    assert_eq!(
        second
            .sign_in_failures("address:127.0.0.1", "2026-12-01T09:50:00Z")
            .unwrap(),
        1
    );
    assert_eq!(
        second
            .sign_in_failures("account:admin", "2026-12-01T10:01:00Z")
            .unwrap(),
        1,
        "only failures in the window count"
    );
    // Old failures are forgotten as new ones come.
    first
        .record_sign_in_failure(&keys[1..], "2026-12-01T11:00:00Z", "2026-12-01T10:45:00Z")
        .unwrap();
    assert_eq!(
        second
            .sign_in_failures("account:admin", "2000-01-01T00:00:00Z")
            .unwrap(),
        0
    );
}

fn one_apply_lock_per_store<B>(backend: &B)
where
    B: Backend,
    B::Store: ImportStore,
{
    let mut first = backend.open();
    let mut second = backend.open();
    let held = first.try_apply_lock().unwrap().expect("free at first");
    assert!(
        second.try_apply_lock().unwrap().is_none(),
        "another connection is refused"
    );
    first.release_apply_lock(held).unwrap();
    let again = second.try_apply_lock().unwrap();
    assert!(again.is_some(), "free once the holder let go");
    assert!(first.try_apply_lock().unwrap().is_none(), "held again");
}

#[test]
fn sqlite_keeps_imports_failures_and_the_apply_lock() {
    let sqlite = Sqlite::fresh();
    imports_are_kept_applied_once_and_expire(&sqlite);
    sign_in_failures_are_counted_per_key_in_the_window(&sqlite);
    one_apply_lock_per_store(&sqlite);
}

#[test]
fn postgres_keeps_imports_failures_and_the_apply_lock() {
    let Some(postgres) = Postgres::fresh() else {
        return;
    };
    imports_are_kept_applied_once_and_expire(&postgres);
    sign_in_failures_are_counted_per_key_in_the_window(&postgres);
    one_apply_lock_per_store(&postgres);
}
