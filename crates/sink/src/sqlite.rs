//! The embedded default store: one SQLite file.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use userimport_plan::{Directory, Lookup, StoredUser, fold};

use crate::engine::{
    Creates, GroupIds, Inserted, Invitation, KeyEdit, Refusal, Updates, WriteBackend,
};
use crate::job_lock::JobLocks;
use crate::jobs::{Job, JobSpec, JobStatus, JobStep, Jobs};
use crate::outbox::{Invite, Message, Outbox};
use crate::sink::{
    ApplyOutcome, Batch, Progress, Revision, RowResult, Sink, Transactional, now, rollback_held,
    write_held,
};
use crate::sqlite_bulk::BulkLoad;
use crate::store_errors::{BUSY_TIMEOUT, is_busy};
use crate::store_open::StoreOptions;
use crate::{Error, Result};

/// The schema, one entry per version; `PRAGMA user_version` says how many
/// have been applied. Never edit an entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: users with unique folded keys and member IDs never reused
    // (AUTOINCREMENT), attributes as one JSON object per user, groups,
    // memberships (keyed by user: removing a group scans them, which keeps
    // bulk writes one index lighter), roles, identities, the revision
    // counter and its history.
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('revision', 0);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        login TEXT,
        login_key TEXT UNIQUE,
        email TEXT,
        email_key TEXT UNIQUE,
        password_hash TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        first_login TEXT,
        last_login TEXT
    );
    CREATE TABLE attributes (
        user_id INTEGER PRIMARY KEY REFERENCES users (id),
        data TEXT NOT NULL
    );
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE memberships (
        user_id INTEGER NOT NULL REFERENCES users (id),
        group_id INTEGER NOT NULL REFERENCES groups (id),
        PRIMARY KEY (user_id, group_id)
    ) WITHOUT ROWID;
    CREATE TABLE roles (
        user_id INTEGER NOT NULL REFERENCES users (id),
        role TEXT NOT NULL,
        PRIMARY KEY (user_id, role)
    ) WITHOUT ROWID;
    CREATE TABLE identities (
        user_id INTEGER NOT NULL REFERENCES users (id),
        identity TEXT NOT NULL,
        PRIMARY KEY (user_id, identity)
    ) WITHOUT ROWID;
    CREATE TABLE revisions (
        revision INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        note TEXT NOT NULL
    );
    ",
    // 2: background jobs and their per-row results.
    crate::sqlite_jobs::MIGRATION,
    // 3: the invitation outbox and set-password token hashes.
    crate::sqlite_outbox::MIGRATION,
    // 4: attributes move into the users row (`data`, one JSON object, NULL
    // for none): a bulk create writes one table instead of two, and its
    // rows take their member IDs from AUTOINCREMENT, which spares SQLite a
    // statement journal (an explicit row ID may abort a statement).
    "
    ALTER TABLE users ADD COLUMN data TEXT;
    UPDATE users SET data = (SELECT data FROM attributes WHERE attributes.user_id = users.id);
    DROP TABLE attributes;
    ",
    // 5: the store's identity, a random number drawn once, so that a plan
    // made on one store is never applied to another at the same revision.
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', random() & 9223372036854775807);",
    // 6: a job can be asked to stop at its next batch boundary.
    crate::sqlite_jobs::MIGRATION_CANCEL,
    // 7: API tokens and browser sessions (the web frontend's sign-in).
    crate::sqlite_auth::MIGRATION,
    // 8: keys fold with NFKC (full-width ＢＯＳＳ is boss); look-alike keys
    // are found by their confusable skeleton (stored with the keys),
    // identities ignoring case and card IDs by value, each through an
    // index. `key_fold` and `key_skeleton` exist only while migrating
    // ([`register_functions`]): other programs may write the store.
    "
    UPDATE OR IGNORE users SET login_key = key_fold(login)
        WHERE login IS NOT NULL AND login_key IS NOT key_fold(login);
    UPDATE OR IGNORE users SET email_key = key_fold(email)
        WHERE email IS NOT NULL AND email_key IS NOT key_fold(email);
    ALTER TABLE users ADD COLUMN login_skeleton TEXT;
    ALTER TABLE users ADD COLUMN email_skeleton TEXT;
    UPDATE users SET login_skeleton = key_skeleton(login_key), email_skeleton = key_skeleton(email_key);
    CREATE INDEX users_login_skeleton ON users (login_skeleton);
    CREATE INDEX users_email_skeleton ON users (email_skeleton);
    CREATE INDEX identities_folded ON identities (lower(identity));
    CREATE INDEX users_card_id ON users (json_extract(data, '$.card_id'));
    ",
    // 9: the web frontend's checked imports, at-once results and sign-in failures.
    crate::sqlite_imports::MIGRATION,
    // 10: the card-ID index holds only the users whose stored JSON names
    // the key `card_id`, so the users of every other profile cost it no
    // JSON parse and no entry. Every attributes object the store writes
    // (`crate::json`, SQLite's JSON functions) spells its keys out without
    // escapes, so a user with a card ID always meets the condition.
    // Look-ups repeat it ([`CARD_ID_QUERY`]), which lets SQLite use the
    // index.
    "
    DROP INDEX IF EXISTS users_card_id;
    CREATE INDEX users_card_id ON users (json_extract(data, '$.card_id'))
        WHERE instr(data, '\"card_id\"') > 0;
    ",
    // 11: the same index under a condition SQLite tests in a fraction of
    // the time: `instr` compares at every byte of a user's JSON, while a
    // GLOB skips from one `c` to the next with `strcspn` (0.11 s -> 0.02 s
    // of CPU over 200k users). It holds a few more users than it must
    // (any JSON with `card_id"` in it); the look-up checks the value. A
    // bulk load still builds it after its rows: kept in place, SQLite's
    // inserts cost a third more CPU even when no row has a card.
    "
    DROP INDEX IF EXISTS users_card_id;
    CREATE INDEX users_card_id ON users (json_extract(data, '$.card_id'))
        WHERE data GLOB '*card_id\"*';
    ",
    // 12: a job's results stored as runs (`job_results.run`).
    crate::sqlite_jobs::MIGRATION_RUNS,
];

/// The SQL functions migration 6 uses: `key_fold(text)` folds a login ID
/// or e-mail as the planner does, `key_skeleton(text)` gives a folded key's
/// confusable skeleton. Both are deterministic and NULL for NULL.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("key_fold", 1, flags, |ctx| {
        Ok(ctx.get::<Option<String>>(0)?.map(|k| fold(&k)))
    })?;
    conn.create_scalar_function("key_skeleton", 1, flags, |ctx| {
        Ok(ctx
            .get::<Option<String>>(0)?
            .map(|k| userimport_validate::key_skeleton(&k)))
    })
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The users holding one of the card IDs `{}`, through the card-ID index:
/// the index's condition (migration 11) is repeated for SQLite to use it.
const CARD_ID_QUERY: &str = concat!(
    "SELECT id FROM users WHERE data GLOB '*card_id\"*'",
    " AND json_extract(data, '$.card_id') IN ({})"
);

