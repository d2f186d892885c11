//! Background jobs: a plan written in committed batches, each batch in the
//! same transaction as the job's progress, so a job killed at any moment
//! leaves the store consistent and is finished by running it again.
//!
//! # A job's states
//!
//! Stored: `running`, `done`, `failed`, `cancelled`. A `running` job whose
//! worker lock ([`Jobs::claim_job`]) no live worker holds reads
//! `interrupted` (or `cancelled`, when a cancel was asked of it). Who moves
//! a job, and how:
//!
//! - **Its worker**, holding the lock, and only it, from taking the job to
//!   letting it go: [`begin_job`] starts it (a stopped job runs again on a
//!   resume; a cancel requested since the worker read it is acted on before
//!   anything is written); each batch commits its progress; its end (`done`,
//!   `cancelled` on request, `failed` with the reason) is recorded *before*
//!   the lock is let go ([`record_stop`] for a stop before the first batch),
//!   so a job never reads `interrupted` because its worker returned.
//! - **A cancel** ([`Jobs::request_cancel`]): a job with a live worker is
//!   flagged, and its worker stops at its next batch boundary (or before
//!   its first); a job without one is marked `cancelled` under its lock, so
//!   a worker taking it at that moment finds it cancelled or is flagged.
//! - **A reader** reads the row, then the lock; a `running` job whose lock
//!   is free is read again, so a worker that ended in between shows its end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

pub use crate::sink::JobStep;
use crate::sink::{Outcome, RowResult, Sink};
use crate::{Error, Result};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Being written by a live worker.
    Running,
    /// Recorded as running, but no live worker holds it (its process was
    /// killed, or its connection lost): the rows done so far are
    /// committed. Resume it. Never stored: read from a `running` job whose
    /// worker lock is free and that no cancel was asked of (that one reads
    /// `cancelled`: it stopped, as asked).
    Interrupted,
    /// Every row is written.
    Done,
    /// Stopped by an error; the rows done so far are committed. Resume it.
    Failed,
    /// Cancelled; the rows done so far are committed. Resume it.
    Cancelled,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Interrupted => "interrupted",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "running" => JobStatus::Running,
            "interrupted" => JobStatus::Interrupted,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// What a new job is: the file (name and SHA-256) and the options that
/// re-derive its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The file, as given.
    pub file: String,
    /// The file's SHA-256 (hex).
    pub file_sha256: String,
    /// The options the plan is made with (JSON, no secrets).
    pub options: String,
    /// Data rows in the file.
    pub rows_total: u64,
}

/// A job as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The job ID.
    pub id: i64,
    /// Where it stands.
    pub status: JobStatus,
    /// The file, its hash, the options and its row count.
    #[serde(flatten)]
    pub spec: JobSpec,
    /// Data rows written (every row up to this one is done).
    pub rows_done: u64,
    /// Users created so far.
    pub created: u64,
    /// Users updated so far.
    pub updated: u64,
    /// Users deleted so far.
    pub deleted: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows that failed (with `skip_invalid`).
    pub failed: u64,
    /// When it was created (RFC 3339).
    pub started_at: String,
    /// When it last moved.
    pub updated_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// A cancel was requested ([`Jobs::request_cancel`]): the worker stops
    /// at its next batch boundary.
    #[serde(default)]
    pub cancel_requested: bool,
}

/// Progress of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// The job.
    pub id: i64,
    /// Data rows done.
    pub rows_done: u64,
    /// Data rows in the file.
    pub rows_total: u64,
}

/// Cancels a running job from another thread: the batch in flight is
/// rolled back, the batches before it stay committed, and the job is marked
/// cancelled (resume it to finish).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The jobs a store keeps (SQLite and PostgreSQL; not [`MemorySink`](crate::MemorySink)):
/// a job's record, its per-row results, and its end. A job's progress is
/// recorded by [`Sink::write`] itself, in the transaction of each batch
/// ([`Batch::job`](crate::Batch::job)).
pub trait Jobs: Sink {
    /// Records a new job (status running, nothing done); returns its ID.
    fn create_job(&mut self, spec: &JobSpec) -> Result<i64, Self::Error>;

    /// A job by ID.
    fn job(&self, id: i64) -> Result<Option<Job>, Self::Error>;

    /// Every job, newest first.
    fn jobs(&self) -> Result<Vec<Job>, Self::Error>;

    /// The per-row results a job recorded, in file order.
    fn job_results(&self, id: i64) -> Result<Vec<RowResult>, Self::Error>;

    /// Adds results written before their job existed to job `id` (its
    /// counts and per-row results), with `rows_done`: a streamed apply
    /// learns that a file is a job only once it has read past the
    /// threshold.
    fn record_job_results(
        &mut self,
        id: i64,
        rows_done: u64,
        results: &[RowResult],
    ) -> Result<(), Self::Error>;

