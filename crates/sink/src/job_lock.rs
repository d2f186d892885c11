//! Worker locks of a file store's jobs: one lock file per running job
//! beside the store (`users.db-job-7.lock`), locked (`flock`) by the live
//! worker. The operating system ends the lock with the worker's process,
//! so a job whose file is missing or unlocked has no worker: it is
//! interrupted.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Tries to take a job's lock before it counts as held by a live worker.
const CLAIM_TRIES: u32 = 50;
/// The pause between two tries.
const CLAIM_PAUSE: std::time::Duration = std::time::Duration::from_millis(4);

/// The worker locks this connection holds, by job ID (`None`: a store
/// without a file, where only this connection can see the job).
#[derive(Debug, Default)]
pub(crate) struct JobLocks {
    held: HashMap<i64, Option<File>>,
}

/// The lock file of job `id` of the store at `db`.
fn lock_path(db: &Path, id: i64) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(format!("-job-{id}.lock"));
    PathBuf::from(name)
}

impl JobLocks {
    /// Takes job `id`'s lock: false when another worker holds it.
    pub(crate) fn claim(&mut self, db: Option<&Path>, id: i64) -> io::Result<bool> {
        if self.held.contains_key(&id) {
            return Ok(true);
        }
        let Some(db) = db else {
            self.held.insert(id, None);
            return Ok(true);
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(db, id))?;
        // A reader probing the lock holds it for an instant: a few tries
        // tell it from a live worker, which holds it all along.
        for _ in 0..CLAIM_TRIES {
            match file.try_lock() {
                Ok(()) => {
                    self.held.insert(id, Some(file));
                    return Ok(true);
                }
                Err(TryLockError::WouldBlock) => std::thread::sleep(CLAIM_PAUSE),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Gives job `id`'s lock back and removes its file (while still
    /// holding it, so no other worker holds a lock on a removed file).
    pub(crate) fn release(&mut self, db: Option<&Path>, id: i64) -> io::Result<()> {
        if let (Some(Some(file)), Some(db)) = (self.held.remove(&id), db) {
            let removed = std::fs::remove_file(lock_path(db, id));
            drop(file);
            if let Err(e) = removed
                && e.kind() != io::ErrorKind::NotFound
            {
                return Err(e);
            }
        }
        Ok(())
    }

    /// True when a live worker (this connection or another process) holds
    /// job `id`'s lock.
    pub(crate) fn is_live(&self, db: Option<&Path>, id: i64) -> io::Result<bool> {
        if self.held.contains_key(&id) {
            return Ok(true);
        }
        let Some(db) = db else {
            return Ok(false);
        };
        let file = match File::open(lock_path(db, id)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            // Free: no worker. Dropping the file lets the lock go.
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}