/// How many keys go into one `IN (…)` list.
const IN_CHUNK: usize = 500;

/// A store in one SQLite file (WAL mode, or the rollback journal during a
/// bulk load): users with unique indexes on the folded login ID and e-mail
/// and their attributes, groups, memberships, roles, identities and the
/// revision counter. Writes are one transaction per applied plan, with
/// cached prepared statements.
#[derive(Debug)]
pub struct SqliteSink {
    pub(crate) conn: Connection,
    path: Option<PathBuf>,
    read_only: bool,
    /// A transaction is open with held batches (see `Batch::hold`).
    held: bool,
    /// A bulk load is under way (see [`Sink::begin_bulk_load`]).
    bulk: Option<BulkLoad>,
    /// The worker locks of the jobs this connection writes.
    job_locks: JobLocks,
}

/// Says who may hold the lock when opening a store timed out on it.
fn busy_on_open(path: &Path, e: Error) -> Error {
    match &e {
        Error::Sqlite(inner) if is_busy(inner) => Error::Busy(format!(
            "the store {} is locked by another connection (an apply writing, or a first import loading in bulk); try again once it is done",
            path.display()
        )),
        _ => e,
    }
}

fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 2);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push('?');
    }
    s
}

fn migrate(conn: &mut Connection, options: &StoreOptions) -> Result<()> {
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Migration(format!(
            "the store has schema version {version}, newer than this program's {SCHEMA_VERSION}"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    register_functions(conn)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again under the write lock: another connection (a second first
    // import) may have migrated while this one waited for it.
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    if version == 0 {
        crate::store_open::refuse_foreign_sqlite(&tx, options)?;
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// Slots of SQLite's per-connection allocator (lookaside) for the writing
/// connection: a multi-row create binds some 2,000 values, and SQLite
/// copies each into memory of its own. The default 100 slots run out at
/// once, and every copy then went through `malloc` and `free` under a
/// mutex: 18% of the writing thread's instructions in a first import.
/// 4,096 slots of up to 512 bytes hold a whole statement's values (keys,
/// hashes, attribute objects) in 2 MiB.
const LOOKASIDE_SLOTS: (i32, i32) = (512, 4_096);

/// Gives `conn` the lookaside slots of [`LOOKASIDE_SLOTS`]. Best effort:
/// SQLite refuses (and keeps its default) once the connection has used any.
fn enlarge_lookaside(conn: &Connection) {
    let (size, count) = LOOKASIDE_SLOTS;
    // SAFETY: `conn` is open and used on this thread; with a null buffer
    // SQLite allocates the slots itself and frees them with the connection.
    // The variadic arguments are the (void*, int, int) the option takes.
    let _ = unsafe {
        rusqlite::ffi::sqlite3_db_config(
            conn.handle(),
            rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
            std::ptr::null_mut::<std::ffi::c_void>(),
            std::ffi::c_int::from(size),
            std::ffi::c_int::from(count),
        )
    };
}

/// The page size of a store this program creates, in bytes.
const NEW_STORE_PAGE_SIZE: u32 = 16_384;

fn tune(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Look-ups use a handful of `IN (…)` statements of several sizes.
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint the WAL every 64 MiB instead of every 4 MiB: a bulk apply
    // rewrote the same index pages into the database at each checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    Ok(())
}

/// Why one change could not be written.
enum RowFail {
    /// A reason to report on the row.
    Reason(String),
    /// A store failure that stops the whole apply.
    Store(rusqlite::Error),
}

impl From<rusqlite::Error> for RowFail {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(err, msg) = &e
            && err.code == ErrorCode::ConstraintViolation
        {
            let msg = msg.as_deref().unwrap_or("");
            let reason = if msg.contains("login_key") {
                "login ID already used by another user".to_string()
            } else if msg.contains("email_key") {
                "e-mail already used by another user".to_string()
            } else {
                format!("refused by the store: {msg}")
            };
            return RowFail::Reason(reason);
        }
        RowFail::Store(e)
    }
}

/// Creates a missing store file with mode 0600 before SQLite opens it: the
/// store holds password hashes and personal data, and SQLite gives its
/// `-wal` and `-shm` files the database file's mode. Errors are left to
/// `Connection::open`, which reports them.
fn create_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let special = path
            .to_str()
            .is_some_and(|p| p == ":memory:" || p.starts_with("file:"));
        if !special && !path.exists() {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

impl SqliteSink {
    /// Opens (creating if needed) a store file and applies pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteSink::open_with(path, &StoreOptions::default())
    }

    /// [`SqliteSink::open`] with options: a file holding another
    /// application's tables gets the store's only with
    /// [`StoreOptions::init_foreign`].
    pub fn open_with(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self> {
        let path = path.as_ref();
        SqliteSink::open_writable(path, options).map_err(|e| busy_on_open(path, e))
    }

    fn open_writable(path: &Path, options: &StoreOptions) -> Result<Self> {
        create_private(path);
        let mut conn = Connection::open(path)?;
        enlarge_lookaside(&conn);
        // Wait for another connection's lock from the first statement on
        // (switching to WAL takes one too).
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Before anything changes the file (WAL mode included).
        crate::store_open::refuse_foreign_sqlite(&conn, options)?;
        // A new store's pages hold about 24 users instead of 6: a bulk load
        // splits and writes a quarter of the B-tree pages (1.59 s -> 1.24 s
        // for 200k users in benches/schema_floor.sh). Ignored by a file that
        // already has pages; only WAL mode must come after it.
        conn.pragma_update(None, "page_size", NEW_STORE_PAGE_SIZE)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        let _ = mode; // in-memory databases answer "memory"
        tune(&conn)?;
        migrate(&mut conn, options)?;
        Ok(SqliteSink {
            conn,
            path: Some(path.to_path_buf()),
            read_only: false,
            held: false,
            bulk: None,
            job_locks: JobLocks::default(),
        })
    }

    /// Opens a store for reading only (`check`, `plan`): never creates or
    /// migrates. A missing file is an empty store.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        SqliteSink::open_read_only(path).map_err(|e| busy_on_open(path, e))
    }

    fn open_read_only(path: &Path) -> Result<Self> {
        if !path.exists() {
            return SqliteSink::stand_in(path);
        }
        crate::sqlite_bulk::recover(path);
        let conn = crate::store_open::sqlite_reader(path, BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(64);
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            // An empty file: no schema yet, so no users.
            return SqliteSink::stand_in(path);
        }
        if version != SCHEMA_VERSION {
            return Err(Error::Migration(format!(
                "the store {} has schema version {version} and this program reads {SCHEMA_VERSION}; apply once to migrate it",
                path.display()
            )));
        }
        Ok(SqliteSink {
            conn,
            path: Some(path.to_path_buf()),
            read_only: true,
            held: false,
            bulk: None,
            job_locks: JobLocks::default(),
        })
    }

    /// The empty store a missing (or schema-less) file stands for: read
    /// only, and with no identity, since no store exists yet.
    fn stand_in(path: &Path) -> Result<Self> {
        let mut sink = SqliteSink::open_in_memory()?;
        sink.conn
            .execute("DELETE FROM meta WHERE key = 'store_id'", [])?;
        sink.read_only = true;
        sink.path = Some(path.to_path_buf());
        Ok(sink)
    }

    /// A private in-memory store (tests, embedding).
    pub fn open_in_memory() -> Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        tune(&conn)?;
        migrate(&mut conn, &StoreOptions::init_foreign(true))?;
        Ok(SqliteSink {
            conn,
            path: None,
            read_only: false,
            held: false,
            bulk: None,
            job_locks: JobLocks::default(),
        })
    }

    /// A job as read: `interrupted` when recorded running but no live
    /// worker holds its lock (see `jobs::observed`).
    fn observed(&self, job: Job) -> Result<Job> {
        crate::jobs::observed(
            job,
            |id| Ok(self.job_locks.is_live(self.path.as_deref(), id)?),
            |id| crate::sqlite_jobs::get(&self.conn, id),
        )
    }

    /// The file, if the store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// True when opened with [`SqliteSink::open_existing`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The stored password hash (PHC string) of a user.
    pub fn password_hash(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT password_hash FROM users WHERE id = ?", [id], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Loads users by member ID, with their attributes, groups, roles and
    /// identities, a few queries per 500 users.
    fn load_users(&self, ids: &[i64]) -> Result<Vec<StoredUser>> {
        let mut out: BTreeMap<i64, StoredUser> = BTreeMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let marks = placeholders(chunk.len());
            let params = rusqlite::params_from_iter(chunk.iter());
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT id, login, email, password_hash IS NOT NULL, created_at, updated_at, first_login, last_login, data FROM users WHERE id IN ({marks})"
            ))?;
            let mut rows = stmt.query(params)?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                let data = r
                    .get_ref(8)?
                    .as_str_or_null()
                    .map_err(|e| Error::Corrupt(format!("attributes of user {id}: {e}")))?;
                let attributes = match data {
                    Some(data) => serde_json::from_str(data)
                        .map_err(|e| Error::Corrupt(format!("attributes of user {id}: {e}")))?,
                    None => BTreeMap::new(),
                };
                out.insert(
                    id,
                    StoredUser {
                        id,
                        login: r.get(1)?,
                        email: r.get(2)?,
                        has_password: r.get(3)?,
                        created_at: r.get(4)?,
                        updated_at: r.get(5)?,
                        first_login: r.get(6)?,
                        last_login: r.get(7)?,
                        attributes,
                        ..StoredUser::default()
                    },
                );
            }
            drop(rows);
            let lists = [
                (
                    "SELECT m.user_id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id IN",
                    0,
                ),
                ("SELECT user_id, role FROM roles WHERE user_id IN", 1),
                (
                    "SELECT user_id, identity FROM identities WHERE user_id IN",
                    2,
                ),
            ];
            for (sql, which) in lists {
                let mut stmt = self.conn.prepare_cached(&format!("{sql} ({marks})"))?;
                let mut rows = stmt.query(rusqlite::params_from_iter(chunk.iter()))?;
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    let name: String = r.get(1)?;
                    if let Some(user) = out.get_mut(&id) {
                        crate::sink::attach_member(user, which, name);
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }

    fn revision_in(conn: &Connection) -> Result<u64> {
        let rev: i64 =
            conn.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
                r.get(0)
            })?;
        Ok(rev.max(0) as u64)
    }

    fn bump_in(conn: &Connection, outcome: &ApplyOutcome, note: &str) -> Result<u64> {
        conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'revision'",
            [],
        )?;
        let revision = SqliteSink::revision_in(conn)?;
        conn.execute(
            "INSERT INTO revisions (revision, at, created, updated, deleted, note) VALUES (?, ?, ?, ?, ?, ?)",
            params![
                revision as i64,
                now(),
                outcome.created as i64,
                outcome.updated as i64,
                outcome.deleted as i64,
                note
            ],
        )?;
        Ok(revision)
    }

    fn has_users(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }
}