    /// Sets a job's status (and error); `Done`, `Failed` and `Cancelled`
    /// also stamp its finish time.
    fn finish_job(
        &mut self,
        id: i64,
        status: JobStatus,
        error: Option<&str>,
    ) -> Result<(), Self::Error>;

    /// Takes job `id`'s worker lock for this connection: `false` when a
    /// live worker elsewhere holds it. The lock ends with the worker (its
    /// process or connection), so a job whose worker is gone reads as
    /// [`JobStatus::Interrupted`]. [`run_job`](crate::run_job) and the streamed apply take
    /// it; taking it again on the same connection is a no-op.
    fn claim_job(&mut self, id: i64) -> Result<bool, Self::Error>;

    /// Gives job `id`'s worker lock back (nothing when not held here).
    fn release_job(&mut self, id: i64) -> Result<(), Self::Error>;

    /// Asks job `id` to stop: a job with a live worker stops at its next
    /// batch boundary (the batches before it committed, the store
    /// consistent) and is then `cancelled`; an interrupted or failed job
    /// is marked `cancelled` at once; a finished one is left alone.
    /// Returns the job as it now stands (`None`: no such job).
    fn request_cancel(&mut self, id: i64) -> Result<Option<Job>, Self::Error>;

    /// True when a cancel of job `id` was requested and not yet acted on.
    fn cancel_requested(&self, id: i64) -> Result<bool, Self::Error>;
}

/// Forwards every method of [`Jobs`] behind a pointer.
macro_rules! forward_jobs {
    ($($ptr:ty),*) => {$(
        impl<S: Jobs + ?Sized> Jobs for $ptr {
            fn create_job(&mut self, spec: &JobSpec) -> Result<i64, Self::Error> {
                (**self).create_job(spec)
            }
            fn job(&self, id: i64) -> Result<Option<Job>, Self::Error> {
                (**self).job(id)
            }
            fn jobs(&self) -> Result<Vec<Job>, Self::Error> {
                (**self).jobs()
            }
            fn job_results(&self, id: i64) -> Result<Vec<RowResult>, Self::Error> {
                (**self).job_results(id)
            }
            fn record_job_results(
                &mut self,
                id: i64,
                rows_done: u64,
                results: &[RowResult],
            ) -> Result<(), Self::Error> {
                (**self).record_job_results(id, rows_done, results)
            }
            fn finish_job(
                &mut self,
                id: i64,
                status: JobStatus,
                error: Option<&str>,
            ) -> Result<(), Self::Error> {
                (**self).finish_job(id, status, error)
            }
            fn claim_job(&mut self, id: i64) -> Result<bool, Self::Error> {
                (**self).claim_job(id)
            }
            fn release_job(&mut self, id: i64) -> Result<(), Self::Error> {
                (**self).release_job(id)
            }
            fn request_cancel(&mut self, id: i64) -> Result<Option<Job>, Self::Error> {
                (**self).request_cancel(id)
            }
            fn cancel_requested(&self, id: i64) -> Result<bool, Self::Error> {
                (**self).cancel_requested(id)
            }
        }
    )*};
}

forward_jobs!(&mut S, Box<S>);

/// What [`begin_job`] found: run the job, or its end is recorded already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Run it: the job as it now stands (`running`, `rows_done` written).
    Run(Job),
    /// Nothing to run: it is done, or (for a first worker) it was
    /// cancelled or failed before this worker took it.
    Ended(Job),
}

/// Starts job `before.id` for the worker that now holds its lock
/// ([`Jobs::claim_job`]); `before` is the job as this worker read it
/// before it took the lock. The one place a worker's start changes a job:
///
/// - `done`: nothing to run ([`Begun::Ended`]).
/// - `cancelled` or `failed`: with `resume` it runs again (`running`);
///   without (the worker a detached apply started, which comes after the
///   job is recorded) a cancel that came first wins: [`Begun::Ended`].
/// - `running`, with a cancel requested since `before` was read (or at any
///   time while this connection held the lock, or without `resume`): the
///   cancel is acted on now, before anything is written: the job is
///   `cancelled` and [`Error::Cancelled`] returned.
/// - `running` with a cancel request `before` already showed (its worker
///   was gone: the job read `cancelled`): resumed, the old request is
///   dropped.
pub fn begin_job<S: Jobs + ?Sized>(
    store: &mut S,
    before: &Job,
    resume: bool,
) -> Result<Begun, S::Error> {
    let id = before.id;
    let record = store
        .job(id)?
        .ok_or_else(|| Error::Refused(format!("no job {id}")))?;
    match record.status {
        JobStatus::Done => Ok(Begun::Ended(record)),
        JobStatus::Cancelled | JobStatus::Failed if !resume => Ok(Begun::Ended(record)),
        JobStatus::Cancelled | JobStatus::Failed => restart(store, id),
        JobStatus::Running | JobStatus::Interrupted => {
            let asked_since =
                before.status == JobStatus::Running || !before.cancel_requested || !resume;
            if record.cancel_requested && asked_since {
                store.finish_job(id, JobStatus::Cancelled, None)?;
                Err(Error::Cancelled.into())
            } else if record.cancel_requested {
                restart(store, id)
            } else {
                Ok(Begun::Run(record))
            }
        }
    }
}

