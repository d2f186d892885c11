//! What a frontend keeps between requests and across restarts: checked
//! imports (their report, the upload's path, the revision they were
//! checked at), the results of imports applied at once, sign-in failures,
//! and the store's apply lock.
//!
//! A frontend (the web page) records an import once its upload is checked
//! ([`ImportStore::save_import`]), marks it applied with its per-row
//! results ([`ImportStore::mark_import_applied`], once only, so two
//! servers cannot apply the same import), and forgets it when asked
//! ([`ImportStore::delete_import`]) or when it expires unapplied
//! ([`ImportStore::expire_imports`], which hands back the expired records
//! so that the caller removes their files). Sign-in failures are counted
//! per key (an account, an address) in the store, so every server behind
//! one store sees the same count. [`ImportStore::try_apply_lock`] takes the
//! store's one apply lock: a lock file beside a SQLite store (`flock`), a
//! session advisory lock on PostgreSQL; both end with the process that
//! holds them.

use crate::Result;
use crate::sink::RowResult;

/// A checked import as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredImport {
    /// Its ID (random, URL-safe).
    pub id: String,
    /// The actor who uploaded it (only it may see or apply it).
    pub owner: String,
    /// The upload's file name as shown (sanitised).
    pub name: String,
    /// The options it was checked with (JSON, the frontend's).
    pub settings: String,
    /// Where the upload is kept (a mode-0600 file outside any web root).
    pub file: String,
    /// The check's report (JSON, as `check --format json`).
    pub report: String,
    /// The store revision it was checked at.
    pub revision: u64,
    /// When it was checked (RFC 3339, UTC).
    pub created_at: String,
    /// When it expires unless applied (RFC 3339, UTC).
    pub expires_at: String,
    /// Once applied as a background job: the job's ID.
    pub applied_job: Option<i64>,
    /// Once applied at once: the outcome's counts (JSON, the frontend's).
    pub applied_outcome: Option<String>,
    /// When it was applied.
    pub applied_at: Option<String>,
}

impl StoredImport {
    /// A new, unapplied import.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &str,
        owner: &str,
        name: &str,
        settings: &str,
        file: &str,
        report: &str,
        revision: u64,
        expires_at: &str,
    ) -> Self {
        StoredImport {
            id: id.to_string(),
            owner: owner.to_string(),
            name: name.to_string(),
            settings: settings.to_string(),
            file: file.to_string(),
            report: report.to_string(),
            revision,
            created_at: crate::sink::now(),
            expires_at: expires_at.to_string(),
            applied_job: None,
            applied_outcome: None,
            applied_at: None,
        }
    }

    /// True once applied (at once or as a job).
    pub fn is_applied(&self) -> bool {
        self.applied_at.is_some()
    }
}

/// How an import was applied, to record.
#[derive(Debug, Clone, Copy)]
pub enum Applied<'a> {
    /// At once: the outcome's counts (JSON) and its per-row results.
    Now {
        /// The counts (JSON).
        outcome: &'a str,
        /// One result per row.
        results: &'a [RowResult],
    },
    /// As a background job, by its ID (its results are the job's).
    Job(i64),
}

/// Holds the store's apply lock until dropped (or until its process ends).
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct ApplyLock {
    /// The locked file beside a SQLite store (none for a store without a
    /// file, and on PostgreSQL, whose lock lives with the connection).
    pub(crate) _file: Option<std::fs::File>,
}

/// Where a frontend keeps checked imports, at-once results, sign-in
/// failures and the apply lock: implemented by
/// [`SqliteSink`](crate::SqliteSink) and [`PostgresSink`](crate::PostgresSink).
pub trait ImportStore {
    /// Records a checked import.
    fn save_import(&mut self, import: &StoredImport) -> Result<()>;

    /// The import with this ID.
    fn import(&self, id: &str) -> Result<Option<StoredImport>>;

    /// Records that import `id` was applied; false when it was applied
    /// already (by this or another server) or is gone, and then records
    /// nothing.
    fn mark_import_applied(&mut self, id: &str, applied: Applied<'_>) -> Result<bool>;

    /// The per-row results of import `id` applied at once, in row order.
    fn import_results(&self, id: &str) -> Result<Vec<RowResult>>;

    /// Forgets import `id` and its results; returns what it was (so that
    /// the caller removes its file).
    fn delete_import(&mut self, id: &str) -> Result<Option<StoredImport>>;

    /// Forgets the unapplied imports that expired at `now` (RFC 3339);
    /// returns them (so that the caller removes their files).
    fn expire_imports(&mut self, now: &str) -> Result<Vec<StoredImport>>;

    /// Forgets finished job `id`, its per-row results and the imports that
    /// ran as it; false when there is no such job.
    fn delete_job(&mut self, id: i64) -> Result<bool>;

    /// Counts a failed sign-in at `at` under each of `keys`, and forgets
    /// every failure from before `forget_before`.
    fn record_sign_in_failure(
        &mut self,
        keys: &[&str],
        at: &str,
        forget_before: &str,
    ) -> Result<()>;

    /// The failed sign-ins under `key` since `since` (RFC 3339).
    fn sign_in_failures(&self, key: &str, since: &str) -> Result<u64>;

    /// The invitation templates queued before (the outbox keeps each
    /// message's template), newest first, at most `limit`: each with when
    /// it was last used (RFC 3339).
    fn invite_templates(&self, limit: usize) -> Result<Vec<(String, String)>>;

    /// Takes the store's apply lock; `None` while another connection (this
    /// process or another) holds it. On PostgreSQL the lock lives with this
    /// connection: keep the store open as long as the returned lock.
    fn try_apply_lock(&mut self) -> Result<Option<ApplyLock>>;

    /// Lets the apply lock go now (dropping it, or closing the connection,
    /// does too; on PostgreSQL the server notices a closed connection a
    /// moment later).
    fn release_apply_lock(&mut self, lock: ApplyLock) -> Result<()>;
}