/// The confusable skeleton of a folded key, for the skeleton columns.
fn skeleton_of(key: Option<&String>) -> Option<String> {
    key.map(|k| userimport_validate::key_skeleton(k))
}

/// The statements of the hot path (creating users), prepared once per write.
struct CreateStatements<'c> {
    user: rusqlite::Statement<'c>,
    membership: rusqlite::Statement<'c>,
    role: rusqlite::Statement<'c>,
    identity: rusqlite::Statement<'c>,
    /// The multi-row statements of [`bulk_sql`] for one run size, taken
    /// from the connection's cache once for the whole write rather than for
    /// each run: a statement given back to the cache has its bindings
    /// cleared (some 2,000 of them), only for the next run to bind them all
    /// again.
    bulk: Option<(usize, [rusqlite::CachedStatement<'c>; 2])>,
}

/// How many users one bulk statement inserts at most.
const BULK: usize = 256;

/// Runs of fewer creates than this are written row by row.
const MIN_BULK: usize = 8;

/// The multi-row statements of a bulk create, for `rows` rows. The users
/// take their member IDs from AUTOINCREMENT, in order: an explicit row ID
/// would make SQLite keep a statement journal (a copy of every page the
/// statement touches), as a row ID of the wrong type aborts the statement.
fn bulk_sql(rows: usize) -> [String; 2] {
    [
        // Numbered parameters: ?1 is the time stamp every row shares (bound
        // once), row k's eight values are ?(2 + 8k) to ?(9 + 8k).
        format!(
            "INSERT OR FAIL INTO users (login, login_key, email, email_key, password_hash, data, login_skeleton, email_skeleton, created_at, updated_at) VALUES {}",
            (0..rows)
                .map(|k| {
                    let b = 2 + 8 * k;
                    format!(
                        "(?{},?{},?{},?{},?{},?{},?{},?{},?1,?1)",
                        b,
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6,
                        b + 7
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES {}",
            values_list(rows, 2)
        ),
    ]
}

/// [`bulk_sql`], written once per run size: a bulk create asks for the
/// same size hundreds of times, and formatting some 2,000 numbered
/// placeholders each time was a few percent of the writing thread. Sizes
/// are at most [`BULK`], so the cache stays small.
fn bulk_sql_cached(rows: usize) -> std::sync::Arc<[String; 2]> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<usize, Arc<[String; 2]>>>> = OnceLock::new();
    match CACHE.get_or_init(Mutex::default).lock() {
        Ok(mut cache) => Arc::clone(
            cache
                .entry(rows)
                .or_insert_with(|| Arc::new(bulk_sql(rows))),
        ),
        Err(_) => Arc::new(bulk_sql(rows)),
    }
}

fn values_list(rows: usize, columns: usize) -> String {
    let one = format!("({})", placeholders(columns));
    vec![one; rows].join(",")
}

impl<'c> CreateStatements<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(CreateStatements {
            user: conn.prepare(
                "INSERT INTO users (login, login_key, email, email_key, password_hash, data, created_at, updated_at, login_skeleton, email_skeleton) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?,
            membership: conn
                .prepare("INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)")?,
            role: conn.prepare("INSERT OR IGNORE INTO roles (user_id, role) VALUES (?, ?)")?,
            identity: conn
                .prepare("INSERT OR IGNORE INTO identities (user_id, identity) VALUES (?, ?)")?,
            bulk: None,
        })
    }

    /// The users and memberships statements of a run of `rows` creates.
    fn bulk(
        &mut self,
        conn: &'c Connection,
        rows: usize,
    ) -> rusqlite::Result<&mut [rusqlite::CachedStatement<'c>; 2]> {
        let (_, statements) = match self.bulk.take().filter(|(size, _)| *size == rows) {
            Some(kept) => self.bulk.insert(kept),
            None => {
                let sql = bulk_sql_cached(rows);
                let statements = [conn.prepare_cached(&sql[0])?, conn.prepare_cached(&sql[1])?];
                self.bulk.insert((rows, statements))
            }
        };
        Ok(statements)
    }

    /// The roles and identities of the users `range` of `creates`, whose
    /// member IDs start at `first` (for the user at `range.start`).
    fn lists(
        &mut self,
        creates: &Creates<'_>,
        range: std::ops::Range<usize>,
        first: i64,
    ) -> rusqlite::Result<()> {
        let id = |k: usize| first + (k - range.start) as i64;
        for (k, role) in Creates::pairs_of(&creates.roles, range.clone()) {
            self.role.execute(params![id(*k), role])?;
        }
        for (k, identity) in Creates::pairs_of(&creates.identities, range.clone()) {
            self.identity.execute(params![id(*k), identity])?;
        }
        Ok(())
    }
}

