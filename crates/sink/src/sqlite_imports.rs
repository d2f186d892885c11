//! Checked imports, at-once results, sign-in failures and the apply lock
//! in the SQLite store (migration 9).

use std::fs::{OpenOptions, TryLockError};
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use crate::imports::{Applied, ApplyLock, ImportStore, StoredImport};
use crate::jobs::outcome_name;
use crate::sink::{RowResult, now};
use crate::{Result, SqliteSink};

/// Migration 9: checked imports with their report, the results of imports
/// applied at once, and sign-in failures.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE IF NOT EXISTS web_imports (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        settings TEXT NOT NULL,
        file TEXT NOT NULL,
        report TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        applied_job INTEGER,
        applied_outcome TEXT,
        applied_at TEXT
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS web_imports_expiry ON web_imports (expires_at) WHERE applied_at IS NULL;
    CREATE TABLE IF NOT EXISTS web_import_results (
        import_id TEXT NOT NULL,
        line INTEGER NOT NULL,
        row INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        member_id INTEGER,
        reason TEXT
    );
    CREATE INDEX IF NOT EXISTS web_import_results_import ON web_import_results (import_id, row);
    CREATE TABLE IF NOT EXISTS sign_in_failures (
        key TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sign_in_failures_key ON sign_in_failures (key, at);
";

const COLUMNS: &str = "id, owner, name, settings, file, report, revision, created_at, expires_at, applied_job, applied_outcome, applied_at";

fn import_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredImport> {
    Ok(StoredImport {
        id: r.get(0)?,
        owner: r.get(1)?,
        name: r.get(2)?,
        settings: r.get(3)?,
        file: r.get(4)?,
        report: r.get(5)?,
        revision: r.get::<_, i64>(6)?.max(0) as u64,
        created_at: r.get(7)?,
        expires_at: r.get(8)?,
        applied_job: r.get(9)?,
        applied_outcome: r.get(10)?,
        applied_at: r.get(11)?,
    })
}

/// The apply lock's file beside the store (`users.db-apply.lock`).
fn lock_path(db: &std::path::Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-apply.lock");
    PathBuf::from(name)
}

impl ImportStore for SqliteSink {
    fn save_import(&mut self, i: &StoredImport) -> Result<()> {
        self.check_writable()?;
        self.conn.execute(
            &format!(
                "INSERT INTO web_imports ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            params![
                i.id,
                i.owner,
                i.name,
                i.settings,
                i.file,
                i.report,
                i.revision as i64,
                i.created_at,
                i.expires_at,
                i.applied_job,
                i.applied_outcome,
                i.applied_at
            ],
        )?;
        Ok(())
    }

    fn import(&self, id: &str) -> Result<Option<StoredImport>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM web_imports WHERE id = ?"),
                [id],
                import_of,
            )
            .optional()?)
    }

    fn mark_import_applied(&mut self, id: &str, applied: Applied<'_>) -> Result<bool> {
        self.check_writable()?;
        let tx = self.conn.transaction()?;
        let (job, outcome) = match applied {
            Applied::Now { outcome, .. } => (None, Some(outcome)),
            Applied::Job(job) => (Some(job), None),
        };
        let n = tx.execute(
            "UPDATE web_imports SET applied_job = ?, applied_outcome = ?, applied_at = ?
             WHERE id = ? AND applied_at IS NULL",
            params![job, outcome, now(), id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        if let Applied::Now { results, .. } = applied {
            let mut stmt = tx.prepare(
                "INSERT INTO web_import_results (import_id, line, row, outcome, member_id, reason)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )?;
            for r in results {
                stmt.execute(params![
                    id,
                    r.line as i64,
                    r.row as i64,
                    outcome_name(r.outcome),
                    r.id,
                    r.reason
                ])?;
            }
        }
        tx.commit()?;
        Ok(true)
    }

    fn import_results(&self, id: &str) -> Result<Vec<RowResult>> {
        let mut stmt = self.conn.prepare(
            "SELECT line, row, outcome, member_id, reason FROM web_import_results
             WHERE import_id = ? ORDER BY row = 0, row, rowid",
        )?;
        let rows = stmt.query_map([id], crate::sqlite_jobs::result_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_import(&mut self, id: &str) -> Result<Option<StoredImport>> {
        self.check_writable()?;
        let tx = self.conn.transaction()?;
        let found = tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM web_imports WHERE id = ?"),
                [id],
                import_of,
            )
            .optional()?;
        tx.execute("DELETE FROM web_import_results WHERE import_id = ?", [id])?;
        tx.execute("DELETE FROM web_imports WHERE id = ?", [id])?;
        tx.commit()?;
        Ok(found)
    }

    fn expire_imports(&mut self, now: &str) -> Result<Vec<StoredImport>> {
        self.check_writable()?;
        let tx = self.conn.transaction()?;
        let expired = {
            let mut stmt = tx.prepare(&format!(
                "DELETE FROM web_imports WHERE applied_at IS NULL AND expires_at <= ? RETURNING {COLUMNS}"
            ))?;
            let rows = stmt.query_map([now], import_of)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(expired)
    }

    fn delete_job(&mut self, id: i64) -> Result<bool> {
        self.check_writable()?;
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM job_results WHERE job_id = ?", [id])?;
        tx.execute("DELETE FROM web_imports WHERE applied_job = ?", [id])?;
        let n = tx.execute("DELETE FROM jobs WHERE id = ?", [id])?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn record_sign_in_failure(
        &mut self,
        keys: &[&str],
        at: &str,
        forget_before: &str,
    ) -> Result<()> {
        self.check_writable()?;
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM sign_in_failures WHERE at < ?", [forget_before])?;
        for key in keys {
            tx.execute(
                "INSERT INTO sign_in_failures (key, at) VALUES (?, ?)",
                params![key, at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn sign_in_failures(&self, key: &str, since: &str) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM sign_in_failures WHERE key = ? AND at >= ?",
            params![key, since],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    fn invite_templates(&self, limit: usize) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT template, max(created_at) AS last FROM outbox
             GROUP BY template ORDER BY last DESC LIMIT ?",
        )?;
        let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn try_apply_lock(&mut self) -> Result<Option<ApplyLock>> {
        let Some(db) = self.path() else {
            return Ok(Some(ApplyLock { _file: None }));
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(db))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ApplyLock { _file: Some(file) })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }

    fn release_apply_lock(&mut self, lock: ApplyLock) -> Result<()> {
        drop(lock);
        Ok(())
    }
}
