//! The two real backends the shared suite runs against: a SQLite file in a
//! temporary directory, and a fresh schema on the PostgreSQL server named by
//! `USERIMPORT_TEST_POSTGRES` (skipped, saying so, when it is not set;
//! a failure when `CI=true`).

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use userimport_sink::{Error, Jobs, Outbox, PostgresSink, Sink, SqliteSink};

/// The variable holding the PostgreSQL server's URL.
pub const POSTGRES_VAR: &str = "USERIMPORT_TEST_POSTGRES";

/// A store as the suite sees it.
pub trait TestStore: Jobs<Error = Error> + Outbox {
    /// The stored password hash of a user.
    fn hash_of(&self, id: i64) -> Option<String>;
}

impl TestStore for SqliteSink {
    fn hash_of(&self, id: i64) -> Option<String> {
        self.password_hash(id).expect("password hash")
    }
}

impl TestStore for PostgresSink {
    fn hash_of(&self, id: i64) -> Option<String> {
        self.password_hash(id).expect("password hash")
    }
}

/// Where a test's store lives; [`Backend::open`] may be called again to
/// reopen the same store.
pub trait Backend {
    /// The store type.
    type Store: TestStore;
    /// Opens (creating and migrating) this test's store.
    fn open(&self) -> Self::Store;
    /// Every byte the store holds, for grepping (file bytes; `pg_dump`).
    fn dump(&self) -> Vec<u8>;
}

/// A SQLite file in a temporary directory.
pub struct Sqlite {
    pub dir: tempfile::TempDir,
}

impl Sqlite {
    pub fn fresh() -> Self {
        Sqlite {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("users.db")
    }
}

impl Backend for Sqlite {
    type Store = SqliteSink;

    fn open(&self) -> SqliteSink {
        SqliteSink::open(self.path()).expect("open sqlite store")
    }

    fn dump(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let mut name = self.path().into_os_string();
            name.push(suffix);
            if let Ok(b) = std::fs::read(&name) {
                bytes.extend(b);
            }
        }
        bytes
    }
}

/// The server URL, or `None` (after saying so once) when the PostgreSQL
/// tests are skipped. Panics in CI, where the server must be there.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            if ci {
                panic!(
                    "{POSTGRES_VAR} is not set in CI: the PostgreSQL tests must run (.ci/run starts the server and sets it)"
                );
            }
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the terminal: the test harness captures
                // `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: PostgreSQL tests SKIPPED: {POSTGRES_VAR} is not set. Set it to a server URL (postgres://user:password@127.0.0.1/db) to run them; .ci/run does.\n"
                );
            });
            None
        }
    }
}

/// A fresh schema on the test server, dropped at the end of the test.
pub struct Postgres {
    pub base: String,
    pub schema: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Postgres {
    /// A new, empty schema; `None` when the PostgreSQL tests are skipped.
    pub fn fresh() -> Option<Self> {
        let base = postgres_url()?;
        let schema = format!(
            "t{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_VAR}: {e}"));
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
        Some(Postgres { base, schema })
    }

    /// The URL of this test's schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.base, self.schema
        )
    }

    pub fn open_read_only(&self) -> PostgresSink {
        PostgresSink::open_existing(&self.url()).expect("open postgres read-only")
    }

    /// True when the schema holds any table.
    pub fn has_tables(&self) -> bool {
        let mut client = postgres::Client::connect(&self.base, postgres::NoTls).expect("connect");
        let n: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&self.schema],
            )
            .expect("count tables")
            .get(0);
        n > 0
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}

impl Backend for Postgres {
    type Store = PostgresSink;

    fn open(&self) -> PostgresSink {
        PostgresSink::open(&self.url()).expect("open postgres store")
    }

    fn dump(&self) -> Vec<u8> {
        let out = std::process::Command::new("pg_dump")
            .arg("--schema")
            .arg(&self.schema)
            .arg("--dbname")
            .arg(&self.base)
            .output()
            .expect("run pg_dump");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// Instantiates each generic test `fn name<B: Backend>(b: &B)` twice: in
/// `sqlite::name` and `postgres::name`.
#[allow(unused_macros)] // bulk_load.rs is SQLite-only
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::backends::Sqlite::fresh());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(b) = super::backends::Postgres::fresh() {
                        super::$name(&b);
                    }
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both_backends;

/// Writes `plan`'s changes as one all-or-nothing batch, held or committed.
pub fn write_batch(
    store: &mut impl Sink<Error = Error>,
    plan: &userimport_plan::Plan,
    expected_revision: u64,
    hold: bool,
) -> userimport_sink::ApplyOutcome {
    try_write_batch(store, plan, expected_revision, hold).expect("write")
}

/// [`write_batch`], returning the store's error.
pub fn try_write_batch(
    store: &mut impl Sink<Error = Error>,
    plan: &userimport_plan::Plan,
    expected_revision: u64,
    hold: bool,
) -> Result<userimport_sink::ApplyOutcome, Error> {
    let passwords = userimport_sink::prepare_passwords(&plan.changes).expect("passwords");
    let creates = userimport_sink::prepare_creates(&plan.changes);
    let batch = userimport_sink::Batch {
        expected_revision,
        changes: &plan.changes,
        passwords: &passwords,
        create_groups: &plan.created_groups,
        all_or_nothing: true,
        job: None,
        invite: None,
        creates: &creates,
        hold,
    };
    store.write(&batch, &mut |_| true)
}