/// Creates user `k` of `creates` with one statement per row.
fn create_one(
    conn: &Connection,
    stmts: &mut CreateStatements<'_>,
    creates: &Creates<'_>,
    k: usize,
    stamp: &str,
) -> std::result::Result<i64, RowFail> {
    let row = &creates.users[k];
    let prepared = row.prepared;
    stmts.user.execute(params![
        row.user.login,
        prepared.login_key,
        row.user.email,
        prepared.email_key,
        row.password,
        prepared.attributes,
        stamp,
        stamp,
        prepared.login_skeleton,
        prepared.email_skeleton
    ])?;
    let id = conn.last_insert_rowid();
    for (_, group) in Creates::pairs_of(&creates.memberships, k..k + 1) {
        stmts.membership.execute(params![id, group])?;
    }
    stmts.lists(creates, k..k + 1, id)?;
    Ok(id)
}

/// Sets one user's login ID and e-mail address as `edit` says.
fn set_key(conn: &Connection, edit: &KeyEdit<'_>) -> std::result::Result<(), RowFail> {
    let columns = [
        (
            edit.login,
            "UPDATE users SET login = ?, login_key = ?, login_skeleton = ? WHERE id = ?",
        ),
        (
            edit.email,
            "UPDATE users SET email = ?, email_key = ?, email_skeleton = ? WHERE id = ?",
        ),
    ];
    for (value, sql) in columns {
        if let Some(value) = value {
            let key = value.map(fold);
            conn.prepare_cached(sql)?.execute(params![
                value,
                key,
                skeleton_of(key.as_ref()),
                edit.id
            ])?;
        }
    }
    Ok(())
}

/// The member ID the next user gets: past every ID ever assigned (the
/// AUTOINCREMENT sequence), so a deleted user's ID is never reused.
fn next_user_id(conn: &Connection) -> rusqlite::Result<i64> {
    let max: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM users")?
        .query_row([], |r| r.get(0))?;
    // The sequence table exists once any AUTOINCREMENT row was written.
    let seq: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM sqlite_sequence WHERE name = 'users' AND EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
        )
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)).optional())
        .unwrap_or(None);
    Ok(max.max(seq.unwrap_or(0)) + 1)
}

/// Creates the users `range` of `creates` (at most `BULK`) with a few
/// multi-row statements; returns the first one's member ID. On a refused
/// row the caller writes the run row by row to find it. The statements are
/// `INSERT OR FAIL`: a refused row stops its statement without undoing the
/// rows before it, which spares SQLite a statement journal (a copy of every
/// page the statement touches). Those rows are taken back by a savepoint
/// for `guarded` writes, by deleting them otherwise.
fn bulk_create<'c>(
    conn: &'c Connection,
    stmts: &mut CreateStatements<'c>,
    creates: &Creates<'_>,
    range: std::ops::Range<usize>,
    stamp: &str,
    guarded: bool,
) -> std::result::Result<i64, RowFail> {
    let first = next_user_id(conn)?;
    if !guarded {
        let written = bulk_create_inner(conn, stmts, first, creates, range, stamp);
        if let Err(RowFail::Reason(_)) = &written {
            conn.prepare_cached("DELETE FROM users WHERE id >= ?")?
                .execute([first])?;
        }
        return written.map(|()| first);
    }
    conn.execute_batch("SAVEPOINT bulk")?;
    match bulk_create_inner(conn, stmts, first, creates, range, stamp) {
        Ok(()) => {
            conn.execute_batch("RELEASE bulk")?;
            Ok(first)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO bulk; RELEASE bulk")?;
            Err(e)
        }
    }
}