/// Marks job `id` running again (dropping an old cancel request).
fn restart<S: Jobs + ?Sized>(store: &mut S, id: i64) -> Result<Begun, S::Error> {
    store.finish_job(id, JobStatus::Running, None)?;
    let record = store
        .job(id)?
        .ok_or_else(|| Error::Refused(format!("no job {id}")))?;
    Ok(Begun::Run(record))
}

/// Records how job `id`, held by this connection's worker, stopped, unless
/// its end is recorded already (the writer marks the batches it gives up
/// on): `cancelled` when stopped on request, else `failed` with `reason`.
/// A job that stopped before its first write (while its file was checked,
/// say) is thus never left `running`, to read `interrupted` once its
/// worker lets it go.
pub fn record_stop<S: Jobs + ?Sized>(
    store: &mut S,
    id: i64,
    cancelled: bool,
    reason: &str,
) -> Result<(), S::Error> {
    let Some(job) = store.job(id)? else {
        return Ok(());
    };
    if !matches!(job.status, JobStatus::Running | JobStatus::Interrupted) {
        return Ok(());
    }
    match cancelled {
        true => store.finish_job(id, JobStatus::Cancelled, None),
        false => store.finish_job(id, JobStatus::Failed, Some(reason)),
    }
}

/// [`Jobs::request_cancel`] for a store whose `flag` marks a running job
/// to stop at its next batch boundary. A job without a live worker is
/// marked cancelled under its worker lock, so that a worker taking it at
/// that moment either finds it cancelled or is found live (and flagged).
pub(crate) fn request_cancel_with<S: Jobs + ?Sized>(
    store: &mut S,
    id: i64,
    flag: impl FnOnce(&mut S) -> Result<(), S::Error>,
) -> Result<Option<Job>, S::Error> {
    let Some(job) = store.job(id)? else {
        return Ok(None);
    };
    match job.status {
        JobStatus::Running => flag(store)?,
        JobStatus::Interrupted | JobStatus::Failed => {
            if store.claim_job(id)? {
                let marked = cancel_idle(store, id);
                let released = store.release_job(id);
                marked?;
                released?;
            } else {
                // A worker took it since it was read: it stops at its
                // next batch boundary.
                flag(store)?;
            }
        }
        JobStatus::Done | JobStatus::Cancelled => return Ok(Some(job)),
    }
    store.job(id)
}

/// Marks job `id`, whose lock this connection holds, cancelled unless it
/// ended meanwhile.
fn cancel_idle<S: Jobs + ?Sized>(store: &mut S, id: i64) -> Result<(), S::Error> {
    let now = store.job(id)?.map(|j| j.status);
    if matches!(now, Some(JobStatus::Running | JobStatus::Failed)) {
        store.finish_job(id, JobStatus::Cancelled, None)?;
    }
    Ok(())
}

/// A job as read, with `running` told apart: `interrupted` when no live
/// worker holds it (`live` says whether one does), `cancelled` when a
/// cancel was asked of it too. A worker records its end before it lets its
/// lock go, so a job read as running whose lock is then found free is read
/// again (`reread`): it may have ended in between, and then that end shows.
pub(crate) fn observed(
    job: Job,
    live: impl FnOnce(i64) -> Result<bool>,
    reread: impl FnOnce(i64) -> Result<Option<Job>>,
) -> Result<Job> {
    if job.status != JobStatus::Running || live(job.id)? {
        return Ok(job);
    }
    let mut now = reread(job.id)?.unwrap_or(job);
    if now.status == JobStatus::Running {
        now.status = match now.cancel_requested {
            true => JobStatus::Cancelled,
            false => JobStatus::Interrupted,
        };
    }
    Ok(now)
}

/// The counts of a batch's results, for the job row.
pub(crate) fn counts(results: &[RowResult]) -> [i64; 5] {
    let mut c = [0i64; 5];
    for r in results {
        let k = match r.outcome {
            Outcome::Created => 0,
            Outcome::Updated => 1,
            Outcome::Deleted => 2,
            Outcome::Unchanged => 3,
            Outcome::Failed => 4,
            Outcome::Skipped => continue,
        };
        c[k] += 1;
    }
    c
}

/// The stored name of an outcome.
pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Deleted => "deleted",
        Outcome::Unchanged => "unchanged",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
    }
}

