//! The PostgreSQL store: the same contract as the SQLite one, written with
//! set-based statements.
//!
//! Look-ups are a few `= ANY($1)` queries per 10,000 keys. A write is one
//! transaction: deletes, then updates (arrays passed with `unnest`, merged
//! with `UPDATE … FROM` and `INSERT … SELECT`), then creates, which go
//! through binary `COPY` straight into `users` and `memberships`
//! ([`crate::postgres_copy`]). Rows the store would refuse (a login ID or
//! e-mail already taken, an unknown group) are found by set-based queries
//! before the copy, so they fail alone with a reason, as with SQLite.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, NoTls};
use userimport_plan::{Directory, Lookup, StoredUser, fold};

use crate::engine::{
    Creates, GroupIds, Inserted, Invitation, KeyEdit, Refusal, Updates, WriteBackend,
};
use crate::jobs::{
    Job, JobSpec, JobStatus, JobStep, Jobs, counts, expand_run, outcome_name, parse_outcome, runs,
};
use crate::outbox::{Invite, Message, MessageStatus, Outbox, Recipient};
use crate::postgres_copy::CopyRows;
use crate::sink::{
    ApplyOutcome, Batch, PreparedCreate, Progress, Revision, RowResult, Sink, Transactional, now,
    rollback_held, write_held,
};
use crate::store_open::{StoreOptions, split_schema};

const OUTBOX_COLUMNS: &str = "id, user_id, recipient, name, login, status, send_at, attempts, next_attempt_at, last_error, sent_at, created_at, template, base_url";

fn message_of(r: &postgres::Row) -> Message {
    Message {
        id: r.get(0),
        user_id: r.get(1),
        recipient: Recipient {
            email: r.get(2),
            name: r.get(3),
            login: r.get(4),
        },
        status: MessageStatus::parse(r.get(5)),
        send_at: r.get(6),
        attempts: r.get::<_, i32>(7).max(0) as u32,
        next_attempt_at: r.get(8),
        last_error: r.get(9),
        sent_at: r.get(10),
        created_at: r.get(11),
        template: r.get(12),
        base_url: r.get(13),
    }
}

/// Queues the invitations of a batch's created users, inside its
/// transaction, with one statement.
fn queue_invitations(tx: &mut Client, invite: &Invite, invitations: &[Invitation]) -> Result<()> {
    let ids: Vec<i64> = invitations.iter().map(|i| i.id).collect();
    let emails: Vec<&str> = invitations.iter().map(|i| i.to.email.as_str()).collect();
    let names: Vec<Option<&str>> = invitations.iter().map(|i| i.to.name.as_deref()).collect();
    let logins: Vec<Option<&str>> = invitations.iter().map(|i| i.to.login.as_deref()).collect();
    tx.execute(
        "INSERT INTO outbox (user_id, recipient, name, login, template, base_url, send_at, status, next_attempt_at, created_at)
         SELECT u, e, n, l, $5, $6, $7, 'queued', $7, $8
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(u, e, n, l, o) ORDER BY o",
        &[&ids, &emails, &names, &logins, &invite.template, &invite.base_url, &invite.send_at, &now()],
    )?;
    Ok(())
}

const JOB_COLUMNS: &str = "id, status, file, file_sha256, options, rows_total, rows_done, created, updated, deleted, unchanged, failed, started_at, updated_at, finished_at, error, cancel_requested";

/// The advisory lock a job's live worker holds on its connection: the
/// schema (tests and services may share a database) and the job ID. The
/// server ends it with the worker's session.
const JOB_LOCK: &str = "hashtext(current_schema()), $1::int4";

/// The lock key of job `id` (the low 31 bits: job IDs stay far below).
fn job_lock_key(id: i64) -> i32 {
    (id & 0x7fff_ffff) as i32
}

fn job_of(r: &postgres::Row) -> Job {
    let n = |i: usize| r.get::<_, i64>(i).max(0) as u64;
    Job {
        id: r.get(0),
        status: JobStatus::parse(r.get(1)).unwrap_or(JobStatus::Failed),
        spec: JobSpec {
            file: r.get(2),
            file_sha256: r.get(3),
            options: r.get(4),
            rows_total: n(5),
        },
        rows_done: n(6),
        created: n(7),
        updated: n(8),
        deleted: n(9),
        unchanged: n(10),
        failed: n(11),
        started_at: r.get(12),
        updated_at: r.get(13),
        finished_at: r.get(14),
        error: r.get(15),
        cancel_requested: r.get(16),
    }
}

/// Records a committed batch's step, inside its transaction.
fn record_step(tx: &mut Client, step: JobStep, results: &[RowResult]) -> Result<()> {
    let c = counts(results);
    let stamp = now();
    let (status, finished) = if step.last {
        ("done", Some(stamp.as_str()))
    } else {
        ("running", None)
    };
    tx.execute(
        "UPDATE jobs SET rows_done = $1, created = created + $2, updated = updated + $3, deleted = deleted + $4, unchanged = unchanged + $5, failed = failed + $6, status = $7, error = NULL, updated_at = $8, finished_at = $9, rows_total = COALESCE($11, rows_total) WHERE id = $10",
        &[&(step.rows_done as i64), &c[0], &c[1], &c[2], &c[3], &c[4], &status, &stamp, &finished, &step.id, &step.rows_total.map(|n| n as i64)],
    )?;
    // One binary COPY: a job records the result of every row of its file,
    // as runs.
    let types = [
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::INT8,
    ];
    let mut writer = CopyRows::start(
        tx,
        "COPY job_results (job_id, line, row, outcome, member_id, reason, run) FROM STDIN (FORMAT binary)",
        &types,
    )?;
    for (r, run) in runs(results) {
        writer.write(&[
            &step.id,
            &(r.line as i64),
            &(r.row as i64),
            &outcome_name(r.outcome),
            &r.id,
            &r.reason.as_deref(),
            &(run as i64),
        ])?;
    }
    writer.finish()?;
    Ok(())
}
use crate::{Error, Result};