fn bulk_create_inner<'c>(
    conn: &'c Connection,
    stmts: &mut CreateStatements<'c>,
    first: i64,
    creates: &Creates<'_>,
    range: std::ops::Range<usize>,
    stamp: &str,
) -> std::result::Result<(), RowFail> {
    let rows = &creates.users[range.clone()];
    let [users, memberships_bulk] = stmts.bulk(conn, rows.len())?;
    users.raw_bind_parameter(1, stamp)?;
    for (k, row) in rows.iter().enumerate() {
        let prepared = row.prepared;
        let base = 1 + k * 8;
        let stmt = &mut *users;
        stmt.raw_bind_parameter(base + 1, &row.user.login)?;
        stmt.raw_bind_parameter(base + 2, &prepared.login_key)?;
        stmt.raw_bind_parameter(base + 3, &row.user.email)?;
        stmt.raw_bind_parameter(base + 4, &prepared.email_key)?;
        stmt.raw_bind_parameter(base + 5, row.password)?;
        stmt.raw_bind_parameter(base + 6, &prepared.attributes)?;
        stmt.raw_bind_parameter(base + 7, &prepared.login_skeleton)?;
        stmt.raw_bind_parameter(base + 8, &prepared.email_skeleton)?;
    }
    users.raw_execute()?;
    // AUTOINCREMENT numbers the rows in order from `first`, as no other
    // writer runs inside this transaction; a gap would misattribute every
    // membership and result below, so it is refused.
    let last = first + rows.len() as i64 - 1;
    if conn.last_insert_rowid() != last {
        return Err(RowFail::Store(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERNAL),
            Some(format!(
                "the store numbered new users up to {} where {last} was expected",
                conn.last_insert_rowid()
            )),
        )));
    }
    let id = |k: usize| first + (k - range.start) as i64;
    // Memberships in statements of the run's size (usually one group each).
    let memberships = Creates::pairs_of(&creates.memberships, range.clone());
    let mut pairs = memberships.chunks_exact(rows.len());
    for chunk in pairs.by_ref() {
        for (j, (k, group)) in chunk.iter().enumerate() {
            memberships_bulk.raw_bind_parameter(j * 2 + 1, id(*k))?;
            memberships_bulk.raw_bind_parameter(j * 2 + 2, group)?;
        }
        memberships_bulk.raw_execute()?;
    }
    for (k, group) in pairs.remainder() {
        stmts.membership.execute(params![id(*k), group])?;
    }
    stmts.lists(creates, range, first)?;
    Ok(())
}

/// Sets (`Some`) or removes (`None`) attributes of one user in place with
/// SQLite's JSON functions: one statement, no read-modify-write round trip.
/// Keys that a JSON path cannot quote take the read-modify-write way.
fn update_attributes(
    conn: &Connection,
    id: i64,
    edits: &[(&str, Option<&str>)],
) -> std::result::Result<(), RowFail> {
    let quotable = edits
        .iter()
        .all(|(key, _)| !key.contains(['"', '\\']) && !key.chars().any(char::is_control));
    if quotable {
        let sets: Vec<(String, &str)> = edits
            .iter()
            .filter_map(|(key, value)| value.map(|v| (format!("$.\"{key}\""), v)))
            .collect();
        let removes: Vec<String> = edits
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| format!("$.\"{key}\""))
            .collect();
        let mut expr = "COALESCE(data, '{}')".to_string();
        if !sets.is_empty() {
            expr = format!("json_set({expr}{})", ", ?, ?".repeat(sets.len()));
        }
        if !removes.is_empty() {
            expr = format!("json_remove({expr}{})", ", ?".repeat(removes.len()));
        }
        let mut stmt =
            conn.prepare_cached(&format!("UPDATE users SET data = {expr} WHERE id = ?"))?;
        let mut index = 1;
        for (path, value) in &sets {
            stmt.raw_bind_parameter(index, path)?;
            stmt.raw_bind_parameter(index + 1, value)?;
            index += 2;
        }
        for path in &removes {
            stmt.raw_bind_parameter(index, path)?;
            index += 1;
        }
        stmt.raw_bind_parameter(index, id)?;
        if stmt.raw_execute()? > 0 {
            return Ok(());
        }
    }
    let mut map = read_attributes(conn, id)?;
    for (key, value) in edits {
        match value {
            Some(v) => map.insert(key.to_string(), v.to_string()),
            None => map.remove(*key),
        };
    }
    write_attributes(conn, id, &map)
}

fn read_attributes(
    conn: &Connection,
    id: i64,
) -> std::result::Result<BTreeMap<String, String>, RowFail> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM users WHERE id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    match data {
        None => Ok(BTreeMap::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            RowFail::Reason(format!("stored attributes of user {id} are corrupt: {e}"))
        }),
    }
}

fn write_attributes(
    conn: &Connection,
    id: i64,
    map: &BTreeMap<String, String>,
) -> std::result::Result<(), RowFail> {
    let data = crate::json::object(map.iter());
    conn.prepare_cached("UPDATE users SET data = ? WHERE id = ?")?
        .execute(params![data, id])?;
    Ok(())
}

impl Directory for SqliteSink {
    type Error = Error;

    fn revision(&self) -> Result<u64> {
        SqliteSink::revision_in(&self.conn)
    }

    fn store_id(&self) -> Result<Option<String>> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(id.map(|id| format!("{id:016x}")))
    }

    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>> {
        let mut ids: BTreeSet<i64> = BTreeSet::new();
        let mut logins = Vec::new();
        let mut emails = Vec::new();
        let mut wanted_ids = Vec::new();
        let mut related = Vec::new();
        for key in keys {
            match key {
                Lookup::Id(id) => wanted_ids.push(*id),
                Lookup::Login(l) => logins.push(l.as_str()),
                Lookup::Email(e) => emails.push(e.as_str()),
                other => related.push(other),
            }
        }
        self.find_related(&related, &mut ids)?;
        for chunk in wanted_ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id FROM users WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let found = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| r.get(0))?;
            for id in found {
                ids.insert(id?);
            }
        }
        for (column, values) in [("login_key", &logins), ("email_key", &emails)] {
            for chunk in values.chunks(IN_CHUNK) {
                let sql = format!(
                    "SELECT id FROM users WHERE {column} IN ({})",
                    placeholders(chunk.len())
                );
                let mut stmt = self.conn.prepare_cached(&sql)?;
                let found =
                    stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| r.get(0))?;
                for id in found {
                    ids.insert(id?);
                }
            }
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        self.load_users(&ids)
    }

    fn groups(&self) -> Result<BTreeSet<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT name FROM groups")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        let mut out = BTreeSet::new();
        for name in names {
            out.insert(name?);
        }
        Ok(out)
    }

    fn user_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            let ids: Vec<i64> = {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id FROM users WHERE id > ? ORDER BY id LIMIT 1000")?;
                let rows = stmt.query_map([after], |r| r.get(0))?;
                rows.collect::<std::result::Result<_, _>>()?
            };
            let Some(last) = ids.last() else {
                return Ok(());
            };
            after = *last;
            for user in self.load_users(&ids)? {
                if !f(&user) {
                    return Ok(());
                }
            }
        }
    }
}

