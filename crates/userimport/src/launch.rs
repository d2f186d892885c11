//! Executing what was checked, from a frontend that answers while the
//! import runs (a web request, a service call).
//!
//! A frontend checks a file ([`Importer::check`](crate::Importer::check))
//! against the store at revision R, shows the report, and later executes
//! it. Two things make that honest:
//!
//! - **The guard.** With [`ApplyOptions::expected_revision`] = R,
//!   [`crate::apply`] refuses with [`Error::StoreMoved`], writing nothing,
//!   when the store moved since the check: what runs is what was shown.
//! - **A job ID while it runs.** At or below the background threshold the
//!   frontend calls [`crate::apply`] and has the result at once. Above it,
//!   [`start`] records the job (a detached apply), takes its worker lock and
//!   returns the job with a [`Worker`]; [`Worker::run`] writes it, on
//!   another thread, telling its progress. The frontend answers with the
//!   job's ID in between. Returning `false` from the progress callback
//!   stops the job: at its next batch, or while its file is checked again
//!   before the first (it is then `cancelled`, and resumable);
//!   [`crate::jobs::cancel`] does the same from anywhere else.
//!
//! ```
//! use userimport::launch::{self, Started};
//! use userimport::{ApplyOptions, ImportSettings, Input, sink::JobStatus};
//!
//! # let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}", dir.path().join("users.db").display());
//! let hash = userimport::plan::hash_password("Sakura-2026-spring")?;
//! let mut file = String::from("Login ID,Name,Email address,Password hash\n");
//! for i in 0..150 {
//!     file += &format!("user{i},User {i},user{i}@example.com,\"{hash}\"\n");
//! }
//! let path = dir.path().join("users.csv");
//! std::fs::write(&path, file)?;
//! let settings = ImportSettings::default();
//!
//! // Checked at revision R …
//! let store = userimport::Store::open(&url)?;
//! let checked_at = launch::revision(&store)?;
//! let checked = settings.importer()?.check(std::fs::File::open(&path)?, &store)?;
//! assert!(checked.is_clean() && checked.file.rows > 100);
//!
//! // … executed above the threshold: the job's ID first, then the work.
//! let mut how = ApplyOptions::default();
//! how.expected_revision = Some(checked_at);
//! let Started::Job(applied, worker) = launch::start(&url, &path, &settings, &how)? else {
//!     unreachable!("the file is clean")
//! };
//! let job = applied.job.as_ref().map(|j| j.job.id);
//! assert_eq!(job, Some(worker.id()));
//! let done = std::thread::spawn(move || worker.run(&mut |_| true)).join().unwrap()?;
//! assert_eq!((done.status, done.created), (JobStatus::Done, 150));
//!
//! // The same check, executed again: the store moved, nothing is written.
//! let again = userimport::apply(&url, Input::Path(path), &settings, &how, &mut |_| true);
//! assert!(matches!(again, Err(userimport::Error::StoreMoved { now, .. }) if now > checked_at));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use userimport_plan::Directory;
use userimport_sink::Job;

use crate::stream::StreamProgress;
use crate::{Applied, ApplyOptions, Error, ImportSettings, Input, Store, jobs};

/// The store's revision now: what a frontend keeps with its check and
/// passes back as [`ApplyOptions::expected_revision`].
pub fn revision(store: &Store) -> Result<u64, Error> {
    Ok(store.revision()?)
}

/// What [`start`] did.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one value per apply
pub enum Started {
    /// The check refused the file: nothing was recorded or written; the
    /// report ([`Applied::issues`]) says why.
    Refused(Applied),
    /// The job is recorded (its record in [`Applied::job`], status
    /// `running`) and claimed by the [`Worker`]: run it.
    Job(Applied, Worker),
}

/// The worker of a job started with [`start`]: it holds the job's worker
/// lock (the job reads as `running`, not `interrupted`) until
/// [`Worker::run`] ends or it is dropped (then the job is `interrupted`
/// and [`jobs::resume`] finishes it).
#[derive(Debug)]
pub struct Worker {
    store: Store,
    url: String,
    id: i64,
    file: PathBuf,
    batch: usize,
    expected_revision: Option<u64>,
}

impl Worker {
    /// The job's ID.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Writes the job in committed batches, telling `progress` after each;
    /// `false` from it (also while the file is checked again, before the
    /// first batch), or a cancel requested through the store
    /// ([`jobs::cancel`]) since [`start`], stops the job (`cancelled`, the
    /// rows before it written). Refused, nothing written and the job
    /// `failed`, when the store moved since the check
    /// ([`ApplyOptions::expected_revision`]) before the job wrote anything.
    /// Whatever stops it, the job's end is recorded: it never reads
    /// `running` or `interrupted` once this returns.
    pub fn run(mut self, progress: &mut dyn FnMut(&StreamProgress) -> bool) -> Result<Job, Error> {
        let job = jobs::get(&self.store, self.id)?;
        // Planned through a second handle as it is written: the file is
        // read twice and its plan never held whole, on every backend.
        let planning = Store::open_existing(&self.url)?;
        let run = jobs::Run {
            before: job,
            file: Some(&self.file),
            batch: self.batch,
            expected_revision: self.expected_revision,
            // Begun by `start`: a cancel requested since is acted on.
            resume: false,
        };
        jobs::resume_claimed(&mut self.store, Some(planning), run, progress)
    }
}

/// Starts the apply of `file` as a background job: planned whole (refused,
/// nothing recorded, when the check finds errors, or the store moved since
/// [`ApplyOptions::expected_revision`]), recorded as a job (or the same
/// file's unfinished job with the same settings, resumed: the worker reads
/// `file`, whose SHA-256 is the job's), and claimed, on one connection, so
/// the job never reads `interrupted` in between.
/// The file must have more rows than [`ApplyOptions::background_threshold`]:
/// a smaller one is applied at once with [`crate::apply`].
pub fn start(
    store_url: &str,
    file: &Path,
    settings: &ImportSettings,
    how: &ApplyOptions,
) -> Result<Started, Error> {
    let detached = ApplyOptions {
        detach: true,
        ..*how
    };
    let mut store = Store::open_with(store_url, &how.store)?;
    let mut applied = crate::apply::apply_planned(
        &mut store,
        store_url,
        Input::Path(file.to_path_buf()),
        settings,
        &detached,
        &mut |_| true,
    )
    .map_err(|e| crate::moved::moved_if_drift(e, how.expected_revision))?;
    let Some(id) = applied.job.as_ref().map(|j| j.job.id) else {
        return Ok(Started::Refused(applied));
    };
    applied.job = Some(jobs::get(&store, id)?.into());
    let worker = Worker {
        store,
        url: store_url.to_string(),
        id,
        file: file.to_path_buf(),
        batch: how.job_batch,
        expected_revision: how.expected_revision,
    };
    Ok(Started::Job(applied, worker))
}