/// The schema, one entry per version; the `userimport_schema` table says
/// how many have been applied. Never edit an entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the SQLite layout, with an identity column for member IDs (never
    // reused), the attributes' JSON object in the users row (one heap and
    // index insert fewer per created user; edited with jsonb operators) and
    // case-insensitive group names. Like the SQLite store, no foreign keys:
    // every write keeps the tables in step in one transaction, and
    // row-by-row key checks would triple the cost of a bulk create.
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('revision', 0);
    CREATE TABLE users (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        login TEXT,
        login_key TEXT COLLATE \"C\" UNIQUE,
        email TEXT,
        email_key TEXT COLLATE \"C\" UNIQUE,
        password_hash TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        first_login TEXT,
        last_login TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE groups (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX groups_name ON groups (lower(name));
    CREATE TABLE memberships (
        user_id BIGINT NOT NULL,
        group_id BIGINT NOT NULL,
        PRIMARY KEY (user_id, group_id)
    );
    CREATE TABLE roles (
        user_id BIGINT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (user_id, role)
    );
    CREATE TABLE identities (
        user_id BIGINT NOT NULL,
        identity TEXT NOT NULL,
        PRIMARY KEY (user_id, identity)
    );
    CREATE TABLE revisions (
        revision BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        deleted BIGINT NOT NULL,
        note TEXT NOT NULL
    );
    ",
    // 2: background jobs and their per-row results.
    "
    CREATE TABLE jobs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        status TEXT NOT NULL,
        file TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        options TEXT NOT NULL,
        rows_total BIGINT NOT NULL,
        rows_done BIGINT NOT NULL DEFAULT 0,
        created BIGINT NOT NULL DEFAULT 0,
        updated BIGINT NOT NULL DEFAULT 0,
        deleted BIGINT NOT NULL DEFAULT 0,
        unchanged BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
    );
    CREATE TABLE job_results (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        job_id BIGINT NOT NULL,
        line BIGINT NOT NULL,
        row BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        member_id BIGINT,
        reason TEXT
    );
    CREATE INDEX job_results_job ON job_results (job_id, row);
    ",
    // 3: the invitation outbox and set-password token hashes.
    "
    CREATE TABLE outbox (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        user_id BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        name TEXT,
        login TEXT,
        template TEXT NOT NULL,
        base_url TEXT NOT NULL,
        send_at TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (status, send_at);
    CREATE TABLE password_tokens (
        message_id BIGINT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        used_at TEXT
    );
    ",
    // 4: the store's identity, a random number drawn once, so that a plan
    // made on one store is never applied to another at the same revision.
    "INSERT INTO meta (key, value) VALUES ('store_id', floor(random() * 9.2e18)::bigint) ON CONFLICT DO NOTHING;",
    // 5: a job can be asked to stop at its next batch boundary.
    "ALTER TABLE jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false;",
    // 6: API tokens and browser sessions (the web frontend's sign-in).
    crate::postgres_auth::MIGRATION,
    // 7: look-alike keys are found by their confusable skeleton (written
    // with the keys; [`backfill_keys`] fills them for stored users and
    // folds their keys with NFKC), identities ignoring case and card IDs by
    // value, each through an index.
    "
    ALTER TABLE users ADD COLUMN login_skeleton TEXT COLLATE \"C\";
    ALTER TABLE users ADD COLUMN email_skeleton TEXT COLLATE \"C\";
    CREATE INDEX users_login_skeleton ON users (login_skeleton);
    CREATE INDEX users_email_skeleton ON users (email_skeleton);
    CREATE INDEX identities_folded ON identities (lower(identity));
    CREATE INDEX users_card_id ON users (((data::jsonb) ->> 'card_id'));
    ",
    // 8: the web frontend's checked imports, at-once results and sign-in failures.
    crate::postgres_imports::MIGRATION,
    // 9: the card-ID index holds only the users whose stored JSON names
    // the key `card_id`: the users of every other profile cost it no cast
    // to jsonb (the dearest part of a bulk create) and no entry. Every
    // attributes object the store writes (`crate::json`, jsonb's own text)
    // spells its keys out without escapes, so a user with a card ID always
    // meets the condition. Look-ups repeat it ([`CARD_ID_QUERY`]), which
    // lets the planner use the index.
    "
    DROP INDEX IF EXISTS users_card_id;
    CREATE INDEX users_card_id ON users (((data::jsonb) ->> 'card_id'))
        WHERE strpos(data, '\"card_id\"') > 0;
    ",
    // 10: a job's results stored as runs (`job_results.run`, see
    // `crate::jobs::runs`): one row for a first import's created users.
    "ALTER TABLE job_results ADD COLUMN run BIGINT NOT NULL DEFAULT 1;",
];

/// The users holding one of the card IDs `$1`, through the card-ID index:
/// the index's condition (migration 9) is repeated for the planner to use it.
const CARD_ID_QUERY: &str = concat!(
    "SELECT id FROM users WHERE strpos(data, '\"card_id\"') > 0",
    " AND ((data::jsonb) ->> 'card_id') = ANY($1)"
);

/// The migration that added the skeleton columns (see [`backfill_keys`]).
const SKELETON_MIGRATION: u32 = 7;

/// Fills the confusable skeletons of the users stored before migration 5,
/// and folds their keys as the planner now does (NFKC): keys that would
/// then collide keep their old spelling.
fn backfill_keys(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let rows = tx.query(
        "SELECT id, login, email FROM users
         WHERE (login IS NOT NULL AND login_skeleton IS NULL)
            OR (email IS NOT NULL AND email_skeleton IS NULL)",
        &[],
    )?;
    for row in rows {
        let (id, login, email): (i64, Option<String>, Option<String>) =
            (row.get(0), row.get(1), row.get(2));
        let keys = [login.as_deref().map(fold), email.as_deref().map(fold)];
        let skeletons = [
            login.as_deref().map(userimport_plan::skeleton),
            email.as_deref().map(userimport_plan::skeleton),
        ];
        tx.execute(
            "UPDATE users SET login_skeleton = $2, email_skeleton = $3 WHERE id = $1",
            &[&id, &skeletons[0], &skeletons[1]],
        )?;
        for (column, key) in [("login_key", &keys[0]), ("email_key", &keys[1])] {
            let sql = format!(
                "UPDATE users SET {column} = $2 WHERE id = $1 AND {column} IS DISTINCT FROM $2
                 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.{column} = $2)"
            );
            tx.execute(&sql, &[&id, key])?;
        }
    }
    Ok(())
}

/// The schema version this build writes to PostgreSQL.
pub const PG_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How many keys go into one `= ANY($1)` array.
const ANY_CHUNK: usize = 10_000;

/// A store in a PostgreSQL database, in a schema of its own with
/// `?schema=NAME` in the URL (or `options=-csearch_path%3DNAME`). Opened with
/// [`PostgresSink::open`] (migrates) or [`PostgresSink::open_existing`]
/// (reads only; never creates a table).
pub struct PostgresSink {
    pub(crate) client: RefCell<Client>,
    read_only: bool,
    /// Opened read-only on a database without our tables: an empty store.
    pub(crate) empty: bool,
    /// A transaction is open with held batches (see `Batch::hold`).
    held: bool,
    /// A bulk load is under way: the indexes it builds before its commit
    /// (see [`Sink::begin_bulk_load`]).
    bulk: Option<crate::postgres_bulk::BulkLoad>,
    /// The jobs whose worker lock this connection holds.
    job_locks: HashSet<i64>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("read_only", &self.read_only)
            .field("empty", &self.empty)
            .field("held", &self.held)
            .field("bulk", &self.bulk.is_some())
            .finish_non_exhaustive()
    }
}