impl SqliteSink {
    /// The users the look-alike, identity and attribute look-ups name,
    /// through their indexes (migration 6), batched as the key look-ups are.
    fn find_related(&self, keys: &[&Lookup], ids: &mut BTreeSet<i64>) -> Result<()> {
        let mut skeletons = Vec::new();
        let mut identities = Vec::new();
        let mut cards = Vec::new();
        for key in keys {
            match key {
                Lookup::Skeleton(s) => skeletons.push(s.as_str()),
                Lookup::Identity(i) => identities.push(i.as_str()),
                Lookup::Attribute { column, value } if column == "card_id" => {
                    cards.push(value.as_str())
                }
                Lookup::Attribute { column, value } => {
                    let mut stmt = self.conn.prepare_cached(
                        "SELECT id FROM users WHERE json_extract(data, '$.' || ?1) = ?2",
                    )?;
                    for id in stmt.query_map(rusqlite::params![column, value], |r| r.get(0))? {
                        ids.insert(id?);
                    }
                }
                Lookup::Id(_) | Lookup::Login(_) | Lookup::Email(_) => {}
            }
        }
        let queries: [(&str, &Vec<&str>); 4] = [
            (
                "SELECT id FROM users WHERE login_skeleton IN ({})",
                &skeletons,
            ),
            (
                "SELECT id FROM users WHERE email_skeleton IN ({})",
                &skeletons,
            ),
            (
                "SELECT user_id FROM identities WHERE lower(identity) IN ({})",
                &identities,
            ),
            (CARD_ID_QUERY, &cards),
        ];
        for (sql, values) in queries {
            for chunk in values.chunks(IN_CHUNK) {
                let sql = sql.replace("{}", &placeholders(chunk.len()));
                let mut stmt = self.conn.prepare_cached(&sql)?;
                for id in stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| r.get(0))? {
                    ids.insert(id?);
                }
            }
        }
        Ok(())
    }
}

/// The SQLite store's side of the write engine, inside the transaction
/// [`Sink::write`] opened (`BEGIN IMMEDIATE`: it holds the write lock).
struct SqliteWrite<'c> {
    sink: &'c SqliteSink,
}

/// A row refusal's reason as a store error, where no row can be refused.
fn store_error(fail: RowFail) -> Error {
    match fail {
        RowFail::Store(e) => e.into(),
        RowFail::Reason(reason) => Error::Corrupt(reason),
    }
}

