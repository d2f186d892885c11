//! The SQLite store's bulk load: a large first import into an empty store
//! writes through SQLite's rollback journal instead of its WAL.
//!
//! Through the WAL every page is written twice: into the WAL as the held
//! transaction grows, then into the database by the checkpoint at its
//! commit, each followed by an `fsync`. For an empty store the rollback
//! journal holds next to nothing (new pages have no old content to keep),
//! so each page is written once, into the database, as the transaction
//! spills from the page cache. A helper thread asks the kernel to write
//! those pages out while the import goes on (`fdatasync`), so the commit's
//! own `fsync` finds little left to do.
//!
//! The secondary indexes of the tables a first import fills (the look-alike
//! skeletons, the card ID, folded identities: none of them refuses a row)
//! are dropped when the load begins and built again, from the loaded rows,
//! just before it commits, in the same transaction: a load that fails or
//! is killed takes the drop back with its rows. The unique indexes stay,
//! since they refuse taken keys row by row.
//!
//! The price is concurrency: while the load runs, the store is locked for
//! other connections (a rollback journal lets nobody read pages the
//! transaction has spilled). The mode is therefore taken only when this is
//! the store's sole connection (SQLite refuses to leave WAL mode otherwise)
//! and the store holds no users, so the planner needs no look-ups; it ends
//! (back to WAL) with the transaction that carried the load.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the helper thread flushes the database file.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The tables whose secondary indexes a bulk load builds after its rows.
const DEFERRED_TABLES: [&str; 2] = ["users", "identities"];

/// A running bulk load: the helper thread that flushes the file, and the
/// indexes it left out.
#[derive(Debug)]
pub(crate) struct BulkLoad {
    stop: Arc<(Mutex<bool>, Condvar)>,
    flusher: Option<JoinHandle<()>>,
    /// The `CREATE INDEX` statements of the indexes dropped for the load.
    deferred: Vec<String>,
}

impl BulkLoad {
    /// Switches `conn` (the store's sole connection, outside any
    /// transaction) to its rollback journal and starts flushing `path`.
    /// `None` when SQLite keeps the WAL: another connection has the file
    /// open.
    pub(crate) fn begin(conn: &Connection, path: &Path) -> rusqlite::Result<Option<BulkLoad>> {
        // Leaving WAL mode needs every other connection closed; ask once,
        // without waiting on the busy timeout.
        conn.busy_timeout(Duration::ZERO)?;
        let mode = conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0));
        conn.busy_timeout(crate::store_errors::BUSY_TIMEOUT)?;
        match mode {
            Ok(mode) if mode.eq_ignore_ascii_case("delete") => {}
            Ok(_) => return Ok(None),
            Err(e) if crate::store_errors::is_busy(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        // Full syncs: the journal is synced before the database is written.
        conn.pragma_update(None, "synchronous", "FULL")?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        // Without the file or a thread the load still works, only with
        // all of its writing left for the commit's `fsync`.
        let flusher = File::open(path).ok().and_then(|file| {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("userimport-flush".to_string())
                .spawn(move || flush_until_stopped(&file, &stop))
                .ok()
        });
        Ok(Some(BulkLoad {
            stop,
            flusher,
            deferred: Vec::new(),
        }))
    }

    /// Drops the secondary indexes of the tables a first import fills,
    /// inside the load's open transaction, keeping their definitions for
    /// [`BulkLoad::build_indexes`]. Unique indexes stay.
    pub(crate) fn defer_indexes(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for table in DEFERRED_TABLES {
            let mut stmt = conn.prepare(
                "SELECT m.name, m.sql FROM pragma_index_list(?1) AS l
                 JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name
                 WHERE l.\"unique\" = 0 AND l.origin = 'c' AND m.sql IS NOT NULL
                 ORDER BY m.name",
            )?;
            let indexes = stmt
                .query_map([table], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (name, sql) in indexes {
                conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
                self.deferred.push(sql);
            }
        }
        Ok(())
    }

    /// Builds the indexes [`BulkLoad::defer_indexes`] dropped, from the
    /// loaded rows, inside the load's transaction (once: the load ends
    /// with this commit).
    pub(crate) fn build_indexes(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for sql in std::mem::take(&mut self.deferred) {
            conn.execute_batch(&sql)?;
        }
        Ok(())
    }

    /// Stops flushing and puts `conn` back into WAL mode. A failure leaves
    /// the rollback journal in place, which the next open of the store
    /// replaces with the WAL.
    pub(crate) fn end(mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.stop_flusher();
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
        Ok(())
    }

    fn stop_flusher(&mut self) {
        let (stopped, wake) = &*self.stop;
        if let Ok(mut stopped) = stopped.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl Drop for BulkLoad {
    fn drop(&mut self) {
        self.stop_flusher();
    }
}

/// Writes the file's dirty pages out every [`FLUSH_EVERY`] until stopped.
/// Only ever makes durable what SQLite already wrote, so it cannot reorder
/// SQLite's own syncs.
fn flush_until_stopped(file: &File, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    let Ok(mut guard) = stopped.lock() else {
        return;
    };
    while !*guard {
        guard = match wake.wait_timeout(guard, FLUSH_EVERY) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
        if !*guard {
            drop(guard);
            let _ = file.sync_data();
            guard = match stopped.lock() {
                Ok(guard) => guard,
                Err(_) => return,
            };
        }
    }
}

/// Rolls back a bulk load that was killed (its rollback journal is left
/// beside the file), which a read-only connection cannot do, and puts the
/// store back into WAL mode. Best effort: without write access the
/// read-only open reports the problem itself.
pub(crate) fn recover(path: &Path) {
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    if !Path::new(&journal).exists() {
        return;
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if let Ok(conn) = Connection::open_with_flags(path, flags) {
        // A journal left by a killed load is locked by nobody; one whose
        // load is still running is locked by it, and SQLite leaves it be
        // (without waiting here for that load to end).
        let _ = conn.busy_timeout(Duration::ZERO);
        let _ = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0));
    }
}
