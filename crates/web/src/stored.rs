//! What the server keeps in the store rather than in memory, so that it
//! survives a restart and is shared by every server on one store: checked
//! imports and the results of imports applied at once, sign-in failures,
//! and the store's one apply lock.

use userimport::sink::{ApplyLock, ImportStore, JobStatus, Jobs, StoredImport, timestamp};

use crate::AppState;
use crate::engine::Store;
use crate::error::ApiError;

/// The imports side of `store`.
pub fn imports(store: &Store) -> Result<&dyn ImportStore, ApiError> {
    match store {
        Store::Sqlite(s) => Ok(s),
        Store::Postgres(s) => Ok(s),
        _ => Err(ApiError::internal("this store keeps no checked imports")),
    }
}

/// The imports side of `store`, to write.
pub fn imports_mut(store: &mut Store) -> Result<&mut dyn ImportStore, ApiError> {
    match store {
        Store::Sqlite(s) => Ok(s),
        Store::Postgres(s) => Ok(s),
        _ => Err(ApiError::internal("this store keeps no checked imports")),
    }
}

/// RFC 3339 (UTC, seconds) of now shifted by `by` (negative: the past).
pub fn at_offset(by: std::time::Duration, future: bool) -> String {
    let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::days(3650));
    let now = chrono::Utc::now();
    timestamp(if future { now + by } else { now - by })
}

/// Reads stored import `id` (blocking).
pub fn load(db: &str, id: &str) -> Result<Option<StoredImport>, ApiError> {
    let store = Store::open_existing(db)?;
    Ok(imports(&store)?.import(id)?)
}

/// Records a checked import and forgets expired ones (blocking).
pub fn save(state: &AppState, import: &StoredImport) -> Result<(), ApiError> {
    let mut store = Store::open(&state.config().db)?;
    remove_expired(&mut store)?;
    imports_mut(&mut store)?.save_import(import)?;
    Ok(())
}

/// Forgets the unapplied imports whose time ran out and removes their
/// uploads; returns their IDs.
fn remove_expired(store: &mut Store) -> Result<Vec<String>, ApiError> {
    let now = timestamp(chrono::Utc::now());
    let expired = imports_mut(store)?.expire_imports(&now)?;
    for import in &expired {
        remove_upload(&import.file);
    }
    Ok(expired.into_iter().map(|i| i.id).collect())
}

/// Removes an upload, if it is still there (one that cannot be removed
/// stays for the operator; its record is gone either way).
pub fn remove_upload(path: &str) {
    let _ = std::fs::remove_file(path);
}

/// Forgets expired imports (blocking): called on start and on each upload.
pub fn expire(state: &AppState) -> Result<Vec<String>, ApiError> {
    remove_expired(&mut Store::open(&state.config().db)?)
}

/// The store's apply lock, held until dropped: on PostgreSQL the lock
/// lives with this guard's connection.
#[derive(Debug)]
pub struct StoreLock {
    lock: Option<ApplyLock>,
    store: Option<Store>,
}

impl Drop for StoreLock {
    /// Lets the lock go now. Closing a PostgreSQL connection blocks, which
    /// an async task may not do: there it runs in place (or, on a
    /// single-threaded runtime, on the blocking pool).
    fn drop(&mut self) {
        let parts = (self.lock.take(), self.store.take());
        let release = move || {
            let (lock, mut store) = parts;
            if let (Some(lock), Some(store)) = (lock, store.as_mut())
                && let Ok(imports) = imports_mut(store)
            {
                // A failed unlock ends with the connection, closed next.
                let _ = imports.release_apply_lock(lock);
            }
            drop(store);
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(release);
            }
            Ok(_) => {
                tokio::task::spawn_blocking(release);
            }
            Err(_) => release(),
        }
    }
}

/// Takes the store's apply lock (blocking); `None` while another server
/// (or another apply of this one) holds it, or while a job another
/// program started (the CLI's `apply`) is being written by a live worker.
pub fn try_store_lock(db: &str) -> Result<Option<StoreLock>, ApiError> {
    let mut store = Store::open(db)?;
    let Some(lock) = imports_mut(&mut store)?.try_apply_lock()? else {
        return Ok(None);
    };
    let held = StoreLock {
        lock: Some(lock),
        store: Some(store),
    };
    let live = match &held.store {
        Some(store) => store.jobs()?.iter().any(|j| j.status == JobStatus::Running),
        None => false,
    };
    Ok((!live).then_some(held))
}

/// The sign-in throttle's keys.
pub struct Throttle<'a> {
    /// The account tried.
    pub account: &'a str,
    /// The address it came from.
    pub address: &'a str,
}

impl Throttle<'_> {
    /// True once the account or the address failed too often in the
    /// window (blocking).
    pub fn is_locked(&self, state: &AppState) -> Result<bool, ApiError> {
        let config = state.config();
        let store = Store::open_existing(&config.db)?;
        let since = at_offset(config.failure_window, false);
        let failures = imports(&store)?;
        Ok(failures.sign_in_failures(self.account, &since)?
            >= u64::from(config.max_failures_per_account)
            || failures.sign_in_failures(self.address, &since)?
                >= u64::from(config.max_failures_per_address))
    }

    /// Counts a failure under both keys (blocking).
    pub fn record(&self, state: &AppState) -> Result<(), ApiError> {
        let config = state.config();
        let mut store = Store::open(&config.db)?;
        let now = timestamp(chrono::Utc::now());
        let forget = at_offset(config.failure_window, false);
        imports_mut(&mut store)?.record_sign_in_failure(
            &[self.account, self.address],
            &now,
            &forget,
        )?;
        Ok(())
    }
}
