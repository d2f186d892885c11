//! Background jobs through the library: find, resume and cancel a job by
//! its ID, whichever frontend started it.
//!
//! A job's identity is its file's SHA-256 plus its [`ImportSettings`] as
//! JSON, so a job started by the command line can be resumed by a service
//! and the reverse. Resuming plans the job's file again against the store as
//! it is now (refusing a file whose SHA-256 changed), with the one authority
//! check, and writes what is left in committed batches.
//!
//! Every worker ([`resume`], [`resume_with`], [`work`], a started job's
//! [`crate::launch::Worker`]) takes its job before it reads the file,
//! begins it ([`userimport_sink::begin_job`]: a cancel requested meanwhile
//! is acted on before anything is written) and records how it ended,
//! whatever ends it: `done`; `cancelled` when stopped on request, by its
//! progress callback (while the file is checked too) or [`cancel`]; `failed`
//! with the reason. A job reads `interrupted` only when its worker's process
//! or connection went away.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use userimport_plan::Plan;
use userimport_sink::{
    Begun, CancelToken, Invite, Job, JobProgress, JobStatus, Jobs, begin_job, record_stop, run_job,
};

use crate::settings::ImportSettings;
use crate::stream::StreamProgress;
use crate::{Error, Store};

/// Every job, newest first.
pub fn list<S: Jobs + ?Sized>(store: &S) -> Result<Vec<Job>, Error>
where
    Error: From<S::Error>,
{
    Ok(store.jobs()?)
}

/// Job `id`, refused when there is none.
pub fn get<S: Jobs + ?Sized>(store: &S, id: i64) -> Result<Job, Error>
where
    Error: From<S::Error>,
{
    store
        .job(id)?
        .ok_or_else(|| Error::Refused(format!("no job {id}")))
}

fn same_settings(job: &Job, settings: &str) -> bool {
    job.spec.options == settings
        || match (
            ImportSettings::from_json(&job.spec.options),
            ImportSettings::from_json(settings),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// The unfinished job for the file with this SHA-256 and these settings,
/// if any: applying the same file again resumes it.
pub fn unfinished(store: &Store, sha256: &str, settings: &str) -> Result<Option<i64>, Error> {
    Ok(store
        .jobs()?
        .into_iter()
        .find(|job| {
            job.status != JobStatus::Done
                && job.spec.file_sha256 == sha256
                && same_settings(job, settings)
        })
        .map(|job| job.id))
}

/// The unfinished job for `file` with these settings. The file is hashed
/// (a second read) only when some unfinished job has these settings.
pub(crate) fn unfinished_for(
    store: &Store,
    file: &Path,
    settings: &str,
) -> Result<Option<i64>, Error> {
    let any = store
        .jobs()?
        .iter()
        .any(|job| job.status != JobStatus::Done && same_settings(job, settings));
    if !any {
        return Ok(None);
    }
    unfinished(store, &sha256_file(file)?, settings)
}

/// What [`resume`] finds of a job.
enum Resumable {
    /// Done already: nothing to write.
    Finished(Job),
    /// Stopped, failed or interrupted: it runs again.
    Stopped(Job),
}

/// Job `id`, unless its worker is alive (another process or connection).
fn to_resume(store: &Store, id: i64) -> Result<Resumable, Error> {
    let job = get(store, id)?;
    match job.status {
        JobStatus::Done => Ok(Resumable::Finished(job)),
        JobStatus::Running => Err(userimport_sink::Error::JobRunning(id).into()),
        _ => Ok(Resumable::Stopped(job)),
    }
}

/// Finishes job `id`: plans its file again against the store as it is now
/// and writes the rows not done yet, in batches of `batch` changes.
/// `progress` returning `false` stops it (it is then `cancelled`; resume
/// it again later). On an SQLite store the file is read twice and its plan
/// never held whole; a PostgreSQL store (which keeps no URL to open a
/// second connection with) plans it whole: use [`resume_with`] there for
/// large files.
pub fn resume(
    store: &mut Store,
    id: i64,
    batch: usize,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    match to_resume(store, id)? {
        Resumable::Finished(job) => Ok(job),
        Resumable::Stopped(job) => {
            let run = Run::resume(job, batch);
            resume_claimed(store, None, run, progress)
        }
    }
}

/// How a worker runs a job: the job as read before its lock was taken,
/// the file to read (the job's own, or the same bytes elsewhere), and
/// whether a cancelled or failed job runs again (`resume`).
pub(crate) struct Run<'a> {
    pub(crate) before: Job,
    pub(crate) file: Option<&'a Path>,
    pub(crate) batch: usize,
    pub(crate) expected_revision: Option<u64>,
    pub(crate) resume: bool,
}

impl Run<'_> {
    /// A resume of `job` from its own file.
    pub(crate) fn resume(job: Job, batch: usize) -> Self {
        Run {
            before: job,
            file: None,
            batch,
            expected_revision: None,
            resume: true,
        }
    }
}

