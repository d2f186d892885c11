//! Background jobs this server runs: one apply at a time per store, progress
//! broadcast to server-sent-event listeners from the library's observer,
//! cancel, and resuming interrupted jobs on start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;
use userimport::plan::Plan;
use userimport::sink::{CancelToken, Invite, Job, JobProgress, JobStatus, Jobs, run_job};

use crate::AppState;
use crate::engine::{Settings, Store, is_interrupted, sha256_file};
use crate::error::ApiError;

/// What a listener of a job hears.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Rows written so far.
    Progress(JobProgress),
    /// The job as the store records it (first and last event).
    Job(Box<Job>),
}

/// A job running in this server.
#[derive(Debug, Clone)]
struct Live {
    events: broadcast::Sender<Event>,
    cancel: CancelToken,
}

/// The jobs running here and the apply lock.
#[derive(Debug, Default)]
pub struct Runs {
    applying: Arc<AtomicBool>,
    live: Mutex<HashMap<i64, Live>>,
}

/// Holds this server's and the store's apply lock until dropped.
#[derive(Debug)]
pub struct ApplyGuard(Arc<AtomicBool>, Option<crate::stored::StoreLock>);

impl ApplyGuard {
    /// Holds the store's lock too (see [`crate::stored::try_apply`]).
    pub fn hold(mut self, lock: crate::stored::StoreLock) -> Self {
        self.1 = Some(lock);
        self
    }
}

impl Drop for ApplyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Runs {
    /// The apply lock, unless an apply or job holds it.
    pub fn try_apply(&self) -> Option<ApplyGuard> {
        self.applying
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| ApplyGuard(self.applying.clone(), None))
    }

    /// Listens to job `id`, if it runs here.
    pub fn subscribe(&self, id: i64) -> Option<broadcast::Receiver<Event>> {
        let live = self.live.lock().ok()?;
        live.get(&id).map(|l| l.events.subscribe())
    }

    /// Asks job `id` to stop; false when it does not run here.
    pub fn cancel(&self, id: i64) -> bool {
        match self.live.lock() {
            Ok(live) => live.get(&id).map(|l| l.cancel.cancel()).is_some(),
            Err(_) => false,
        }
    }

    fn register(&self, id: i64) -> Live {
        let (events, _) = broadcast::channel(256);
        let live = Live {
            events,
            cancel: CancelToken::new(),
        };
        if let Ok(mut map) = self.live.lock() {
            map.insert(id, live.clone());
        }
        live
    }

    fn unregister(&self, id: i64) {
        if let Ok(mut map) = self.live.lock() {
            map.remove(&id);
        }
    }
}

/// Runs job `id` over `plan` on its own thread, holding `guard`; the
/// upload is removed once the job is done.
pub fn start(
    state: &AppState,
    id: i64,
    plan: Plan,
    invite: Option<Invite>,
    upload: PathBuf,
    guard: ApplyGuard,
) {
    let live = state.0.runs.register(id);
    let state = state.clone();
    std::thread::spawn(move || {
        let _guard = guard;
        run(&state, id, &plan, invite.as_ref(), &live);
        finish(&state, id, &live, &upload);
    });
}

fn run(state: &AppState, id: i64, plan: &Plan, invite: Option<&Invite>, live: &Live) {
    let config = state.config();
    let mut store = match Store::open(&config.db) {
        Ok(store) => store,
        Err(e) => {
            record_failure(state, id, &e.to_string());
            return;
        }
    };
    let events = live.events.clone();
    let mut observe = |p: &JobProgress| {
        let _ = events.send(Event::Progress(*p));
        true
    };
    if let Err(e) = run_job(
        &mut store,
        id,
        plan,
        invite,
        config.job_batch,
        &live.cancel,
        &mut observe,
    ) {
        // run_job records cancels itself; anything else is recorded here.
        if let Ok(Some(job)) = store.job(id)
            && matches!(job.status, JobStatus::Running | JobStatus::Interrupted)
        {
            let _ = store.finish_job(id, JobStatus::Failed, Some(&e.to_string()));
        }
    }
}

fn record_failure(state: &AppState, id: i64, reason: &str) {
    if let Ok(mut store) = Store::open(&state.config().db) {
        let _ = store.finish_job(id, JobStatus::Failed, Some(reason));
    }
}

fn finish(state: &AppState, id: i64, live: &Live, upload: &Path) {
    let job = Store::open_existing(&state.config().db)
        .ok()
        .and_then(|s| s.job(id).ok().flatten());
    state.0.runs.unregister(id);
    if let Some(job) = job {
        if job.status == JobStatus::Done {
            let _ = std::fs::remove_file(upload);
        }
        let _ = live.events.send(Event::Job(Box::new(job)));
    }
}

/// Resumes, on one thread and one after another, the jobs left running by
/// a stop whose upload is still in the upload directory.
pub fn resume_interrupted(state: &AppState) -> Result<Vec<i64>, ApiError> {
    let store = Store::open_existing(&state.config().db)?;
    let dir = &state.config().upload_dir;
    let jobs: Vec<Job> = store
        .jobs()?
        .into_iter()
        .filter(|j| is_interrupted(j) && Path::new(&j.spec.file).parent() == Some(dir.as_path()))
        .collect();
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    if jobs.is_empty() {
        return Ok(ids);
    }
    let guard = crate::stored::try_apply_blocking(state)?;
    let lives: Vec<Live> = jobs.iter().map(|j| state.0.runs.register(j.id)).collect();
    let state = state.clone();
    std::thread::spawn(move || {
        let _guard = guard;
        for (job, live) in jobs.iter().zip(&lives) {
            let path = PathBuf::from(&job.spec.file);
            match replan(&state, job, &path) {
                Ok((plan, invite)) => run(&state, job.id, &plan, invite.as_ref(), live),
                Err(e) => record_failure(&state, job.id, &e.message),
            }
            finish(&state, job.id, live, &path);
        }
    });
    Ok(ids)
}

/// Plans an interrupted job's file again against the store as it is now,
/// refusing a file that changed since.
fn replan(state: &AppState, job: &Job, path: &Path) -> Result<(Plan, Option<Invite>), ApiError> {
    let sha = sha256_file(path)?;
    if sha != job.spec.file_sha256 {
        return Err(ApiError::file(format!(
            "{} changed since job {} started: it cannot be resumed",
            path.display(),
            job.id
        )));
    }
    let settings = Settings::from_job_options(&job.spec.options)?;
    let importer = settings.importer(&state.config().profiles)?;
    let store = Store::open_existing(&state.config().db)?;
    let checked = importer.plan(std::fs::File::open(path)?, &store)?;
    let plan = checked
        .plan
        .ok_or_else(|| ApiError::internal("the planner returned no plan"))?;
    Ok((plan, settings.invite))
}
