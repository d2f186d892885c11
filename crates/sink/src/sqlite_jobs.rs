//! Jobs in the SQLite store (tables from migration 2).

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::jobs::{
    Job, JobSpec, JobStatus, JobStep, counts, expand_run, outcome_name, parse_outcome, runs,
};
use crate::sink::{RowResult, now};

/// Migration 2: jobs and their per-row results.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        status TEXT NOT NULL,
        file TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        options TEXT NOT NULL,
        rows_total INTEGER NOT NULL,
        rows_done INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
    );
    CREATE TABLE job_results (
        job_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        row INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        member_id INTEGER,
        reason TEXT
    );
    CREATE INDEX job_results_job ON job_results (job_id, row);
";

/// Migration 5: a job can be asked to stop at its next batch boundary.
pub(crate) const MIGRATION_CANCEL: &str =
    "ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;";

/// Migration 12: a stored result stands for a run of results
/// ([`crate::jobs::runs`]): one row for the 200,000 users a first import
/// creates in a row, instead of one row each.
pub(crate) const MIGRATION_RUNS: &str =
    "ALTER TABLE job_results ADD COLUMN run INTEGER NOT NULL DEFAULT 1;";

const COLUMNS: &str = "id, status, file, file_sha256, options, rows_total, rows_done, created, updated, deleted, unchanged, failed, started_at, updated_at, finished_at, error, cancel_requested";

fn job_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    let status: String = r.get(1)?;
    Ok(Job {
        id: r.get(0)?,
        status: JobStatus::parse(&status).unwrap_or(JobStatus::Failed),
        spec: JobSpec {
            file: r.get(2)?,
            file_sha256: r.get(3)?,
            options: r.get(4)?,
            rows_total: n(5)?,
        },
        rows_done: n(6)?,
        created: n(7)?,
        updated: n(8)?,
        deleted: n(9)?,
        unchanged: n(10)?,
        failed: n(11)?,
        started_at: r.get(12)?,
        updated_at: r.get(13)?,
        finished_at: r.get(14)?,
        error: r.get(15)?,
        cancel_requested: r.get::<_, i64>(16)? != 0,
    })
}

pub(crate) fn create(conn: &Connection, spec: &JobSpec) -> Result<i64> {
    let stamp = now();
    conn.execute(
        "INSERT INTO jobs (status, file, file_sha256, options, rows_total, started_at, updated_at) VALUES ('running', ?, ?, ?, ?, ?, ?)",
        params![spec.file, spec.file_sha256, spec.options, spec.rows_total as i64, stamp, stamp],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn get(conn: &Connection, id: i64) -> Result<Option<Job>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"),
            [id],
            job_of,
        )
        .optional()?)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<Job>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM jobs ORDER BY id DESC"))?;
    let rows = stmt.query_map([], job_of)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

pub(crate) fn results(conn: &Connection, id: i64) -> Result<Vec<RowResult>> {
    let mut stmt = conn.prepare(
        "SELECT line, row, outcome, member_id, reason, run FROM job_results WHERE job_id = ? ORDER BY row = 0, row, rowid",
    )?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        expand_run(&mut out, result_of(r)?, r.get(5)?);
    }
    Ok(out)
}

/// A stored per-row result, selected as `line, row, outcome, member_id,
/// reason` (a job's and a kept import's alike).
pub(crate) fn result_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowResult> {
    Ok(RowResult {
        line: r.get::<_, i64>(0)?.max(0) as u64,
        row: r.get::<_, i64>(1)?.max(0) as u64,
        outcome: parse_outcome(&r.get::<_, String>(2)?),
        id: r.get(3)?,
        reason: r.get(4)?,
    })
}

pub(crate) fn finish(
    conn: &Connection,
    id: i64,
    status: JobStatus,
    error: Option<&str>,
) -> Result<()> {
    let stamp = now();
    let running = status == JobStatus::Running;
    let finished = (!running).then_some(stamp.as_str());
    // Running again (a resume) drops an old cancel request; stopping keeps
    // nothing to act on either.
    conn.execute(
        "UPDATE jobs SET status = ?, error = ?, updated_at = ?, finished_at = ?, cancel_requested = 0 WHERE id = ?",
        params![status.as_str(), error, stamp, finished, id],
    )?;
    Ok(())
}

/// Marks job `id` to stop at its next batch boundary.
pub(crate) fn flag_cancel(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND status = 'running'",
        params![now(), id],
    )?;
    Ok(())
}

/// True when job `id` was asked to stop.
pub(crate) fn cancel_flagged(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT cancel_requested FROM jobs WHERE id = ?",
            [id],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some_and(|flag| flag != 0))
}

/// Records a committed batch's step, inside its transaction.
pub(crate) fn record_step(conn: &Connection, step: JobStep, results: &[RowResult]) -> Result<()> {
    let c = counts(results);
    let stamp = now();
    let (status, finished) = if step.last {
        ("done", Some(stamp.as_str()))
    } else {
        ("running", None)
    };
    conn.execute(
        "UPDATE jobs SET rows_done = ?, created = created + ?, updated = updated + ?, deleted = deleted + ?, unchanged = unchanged + ?, failed = failed + ?, status = ?, error = NULL, updated_at = ?, finished_at = ?, rows_total = COALESCE(?, rows_total) WHERE id = ?",
        params![step.rows_done as i64, c[0], c[1], c[2], c[3], c[4], status, stamp, finished, step.rows_total.map(|n| n as i64), step.id],
    )?;
    // Many runs per statement: a job records the result of every row of
    // its file, as runs.
    let runs = runs(results);
    let mut chunks = runs.chunks_exact(RESULTS_PER_INSERT);
    if chunks.len() > 0 {
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT OR FAIL INTO job_results (job_id, line, row, outcome, member_id, reason, run) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?)"; RESULTS_PER_INSERT].join(", ")
        ))?;
        for chunk in chunks.by_ref() {
            for (k, run) in chunk.iter().enumerate() {
                bind_run(&mut stmt, k * 7, step.id, *run)?;
            }
            stmt.raw_execute()?;
        }
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO job_results (job_id, line, row, outcome, member_id, reason, run) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    for run in chunks.remainder() {
        bind_run(&mut stmt, 0, step.id, *run)?;
        stmt.raw_execute()?;
    }
    Ok(())
}

const RESULTS_PER_INSERT: usize = 64;

/// Binds one run's seven values from parameter `base + 1` on.
fn bind_run(
    stmt: &mut rusqlite::CachedStatement<'_>,
    base: usize,
    job: i64,
    (r, run): (&RowResult, u64),
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(base + 1, job)?;
    stmt.raw_bind_parameter(base + 2, r.line as i64)?;
    stmt.raw_bind_parameter(base + 3, r.row as i64)?;
    stmt.raw_bind_parameter(base + 4, outcome_name(r.outcome))?;
    stmt.raw_bind_parameter(base + 5, r.id)?;
    stmt.raw_bind_parameter(base + 6, r.reason.as_deref())?;
    stmt.raw_bind_parameter(base + 7, run as i64)?;
    Ok(())
}
