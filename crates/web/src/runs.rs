//! Background jobs this server runs, through the library: a job started by
//! `userimport::launch::start` is written by its `Worker` on a thread of its
//! own, an interrupted one by `userimport::jobs::resume`. One apply at a
//! time per server; progress is broadcast to server-sent-event listeners
//! from the library's progress callback, which also stops a cancelled job
//! at its next batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;
use userimport::StreamProgress;
use userimport::launch::Worker;
use userimport::sink::{Job, JobStatus, Jobs};

use crate::AppState;
use crate::engine::Store;
use crate::error::ApiError;

/// Rows written of a job so far.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Progress {
    /// The job.
    pub id: i64,
    /// Data rows done.
    pub rows_done: u64,
    /// Data rows in the file.
    pub rows_total: u64,
}

/// What a listener of a job hears.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Rows written so far.
    Progress(Progress),
    /// The job as the store records it (first and last event).
    Job(Box<Job>),
}

/// A job running in this server.
#[derive(Debug, Clone)]
struct Live {
    events: broadcast::Sender<Event>,
    cancel: Arc<AtomicBool>,
}

impl Live {
    /// The library's progress callback for job `id`: tells the listeners,
    /// and stops the job once it is cancelled.
    fn observer(&self, id: i64) -> impl FnMut(&StreamProgress) -> bool + use<> {
        let (events, cancel) = (self.events.clone(), self.cancel.clone());
        move |p: &StreamProgress| {
            let _ = events.send(Event::Progress(Progress {
                id,
                rows_done: p.rows_written,
                rows_total: p.rows_read,
            }));
            // The library stops the job (cancelled) at the next call,
            // while its file is checked or at a batch boundary.
            !cancel.load(Ordering::SeqCst)
        }
    }
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
    /// Holds the store's lock too (see [`try_apply`]).
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

/// The apply lock of this server and of the store: refused with 409 "an
/// import is running" while any server on the store applies.
pub async fn try_apply(state: &AppState) -> Result<ApplyGuard, ApiError> {
    let guard = state.0.runs.try_apply().ok_or_else(ApiError::busy)?;
    let db = state.config().db.clone();
    let lock = crate::error::blocking(move || crate::stored::try_store_lock(&db)).await?;
    Ok(guard.hold(lock.ok_or_else(ApiError::busy)?))
}

/// [`try_apply`], blocking (for start-up).
pub fn try_apply_blocking(state: &AppState) -> Result<ApplyGuard, ApiError> {
    let guard = state.0.runs.try_apply().ok_or_else(ApiError::busy)?;
    let lock = crate::stored::try_store_lock(&state.config().db)?;
    Ok(guard.hold(lock.ok_or_else(ApiError::busy)?))
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

    /// Asks job `id` to stop at its next batch; false when it does not run here.
    pub fn cancel(&self, id: i64) -> bool {
        match self.live.lock() {
            Ok(live) => live
                .get(&id)
                .map(|l| l.cancel.store(true, Ordering::SeqCst))
                .is_some(),
            Err(_) => false,
        }
    }

    fn register(&self, id: i64) -> Live {
        let (events, _) = broadcast::channel(256);
        let live = Live {
            events,
            cancel: Arc::new(AtomicBool::new(false)),
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

/// Runs a job started by `userimport::launch::start` on its own thread,
/// holding `guard`; the upload is removed once the job ends, in whatever
/// state (the library records it).
pub fn start(state: &AppState, worker: Worker, upload: PathBuf, guard: ApplyGuard) {
    let id = worker.id();
    let live = state.0.runs.register(id);
    let state = state.clone();
    std::thread::spawn(move || {
        let _guard = guard;
        // Its end (done, cancelled, failed) is recorded by the library.
        let _ = worker.run(&mut live.observer(id));
        finish(&state, id, &live, &upload);
    });
}

/// Tells the listeners how job `id` ended and removes its uploads: the
/// one applied, and the job's own file when it is another upload (a job
/// resumed by applying the same file again). A job stopped by a server's
/// stop (interrupted), or run by a worker elsewhere, keeps them.
fn finish(state: &AppState, id: i64, live: &Live, upload: &Path) {
    let job = Store::open_existing(&state.config().db)
        .ok()
        .and_then(|s| s.job(id).ok().flatten());
    state.0.runs.unregister(id);
    if let Some(job) = job {
        let ended = matches!(
            job.status,
            JobStatus::Done | JobStatus::Cancelled | JobStatus::Failed
        );
        if ended {
            let _ = std::fs::remove_file(upload);
            let own = PathBuf::from(&job.spec.file);
            if own.parent() == Some(state.config().upload_dir.as_path()) {
                crate::stored::remove_upload(&job.spec.file);
            }
        }
        let _ = live.events.send(Event::Job(Box::new(job)));
    }
}

/// Resumes with `userimport::jobs::resume`, on one thread and one after
/// another, the jobs a stop interrupted whose upload is still in the
/// upload directory.
pub fn resume_interrupted(state: &AppState) -> Result<Vec<i64>, ApiError> {
    let store = Store::open_existing(&state.config().db)?;
    let dir = &state.config().upload_dir;
    let jobs: Vec<(i64, PathBuf)> = userimport::jobs::list(&store)?
        .into_iter()
        .map(|j| (j.id, j.status, PathBuf::from(&j.spec.file)))
        .filter(|(_, status, file)| {
            *status == JobStatus::Interrupted && file.parent() == Some(dir.as_path())
        })
        .map(|(id, _, file)| (id, file))
        .collect();
    let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id).collect();
    if jobs.is_empty() {
        return Ok(ids);
    }
    let guard = try_apply_blocking(state)?;
    let lives: Vec<Live> = ids.iter().map(|&id| state.0.runs.register(id)).collect();
    let state = state.clone();
    std::thread::spawn(move || {
        let _guard = guard;
        for ((id, upload), live) in jobs.iter().zip(&lives) {
            // Its end is recorded by the library.
            let _ = resume(&state, *id, live);
            finish(&state, *id, live, upload);
        }
    });
    Ok(ids)
}

/// Finishes job `id` with the library's `jobs::resume`.
fn resume(state: &AppState, id: i64, live: &Live) -> Result<Job, ApiError> {
    let mut store = Store::open(&state.config().db)?;
    let batch = state.config().job_batch;
    Ok(userimport::jobs::resume(
        &mut store,
        id,
        batch,
        &mut live.observer(id),
    )?)
}