/// Refuses a schema without our tables but with others (inside the
/// migration's transaction, under its lock).
fn refuse_foreign(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let ours: bool = tx
        .query_one("SELECT to_regclass('userimport_schema') IS NOT NULL", &[])?
        .get(0);
    if ours {
        return Ok(());
    }
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    let place: String = tx
        .query_one("SELECT COALESCE(current_schema(), '(none)')::text", &[])?
        .get(0);
    Err(crate::store_open::foreign(
        &format!("the schema {place:?}"),
        &tables,
    ))
}

fn schema_version_of(client: &mut Client) -> Result<Option<u32>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('userimport_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let v: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM userimport_schema",
            &[],
        )?
        .get(0);
    Ok(Some(v.max(0) as u32))
}

fn migrate(client: &mut Client, schema: Option<&str>, options: &StoreOptions) -> Result<()> {
    let mut tx = client.transaction()?;
    // One migrator at a time, whoever else opens the store now.
    tx.batch_execute("SELECT pg_advisory_xact_lock(7415021)")?;
    if let Some(schema) = schema {
        // ok: `split_schema` let only letters, digits and _ through.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
    }
    if !options.init_foreign {
        refuse_foreign(&mut tx)?;
    }
    tx.batch_execute("CREATE TABLE IF NOT EXISTS userimport_schema (version INTEGER NOT NULL)")?;
    let version: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM userimport_schema",
            &[],
        )?
        .get(0);
    let version = version.max(0) as u32;
    if version > PG_SCHEMA_VERSION {
        return Err(Error::Migration(format!(
            "the store has schema version {version}, newer than this program's {PG_SCHEMA_VERSION}"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO userimport_schema (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )?;
    }
    if version < SKELETON_MIGRATION && PG_SCHEMA_VERSION >= SKELETON_MIGRATION {
        backfill_keys(&mut tx)?;
    }
    tx.commit()?;
    Ok(())
}

impl PostgresSink {
    /// Connects to `url` (`postgres://user:password@host:port/db`) and applies
    /// pending migrations, creating the tables on a new database.
    pub fn open(url: &str) -> Result<Self> {
        PostgresSink::open_with(url, &StoreOptions::default())
    }

    /// [`PostgresSink::open`] with options: a schema holding another
    /// application's tables gets the store's only with
    /// [`StoreOptions::init_foreign`]. `?schema=NAME` in the URL puts the
    /// store in that schema (created if missing).
    pub fn open_with(url: &str, options: &StoreOptions) -> Result<Self> {
        let (url, schema) = split_schema(url)?;
        let mut client = Client::connect(&url, NoTls)?;
        if let Some(schema) = &schema {
            // ok: `split_schema` let only letters, digits and _ through.
            client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
        }
        migrate(&mut client, schema.as_deref(), options)?;
        Ok(PostgresSink {
            client: RefCell::new(client),
            read_only: false,
            empty: false,
            held: false,
            bulk: None,
            job_locks: HashSet::new(),
        })
    }

    /// Connects for reading only (`check`, `plan`, `export`): never creates
    /// or migrates anything; a database without the tables is an empty
    /// store. The session is read-only.
    pub fn open_existing(url: &str) -> Result<Self> {
        let (url, schema) = split_schema(url)?;
        let mut client = Client::connect(&url, NoTls)?;
        if let Some(schema) = &schema {
            // ok: `split_schema` let only letters, digits and _ through; a
            // schema not created yet reads as an empty store.
            client.batch_execute(&format!("SET search_path TO \"{schema}\""))?;
        }
        client.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")?;
        let empty = match schema_version_of(&mut client)? {
            None | Some(0) => true,
            Some(v) if v == PG_SCHEMA_VERSION => false,
            Some(v) => {
                return Err(Error::Migration(format!(
                    "the store has schema version {v} and this program reads {PG_SCHEMA_VERSION}; apply once to migrate it"
                )));
            }
        };
        Ok(PostgresSink {
            client: RefCell::new(client),
            read_only: true,
            empty,
            held: false,
            bulk: None,
            job_locks: HashSet::new(),
        })
    }

    /// True when opened with [`PostgresSink::open_existing`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The schema version (0 when the tables do not exist).
    pub fn schema_version(&self) -> Result<u32> {
        Ok(schema_version_of(&mut self.client.borrow_mut())?.unwrap_or(0))
    }

    /// The stored password hash (PHC string) of a user.
    pub fn password_hash(&self, id: i64) -> Result<Option<String>> {
        if self.empty {
            return Ok(None);
        }
        let row = self
            .client
            .borrow_mut()
            .query_opt("SELECT password_hash FROM users WHERE id = $1", &[&id])?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// A job as read: `interrupted` when recorded running but no session
    /// holds its worker lock.
    fn observed(&self, job: Job) -> Result<Job> {
        crate::jobs::observed(
            job,
            |id| {
                if self.job_locks.contains(&id) {
                    return Ok(true);
                }
                // Read from pg_locks rather than tried: a probe that took the
                // lock, even for an instant, could turn a starting worker away.
                let row = self.client.borrow_mut().query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND classid = hashtext(current_schema())::oid
                     AND objid = $1::int4::oid AND objsubid = 2)",
                    &[&job_lock_key(id)],
                )?;
                Ok(row.get(0))
            },
            |id| {
                let row = self.client.borrow_mut().query_opt(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                    &[&id],
                )?;
                Ok(row.map(|r| job_of(&r)))
            },
        )
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Loads users by member ID with their attributes, groups, roles and
    /// identities: four queries per 10,000 users.
    fn load_users(&self, ids: &[i64]) -> Result<Vec<StoredUser>> {
        let mut out: BTreeMap<i64, StoredUser> = BTreeMap::new();
        let mut client = self.client.borrow_mut();
        for chunk in ids.chunks(ANY_CHUNK) {
            let chunk = chunk.to_vec();
            let rows = client.query(
                "SELECT u.id, u.login, u.email, u.password_hash IS NOT NULL, u.created_at, u.updated_at, u.first_login, u.last_login, u.data FROM users u WHERE u.id = ANY($1)",
                &[&chunk],
            )?;
            for r in rows {
                let id: i64 = r.get(0);
                let data: Option<&str> = r.get(8);
                let attributes = match data {
                    Some(data) => serde_json::from_str(data)
                        .map_err(|e| Error::Corrupt(format!("attributes of user {id}: {e}")))?,
                    None => BTreeMap::new(),
                };
                out.insert(
                    id,
                    StoredUser {
                        id,
                        login: r.get(1),
                        email: r.get(2),
                        has_password: r.get(3),
                        created_at: r.get(4),
                        updated_at: r.get(5),
                        first_login: r.get(6),
                        last_login: r.get(7),
                        attributes,
                        ..StoredUser::default()
                    },
                );
            }
            let lists = [
                "SELECT m.user_id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ANY($1)",
                "SELECT user_id, role FROM roles WHERE user_id = ANY($1)",
                "SELECT user_id, identity FROM identities WHERE user_id = ANY($1)",
            ];
            for (which, sql) in lists.iter().enumerate() {
                for r in client.query(*sql, &[&chunk])? {
                    let id: i64 = r.get(0);
                    let name: String = r.get(1);
                    if let Some(user) = out.get_mut(&id) {
                        crate::sink::attach_member(user, which, name);
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }
}

fn bump_in(tx: &mut impl GenericClient, outcome: &ApplyOutcome, note: &str) -> Result<u64> {
    let v: i64 = tx
        .query_one(
            "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
            &[],
        )?
        .get(0);
    tx.execute(
        "INSERT INTO revisions (revision, at, created, updated, deleted, note) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &v,
            &now(),
            &(outcome.created as i64),
            &(outcome.updated as i64),
            &(outcome.deleted as i64),
            &note,
        ],
    )?;
    Ok(v.max(0) as u64)
}

fn history_in(client: &mut Client, revision: u64) -> Result<Vec<Revision>> {
    let rows = client.query(
        "SELECT revision, at, created, updated, deleted, note FROM revisions WHERE revision > $1 ORDER BY revision",
        &[&(revision as i64)],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Revision {
            revision: r.get::<_, i64>(0).max(0) as u64,
            at: r.get(1),
            created: r.get::<_, i64>(2).max(0) as u64,
            updated: r.get::<_, i64>(3).max(0) as u64,
            deleted: r.get::<_, i64>(4).max(0) as u64,
            note: r.get(5),
        })
        .collect())
}

/// Keys (folded login IDs or e-mails) among `keys` that users other than
/// the one given (`None` for creates) already hold.
fn taken_keys(
    tx: &mut Client,
    column: &str,
    keys: &[String],
    owners: &[i64],
) -> Result<HashSet<String>> {
    let mut taken = HashSet::new();
    if keys.is_empty() {
        return Ok(taken);
    }
    let sql = format!(
        "SELECT k.key FROM unnest($1::text[], $2::bigint[]) AS k(key, owner) JOIN users u ON u.{column} = k.key AND u.id <> k.owner"
    );
    for (keys, owners) in keys.chunks(ANY_CHUNK).zip(owners.chunks(ANY_CHUNK)) {
        for r in tx.query(&sql, &[&keys, &owners])? {
            taken.insert(r.get(0));
        }
    }
    Ok(taken)
}

impl Directory for PostgresSink {
    type Error = Error;

    fn store_id(&self) -> Result<Option<String>> {
        if self.empty {
            return Ok(None);
        }
        let id: Option<i64> = self
            .client
            .borrow_mut()
            .query_opt("SELECT value FROM meta WHERE key = 'store_id'", &[])?
            .map(|r| r.get(0));
        Ok(id.map(|id| format!("{id:016x}")))
    }

    fn revision(&self) -> Result<u64> {
        if self.empty {
            return Ok(0);
        }
        let v: i64 = self
            .client
            .borrow_mut()
            .query_one("SELECT value FROM meta WHERE key = 'revision'", &[])?
            .get(0);
        Ok(v.max(0) as u64)
    }

    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let mut ids_wanted = Vec::new();
        let mut logins = Vec::new();
        let mut emails = Vec::new();
        let mut related = Vec::new();
        for key in keys {
            match key {
                Lookup::Id(id) => ids_wanted.push(*id),
                Lookup::Login(l) => logins.push(l.as_str()),
                Lookup::Email(e) => emails.push(e.as_str()),
                _ => related.push(key),
            }
        }
        let mut ids: BTreeSet<i64> = BTreeSet::new();
        {
            let mut client = self.client.borrow_mut();
            find_related(&mut client, &related, &mut ids)?;
            for chunk in ids_wanted.chunks(ANY_CHUNK) {
                for r in client.query("SELECT id FROM users WHERE id = ANY($1)", &[&chunk])? {
                    ids.insert(r.get(0));
                }
            }
            for (column, values) in [("login_key", &logins), ("email_key", &emails)] {
                let sql = format!("SELECT id FROM users WHERE {column} = ANY($1)");
                for chunk in values.chunks(ANY_CHUNK) {
                    for r in client.query(&sql, &[&chunk])? {
                        ids.insert(r.get(0));
                    }
                }
            }
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        self.load_users(&ids)
    }

    fn groups(&self) -> Result<BTreeSet<String>> {
        if self.empty {
            return Ok(BTreeSet::new());
        }
        let rows = self
            .client
            .borrow_mut()
            .query("SELECT name FROM groups", &[])?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    fn user_count(&self) -> Result<u64> {
        if self.empty {
            return Ok(0);
        }
        let n: i64 = self
            .client
            .borrow_mut()
            .query_one("SELECT COUNT(*) FROM users", &[])?
            .get(0);
        Ok(n.max(0) as u64)
    }

    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<()> {
        if self.empty {
            return Ok(());
        }
        let mut after = i64::MIN;
        loop {
            let ids: Vec<i64> = self
                .client
                .borrow_mut()
                .query(
                    "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT 1000",
                    &[&after],
                )?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
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

fn group_ids(tx: &mut Client) -> Result<GroupIds> {
    Ok(tx
        .query("SELECT id, name FROM groups", &[])?
        .into_iter()
        .map(|r| (fold(r.get::<_, &str>(1)), r.get::<_, i64>(0)))
        .collect())
}

fn key_of(value: Option<&String>) -> Option<String> {
    value.map(|v| fold(v))
}

/// The users the look-alike, identity and attribute look-ups name, through
/// their indexes (migration 5), batched as the key look-ups are.
fn find_related(client: &mut Client, keys: &[&Lookup], ids: &mut BTreeSet<i64>) -> Result<()> {
    let mut skeletons: Vec<&str> = Vec::new();
    let mut identities: Vec<String> = Vec::new();
    let mut attributes: Vec<(&str, &str)> = Vec::new();
    for key in keys {
        match key {
            Lookup::Skeleton(s) => skeletons.push(s),
            Lookup::Identity(i) => identities.push(i.to_lowercase()),
            Lookup::Attribute { column, value } => attributes.push((column, value)),
            Lookup::Id(_) | Lookup::Login(_) | Lookup::Email(_) => {}
        }
    }
    for chunk in skeletons.chunks(ANY_CHUNK) {
        let rows = client.query(
            "SELECT id FROM users WHERE login_skeleton = ANY($1)
             UNION SELECT id FROM users WHERE email_skeleton = ANY($1)",
            &[&chunk],
        )?;
        ids.extend(rows.into_iter().map(|r| r.get::<_, i64>(0)));
    }
    for chunk in identities.chunks(ANY_CHUNK) {
        let rows = client.query(
            "SELECT user_id FROM identities WHERE lower(identity) = ANY($1)",
            &[&chunk],
        )?;
        ids.extend(rows.into_iter().map(|r| r.get::<_, i64>(0)));
    }
    let mut columns: Vec<&str> = attributes.iter().map(|a| a.0).collect();
    columns.sort_unstable();
    columns.dedup();
    for column in columns {
        let values: Vec<&str> = attributes
            .iter()
            .filter(|a| a.0 == column)
            .map(|a| a.1)
            .collect();
        for chunk in values.chunks(ANY_CHUNK) {
            // The card column's own expression, so that its index serves.
            let rows = if column == "card_id" {
                client.query(CARD_ID_QUERY, &[&chunk])?
            } else {
                client.query(
                    "SELECT id FROM users WHERE ((data::jsonb) ->> $1) = ANY($2)",
                    &[&column, &chunk],
                )?
            };
            ids.extend(rows.into_iter().map(|r| r.get::<_, i64>(0)));
        }
    }
    Ok(())
}

/// The confusable skeleton of a folded key, for the skeleton columns.
fn skeleton_of(key: Option<&String>) -> Option<String> {
    key.map(|k| userimport_validate::key_skeleton(k))
}

/// The PostgreSQL store's side of the write engine, inside the transaction
/// [`Sink::write`] opened.
struct PgWrite<'c> {
    client: &'c mut Client,
    /// The bulk load under way, if any.
    bulk: Option<&'c mut crate::postgres_bulk::BulkLoad>,
}

/// Splits pairs into the two arrays `unnest` takes.
fn columns<T: Clone>(pairs: &[(i64, T)]) -> (Vec<i64>, Vec<T>) {
    pairs.iter().cloned().unzip()
}

impl WriteBackend for PgWrite<'_> {
    fn lock_revision(&mut self) -> Result<u64> {
        // Writers take turns: the revision row is locked until commit (a
        // held transaction keeps the lock).
        let current: i64 = self
            .client
            .query_one(
                "SELECT value FROM meta WHERE key = 'revision' FOR UPDATE",
                &[],
            )?
            .get(0);
        Ok(current.max(0) as u64)
    }

    fn history_since(&mut self, revision: u64) -> Result<Vec<Revision>> {
        history_in(self.client, revision)
    }

    fn ensure_groups(&mut self, names: &[String], stamp: &str) -> Result<(Vec<String>, GroupIds)> {
        let mut created = Vec::new();
        if !names.is_empty() {
            let list: Vec<&str> = names.iter().map(String::as_str).collect();
            let rows = self.client.query(
                "INSERT INTO groups (name, created_at) SELECT n, $2 FROM unnest($1::text[]) WITH ORDINALITY AS t(n, o) ORDER BY o ON CONFLICT DO NOTHING RETURNING name",
                &[&list, &stamp],
            )?;
            let new: HashSet<String> = rows.into_iter().map(|r| r.get(0)).collect();
            created = names.iter().filter(|n| new.contains(*n)).cloned().collect();
        }
        Ok((created, group_ids(self.client)?))
    }

    fn existing_users(&mut self, ids: &[i64]) -> Result<HashSet<i64>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(ANY_CHUNK) {
            for r in self
                .client
                .query("SELECT id FROM users WHERE id = ANY($1)", &[&chunk])?
            {
                found.insert(r.get(0));
            }
        }
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[i64]) -> Result<()> {
        for sql in [
            "DELETE FROM memberships WHERE user_id = ANY($1)",
            "DELETE FROM roles WHERE user_id = ANY($1)",
            "DELETE FROM identities WHERE user_id = ANY($1)",
            "DELETE FROM users WHERE id = ANY($1)",
        ] {
            self.client.execute(sql, &[&ids])?;
        }
        Ok(())
    }

    fn set_keys(&mut self, edits: &[KeyEdit<'_>], _guarded: bool) -> Result<Vec<Refusal>> {
        // Keys other users hold are refused first, with one query each.
        let mut wanted: [(Vec<String>, Vec<i64>); 2] = Default::default();
        for edit in edits {
            for (list, value) in wanted.iter_mut().zip([edit.login, edit.email]) {
                if let Some(Some(value)) = value {
                    list.0.push(fold(value));
                    list.1.push(edit.id);
                }
            }
        }
        let taken_logins = taken_keys(self.client, "login_key", &wanted[0].0, &wanted[0].1)?;
        let taken_emails = taken_keys(self.client, "email_key", &wanted[1].0, &wanted[1].1)?;
        let mut refused = Vec::new();
        let mut rows = KeyRows::default();
        for (at, edit) in edits.iter().enumerate() {
            let holds = |value: Option<Option<&str>>, taken: &HashSet<String>| {
                value.flatten().is_some_and(|v| taken.contains(&fold(v)))
            };
            if holds(edit.login, &taken_logins) {
                refused.push(Refusal {
                    at,
                    reason: "login ID already used by another user".to_string(),
                });
            } else if holds(edit.email, &taken_emails) {
                refused.push(Refusal {
                    at,
                    reason: "e-mail already used by another user".to_string(),
                });
            } else {
                rows.push(edit);
            }
        }
        if !rows.ids.is_empty() {
            rows.write(self.client)?;
        }
        Ok(refused)
    }

    fn update_users(&mut self, updates: &Updates<'_>, stamp: &str) -> Result<()> {
        let tx = &mut *self.client;
        if !updates.touched.is_empty() {
            tx.execute(
                "UPDATE users SET updated_at = $2 WHERE id = ANY($1)",
                &[&updates.touched, &stamp],
            )?;
        }
        if !updates.attributes.is_empty() {
            let mut ids = Vec::new();
            let mut patches = Vec::new();
            let mut removes = Vec::new();
            for edit in &updates.attributes {
                let mut patch = serde_json::Map::new();
                let mut remove = Vec::new();
                for (key, value) in &edit.values {
                    match value {
                        Some(v) => {
                            patch.insert(key.to_string(), (*v).into());
                        }
                        None => remove.push(serde_json::Value::from(*key)),
                    }
                }
                ids.push(edit.id);
                patches.push(serde_json::Value::Object(patch).to_string());
                removes.push(serde_json::Value::Array(remove).to_string());
            }
            tx.execute(
                "UPDATE users u SET data = ((u.data::jsonb || s.patch::jsonb)
                     - ARRAY(SELECT jsonb_array_elements_text(s.remove::jsonb)))::text
                 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS s(id, patch, remove)
                 WHERE u.id = s.id",
                &[&ids, &patches, &removes],
            )?;
        }
        if !updates.passwords.is_empty() {
            let (ids, hashes) = columns(&updates.passwords);
            tx.execute(
                "UPDATE users u SET password_hash = s.hash FROM unnest($1::bigint[], $2::text[]) AS s(id, hash) WHERE u.id = s.id",
                &[&ids, &hashes],
            )?;
        }
        let memberships = [
            (
                "INSERT INTO memberships (user_id, group_id) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
                &updates.memberships.added,
            ),
            (
                "DELETE FROM memberships m USING unnest($1::bigint[], $2::bigint[]) AS d(u, g) WHERE m.user_id = d.u AND m.group_id = d.g",
                &updates.memberships.removed,
            ),
        ];
        for (sql, pairs) in memberships {
            if !pairs.is_empty() {
                let (ids, groups) = columns(pairs);
                tx.execute(sql, &[&ids, &groups])?;
            }
        }
        let names = [
            (LIST_SQL[0], &updates.roles.added),
            (LIST_SQL[1], &updates.roles.removed),
            (LIST_SQL[2], &updates.identities.added),
            (LIST_SQL[3], &updates.identities.removed),
        ];
        for (sql, pairs) in names {
            if !pairs.is_empty() {
                let (ids, values) = columns(pairs);
                tx.execute(sql, &[&ids, &values])?;
            }
        }
        Ok(())
    }

    fn insert_users(
        &mut self,
        creates: &Creates<'_>,
        guarded: bool,
        stamp: &str,
        _progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Vec<Inserted>> {
        insert_users(
            self.client,
            self.bulk.as_deref_mut(),
            creates,
            guarded,
            stamp,
        )
    }

    fn bump_revision(&mut self, outcome: &ApplyOutcome) -> Result<u64> {
        bump_in(self.client, outcome, "apply")
    }

    fn record_job_step(&mut self, step: JobStep, results: &[RowResult]) -> Result<()> {
        record_step(self.client, step, results)
    }

    fn queue_invitations(&mut self, invite: &Invite, invitations: &[Invitation]) -> Result<()> {
        queue_invitations(self.client, invite, invitations)
    }
}

/// Adding and removing roles and identities: (member IDs, names) arrays.
const LIST_SQL: [&str; 4] = [
    "INSERT INTO roles (user_id, role) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
    "DELETE FROM roles r USING unnest($1::bigint[], $2::text[]) AS d(u, n) WHERE r.user_id = d.u AND r.role = d.n",
    "INSERT INTO identities (user_id, identity) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
    "DELETE FROM identities r USING unnest($1::bigint[], $2::text[]) AS d(u, n) WHERE r.user_id = d.u AND r.identity = d.n",
];

/// Key edits as the arrays of one set-based `UPDATE`.
#[derive(Default)]
struct KeyRows {
    ids: Vec<i64>,
    set_login: Vec<bool>,
    logins: Vec<Option<String>>,
    set_email: Vec<bool>,
    emails: Vec<Option<String>>,
}

impl KeyRows {
    fn push(&mut self, edit: &KeyEdit<'_>) {
        self.ids.push(edit.id);
        self.set_login.push(edit.login.is_some());
        self.logins.push(edit.login.flatten().map(str::to_string));
        self.set_email.push(edit.email.is_some());
        self.emails.push(edit.email.flatten().map(str::to_string));
    }

    fn write(&self, tx: &mut Client) -> Result<()> {
        let login_keys: Vec<Option<String>> =
            self.logins.iter().map(|l| key_of(l.as_ref())).collect();
        let email_keys: Vec<Option<String>> =
            self.emails.iter().map(|e| key_of(e.as_ref())).collect();
        let login_skeletons: Vec<Option<String>> =
            login_keys.iter().map(|k| skeleton_of(k.as_ref())).collect();
        let email_skeletons: Vec<Option<String>> =
            email_keys.iter().map(|k| skeleton_of(k.as_ref())).collect();
        tx.execute(
            "UPDATE users u SET
                login = CASE WHEN s.set_login THEN s.login ELSE u.login END,
                login_key = CASE WHEN s.set_login THEN s.login_key ELSE u.login_key END,
                login_skeleton = CASE WHEN s.set_login THEN s.login_skeleton ELSE u.login_skeleton END,
                email = CASE WHEN s.set_email THEN s.email ELSE u.email END,
                email_key = CASE WHEN s.set_email THEN s.email_key ELSE u.email_key END,
                email_skeleton = CASE WHEN s.set_email THEN s.email_skeleton ELSE u.email_skeleton END
             FROM unnest($1::bigint[], $2::bool[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], $8::text[], $9::text[])
                AS s(id, set_login, login, login_key, set_email, email, email_key, login_skeleton, email_skeleton)
             WHERE u.id = s.id",
            &[
                &self.ids,
                &self.set_login,
                &self.logins,
                &login_keys,
                &self.set_email,
                &self.emails,
                &email_keys,
                &login_skeletons,
                &email_skeletons,
            ],
        )?;
        Ok(())
    }
}

/// Inserts `creates`: refused rows first (keys repeated among them and,
/// for `guarded` writes, keys other users hold), then binary COPY.
/// All-or-nothing writes trust the unique indexes instead of looking every
/// key up: the merge runs under a savepoint, and only when the indexes
/// refuse it are the keys looked up, to name the rows.
fn insert_users(
    tx: &mut Client,
    bulk: Option<&mut crate::postgres_bulk::BulkLoad>,
    creates: &Creates<'_>,
    guarded: bool,
    stamp: &str,
) -> Result<Vec<Inserted>> {
    let mut out = vec![Inserted::NotWritten; creates.users.len()];
    let mut seen_logins: HashSet<&str> = HashSet::new();
    let mut seen_emails: HashSet<&str> = HashSet::new();
    let mut pending: Vec<usize> = Vec::with_capacity(creates.users.len());
    for (k, row) in creates.users.iter().enumerate() {
        let login = row.prepared.login_key.as_deref();
        let email = row.prepared.email_key.as_deref();
        if login.is_some_and(|l| !seen_logins.insert(l)) {
            out[k] = Inserted::Refused("login ID already used by another user".to_string());
        } else if email.is_some_and(|e| !seen_emails.insert(e)) {
            out[k] = Inserted::Refused("e-mail already used by another user".to_string());
        } else {
            pending.push(k);
        }
    }
    if guarded {
        refuse_taken_keys(tx, creates, &mut out, &mut pending)?;
    } else if pending.len() < creates.users.len() {
        return Ok(out);
    }
    if pending.is_empty() {
        return Ok(out);
    }
    if let Some(bulk) = bulk {
        let attributes = pending
            .iter()
            .map(|&k| creates.users[k].prepared.attributes.as_str());
        bulk.before_copy(tx, attributes)?;
    }
    if !guarded {
        tx.batch_execute("SAVEPOINT creates")?;
    }
    match merge_creates(tx, creates, &pending, stamp) {
        Ok(ids) => {
            if !guarded {
                tx.batch_execute("RELEASE SAVEPOINT creates")?;
            }
            for (&k, id) in pending.iter().zip(ids) {
                out[k] = Inserted::Id(id);
            }
        }
        Err(Error::Postgres(e)) if !guarded && is_unique_violation(&e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT creates")?;
            let before = pending.len();
            refuse_taken_keys(tx, creates, &mut out, &mut pending)?;
            if pending.len() == before {
                // Refused, but no key is held by another user: say what
                // the store said on the first row.
                out[pending[0]] = Inserted::Refused(format!("refused by the store: {e}"));
            }
        }
        Err(e) => return Err(e),
    }
    Ok(out)
}

/// True when `e` is a unique index refusing a row.
fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// Marks the users of `pending` whose login ID or e-mail another user
/// holds as refused and takes them out of `pending`.
fn refuse_taken_keys(
    tx: &mut Client,
    creates: &Creates<'_>,
    out: &mut [Inserted],
    pending: &mut Vec<usize>,
) -> Result<()> {
    let keys = |pick: fn(&PreparedCreate) -> &Option<String>| -> Vec<String> {
        pending
            .iter()
            .filter_map(|&k| pick(creates.users[k].prepared).clone())
            .collect()
    };
    let logins = keys(|p| &p.login_key);
    let emails = keys(|p| &p.email_key);
    let taken_logins = taken_keys(tx, "login_key", &logins, &vec![0i64; logins.len()])?;
    let taken_emails = taken_keys(tx, "email_key", &emails, &vec![0i64; emails.len()])?;
    pending.retain(|&k| {
        let prepared = creates.users[k].prepared;
        let reason = if prepared
            .login_key
            .as_ref()
            .is_some_and(|l| taken_logins.contains(l))
        {
            Some("login ID already used by another user")
        } else if prepared
            .email_key
            .as_ref()
            .is_some_and(|e| taken_emails.contains(e))
        {
            Some("e-mail already used by another user")
        } else {
            None
        };
        if let Some(reason) = reason {
            out[k] = Inserted::Refused(reason.to_string());
        }
        reason.is_none()
    });
    Ok(())
}

/// Writes the users `pending` of `creates`: reserves their member IDs and
/// copies them (binary COPY) into the users and memberships tables.
/// Returns the IDs, aligned with `pending`.
fn merge_creates(
    tx: &mut Client,
    creates: &Creates<'_>,
    pending: &[usize],
    stamp: &str,
) -> Result<Vec<i64>> {
    // Reserve a range of member IDs: writers hold the revision row's lock,
    // so nobody else draws from the sequence meanwhile.
    let first: i64 = tx
        .query_one("SELECT nextval(pg_get_serial_sequence('users', 'id'))", &[])?
        .get(0);
    let count = pending.len() as i64;
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('users', 'id'), $1)",
        &[&(first + count - 1)],
    )?;
    let ids: Vec<i64> = (first..first + count).collect();
    // The member ID of each user of `creates` (0: not written).
    let mut id_of = vec![0i64; creates.users.len()];
    for (&k, &id) in pending.iter().zip(&ids) {
        id_of[k] = id;
    }
    {
        // Straight into the table: the rows were checked, and a refused one
        // fails the whole COPY (the caller's savepoint takes it back).
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
        ];
        let mut writer = CopyRows::start(
            tx,
            "COPY users (id, login, login_key, email, email_key, password_hash, created_at, updated_at, data, login_skeleton, email_skeleton) FROM STDIN (FORMAT binary)",
            &types,
        )?;
        for (&k, id) in pending.iter().zip(&ids) {
            let row = &creates.users[k];
            let keys = row.prepared;
            let values: [&(dyn ToSql + Sync); 11] = [
                id,
                &row.user.login,
                &keys.login_key,
                &row.user.email,
                &keys.email_key,
                &row.password,
                &stamp,
                &stamp,
                &keys.attributes.as_str(),
                &keys.login_skeleton,
                &keys.email_skeleton,
            ];
            writer.write(&values)?;
        }
        writer.finish()?;
    }
    let written = |pairs: &[(usize, i64)]| -> Vec<(i64, i64)> {
        pairs
            .iter()
            .filter(|(k, _)| id_of[*k] != 0)
            .map(|(k, g)| (id_of[*k], *g))
            .collect()
    };
    // New users: no membership exists yet, and a user's groups are a set.
    let memberships = written(&creates.memberships);
    if !memberships.is_empty() {
        let types = [Type::INT8, Type::INT8];
        let mut writer = CopyRows::start(
            tx,
            "COPY memberships (user_id, group_id) FROM STDIN (FORMAT binary)",
            &types,
        )?;
        for (u, g) in &memberships {
            writer.write(&[u, g])?;
        }
        writer.finish()?;
    }
    for (sql, pairs) in [
        (LIST_SQL[0], &creates.roles),
        (LIST_SQL[2], &creates.identities),
    ] {
        let (users, names): (Vec<i64>, Vec<&str>) = pairs
            .iter()
            .filter(|(k, _)| id_of[*k] != 0)
            .map(|(k, n)| (id_of[*k], *n))
            .unzip();
        if !users.is_empty() {
            tx.execute(sql, &[&users, &names])?;
        }
    }
    Ok(ids)
}

impl Transactional for PostgresSink {
    fn control(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.get_mut().batch_execute(sql)?)
    }

    fn held(&mut self) -> &mut bool {
        &mut self.held
    }

    fn write_open(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome> {
        let client = self.client.get_mut();
        let bulk = self.bulk.as_mut();
        crate::engine::write_batch(&mut PgWrite { client, bulk }, batch, progress)
    }

    fn committed_revision(&mut self) -> Result<u64> {
        let revision: i64 = self
            .client
            .get_mut()
            .query_one("SELECT value FROM meta WHERE key = 'revision'", &[])?
            .get(0);
        Ok(revision.max(0) as u64)
    }

    fn before_commit(&mut self) -> Result<()> {
        match self.bulk.take() {
            Some(deferred) => crate::postgres_bulk::build_indexes(self.client.get_mut(), deferred),
            None => Ok(()),
        }
    }

    fn transaction_ended(&mut self) {
        self.bulk = None;
    }
}

impl Sink for PostgresSink {
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome> {
        self.check_writable()?;
        write_held(self, "BEGIN", batch, progress)
    }

    fn rollback(&mut self) -> Result<()> {
        rollback_held(self)
    }

    fn begin_bulk_load(&mut self) -> Result<bool> {
        self.check_writable()?;
        if self.held || self.bulk.is_some() {
            return Ok(false);
        }
        // The load's transaction opens now, as held batches: nobody can add
        // a user between the look and the load's writes.
        self.bulk = crate::postgres_bulk::begin(self.client.get_mut())?;
        self.held = self.bulk.is_some();
        Ok(self.held)
    }

    fn add_groups(&mut self, names: &[String]) -> Result<usize> {
        self.check_writable()?;
        self.refuse_if_held("groups add")?;
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        tx.query(
            "SELECT value FROM meta WHERE key = 'revision' FOR UPDATE",
            &[],
        )?;
        let list: Vec<&str> = names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        let added = tx.execute(
            "INSERT INTO groups (name, created_at) SELECT DISTINCT ON (lower(n)) n, $2 FROM unnest($1::text[]) AS t(n) ON CONFLICT DO NOTHING",
            &[&list, &now()],
        )? as usize;
        if added > 0 {
            bump_in(
                &mut tx,
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
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        tx.query(
            "SELECT value FROM meta WHERE key = 'revision' FOR UPDATE",
            &[],
        )?;
        let list: Vec<&str> = names.iter().map(|n| n.trim()).collect();
        let ids: Vec<i64> = tx
            .query("SELECT id FROM groups WHERE lower(name) IN (SELECT lower(n) FROM unnest($1::text[]) AS t(n))", &[&list])?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        if !ids.is_empty() {
            tx.execute("DELETE FROM memberships WHERE group_id = ANY($1)", &[&ids])?;
            tx.execute("DELETE FROM groups WHERE id = ANY($1)", &[&ids])?;
            bump_in(
                &mut tx,
                &ApplyOutcome::default(),
                &format!("groups remove {}", names.join(",")),
            )?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    fn history_since(&self, revision: u64) -> Result<Vec<Revision>> {
        if self.empty {
            return Ok(Vec::new());
        }
        history_in(&mut self.client.borrow_mut(), revision)
    }
}

impl Jobs for PostgresSink {
    fn create_job(&mut self, spec: &JobSpec) -> Result<i64> {
        self.check_writable()?;
        let stamp = now();
        let row = self.client.borrow_mut().query_one(
            "INSERT INTO jobs (status, file, file_sha256, options, rows_total, started_at, updated_at) VALUES ('running', $1, $2, $3, $4, $5, $5) RETURNING id",
            &[&spec.file, &spec.file_sha256, &spec.options, &(spec.rows_total as i64), &stamp],
        )?;
        Ok(row.get(0))
    }

    fn job(&self, id: i64) -> Result<Option<Job>> {
        if self.empty {
            return Ok(None);
        }
        let row = self.client.borrow_mut().query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )?;
        row.map(|r| self.observed(job_of(&r))).transpose()
    }

    fn jobs(&self) -> Result<Vec<Job>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let rows = self.client.borrow_mut().query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC"),
            &[],
        )?;
        rows.iter().map(|r| self.observed(job_of(r))).collect()
    }

    fn job_results(&self, id: i64) -> Result<Vec<RowResult>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let rows = self.client.borrow_mut().query(
            "SELECT line, row, outcome, member_id, reason, run FROM job_results WHERE job_id = $1 ORDER BY row = 0, row, seq",
            &[&id],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            expand_run(&mut out, result_of(r), r.get(5));
        }
        Ok(out)
    }

    fn record_job_results(&mut self, id: i64, rows_done: u64, results: &[RowResult]) -> Result<()> {
        let step = JobStep {
            id,
            rows_done,
            last: false,
            rows_total: None,
        };
        record_step(self.client.get_mut(), step, results)
    }

    fn finish_job(&mut self, id: i64, status: JobStatus, error: Option<&str>) -> Result<()> {
        self.check_writable()?;
        let stamp = now();
        let finished = (status != JobStatus::Running).then_some(stamp.as_str());
        // Running again (a resume) drops an old cancel request.
        self.client.borrow_mut().execute(
            "UPDATE jobs SET status = $1, error = $2, updated_at = $3, finished_at = $4, cancel_requested = false WHERE id = $5",
            &[&status.as_str(), &error, &stamp, &finished, &id],
        )?;
        Ok(())
    }

    fn claim_job(&mut self, id: i64) -> Result<bool> {
        self.check_writable()?;
        if self.job_locks.contains(&id) {
            return Ok(true);
        }
        let row = self.client.get_mut().query_one(
            &format!("SELECT pg_try_advisory_lock({JOB_LOCK})"),
            &[&job_lock_key(id)],
        )?;
        let claimed: bool = row.get(0);
        if claimed {
            self.job_locks.insert(id);
        }
        Ok(claimed)
    }

    fn release_job(&mut self, id: i64) -> Result<()> {
        if self.job_locks.remove(&id) {
            self.client.get_mut().query_one(
                &format!("SELECT pg_advisory_unlock({JOB_LOCK})"),
                &[&job_lock_key(id)],
            )?;
        }
        Ok(())
    }

    fn request_cancel(&mut self, id: i64) -> Result<Option<Job>> {
        self.check_writable()?;
        crate::jobs::request_cancel_with(self, id, |store| {
            store.client.get_mut().execute(
                "UPDATE jobs SET cancel_requested = true, updated_at = $1 WHERE id = $2 AND status = 'running'",
                &[&now(), &id],
            )?;
            Ok(())
        })
    }

    fn cancel_requested(&self, id: i64) -> Result<bool> {
        if self.empty {
            return Ok(false);
        }
        let row = self
            .client
            .borrow_mut()
            .query_opt("SELECT cancel_requested FROM jobs WHERE id = $1", &[&id])?;
        Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
    }
}

impl Outbox for PostgresSink {
    fn outbox(&self) -> Result<Vec<Message>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let rows = self.client.borrow_mut().query(
            &format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id"),
            &[],
        )?;
        Ok(rows.iter().map(message_of).collect())
    }

    fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>> {
        self.check_writable()?;
        // One statement: concurrent deliveries skip each other's rows.
        let rows = self.client.borrow_mut().query(
            &format!(
                "UPDATE outbox SET status = 'sending' WHERE id IN (
                     SELECT id FROM outbox WHERE status = 'queued' AND send_at <= $1 AND next_attempt_at <= $1
                     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING {OUTBOX_COLUMNS}"
            ),
            &[&now, &(limit as i64)],
        )?;
        let mut messages: Vec<Message> = rows.iter().map(message_of).collect();
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    fn store_token(&mut self, message: i64, user: i64, hash: &str) -> Result<()> {
        self.check_writable()?;
        self.client.borrow_mut().execute(
            "INSERT INTO password_tokens (message_id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (message_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at",
            &[&message, &user, &hash, &now()],
        )?;
        Ok(())
    }

    fn mark_sent(&mut self, message: i64) -> Result<()> {
        self.check_writable()?;
        self.client.borrow_mut().execute(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $1, last_error = NULL WHERE id = $2",
            &[&now(), &message],
        )?;
        Ok(())
    }

    fn mark_failed(&mut self, message: i64, error: &str, retry_at: Option<&str>) -> Result<()> {
        self.check_writable()?;
        let mut client = self.client.borrow_mut();
        match retry_at {
            Some(at) => client.execute(
                "UPDATE outbox SET status = 'queued', attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
                &[&error, &at, &message],
            )?,
            None => client.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1 WHERE id = $2",
                &[&error, &message],
            )?,
        };
        Ok(())
    }
}

/// A stored per-row result, selected as `line, row, outcome, member_id,
/// reason` (a job's and a kept import's alike).
pub(crate) fn result_of(r: &postgres::Row) -> RowResult {
    RowResult {
        line: r.get::<_, i64>(0).max(0) as u64,
        row: r.get::<_, i64>(1).max(0) as u64,
        outcome: parse_outcome(r.get(2)),
        id: r.get(3),
        reason: r.get(4),
    }
}
