//! Running a job: [`run_job`] writes a job's plan through the writer loop,
//! in batches committed with its progress, from the job's worker lock to
//! its recorded end; [`JobHandle`] runs it on a thread of its own. The
//! job's records and states ([`Jobs`], [`begin_job`]) sit below the writer.

use std::sync::Arc;

use userimport_plan::Plan;

use crate::invite::Invite;
use crate::jobs::{Begun, CancelToken, Job, JobProgress, Jobs, begin_job, record_stop};
use crate::sink::Progress;
use crate::writer::{FeedOptions, FeedProgress, JobOps, JobPlan, preflight, write_plan};
use crate::{Error, Result};

/// Runs (or resumes) job `job` over `plan`, a plan of the job's file made
/// against the store as it is now: changes of rows up to the job's
/// `rows_done` are skipped (they are committed already), the rest are
/// written in batches of about `batch_rows` changes, each committed with
/// the job's progress. Sync changes (row 0) go in the last batch.
///
/// The plan must be clean (no row errors) unless made with `skip_invalid`:
/// a job writes in several transactions, so the whole file is checked
/// first. With `invite`, each batch queues its created users' invitations.
/// `progress` is called after every batch; returning `false`, `cancel`
/// being cancelled, or a cancel requested through the store
/// ([`Jobs::request_cancel`]) stops the job (marked cancelled). A cancel
/// requested before the first batch (after this connection took the job's
/// lock) stops it before anything is written. The job starts as
/// [`begin_job`] says (a stopped job runs again), and its end is recorded
/// whatever stops it ([`record_stop`]).
pub fn run_job<S: Jobs + ?Sized>(
    store: &mut S,
    job: i64,
    plan: &Plan,
    invite: Option<&Invite>,
    batch_rows: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&JobProgress) -> bool,
) -> Result<Job, S::Error> {
    let before = store
        .job(job)?
        .ok_or_else(|| Error::Refused(format!("no job {job}")))?;
    if !store.claim_job(job)? {
        return Err(Error::JobRunning(job).into());
    }
    let ran = match begin_job(store, &before, true) {
        Ok(Begun::Ended(done)) => Ok(done),
        Ok(Begun::Run(record)) => {
            run_claimed(store, record, plan, invite, batch_rows, cancel, progress)
        }
        Err(e) => Err(e),
    };
    let ran = match ran {
        Err(e) => match record_stop(store, job, is_cancel(&e), &e.to_string()) {
            Ok(()) => Err(e),
            Err(recording) => Err(recording),
        },
        ok => ok,
    };
    let released = store.release_job(job);
    let job = ran?;
    released?;
    Ok(job)
}

/// True when `e` is a stop on request (the progress callback, a cancel).
fn is_cancel<E: std::error::Error + 'static>(e: &E) -> bool {
    let e: &(dyn std::error::Error + 'static) = e;
    matches!(e.downcast_ref::<Error>(), Some(Error::Cancelled))
}

/// [`run_job`] once this connection holds the job's worker lock and the
/// job has begun ([`begin_job`]).
fn run_claimed<S: Jobs + ?Sized>(
    store: &mut S,
    record: Job,
    plan: &Plan,
    invite: Option<&Invite>,
    batch_rows: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&JobProgress) -> bool,
) -> Result<Job, S::Error> {
    let job = record.id;
    preflight(&*store, plan)?;
    let total = record.spec.rows_total;
    let options = FeedOptions {
        batch_rows,
        hold_rows: usize::MAX,
        all_or_nothing: !plan.options.skip_invalid,
        invite,
        job: JobPlan::Existing(job),
    };
    let written = write_plan(
        store,
        Some(JobOps::of()),
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
