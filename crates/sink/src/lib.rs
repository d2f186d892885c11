//! Stores for user imports: where a plan's changes are applied.
//!
//! [`Sink`] is the write side of a store (the read side is
//! [`userimport_plan::Directory`]): [`Sink::apply`] refuses plans with errors
//! (unless made with `skip_invalid`) or made against another revision
//! (drift, saying what changed), hashes passwords in parallel with argon2id
//! (OWASP parameters) before the write, and writes everything in one
//! transaction, returning a [`RowResult`] per row. Three backends:
//! [`MemorySink`] for tests and embedding, [`SqliteSink`], the embedded
//! default (one SQLite file, WAL, versioned migrations applied on open), and
//! [`PostgresSink`] (migrations on open; look-ups with `= ANY($1)`; creates
//! through binary `COPY` into staging tables merged with `INSERT … SELECT`,
//! edits and deletes as set-based statements over `unnest` arrays).
//! No plaintext password is ever stored.
//!
//! # Jobs
//!
//! [`run_job`] writes a plan in batches, each committed in the same
//! transaction as the job's progress and per-row results ([`Job`]), so a
//! process killed at any moment leaves the store consistent; running it
//! again over the file planned anew skips the rows already done, so every
//! user is written exactly once. Progress callbacks and a [`CancelToken`]
//! let a service follow and stop it; [`JobHandle`] runs it on its own thread.
//! The live worker holds the job's lock ([`Jobs::claim_job`]: a lock file
//! beside a SQLite store, a session advisory lock on PostgreSQL), which ends
//! with its process: a job whose worker is gone reads as
//! [`JobStatus::Interrupted`], and one beside a live worker cannot be
//! resumed ([`Error::JobRunning`]). [`Jobs::request_cancel`], from any
//! connection, stops a job at its next batch boundary. Unlike
//! [`Sink::apply`], which is all or nothing, a job that stops half-way leaves its first batches written:
//! check the whole file first (a job refuses plans with row errors unless
//! made with `skip_invalid`).
//!
//! # One writer loop
//!
//! [`Sink::apply`] (at once), [`run_job`] (a job's batches and its resume)
//! and the facade's streamed apply all write through [`write_feed`]: it
//! takes prepared [`Chunk`]s and a [`Verdict`] on the input as a whole,
//! holds writes until the input is known clean, checks the revision once,
//! creates a job past its threshold ([`JobPlan`]), commits in batches and
//! stops on a cancel. The plan checks (refusals, row errors, authority) are
//! [`preflight`].
//!
//! # One write engine
//!
//! [`engine`] is the one place where a [`Change`](userimport_plan::Change)
//! becomes writes. [`WriteSet::build`] interprets a batch into set-based
//! operations (users to delete, key edits, attribute edits, passwords,
//! memberships, roles and identities to add and remove, users to create
//! with theirs), refusing the changes that cannot be written (a user gone,
//! an unknown group); [`write_batch`] runs them, in one order for every
//! store, through the store's [`WriteBackend`]: a narrow trait of
//! set-based methods (lock the revision, ensure groups, find existing
//! users, delete, set keys, update, insert, move the revision on, record a
//! job's step, queue invitations) called inside the transaction
//! [`Sink::write`] opened. The memory, SQLite and PostgreSQL stores
//! implement that trait and nothing else of the write; a new store does
//! the same.
//!
//! # Traits and features
//!
//! Writing ([`Sink`]), jobs ([`Jobs`]) and the outbox ([`Outbox`]) are
//! traits of their own, implemented for `&mut S` and `Box<S>` too (so
//! `Box<dyn Jobs<Error = Error>>` is a store). The backends sit behind
//! cargo features, all on by default: `sqlite` ([`SqliteSink`]),
//! `postgres` ([`PostgresSink`]) and `smtp` ([`smtp_sender`]); a service
//! without PostgreSQL builds with `default-features = false,
//! features = ["sqlite"]`.
//!
//! # Held batches
//!
//! A [`Batch`] written with `hold` leaves its transaction open: the next
//! write continues it, the first one without `hold` commits them all, and
//! [`Sink::rollback`] (or any failure) discards them. The facade's streamed
//! apply writes a file this way while it is still being checked, so a file
//! with an error at its last row has written nothing, and other readers see
//! nothing until the commit.
//!
//! # Invitations
//!
//! [`Sink::apply_inviting`] (and [`run_job`] with an [`Invite`]) queues one
//! outbox message per created user in the user's transaction; [`deliver`]
//! sends those due (through [`smtp_sender`] or any closure), drawing each
//! single-use set-password token at delivery and storing only its SHA-256.
//!
//! # Signing in
//!
//! [`AuthStore`] (both stores) gives frontends a stored user's
//! [`Credential`] (argon2id verify, roles, status), API tokens and browser
//! [`Session`]s, each kept only as the SHA-256 of its secret ([`new_secret`]).
//! [`ImportStore`] (both stores) keeps a frontend's checked imports, the
//! results of imports applied at once and sign-in failures across restarts,
//! and holds the store's one apply lock ([`ApplyLock`]).
//!
//! # The SQLite store
//!
//! Tables: `users` (member ID, login ID and e-mail as written plus their
//! folded forms under unique indexes, password hash, timestamps, and the
//! attributes as one JSON object of canonical values), `groups`,
//! `memberships`, `roles`, `identities`, `meta` (the revision) and
//! `revisions` (what each apply changed, for drift messages). Migrations are
//! numbered and applied on [`SqliteSink::open`] (`PRAGMA user_version`);
//! [`SqliteSink::open_existing`] never creates or migrates. Look-ups take a
//! few `IN (…)` queries per 500 keys; runs of up to 256 creates are written with
//! multi-row statements (a refused row is then found row by row); every
//! apply is one transaction. The store runs in WAL mode, except during a
//! bulk load ([`Sink::begin_bulk_load`]): a first import into an empty store,
//! written once through the rollback journal while no one else may read.
//! A bulk load (on either store) leaves out the indexes that refuse no row
//! (look-alike skeletons, card ID, folded identities) and builds them once
//! from the loaded rows, in its transaction, just before it commits; the
//! PostgreSQL store leaves out the unique keys of `users` too and adds them
//! again before the commit, where a key two loaded users hold refuses the
//! load.
//!
//! `cargo bench -p userimport-sink --bench apply` applies 200,000 new users
//! with pre-hashed passwords to a new file and runs `sqlite3 .import` on the
//! same rows as CSV into a plain table, printing both times.
//!
//! `USERIMPORT_BENCH_POSTGRES=postgres://… cargo bench -p userimport-sink
//! --bench apply_postgres` does the same against PostgreSQL and
//! `psql \copy` (on the 2-core development machine, under load: `\copy`
//! 0.45–0.7 s, apply 2.2–2.8 s, 3.2–4.2x; the unique indexes on member ID,
//! login ID and e-mail and the memberships are most of the difference).
//!
//! # Example
//!
//! ```
//! use userimport_plan::{Directory, PlanOptions, Planner};
//! use userimport_schema::Profile;
//! use userimport_sink::{Sink, SqliteSink};
//! use userimport_validate::{Cell, Row, Secret};
//!
//! let dir = tempfile::tempdir()?;
//! let mut store = SqliteSink::open(dir.path().join("users.db"))?;
//!
//! let profile = Profile::standard();
//! let mut cells = vec![Cell::Absent; profile.columns.len()];
//! let mut set = |key: &str, cell: Cell| cells[profile.column_index(key).unwrap()] = cell;
//! set("login_id", Cell::Value("tanaka".into()));
//! set("name", Cell::Value("Hanako Tanaka".into()));
//! set("password", Cell::Secret(Secret::new("correct horse battery")));
//! set("groups", Cell::Blank);
//! let rows = vec![Row { line: 2, row: 1, cells, valid: true }];
//!
//! let plan = Planner::plan_rows(&profile, PlanOptions::default(), rows.clone(), &store)?;
//! assert_eq!(plan.summary.create, 1);
//! let outcome = store.apply(&plan, &mut |_| true)?;
//! assert!(outcome.committed);
//! assert_eq!(outcome.created, 1);
//! assert_eq!(store.user_count()?, 1);
//!
//! // Re-applying the same rows changes nothing.
//! let again = Planner::plan_rows(&profile, PlanOptions::default(), rows, &store)?;
//! assert_eq!(again.summary.unchanged, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// Built without a store (`--no-default-features`), the parts the stores
// share (jobs, the write engine's transactions, sign-in records) have no
// caller; they are kept, not cut out feature by feature.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

