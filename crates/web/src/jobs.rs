//! A caller's background jobs, for the API and the page alike: listed,
//! looked up, cancelled, deleted with their results. A job belongs to the
//! actor its options name.

use axum::http::StatusCode;
use userimport::sink::{Job, JobStatus, Jobs};

use crate::AppState;
use crate::auth::Caller;
use crate::engine::Settings;
use crate::error::ApiError;

/// True when `job` was run by `caller`.
fn owned(job: &Job, caller: &Caller) -> bool {
    Settings::from_job_options(&job.spec.options)
        .ok()
        .and_then(|s| s.actor)
        .is_some_and(|a| a.eq_ignore_ascii_case(&caller.actor))
}

/// True while a job may still write (here, elsewhere, or once resumed).
fn unfinished(job: &Job) -> bool {
    matches!(job.status, JobStatus::Running | JobStatus::Interrupted)
}

/// The caller's jobs, newest first.
pub async fn jobs_of(state: &AppState, caller: &Caller) -> Result<Vec<Job>, ApiError> {
    let mut jobs = state.read(|store| Ok(store.jobs()?)).await?;
    jobs.retain(|j| owned(j, caller));
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    Ok(jobs)
}

/// Job `id` of `caller`.
pub async fn job_of(state: &AppState, caller: &Caller, id: i64) -> Result<Job, ApiError> {
    let job = state.read(move |store| Ok(store.job(id)?)).await?;
    job.filter(|j| owned(j, caller))
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// Cancels job `id` of `caller`: at once when it runs here, else through
/// the store (running elsewhere, or left by a stop).
pub async fn cancel(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let job = job_of(state, caller, id).await?;
    if state.0.runs.cancel(id) {
        return Ok(());
    }
    if !unfinished(&job) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_running",
            format!("job {id} is {}, not running", job.status.as_str()),
        ));
    }
    // The library marks it cancelled; its writer stops at the next batch.
    state
        .write(move |store| {
            userimport::jobs::cancel(store, id)?;
            Ok(())
        })
        .await
}

/// Deletes finished job `id` of `caller` with its results (and its upload,
/// if still kept).
pub async fn remove(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let job = job_of(state, caller, id).await?;
    if unfinished(&job) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_running",
            format!(
                "job {id} is {}: cancel it first, then delete its results",
                job.status.as_str()
            ),
        ));
    }
    let dir = state.config().upload_dir.clone();
    state
        .write(move |store| {
            crate::stored::imports_mut(store)?.delete_job(id)?;
            let file = std::path::Path::new(&job.spec.file);
            if file.parent() == Some(dir.as_path()) {
                crate::stored::remove_upload(&job.spec.file);
            }
            Ok(())
        })
        .await
}
