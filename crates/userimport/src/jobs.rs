//! Background jobs through the library: find, resume and cancel a job by
//! its ID, whichever frontend started it.
//!
//! A job's identity is its file's SHA-256 plus its [`ImportSettings`] as
//! JSON, so a job started by the command line can be resumed by a service
//! and the reverse. Resuming plans the job's file again against the store as
//! it is now (refusing a file whose SHA-256 changed), with the one authority
//! check, and writes what is left in committed batches.

use std::path::Path;

use sha2::{Digest, Sha256};

use userimport_plan::Plan;
use userimport_sink::{CancelToken, Invite, Job, JobProgress, JobStatus, Jobs, run_job};

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
/// `progress` returning `false` stops it (resume it again later). On an
/// SQLite store the file is read twice and its plan never held whole; a
/// PostgreSQL store (which keeps no URL to open a second connection with)
/// plans it whole: use [`resume_with`] there for large files.
pub fn resume(
    store: &mut Store,
    id: i64,
    batch: usize,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    match to_resume(store, id)? {
        Resumable::Finished(job) => Ok(job),
        Resumable::Stopped(job) => resume_claimed(store, None, job, batch, None, progress),
    }
}

/// [`resume`] for a job this connection may run (not running elsewhere, or
/// claimed here by [`crate::launch::start`]), planning through `planning`
/// when given; with `expected_revision`, a job that wrote nothing yet is
/// refused, and marked failed, when the store moved since its file was
/// checked.
pub(crate) fn resume_claimed(
    store: &mut Store,
    planning: Option<Store>,
    job: Job,
    batch: usize,
    expected_revision: Option<u64>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let id = job.id;
    if job.status == JobStatus::Done {
        return Ok(job);
    }
    let planning = match planning {
        Some(planning) => Some(planning),
        None => planning_handle(store)?,
    };
    if let Some(planning) = planning {
        let expected = expected_revision;
        return crate::two_pass::resume_in_two_passes(
            store, planning, &job, batch, expected, progress,
        );
    }
    let path = Path::new(&job.spec.file);
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
            crate::two_pass::resume_in_two_passes(store, planning, &job, batch, None, progress)
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