/// Runs a job as its worker on this connection ([`as_worker`]), planning
/// through `planning` when given (else a second handle when one can be
/// opened, else the plan is made whole); with `expected_revision`, a job
/// that wrote nothing yet is refused, and marked failed, when the store
/// moved since its file was checked.
pub(crate) fn resume_claimed(
    store: &mut Store,
    planning: Option<Store>,
    run: Run<'_>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let Run {
        before,
        file,
        batch,
        expected_revision,
        resume,
    } = run;
    let planning = match planning {
        Some(planning) => Some(planning),
        None => planning_handle(store)?,
    };
    let own = PathBuf::from(&before.spec.file);
    let path = file.unwrap_or(&own);
    as_worker(store, &before, resume, |store, job| match planning {
        Some(planning) => crate::two_pass::resume_in_two_passes(
            store,
            planning,
            &job,
            path,
            batch,
            expected_revision,
            progress,
        ),
        None => resume_whole(store, &job, path, batch, expected_revision, progress),
    })
}

/// Takes job `before.id` as its worker on this connection: its lock
/// (refused with [`JobRunning`](userimport_sink::Error::JobRunning) while a
/// live worker elsewhere holds it), then its start ([`begin_job`]: a
/// cancel requested meanwhile is acted on, as [`Error::Stopped`]).
pub(crate) fn take(store: &mut Store, before: &Job, resume: bool) -> Result<Begun, Error> {
    let id = before.id;
    if !store.claim_job(id)? {
        return Err(userimport_sink::Error::JobRunning(id).into());
    }
    match begin_job(store, before, resume) {
        Ok(begun) => Ok(begun),
        Err(e) => {
            let _ = store.release_job(id);
            Err(stopped(id, e.into()))
        }
    }
}

/// Runs `work` as job `before.id`'s worker: takes the job ([`take`]), runs
/// `work` on it unless it has ended, records how it stopped whatever
/// stops it ([`record_stop`]: `cancelled` on request, else `failed` with
/// the reason; a job is never left `running` by a worker that returned),
/// and gives its lock back.
pub(crate) fn as_worker(
    store: &mut Store,
    before: &Job,
    resume: bool,
    work: impl FnOnce(&mut Store, Job) -> Result<Job, Error>,
) -> Result<Job, Error> {
    let id = before.id;
    let ran = match take(store, before, resume)? {
        Begun::Ended(job) => Ok(job),
        Begun::Run(job) => work(store, job).map_err(|e| stopped(id, e)),
    };
    let recorded = match &ran {
        Err(e) => record_stop(store, id, is_stop(e), &e.to_string()),
        Ok(_) => Ok(()),
    };
    let released = store.release_job(id);
    let job = ran?;
    recorded?;
    released?;
    Ok(job)
}

/// True when `e` is a stop on request (the progress callback, a cancel).
fn is_stop(e: &Error) -> bool {
    use userimport_sink::Error::Cancelled;
    matches!(
        e,
        Error::Stopped { .. }
            | Error::Sink(Cancelled)
            | Error::JobStopped {
                source: Cancelled,
                ..
            }
    )
}

/// A stop on request of job `id` as [`Error::Stopped`]; other errors as
/// they are.
fn stopped(id: i64, e: Error) -> Error {
    match is_stop(&e) {
        true => Error::Stopped { job: id },
        false => e,
    }
}