/// Parses a stored outcome name.
pub(crate) fn parse_outcome(text: &str) -> Outcome {
    match text {
        "created" => Outcome::Created,
        "updated" => Outcome::Updated,
        "deleted" => Outcome::Deleted,
        "unchanged" => Outcome::Unchanged,
        "skipped" => Outcome::Skipped,
        _ => Outcome::Failed,
    }
}

/// The longest run one stored result stands for: a run read back is
/// clamped to it, so a store edited by hand cannot make a reader expand
/// one row into billions.
const MAX_RUN: u64 = u32::MAX as u64;

/// `results` as runs, in order: each run is a first result and how many
/// results it stands for. A result joins the run before it when it follows
/// on by one line, one data row and one member ID (or neither has one), has
/// the same outcome and no reason, as the created users of a first import
/// do. A job stores one row per run (`job_results.run`), so 200,000 users
/// created in a row cost one stored row rather than 200,000.
pub(crate) fn runs(results: &[RowResult]) -> Vec<(&RowResult, u64)> {
    let mut out: Vec<(&RowResult, u64)> = Vec::new();
    let mut previous: Option<&RowResult> = None;
    for r in results {
        match (out.last_mut(), previous) {
            (Some((_, len)), Some(p)) if follows(p, r) && *len < MAX_RUN => *len += 1,
            _ => out.push((r, 1)),
        }
        previous = Some(r);
    }
    out
}

/// True when `next` continues the run that `previous` ends.
fn follows(previous: &RowResult, next: &RowResult) -> bool {
    let ids_follow = match (previous.id, next.id) {
        (None, None) => true,
        (Some(a), Some(b)) => a.checked_add(1) == Some(b),
        _ => false,
    };
    previous.row != 0
        && next.row == previous.row + 1
        && next.line == previous.line + 1
        && next.outcome == previous.outcome
        && previous.reason.is_none()
        && next.reason.is_none()
        && ids_follow
}

/// Appends the results a stored run stands for: `first`, then `run - 1`
/// results each one line, row and member ID further on.
pub(crate) fn expand_run(out: &mut Vec<RowResult>, first: RowResult, run: i64) {
    let run = u64::try_from(run).unwrap_or(1).clamp(1, MAX_RUN);
    let (line, row, outcome, id) = (first.line, first.row, first.outcome, first.id);
    out.push(first);
    for k in 1..run {
        out.push(RowResult {
            line: line.saturating_add(k),
            row: row.saturating_add(k),
            outcome,
            id: id.map(|id| id.saturating_add(k as i64)),
            reason: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(line: u64, row: u64, outcome: Outcome, id: Option<i64>) -> RowResult {
        RowResult {
            line,
            row,
            outcome,
            id,
            reason: None,
        }
    }

    fn round_trip(results: &[RowResult]) -> (usize, Vec<RowResult>) {
        let runs = runs(results);
        let mut out = Vec::new();
        for (first, run) in &runs {
            expand_run(&mut out, (*first).clone(), *run as i64);
        }
        (runs.len(), out)
    }

    #[test]
    fn created_users_in_a_row_are_one_run_and_read_back_the_same() {
        let results: Vec<_> = (1..=5_000)
            .map(|k| result(k + 1, k, Outcome::Created, Some(k as i64 + 40)))
            .collect();
        let (stored, back) = round_trip(&results);
        assert_eq!(stored, 1);
        assert_eq!(back, results);
    }

    #[test]
    fn a_break_in_lines_ids_outcome_or_a_reason_starts_a_new_run() {
        let mut failed = result(9, 8, Outcome::Failed, None);
        failed.reason = Some("taken".into());
        let results = vec![
            result(2, 1, Outcome::Created, Some(1)),
            result(3, 2, Outcome::Created, Some(2)),
            // A quoted cell over two lines: the next record starts a line later.
            result(5, 3, Outcome::Created, Some(3)),
            result(6, 4, Outcome::Created, Some(7)),
            result(7, 5, Outcome::Updated, Some(8)),
            result(8, 6, Outcome::Unchanged, None),
            result(9, 7, Outcome::Unchanged, None),
            failed.clone(),
            failed,
            result(0, 0, Outcome::Deleted, Some(12)),
            result(0, 0, Outcome::Deleted, Some(13)),
        ];
        let (stored, back) = round_trip(&results);
        assert_eq!(stored, 9);
        assert_eq!(back, results);
    }

    #[test]
    fn a_run_read_back_from_a_hand_edited_store_is_bounded() {
        let mut out = Vec::new();
        expand_run(&mut out, result(2, 1, Outcome::Created, Some(1)), -5);
        assert_eq!(out.len(), 1);
        let mut out = Vec::new();
        expand_run(&mut out, result(2, 1, Outcome::Created, Some(i64::MAX)), 3);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].id, Some(i64::MAX));
    }
}