mod auth;
mod clock;
pub mod engine;
mod imports;
mod invite;
#[cfg(feature = "sqlite")]
mod job_lock;
mod job_run;
mod jobs;
mod json;
mod mail;
mod memory;
mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_auth;
#[cfg(feature = "postgres")]
mod postgres_bulk;
#[cfg(feature = "postgres")]
mod postgres_copy;
#[cfg(feature = "postgres")]
mod postgres_imports;
mod sink;
mod smtp;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_auth;
#[cfg(feature = "sqlite")]
mod sqlite_bulk;
#[cfg(feature = "sqlite")]
mod sqlite_imports;
#[cfg(feature = "sqlite")]
mod sqlite_jobs;
#[cfg(feature = "sqlite")]
mod sqlite_outbox;
mod store_errors;
mod store_open;
mod writer;

pub use auth::{ApiToken, AuthStore, Credential, Session, new_secret};
pub use clock::timestamp;
pub use engine::{WriteBackend, WriteSet, write_batch};
pub use imports::{Applied as ImportApplied, ApplyLock, ImportStore, StoredImport};
pub use invite::{DEFAULT_TEMPLATE, Invite, MAX_TEMPLATE_BYTES, Recipient, link, render};
pub use job_run::{JobHandle, run_job};
pub use jobs::{
    Begun, CancelToken, Job, JobProgress, JobSpec, JobStatus, JobStep, Jobs, begin_job, record_stop,
};
pub use mail::{Rendered, SendError};
pub use memory::MemorySink;
pub use outbox::{
    DeliveryReport, MAX_ATTEMPTS, Message, MessageStatus, Outbox, backoff, deliver, new_token,
    token_hash,
};
#[cfg(feature = "postgres")]
pub use postgres::{PG_SCHEMA_VERSION, PostgresSink};
pub use sink::{
    ApplyOutcome, Batch, Outcome, PreparedCreate, Progress, Revision, RowResult, Sink,
    prepare_creates, prepare_passwords,
};
#[cfg(feature = "smtp")]
pub use smtp::smtp_sender;
pub use smtp::{SmtpSecurity, SmtpUrl};
#[cfg(feature = "sqlite")]
pub use sqlite::{SCHEMA_VERSION, SqliteSink};
pub use store_open::StoreOptions;
pub use writer::{
    Chunk, Feed, FeedOptions, FeedProgress, JobPlan, Verdict, Written, preflight, write_feed,
};