/// Writes `job` from `path` planned whole (a store without a second handle).
fn resume_whole(
    store: &mut Store,
    job: &Job,
    path: &Path,
    batch: usize,
    expected_revision: Option<u64>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let id = job.id;
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Refused(format!("job {id}: cannot read {}: {e}", path.display())))?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if sha != job.spec.file_sha256 {
        let reason = format!(
            "{} changed since job {id} started (SHA-256 {sha}, recorded {}): the job cannot be resumed",
            path.display(),
            job.spec.file_sha256
        );
        store.finish_job(id, JobStatus::Failed, Some(&reason))?;
        return Err(Error::Refused(reason));
    }
    let settings = ImportSettings::from_json(&job.spec.options)?;
    let checked = settings.importer()?.plan(&bytes[..], &*store)?;
    let plan = checked
        .plan
        .ok_or_else(|| Error::Refused("the planner returned no plan".into()))?;
    if job.rows_done == 0
        && let Err(moved) = crate::moved::guard(store, expected_revision, Some(plan.revision))
    {
        store.finish_job(id, JobStatus::Failed, Some(&moved.to_string()))?;
        return Err(moved);
    }
    run_plan(store, id, &plan, settings.invite.as_ref(), batch, progress)
}

/// A second handle on `store` to plan through while it writes, when one
/// can be opened from it (an SQLite file; a PostgreSQL connection does not
/// keep its URL: see [`resume_with`]).
fn planning_handle(store: &Store) -> Result<Option<Store>, Error> {
    match store {
        Store::Sqlite(sqlite) => match sqlite.path() {
            Some(path) => Ok(Some(Store::Sqlite(
                userimport_sink::SqliteSink::open_existing(path)?,
            ))),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// [`resume`] planning through `planning`, a second handle on the same
/// store (opened with [`Store::open_existing`]): the file is read twice
/// (checked, then planned again as it is written), so its plan is never
/// held whole, on every backend.
pub fn resume_with(
    store: &mut Store,
    planning: Store,
    id: i64,
    batch: usize,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    match to_resume(store, id)? {
        Resumable::Finished(job) => Ok(job),
        Resumable::Stopped(job) => {
            let run = Run::resume(job, batch);
            resume_claimed(store, Some(planning), run, progress)
        }
    }
}

/// Runs job `id` as the worker a detached apply started for it (`apply
/// --detach`), planning through `planning` as [`resume_with`] does, except
/// that a job cancelled (or failed, or done) before this worker took it is
/// left as it stands and returned: a cancel that came first wins.
pub fn work(
    store: &mut Store,
    planning: Store,
    id: i64,
    batch: usize,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let before = get(store, id)?;
    match before.status {
        JobStatus::Done | JobStatus::Cancelled | JobStatus::Failed => Ok(before),
        JobStatus::Running => Err(userimport_sink::Error::JobRunning(id).into()),
        JobStatus::Interrupted => {
            let run = Run {
                resume: false,
                ..Run::resume(before, batch)
            };
            resume_claimed(store, Some(planning), run, progress)
        }
    }
}

/// Asks job `id` to stop at its next batch boundary: the rows before it
/// stay written, and the job can be resumed. A job with a live worker is
/// still `running` (with `cancel_requested`) until that boundary; one
/// whose worker is gone is `cancelled` at once.
pub fn cancel<S: Jobs + ?Sized>(store: &mut S, id: i64) -> Result<Job, Error>
where
    Error: From<S::Error>,
{
    store
        .request_cancel(id)?
        .ok_or_else(|| Error::Refused(format!("no job {id}")))
}

/// Runs job `id` over `plan` in committed batches, telling `progress`.
pub(crate) fn run_plan(
    store: &mut Store,
    id: i64,
    plan: &Plan,
    invite: Option<&Invite>,
    batch: usize,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let cancel = CancelToken::new();
    let mut on_progress = |p: &JobProgress| {
        progress(&StreamProgress {
            phase: crate::Phase::Writing,
            rows_read: p.rows_total,
            rows_written: p.rows_done,
            checked: true,
            job: Some(p.id),
            ..StreamProgress::default()
        })
    };
    run_job(store, id, plan, invite, batch, &cancel, &mut on_progress)
        .map_err(|source| Error::JobStopped { id, source })
}

/// The SHA-256 of a file, hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot open {}: {e}", path.display()),
        ))
    })?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