impl WriteBackend for SqliteWrite<'_> {
    fn lock_revision(&mut self) -> Result<u64> {
        SqliteSink::revision_in(&self.sink.conn)
    }

    fn history_since(&mut self, revision: u64) -> Result<Vec<Revision>> {
        Sink::history_since(self.sink, revision)
    }

    fn ensure_groups(&mut self, names: &[String], stamp: &str) -> Result<(Vec<String>, GroupIds)> {
        let conn = &self.sink.conn;
        let mut created = Vec::new();
        let mut stmt =
            conn.prepare_cached("INSERT OR IGNORE INTO groups (name, created_at) VALUES (?, ?)")?;
        for name in names {
            if stmt.execute(params![name, stamp])? > 0 {
                created.push(name.clone());
            }
        }
        let mut groups = GroupIds::new();
        let mut stmt = conn.prepare_cached("SELECT id, name FROM groups")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, name) = row?;
            groups.insert(fold(&name), id);
        }
        Ok((created, groups))
    }

    fn existing_users(&mut self, ids: &[i64]) -> Result<HashSet<i64>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id FROM users WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut stmt = self.sink.conn.prepare_cached(&sql)?;
            for id in stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| r.get(0))? {
                found.insert(id?);
            }
        }
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[i64]) -> Result<()> {
        let conn = &self.sink.conn;
        for id in ids {
            for sql in [
                "DELETE FROM memberships WHERE user_id = ?",
                "DELETE FROM roles WHERE user_id = ?",
                "DELETE FROM identities WHERE user_id = ?",
                "DELETE FROM users WHERE id = ?",
            ] {
                conn.prepare_cached(sql)?.execute([id])?;
            }
        }
        Ok(())
    }

    fn set_keys(&mut self, edits: &[KeyEdit<'_>], guarded: bool) -> Result<Vec<Refusal>> {
        let conn = &self.sink.conn;
        let mut refused = Vec::new();
        for (at, edit) in edits.iter().enumerate() {
            if guarded {
                conn.execute_batch("SAVEPOINT row")?;
            }
            match set_key(conn, edit) {
                Ok(()) if guarded => conn.execute_batch("RELEASE row")?,
                Ok(()) => {}
                Err(RowFail::Store(e)) => return Err(e.into()),
                Err(RowFail::Reason(reason)) => {
                    refused.push(Refusal { at, reason });
                    if !guarded {
                        break;
                    }
                    conn.execute_batch("ROLLBACK TO row; RELEASE row")?;
                }
            }
        }
        Ok(refused)
    }

    fn update_users(&mut self, updates: &Updates<'_>, stamp: &str) -> Result<()> {
        let conn = &self.sink.conn;
        let mut touch = conn.prepare_cached("UPDATE users SET updated_at = ? WHERE id = ?")?;
        for id in &updates.touched {
            touch.execute(params![stamp, id])?;
        }
        for edit in &updates.attributes {
            update_attributes(conn, edit.id, &edit.values).map_err(store_error)?;
        }
        let mut password =
            conn.prepare_cached("UPDATE users SET password_hash = ? WHERE id = ?")?;
        for (id, hash) in &updates.passwords {
            password.execute(params![hash, id])?;
        }
        let pairs: [(&str, &[(i64, i64)]); 2] = [
            (
                "INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)",
                &updates.memberships.added,
            ),
            (
                "DELETE FROM memberships WHERE user_id = ? AND group_id = ?",
                &updates.memberships.removed,
            ),
        ];
        for (sql, list) in pairs {
            let mut stmt = conn.prepare_cached(sql)?;
            for (id, group) in list {
                stmt.execute(params![id, group])?;
            }
        }
        let names: [(&str, &[(i64, &str)]); 4] = [
            (
                "INSERT OR IGNORE INTO roles (user_id, role) VALUES (?, ?)",
                &updates.roles.added,
            ),
            (
                "DELETE FROM roles WHERE user_id = ? AND role = ?",
                &updates.roles.removed,
            ),
            (
                "INSERT OR IGNORE INTO identities (user_id, identity) VALUES (?, ?)",
                &updates.identities.added,
            ),
            (
                "DELETE FROM identities WHERE user_id = ? AND identity = ?",
                &updates.identities.removed,
            ),
        ];
        for (sql, list) in names {
            let mut stmt = conn.prepare_cached(sql)?;
            for (id, name) in list {
                stmt.execute(params![id, name])?;
            }
        }
        Ok(())
    }

    fn insert_users(
        &mut self,
        creates: &Creates<'_>,
        guarded: bool,
        stamp: &str,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Vec<Inserted>> {
        let conn = &self.sink.conn;
        let mut stmts = CreateStatements::prepare(conn)?;
        let count = creates.users.len();
        let mut out = Vec::with_capacity(count);
        let mut row_mode_until = 0;
        let mut next_report = 1000;
        let mut i = 0;
        while i < count {
            // The fast path: a run of creates in a few bulk statements.
            let end = (i + BULK).min(count);
            let bulk = i >= row_mode_until && end - i >= MIN_BULK;
            match bulk.then(|| bulk_create(conn, &mut stmts, creates, i..end, stamp, guarded)) {
                Some(Ok(first)) => {
                    out.extend((0..end - i).map(|k| Inserted::Id(first + k as i64)));
                    i = end;
                }
                Some(Err(RowFail::Store(e))) => return Err(e.into()),
                // Write this run row by row to find the refused row.
                Some(Err(RowFail::Reason(_))) => row_mode_until = end,
                None => {
                    if guarded {
                        conn.execute_batch("SAVEPOINT row")?;
                    }
                    match create_one(conn, &mut stmts, creates, i, stamp) {
                        Ok(id) => {
                            if guarded {
                                conn.execute_batch("RELEASE row")?;
                            }
                            out.push(Inserted::Id(id));
                        }
                        Err(RowFail::Store(e)) => return Err(e.into()),
                        Err(RowFail::Reason(reason)) => {
                            out.push(Inserted::Refused(reason));
                            if !guarded {
                                return Ok(out);
                            }
                            conn.execute_batch("ROLLBACK TO row; RELEASE row")?;
                        }
                    }
                    i += 1;
                }
            }
            if i >= next_report {
                next_report = i + 1000;
                if !progress(i) {
                    return Err(Error::Cancelled); // the transaction rolls back
                }
            }
        }
        Ok(out)
    }

    fn bump_revision(&mut self, outcome: &ApplyOutcome) -> Result<u64> {
        SqliteSink::bump_in(&self.sink.conn, outcome, "apply")
    }

    fn record_job_step(&mut self, step: JobStep, results: &[RowResult]) -> Result<()> {
        crate::sqlite_jobs::record_step(&self.sink.conn, step, results)
    }

    fn queue_invitations(&mut self, invite: &Invite, invitations: &[Invitation]) -> Result<()> {
        crate::sqlite_outbox::queue(&self.sink.conn, invite, invitations)
    }
}

impl Transactional for SqliteSink {
    fn control(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn held(&mut self) -> &mut bool {
        &mut self.held
    }

    fn write_open(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome> {
        crate::engine::write_batch(&mut SqliteWrite { sink: self }, batch, progress)
    }

    fn committed_revision(&mut self) -> Result<u64> {
        self.revision()
    }

    fn before_commit(&mut self) -> Result<()> {
        if let Some(bulk) = self.bulk.as_mut() {
            bulk.build_indexes(&self.conn)?;
        }
        Ok(())
    }

    fn transaction_ended(&mut self) {
        if let Some(bulk) = self.bulk.take() {
            // The load is committed (or rolled back) either way; a store
            // left out of WAL mode gets it back at its next open.
            let _ = bulk.end(&self.conn);
        }
    }
}

impl Sink for SqliteSink {
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome> {
        self.check_writable()?;
        write_held(self, "BEGIN IMMEDIATE", batch, progress)
    }

    fn rollback(&mut self) -> Result<()> {
        rollback_held(self)
    }

    fn begin_bulk_load(&mut self) -> Result<bool> {
        self.check_writable()?;
        let Some(path) = self.path.clone() else {
            return Ok(false);
        };
        if self.held || self.bulk.is_some() || self.has_users()? {
            return Ok(false);
        }
        self.bulk = BulkLoad::begin(&self.conn, &path)?;
        if self.bulk.is_none() {
            return Ok(false);
        }
        // The load's transaction opens now, as held batches: nobody can add
        // a user between the look below and the load's writes.
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            self.transaction_ended();
            return Err(e.into());
        }
        self.held = true;
        if self.has_users()? {
            self.rollback()?;
            return Ok(false);
        }
        // Built again from the loaded rows just before the commit.
        let deferred = match self.bulk.as_mut() {
            Some(bulk) => bulk.defer_indexes(&self.conn),
            None => Ok(()),
        };
        if let Err(e) = deferred {
            self.rollback()?;
            return Err(e.into());
        }
        Ok(true)
    }

    fn add_groups(&mut self, names: &[String]) -> Result<usize> {
        self.check_writable()?;
        self.refuse_if_held("groups add")?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stamp = now();
        let mut added = 0;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO groups (name, created_at) VALUES (?, ?)")?;
            for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                added += stmt.execute(params![name, stamp])?;
            }
        }
        if added > 0 {
            SqliteSink::bump_in(
                &tx,
                &ApplyOutcome::default(),
                &format!("groups add {}", names.join(",")),
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    fn remove_groups(&mut self, names: &[String]) -> Result<usize> {
        self.check_writable()?;
        self.refuse_if_held("groups remove")?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut removed = 0;
        for name in names {
            let id: Option<i64> = tx
                .query_row("SELECT id FROM groups WHERE name = ?", [name.trim()], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(id) = id {
                tx.execute("DELETE FROM memberships WHERE group_id = ?", [id])?;
                tx.execute("DELETE FROM groups WHERE id = ?", [id])?;
                removed += 1;
            }
        }
        if removed > 0 {
            SqliteSink::bump_in(
                &tx,
                &ApplyOutcome::default(),
                &format!("groups remove {}", names.join(",")),
            )?;
        }
        tx.commit()?;
        Ok(removed)
    }

    fn history_since(&self, revision: u64) -> Result<Vec<Revision>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT revision, at, created, updated, deleted, note FROM revisions WHERE revision > ? ORDER BY revision",
        )?;
        let rows = stmt.query_map([revision as i64], |r| {
            Ok(Revision {
                revision: r.get::<_, i64>(0)?.max(0) as u64,
                at: r.get(1)?,
                created: r.get::<_, i64>(2)?.max(0) as u64,
                updated: r.get::<_, i64>(3)?.max(0) as u64,
                deleted: r.get::<_, i64>(4)?.max(0) as u64,
                note: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

impl Jobs for SqliteSink {
    fn create_job(&mut self, spec: &JobSpec) -> Result<i64> {
        self.check_writable()?;
        crate::sqlite_jobs::create(&self.conn, spec)
    }

    fn job(&self, id: i64) -> Result<Option<Job>> {
        if self.schema_version()? < 2 {
            return Ok(None);
        }
        crate::sqlite_jobs::get(&self.conn, id)?
            .map(|job| self.observed(job))
            .transpose()
    }

    fn jobs(&self) -> Result<Vec<Job>> {
        if self.schema_version()? < 2 {
            return Ok(Vec::new());
        }
        crate::sqlite_jobs::list(&self.conn)?
            .into_iter()
            .map(|job| self.observed(job))
            .collect()
    }

    fn job_results(&self, id: i64) -> Result<Vec<RowResult>> {
        if self.schema_version()? < 2 {
            return Ok(Vec::new());
        }
        crate::sqlite_jobs::results(&self.conn, id)
    }

    fn record_job_results(&mut self, id: i64, rows_done: u64, results: &[RowResult]) -> Result<()> {
        let step = JobStep {
            id,
            rows_done,
            last: false,
            rows_total: None,
        };
        crate::sqlite_jobs::record_step(&self.conn, step, results)
    }

    fn finish_job(&mut self, id: i64, status: JobStatus, error: Option<&str>) -> Result<()> {
        self.check_writable()?;
        crate::sqlite_jobs::finish(&self.conn, id, status, error)
    }

    fn claim_job(&mut self, id: i64) -> Result<bool> {
        self.check_writable()?;
        Ok(self.job_locks.claim(self.path.as_deref(), id)?)
    }

    fn release_job(&mut self, id: i64) -> Result<()> {
        Ok(self.job_locks.release(self.path.as_deref(), id)?)
    }

    fn request_cancel(&mut self, id: i64) -> Result<Option<Job>> {
        self.check_writable()?;
        crate::jobs::request_cancel_with(self, id, |store| {
            crate::sqlite_jobs::flag_cancel(&store.conn, id)
        })
    }

    fn cancel_requested(&self, id: i64) -> Result<bool> {
        if self.schema_version()? < 2 {
            return Ok(false);
        }
        crate::sqlite_jobs::cancel_flagged(&self.conn, id)
    }
}

impl Outbox for SqliteSink {
    fn outbox(&self) -> Result<Vec<Message>> {
        if self.schema_version()? < 3 {
            return Ok(Vec::new());
        }
        crate::sqlite_outbox::list(&self.conn)
    }

    fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>> {
        self.check_writable()?;
        crate::sqlite_outbox::claim(&mut self.conn, now, limit)
    }

    fn store_token(&mut self, message: i64, user: i64, hash: &str) -> Result<()> {
        self.check_writable()?;
        crate::sqlite_outbox::store_token(&self.conn, message, user, hash)
    }

    fn mark_sent(&mut self, message: i64) -> Result<()> {
        self.check_writable()?;
        crate::sqlite_outbox::mark_sent(&self.conn, message)
    }

    fn mark_failed(&mut self, message: i64, error: &str, retry_at: Option<&str>) -> Result<()> {
        self.check_writable()?;
        crate::sqlite_outbox::mark_failed(&self.conn, message, error, retry_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store file at `path` as an older release left it: the first
    /// `version` migrations applied.
    fn store_at_version(path: &Path, version: usize) -> Connection {
        let conn = Connection::open(path).unwrap();
        register_functions(&conn).unwrap();
        for (i, sql) in MIGRATIONS[..version].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as u32 + 1)
                .unwrap();
        }
        conn
    }

    /// Migration 4 moves every user's attributes into its row and keeps the
    /// member IDs AUTOINCREMENT has handed out.
    #[test]
    fn a_version_3_store_keeps_its_users_attributes_and_ids_through_migration_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let conn = store_at_version(&path, 3);
            conn.execute_batch(
                r#"
                INSERT INTO users (id, login, login_key, email, email_key, created_at, updated_at)
                    VALUES (1, 'Tanaka', 'tanaka', 'hanako@example.com', 'hanako@example.com', 't', 't'),
                           (2, 'sato', 'sato', NULL, NULL, 't', 't');
                INSERT INTO attributes (user_id, data) VALUES (1, '{"name":"Hanako Tanaka","status":"Valid"}');
                UPDATE sqlite_sequence SET seq = 9 WHERE name = 'users';
                "#,
            )
            .unwrap();
        }
        let store = SqliteSink::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        // Migration 6 stored the skeletons of the users already there.
        let alike = store
            .find(&[Lookup::Skeleton(userimport_plan::skeleton("tаnaka"))])
            .unwrap();
        assert_eq!(alike.iter().map(|u| u.id).collect::<Vec<_>>(), [1]);
        let users = store.find(&[Lookup::Id(1), Lookup::Id(2)]).unwrap();
        let tanaka = users.iter().find(|u| u.id == 1).expect("tanaka");
        assert_eq!(
            tanaka.attributes.get("name").map(String::as_str),
            Some("Hanako Tanaka")
        );
        assert_eq!(tanaka.login.as_deref(), Some("Tanaka"));
        let sato = users.iter().find(|u| u.id == 2).expect("sato");
        assert!(sato.attributes.is_empty());
        assert_eq!(
            next_user_id(&store.conn).unwrap(),
            10,
            "IDs are never reused"
        );
        let tables: i64 = store
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'attributes'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
        // A user without attributes gets its first one in place.
        assert!(update_attributes(&store.conn, 2, &[("name", Some("Yuki Sato"))]).is_ok());
        let sato = store.find(&[Lookup::Id(2)]).unwrap().remove(0);
        assert_eq!(
            sato.attributes.get("name").map(String::as_str),
            Some("Yuki Sato")
        );
    }

    /// Migration 11 rebuilds the card-ID index under its new condition: a
    /// card stored before it is still found, through the index.
    /// How many of `conn`'s allocations missed its lookaside slots because
    /// all were taken, since the last call.
    fn lookaside_misses(conn: &Connection) -> i32 {
        let (mut current, mut highwater) = (0, 0);
        // SAFETY: `conn` is open; the outputs are two live ints.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_LOOKASIDE_MISS_FULL,
                &mut current,
                &mut highwater,
                1,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        highwater
    }

    #[test]
    fn a_multi_row_create_binds_its_values_in_the_writing_connections_lookaside() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteSink::open(dir.path().join("store.db")).unwrap();
        let sql = bulk_sql(BULK);
        let mut stmt = store.conn.prepare(&sql[0]).unwrap();
        lookaside_misses(&store.conn);
        let attributes = format!("{{\"name\":\"{}\"}}", "x".repeat(300));
        for index in 1..=stmt.parameter_count() {
            stmt.raw_bind_parameter(index, attributes.as_str()).unwrap();
        }
        assert_eq!(lookaside_misses(&store.conn), 0);
    }

    #[test]
    fn a_version_10_store_finds_its_cards_through_the_index_after_migration_11() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v10.db");
        {
            let conn = store_at_version(&path, 10);
            conn.execute_batch(
                r#"
                INSERT INTO users (id, login, login_key, created_at, updated_at, data)
                    VALUES (1, 'tanaka', 'tanaka', 't', 't', '{"card_id":"E00020","name":"Hanako"}'),
                           (2, 'sato', 'sato', 't', 't', '{"name":"card_id\" is not a key"}');
                "#,
            )
            .unwrap();
        }
        let store = SqliteSink::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let card = |value: &str| Lookup::Attribute {
            column: "card_id".into(),
            value: value.into(),
        };
        let found = store.find(&[card("E00020")]).unwrap();
        assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [1]);
        assert!(store.find(&[card("E00021")]).unwrap().is_empty());
        let plan: String = store
            .conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", CARD_ID_QUERY.replace("{}", "?")),
                ["E00020"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("users_card_id"), "{plan}");
    }
}
