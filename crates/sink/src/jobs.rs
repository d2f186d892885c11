//! Background jobs: a plan written in committed batches, each batch in the
//! same transaction as the job's progress, so a job killed at any moment
//! leaves the store consistent and is finished by running it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use userimport_plan::Plan;

use crate::invite::Invite;
pub use crate::sink::JobStep;
use crate::sink::{Outcome, Progress, RowResult, Sink};
use crate::writer::{FeedOptions, FeedProgress, JobPlan};
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
    /// worker lock is free.
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
    /// [`JobStatus::Interrupted`]. [`run_job`] and the streamed apply take
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

/// Runs (or resumes) job `job` over `plan`, a plan of the job's file made
/// against the store as it is now: changes of rows up to the job's
/// `rows_done` are skipped (they are committed already), the rest are
/// written in batches of about `batch_rows` changes, each committed with
/// the job's progress. Sync changes (row 0) go in the last batch.
///
/// The plan must be clean (no row errors) unless made with `skip_invalid`:
/// a job writes in several transactions, so the whole file is checked
/// first. With `invite`, each batch queues its created users' invitations.
/// `progress` is called after every batch; returning `false`, or
/// `cancel` being cancelled, stops the job (marked cancelled).
pub fn run_job<S: Jobs + ?Sized>(
    store: &mut S,
    job: i64,
    plan: &Plan,
    invite: Option<&Invite>,
    batch_rows: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&JobProgress) -> bool,
) -> Result<Job, S::Error> {
    if store.job(job)?.is_none() {
        return Err(Error::Refused(format!("no job {job}")).into());
    }
    if !store.claim_job(job)? {
        return Err(Error::JobRunning(job).into());
    }
    let ran = run_claimed(store, job, plan, invite, batch_rows, cancel, progress);
    let released = store.release_job(job);
    let job = ran?;
    released?;
    Ok(job)
}

/// [`run_job`] once this connection holds the job's worker lock.
fn run_claimed<S: Jobs + ?Sized>(
    store: &mut S,
    job: i64,
    plan: &Plan,
    invite: Option<&Invite>,
    batch_rows: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&JobProgress) -> bool,
) -> Result<Job, S::Error> {
    let record = store
        .job(job)?
        .ok_or_else(|| Error::Refused(format!("no job {job}")))?;
    if record.status == JobStatus::Done {
        return Ok(record);
    }
    crate::writer::preflight(&*store, plan)?;
    if record.status != JobStatus::Running || record.cancel_requested {
        // Resuming a job that stopped (or was asked to): it runs again.
        store.finish_job(job, JobStatus::Running, None)?;
    }
    let total = record.spec.rows_total;
    let options = FeedOptions {
        batch_rows,
        hold_rows: usize::MAX,
        all_or_nothing: !plan.options.skip_invalid,
        invite,
        job: JobPlan::Existing(job),
    };
    let written = crate::writer::write_plan(
        store,
        Some(crate::writer::JobOps::of()),
        plan,
        &options,
        (record.rows_done, total),
        cancel,
        &mut |p: &FeedProgress| {
            progress(&JobProgress {
                id: job,
                rows_done: p.rows_written,
                rows_total: total,
            })
        },
        &mut |_: &Progress| !cancel.is_cancelled(),
    )?;
    if !written.outcome.committed {
        let reason = written.outcome.first_failure();
        return Err(Error::Refused(format!("job {job} stopped: {reason}")).into());
    }
    store
        .job(job)?
        .ok_or_else(|| Error::Refused(format!("no job {job}")).into())
}

/// [`Jobs::request_cancel`] for a store whose `flag` marks a running job
/// to stop at its next batch boundary.
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
            store.finish_job(id, JobStatus::Cancelled, None)?;
        }
        JobStatus::Done | JobStatus::Cancelled => return Ok(Some(job)),
    }
    store.job(id)
}

/// A job as read, with `running` told apart: `interrupted` when no live
/// worker holds it (`live` says whether one does).
pub(crate) fn observed(mut job: Job, live: impl FnOnce(i64) -> Result<bool>) -> Result<Job> {
    if job.status == JobStatus::Running && !live(job.id)? {
        job.status = JobStatus::Interrupted;
    }
    Ok(job)
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

/// A job running on its own thread, for services: follow its progress,
/// cancel it, and wait for its end (which gives the store back).
///
/// ```
/// use userimport_plan::{PlanOptions, Planner};
/// use userimport_schema::Profile;
/// use userimport_sink::{JobHandle, JobSpec, JobStatus, Jobs, SqliteSink};
///
/// let mut store = SqliteSink::open_in_memory()?;
/// let plan = Planner::plan_rows(&Profile::standard(), PlanOptions::default(), Vec::new(), &store)?;
/// let spec = JobSpec { file: "users.csv".into(), file_sha256: "…".into(), options: "{}".into(), rows_total: 0 };
/// let id = store.create_job(&spec)?;
/// let handle = JobHandle::spawn(store, id, plan, None, 1000);
/// let (_store, job) = handle.join();
/// assert_eq!(job?.status, JobStatus::Done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JobHandle<S: Jobs> {
    cancel: CancelToken,
    progress: Arc<std::sync::Mutex<Option<JobProgress>>>,
    thread: std::thread::JoinHandle<(S, Result<Job, S::Error>)>,
}

impl<S> JobHandle<S>
where
    S: Jobs + Send + 'static,
    S::Error: Send,
{
    /// Runs [`run_job`] on a new thread, owning `store` until it ends.
    pub fn spawn(
        mut store: S,
        job: i64,
        plan: Plan,
        invite: Option<Invite>,
        batch_rows: usize,
    ) -> Self {
        let cancel = CancelToken::new();
        let progress = Arc::new(std::sync::Mutex::new(None));
        let (token, seen) = (cancel.clone(), Arc::clone(&progress));
        let thread = std::thread::spawn(move || {
            let result = run_job(
                &mut store,
                job,
                &plan,
                invite.as_ref(),
                batch_rows,
                &token,
                &mut |p| {
                    if let Ok(mut slot) = seen.lock() {
                        *slot = Some(*p);
                    }
                    true
                },
            );
            (store, result)
        });
        JobHandle {
            cancel,
            progress,
            thread,
        }
    }

    /// The progress after the last committed batch (`None` before the first).
    pub fn progress(&self) -> Option<JobProgress> {
        self.progress.lock().ok().and_then(|p| *p)
    }

    /// Asks the job to stop after the batch in flight (which is rolled back).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// True once the job's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the end: the store back, and the job as recorded (or why
    /// it stopped).
    pub fn join(self) -> (S, Result<Job, S::Error>) {
        match self.thread.join() {
            Ok(out) => out,
            // run_job does not panic on input; if a bug does, pass it on.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
