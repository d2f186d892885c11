//! The stores the CLI's job and outbox tests run against: a SQLite file, and
//! a fresh schema on the PostgreSQL server named by `USERIMPORT_TEST_POSTGRES`
//! (skipped, saying so, when it is not set; a failure when `CI=true`).
//! Included by those tests with `#[path]`; as a test target of its own it
//! holds no test.

#![allow(dead_code)]

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable holding the PostgreSQL server's URL.
pub const POSTGRES_VAR: &str = "USERIMPORT_TEST_POSTGRES";

/// One test's store: its `--db` URL, and what to clean up.
pub enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite { dir: tempfile::TempDir },
    /// A schema on the test server.
    Postgres { base: String, schema: String },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The server URL, or `None` (after saying so once) when the PostgreSQL
/// tests are skipped. Panics in CI, where the server must be there.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "{POSTGRES_VAR} is not set in CI: the PostgreSQL tests must run (.ci/run starts the server and sets it)"
                );
            }
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the terminal: the harness captures `eprintln!`.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: PostgreSQL tests SKIPPED: {POSTGRES_VAR} is not set. Set it to a server URL (postgres://user:password@127.0.0.1/db) to run them; .ci/run does.\n"
                );
            });
            None
        }
    }
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A fresh schema; `None` when the PostgreSQL tests are skipped.
    pub fn postgres() -> Option<TestDb> {
        let base = postgres_url()?;
        let schema = format!(
            "c{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        psql(&base, &format!("CREATE SCHEMA {schema}"));
        Some(TestDb::Postgres { base, schema })
    }

    /// The `--db` URL.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir } => format!("sqlite://{}", dir.path().join("users.db").display()),
            TestDb::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }

    /// Every byte the store holds (the SQLite file and its WAL; `pg_dump`).
    pub fn dump(&self) -> Vec<u8> {
        match self {
            TestDb::Sqlite { dir } => {
                let mut bytes = Vec::new();
                for name in ["users.db", "users.db-wal"] {
                    if let Ok(b) = std::fs::read(dir.path().join(name)) {
                        bytes.extend(b);
                    }
                }
                bytes
            }
            TestDb::Postgres { base, schema } => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--schema", schema, "--dbname", base])
                    .output()
                    .expect("run pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }
}

impl TestDb {
    /// A new, empty store of the same backend.
    pub fn like(other: &TestDb) -> TestDb {
        match other {
            TestDb::Sqlite { .. } => TestDb::sqlite(),
            TestDb::Postgres { .. } => TestDb::postgres().expect("the server is there"),
        }
    }

    /// The PostgreSQL schema, if this is one.
    pub fn schema(&self) -> Option<&str> {
        match self {
            TestDb::Sqlite { .. } => None,
            TestDb::Postgres { schema, .. } => Some(schema),
        }
    }

    /// Runs SQL in the store's database (its schema first on the path).
    pub fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.path().join("users.db")).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            TestDb::Postgres { base, schema } => {
                psql(base, &format!("SET search_path TO {schema}; {sql}"));
            }
        }
    }

    /// The first column of the first row of a query, as text.
    pub fn query(&self, sql: &str) -> String {
        match self {
            TestDb::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.path().join("users.db")).unwrap();
                let value: rusqlite::types::Value = conn.query_row(sql, [], |r| r.get(0)).unwrap();
                match value {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                }
            }
            TestDb::Postgres { base, schema } => {
                let out = std::process::Command::new("psql")
                    .args(["-qtA", "-v", "ON_ERROR_STOP=1", "-d", base, "-c"])
                    .arg(format!("SET search_path TO {schema}; {sql}"))
                    .output()
                    .expect("run psql");
                assert!(out.status.success(), "psql: {sql}");
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            }
        }
    }
}

fn psql(url: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run psql");
    assert!(status.success(), "psql failed: {sql}");
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { base, schema } = self {
            let _ = std::process::Command::new("psql")
                .args([
                    "-q",
                    "-d",
                    base,
                    "-c",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Instantiates each `fn name(db: &TestDb)` twice: `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::backend::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(db) = super::backend::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}
