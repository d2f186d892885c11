//! Checked imports, at-once results, sign-in failures and the apply lock
//! in the PostgreSQL store (migration 8).

use crate::imports::{Applied, ApplyLock, ImportStore, StoredImport};
use crate::jobs::outcome_name;
use crate::sink::{RowResult, now};
use crate::{PostgresSink, Result};

/// Migration 8: checked imports with their report, the results of imports
/// applied at once, and sign-in failures.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE IF NOT EXISTS web_imports (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        settings TEXT NOT NULL,
        file TEXT NOT NULL,
        report TEXT NOT NULL,
        revision BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        applied_job BIGINT,
        applied_outcome TEXT,
        applied_at TEXT
    );
    CREATE INDEX IF NOT EXISTS web_imports_expiry ON web_imports (expires_at) WHERE applied_at IS NULL;
    CREATE TABLE IF NOT EXISTS web_import_results (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        import_id TEXT NOT NULL,
        line BIGINT NOT NULL,
        row BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        member_id BIGINT,
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

/// The apply lock: a session advisory lock keyed by the schema (tests and
/// services may share a database), apart from the jobs' worker locks
/// (keyed by the schema's own hash).
const APPLY_LOCK: &str = "hashtext(current_schema() || '/apply'), 0";

fn import_of(r: &postgres::Row) -> StoredImport {
    StoredImport {
        id: r.get(0),
        owner: r.get(1),
        name: r.get(2),
        settings: r.get(3),
        file: r.get(4),
        report: r.get(5),
        revision: r.get::<_, i64>(6).max(0) as u64,
        created_at: r.get(7),
        expires_at: r.get(8),
        applied_job: r.get(9),
        applied_outcome: r.get(10),
        applied_at: r.get(11),
    }
}

impl ImportStore for PostgresSink {
    fn save_import(&mut self, i: &StoredImport) -> Result<()> {
        self.check_writable()?;
        self.client.borrow_mut().execute(
            &format!(
                "INSERT INTO web_imports ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                &i.id,
                &i.owner,
                &i.name,
                &i.settings,
                &i.file,
                &i.report,
                &(i.revision as i64),
                &i.created_at,
                &i.expires_at,
                &i.applied_job,
                &i.applied_outcome,
                &i.applied_at,
            ],
        )?;
        Ok(())
    }

    fn import(&self, id: &str) -> Result<Option<StoredImport>> {
        if self.empty {
            return Ok(None);
        }
        let row = self.client.borrow_mut().query_opt(
            &format!("SELECT {COLUMNS} FROM web_imports WHERE id = $1"),
            &[&id],
        )?;
        Ok(row.as_ref().map(import_of))
    }

    fn mark_import_applied(&mut self, id: &str, applied: Applied<'_>) -> Result<bool> {
        self.check_writable()?;
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        let (job, outcome) = match applied {
            Applied::Now { outcome, .. } => (None, Some(outcome)),
            Applied::Job(job) => (Some(job), None),
        };
        let n = tx.execute(
            "UPDATE web_imports SET applied_job = $1, applied_outcome = $2, applied_at = $3
             WHERE id = $4 AND applied_at IS NULL",
            &[&job, &outcome, &now(), &id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        if let Applied::Now { results, .. } = applied {
            let lines: Vec<i64> = results.iter().map(|r| r.line as i64).collect();
            let rows: Vec<i64> = results.iter().map(|r| r.row as i64).collect();
            let outcomes: Vec<&str> = results.iter().map(|r| outcome_name(r.outcome)).collect();
            let members: Vec<Option<i64>> = results.iter().map(|r| r.id).collect();
            let reasons: Vec<Option<&str>> = results.iter().map(|r| r.reason.as_deref()).collect();
            tx.execute(
                "INSERT INTO web_import_results (import_id, line, row, outcome, member_id, reason)
                 SELECT $1, l, r, o, m, e
                 FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])
                      WITH ORDINALITY AS t(l, r, o, m, e, n) ORDER BY n",
                &[&id, &lines, &rows, &outcomes, &members, &reasons],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn import_results(&self, id: &str) -> Result<Vec<RowResult>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let rows = self.client.borrow_mut().query(
            "SELECT line, row, outcome, member_id, reason FROM web_import_results
             WHERE import_id = $1 ORDER BY row = 0, row, seq",
            &[&id],
        )?;
        Ok(rows.iter().map(crate::postgres::result_of).collect())
    }

    fn delete_import(&mut self, id: &str) -> Result<Option<StoredImport>> {
        self.check_writable()?;
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        tx.execute(
            "DELETE FROM web_import_results WHERE import_id = $1",
            &[&id],
        )?;
        let row = tx.query_opt(
            &format!("DELETE FROM web_imports WHERE id = $1 RETURNING {COLUMNS}"),
            &[&id],
        )?;
        tx.commit()?;
        Ok(row.as_ref().map(import_of))
    }

    fn expire_imports(&mut self, now: &str) -> Result<Vec<StoredImport>> {
        self.check_writable()?;
        let rows = self.client.borrow_mut().query(
            &format!(
                "DELETE FROM web_imports WHERE applied_at IS NULL AND expires_at <= $1 RETURNING {COLUMNS}"
            ),
            &[&now],
        )?;
        Ok(rows.iter().map(import_of).collect())
    }

    fn delete_job(&mut self, id: i64) -> Result<bool> {
        self.check_writable()?;
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        tx.execute("DELETE FROM job_results WHERE job_id = $1", &[&id])?;
        tx.execute("DELETE FROM web_imports WHERE applied_job = $1", &[&id])?;
        let n = tx.execute("DELETE FROM jobs WHERE id = $1", &[&id])?;
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
        let mut client = self.client.borrow_mut();
        let mut tx = client.transaction()?;
        tx.execute(
            "DELETE FROM sign_in_failures WHERE at < $1",
            &[&forget_before],
        )?;
        tx.execute(
            "INSERT INTO sign_in_failures (key, at) SELECT k, $2 FROM unnest($1::text[]) AS t(k)",
            &[&keys, &at],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn sign_in_failures(&self, key: &str, since: &str) -> Result<u64> {
        if self.empty {
            return Ok(0);
        }
        let row = self.client.borrow_mut().query_one(
            "SELECT count(*) FROM sign_in_failures WHERE key = $1 AND at >= $2",
            &[&key, &since],
        )?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    fn invite_templates(&self, limit: usize) -> Result<Vec<(String, String)>> {
        if self.empty {
            return Ok(Vec::new());
        }
        let rows = self.client.borrow_mut().query(
            "SELECT template, max(created_at) AS last FROM outbox
             GROUP BY template ORDER BY last DESC LIMIT $1",
            &[&(limit as i64)],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn try_apply_lock(&mut self) -> Result<Option<ApplyLock>> {
        let row = self
            .client
            .borrow_mut()
            .query_one(&format!("SELECT pg_try_advisory_lock({APPLY_LOCK})"), &[])?;
        let locked: bool = row.get(0);
        Ok(locked.then_some(ApplyLock { _file: None }))
    }

    fn release_apply_lock(&mut self, lock: ApplyLock) -> Result<()> {
        drop(lock);
        self.client
            .borrow_mut()
            .query_one(&format!("SELECT pg_advisory_unlock({APPLY_LOCK})"), &[])?;
        Ok(())
    }
}
