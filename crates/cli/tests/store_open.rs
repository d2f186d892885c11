//! Opening stores: two first imports at once, a database of another
//! application, a PostgreSQL schema of the store's own, a refused password,
//! a locked store, and read-only commands in a folder they cannot write.
//! Each refusal leaves the database as it was and says what happened.

#[path = "postgres_backend.rs"]
mod backend;

use std::path::Path;
use std::process::{Command, Output};

use backend::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

fn userimport(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("USERIMPORT_DB")
        .output()
        .expect("run userimport");
    result(out, args)
}

fn result(out: Output, args: &[&str]) -> (i32, String, String) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn users_file(dir: &Path, name: &str, prefix: &str, n: usize) -> String {
    let mut text = String::from("login_id,name,email,password\n");
    for i in 0..n {
        text.push_str(&format!(
            "{prefix}{i},User {i},{prefix}{i}@example.com,Secret-{prefix}-{i}-2026\n"
        ));
    }
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

fn export(dir: &Path, db: &str) -> String {
    let (code, out, err) = userimport(dir, &["export", "--db", db, "--charset", "utf-8"]);
    assert_eq!(code, 0, "{err}");
    out
}

/// Two first imports into a store that does not exist yet, at once: each
/// applies (one waits for the other), or says the store is busy (or moved
/// under its plan); never "already exists", and the store holds exactly
/// the files that applied.
fn two_first_imports_at_once(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let a = users_file(dir, "a.csv", "a", 3);
    let b = users_file(dir, "b.csv", "b", 3);
    let url = db.url();
    let spawn = |file: &str| {
        Command::new(BIN)
            .args(["apply", file, "--db", &url])
            .current_dir(dir)
            .output()
            .expect("run")
    };
    let (first, second) = std::thread::scope(|s| {
        let one = s.spawn(|| spawn(&a));
        let two = s.spawn(|| spawn(&b));
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut applied = 0;
    for (out, file) in [(first, "a.csv"), (second, "b.csv")] {
        let (code, stdout, stderr) = result(out, &[file]);
        assert!(!stderr.contains("already exists"), "{file}: {stderr}");
        match code {
            0 => applied += 1,
            // Busy, or planned against the empty store while the other
            // committed: refused before writing, saying to plan again.
            2 => assert!(
                stderr.contains("locked by another connection")
                    || stderr.contains("changed since the plan was made"),
                "{file}: {stderr}"
            ),
            _ => panic!("{file}: exit {code}: {stdout}{stderr}"),
        }
    }
    assert!(applied >= 1);
    let listed = export(dir, &url);
    assert_eq!(listed.lines().count(), 1 + 3 * applied, "{listed}");
}

/// A database holding another application's tables gets the store's only
/// when asked; a table of the store's name says so.
fn a_foreign_database_needs_an_explicit_option(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let url = db.url();
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT); INSERT INTO orders VALUES (1, 'tea')");
    let before = dump(db);
    for args in [
        vec!["groups", "add", "Sales", "--db", &url],
        vec!["apply", "a.csv", "--db", &url],
    ] {
        users_file(dir, "a.csv", "a", 2);
        let (code, _, err) = userimport(dir, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("table(s) of another application (orders)")
                && err.contains("--init-foreign-db"),
            "{args:?}: {err}"
        );
        assert!(dump(db) == before, "{args:?}: the database changed");
    }
    // Read-only commands see an empty store and create nothing.
    let (code, out, err) = userimport(dir, &["export", "--db", &url]);
    assert_eq!((code, out.lines().count()), (0, 1), "{err}");
    assert!(dump(db) == before, "export changed the database");
    let (code, _, err) = userimport(
        dir,
        &["groups", "add", "Sales", "--db", &url, "--init-foreign-db"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = userimport(dir, &["groups", "--db", &url]);
    assert!(code == 0 && out.contains("Sales"), "{out}");
    assert_eq!(db.query("SELECT item FROM orders"), "tea");

    // Another application's `users` table: a message that says so.
    let other = TestDb::like(db);
    other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT)");
    let other_url = other.url();
    let (code, _, err) = userimport(
        dir,
        &[
            "groups",
            "add",
            "Sales",
            "--db",
            &other_url,
            "--init-foreign-db",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("already exists") && err.contains("not made by userimport"),
        "{err}"
    );
}

/// What the database holds (pg_dump's per-run `\restrict` key left out).
fn dump(db: &TestDb) -> Vec<u8> {
    let bytes = db.dump();
    if db.schema().is_none() {
        return bytes;
    }
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn both(name: &str, f: fn(&TestDb)) {
    let _ = name;
    f(&TestDb::sqlite());
    if let Some(db) = TestDb::postgres() {
        f(&db);
    }
}

#[test]
fn two_first_imports_into_a_new_store_wait_or_say_busy() {
    for _ in 0..4 {
        both("two", two_first_imports_at_once);
    }
}

#[test]
fn a_foreign_database_gets_the_store_only_when_asked() {
    both("foreign", a_foreign_database_needs_an_explicit_option);
}

#[test]
fn a_postgres_store_lives_in_a_schema_of_its_own() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // An application's own `users` table in the schema the URL points to.
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT); INSERT INTO users VALUES (7, 'app')");
    let schema = format!("{}_store", db.schema().unwrap());
    let url = format!("{}&schema={schema}", db.url());
    users_file(dir, "a.csv", "a", 3);
    let (code, _, err) = userimport(dir, &["check", "a.csv", "--db", &url]);
    assert_eq!(code, 0, "a schema not created yet reads as empty: {err}");
    let (code, out, err) = userimport(dir, &["apply", "a.csv", "--db", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(export(dir, &url).lines().count(), 4);
    // The application's table is untouched, and the store is in its schema.
    assert_eq!(db.query("SELECT login FROM users"), "app");
    assert_eq!(
        db.query(&format!("SELECT count(*) FROM {schema}.users")),
        "3"
    );
    db.execute(&format!("DROP SCHEMA {schema} CASCADE"));
    let (code, _, err) = userimport(
        dir,
        &[
            "check",
            "a.csv",
            "--db",
            &format!("{}&schema=a;b", db.url()),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("a schema name is letters"), "{err}");
}

#[test]
fn a_refused_postgres_password_is_said_and_never_shown() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = db.url();
    // The test URL is postgres://user:password@host:port/db?options=…
    let (scheme_user, rest) = base.split_once(':').unwrap();
    let user_part = rest.trim_start_matches("//");
    let (user, after) = user_part.split_once(':').unwrap();
    let (_, host_db) = after.split_once('@').unwrap();
    for url in [
        format!("{scheme_user}://{user}:Wrong-Pass-7731@{host_db}"),
        format!("{scheme_user}://{user}@{host_db}&password=Wrong-Pass-7731"),
    ] {
        for command in [&["export"][..], &["groups", "add", "X"][..]] {
            let mut args = command.to_vec();
            args.extend(["--db", &url]);
            let (code, out, err) = userimport(dir.path(), &args);
            assert_eq!(code, 2, "{args:?}");
            assert!(err.contains("refused the password"), "{args:?}: {err}");
            assert!(!format!("{out}{err}").contains("Wrong-Pass"), "{err}");
        }
    }
}

#[test]
fn a_locked_sqlite_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    users_file(dir, "a.csv", "a", 2);
    let (code, _, err) = userimport(dir, &["apply", "a.csv", "--db", "r.db"]);
    assert_eq!(code, 0, "{err}");
    let before = export(dir, "r.db");
    let lock = rusqlite::Connection::open(dir.join("r.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    users_file(dir, "b.csv", "b", 2);
    let (code, _, err) = userimport(dir, &["apply", "b.csv", "--db", "r.db"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("locked by another connection"), "{err}");
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert_eq!(export(dir, "r.db"), before);
}

/// `check` and `export` on a store in a folder this user cannot write:
/// they work, and leave no file behind.
#[test]
fn read_only_commands_work_in_a_read_only_folder_and_leave_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    std::fs::create_dir(&dir).unwrap();
    users_file(&dir, "a.csv", "a", 3);
    let (code, _, err) = userimport(&dir, &["apply", "a.csv", "--db", "r.db"]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(dir.join("r.db")).unwrap();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(), ["a.csv", "r.db"]);
    // Readable by all, written by its owner only; as root, the commands
    // run as another user (root writes anywhere).
    let root = unsafe_geteuid() == 0;
    for f in ["r.db", "a.csv"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(&dir).env_remove("USERIMPORT_DB");
        if root {
            cmd.uid(65534).gid(65534);
        }
        result(cmd.output().expect("run"), args)
    };
    let (code, out, err) = run(&["check", "a.csv", "--db", "r.db"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged 3"), "{out}");
    let (code, out, err) = run(&["export", "--db", "r.db"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert_eq!(listing(), ["a.csv", "r.db"]);
    // The same in a folder anyone may write (a shared drop folder): still
    // nothing left behind, no file of this user beside the owner's store.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, _, err) = run(&["export", "--db", "r.db"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listing(), ["a.csv", "r.db"]);
    // And by the owner: the files SQLite makes while reading are removed.
    let (code, _, err) = userimport(&dir, &["check", "a.csv", "--db", "r.db"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listing(), ["a.csv", "r.db"]);
    assert_eq!(std::fs::read(dir.join("r.db")).unwrap(), before);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn unsafe_geteuid() -> u32 {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() }
}