/// Errors from a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("store: {}", store_errors::describe_sqlite(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("store: {}", store_errors::describe_postgres(.0))]
    Postgres(#[from] ::postgres::Error),
    /// Planning-side failure (password hashing).
    #[error(transparent)]
    Plan(#[from] userimport_plan::Error),
    /// The store changed since the plan was made.
    #[error("the store changed since the plan was made (revision {planned}, now {current}){}; plan again", describe_history(.history))]
    Drift {
        /// The revision the plan was made against.
        planned: u64,
        /// The store's revision now.
        current: u64,
        /// What was applied in between, when the store keeps history.
        history: Vec<Revision>,
    },
    /// The plan has a file-level error (such as `sync.threshold`).
    #[error("refused: {0}")]
    Refused(String),
    /// The plan has row errors and was not made with `skip_invalid`.
    #[error(
        "the plan has {0} error(s): nothing is applied (fix them, or apply the valid rows only)"
    )]
    RowErrors(u64),
    /// The progress callback or a hook cancelled the apply; nothing was written.
    #[error("cancelled: nothing was written")]
    Cancelled,
    /// The store was opened read-only.
    #[error("the store was opened read-only")]
    ReadOnly,
    /// The store's schema cannot be used.
    #[error("store schema: {0}")]
    Migration(String),
    /// The store cannot do this.
    #[error("{0}")]
    Unsupported(String),
    /// Stored data is unreadable.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// Another connection holds the store's lock longer than the wait allows.
    #[error("{0}")]
    Busy(String),
    /// The job is being written by a live worker (another process, or
    /// another connection): it cannot be resumed beside it.
    #[error("job {0} is running: another worker is writing it")]
    JobRunning(i64),
    /// A file beside the store (a job's worker lock) could not be used.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    /// The database holds another application's tables and no store; the
    /// store's tables are added only with [`StoreOptions::init_foreign`].
    #[error("{0}")]
    Foreign(String),
}

fn describe_history(history: &[Revision]) -> String {
    if history.is_empty() {
        return String::new();
    }
    let items: Vec<String> = history.iter().map(ToString::to_string).collect();
    format!(": {}", items.join("; "))
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
