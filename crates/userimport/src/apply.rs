//! Applying a file, whatever its size: the library's one write path.
//!
//! [`apply`] takes a store URL, a file and [`ImportSettings`], and chooses
//! the path itself: a file without row errors is checked, planned and
//! written in one pass (a bulk load into an empty SQLite store); a file
//! above the background threshold is a job recorded in the store, resumable
//! by ID from any frontend ([`crate::jobs`]); `skip_invalid` (and `detach`)
//! read a file on disk twice: checked once, keeping only the rows it
//! refuses, then planned again as the other rows are written, so memory
//! does not grow with the file (a stream, read once, is planned whole).
//! [`apply_plan`] applies a reviewed
//! plan file after [`Plan::verify`]. Every path judges the importing actor
//! with the one authority check ([`crate::plan::Actor`]) and returns one
//! [`Applied`].

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use userimport_plan::{Directory, EmptyDirectory, Plan, Summary};
use userimport_schema::Profile;
use userimport_sink::{ApplyOutcome, Job, JobSpec, JobStatus, Jobs, RowResult, Sink, StoreOptions};
use userimport_validate::Issue;

use crate::jobs;
use crate::settings::ImportSettings;
use crate::stream::invalid_rows;
use crate::stream::{SecondPass, StreamOptions, StreamOutcome, StreamProgress};
use crate::two_pass::{FirstPass, first_pass};
use crate::{ChangeListing, Checked, Error, FileInfo, Importer, Store};

/// Where the file comes from.
pub enum Input {
    /// A file on disk: a large one becomes a resumable job (its SHA-256 and
    /// the settings are the job's identity).
    Path(PathBuf),
    /// A stream (standard input, an upload in memory): applied in one go,
    /// never as a job, since it cannot be read again to resume.
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Input::Reader(_) => f.write_str("Reader(..)"),
        }
    }
}

/// How an apply runs, beyond the import settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Files with more data rows than this are jobs (default 100).
    pub background_threshold: u64,
    /// Changes per committed batch of a job (default 1,000).
    pub job_batch: usize,
    /// Record the job and return at once, without writing: the caller runs
    /// it with [`jobs::resume`] (on another thread or process).
    pub detach: bool,
    /// How the store is opened (see [`StoreOptions`]).
    pub store: StoreOptions,
    /// The store revision the file was checked at: when set, the apply is
    /// refused with [`Error::StoreMoved`], nothing written, if the store
    /// moved since (see [`crate::launch`]).
    pub expected_revision: Option<u64>,
    /// Changes listed per kind in [`Applied::listing`] (default 100; see
    /// [`crate::ImportOptions::max_changes`]).
    pub max_changes: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            background_threshold: 100,
            job_batch: 1_000,
            detach: false,
            store: StoreOptions::default(),
            expected_revision: None,
            max_changes: 100,
        }
    }
}

/// Rows by outcome: the `results` object of the apply report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResultCounts {
    /// Users created.
    pub created: u64,
    /// Users updated (suspensions included).
    pub updated: u64,
    /// Users deleted.
    pub deleted: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows not applied (another row failed, all-or-nothing).
    pub skipped: u64,
    /// Rows refused, with their reasons in the per-row results.
    pub failed: u64,
}

/// A job as the apply report shows it: its options as JSON, not a string.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    /// The job as recorded.
    #[serde(flatten)]
    pub job: Job,
    /// Its settings, as JSON.
    #[serde(rename = "options")]
    pub settings: serde_json::Value,
}

impl From<Job> for JobReport {
    fn from(job: Job) -> Self {
        let settings = serde_json::from_str(&job.spec.options)
            .unwrap_or(serde_json::Value::String(job.spec.options.clone()));
        JobReport { job, settings }
    }
}

/// The result of an apply, the same shape on every path: the check report
/// (`file`, `summary`, `issues`), the job when there is one, and the counts
/// by outcome. Per-row results are in [`Applied::rows`], or, for a job, in
/// the store ([`Applied::write_results`] writes either).
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// What was read.
    pub file: FileInfo,
    /// The check's counts.
    pub summary: Summary,
    /// Every issue, in file order.
    pub issues: Vec<Issue>,
    /// Who changes and how, as the check listed it (`changes`,
    /// `changes_omitted`); empty for a plan file or a resumed job.
    #[serde(flatten)]
    pub listing: ChangeListing,
    /// The job that recorded the apply, if it became one.
    pub job: Option<JobReport>,
    /// Rows by outcome.
    pub results: ResultCounts,
    /// True when changes were committed.
    pub committed: bool,
    /// The store revision after the apply.
    pub revision: u64,
    /// Groups created.
    pub created_groups: Vec<String>,
    /// Per-row results of an apply that is not a job (file order).
    #[serde(skip)]
    pub rows: Vec<RowResult>,
    /// True when the check refused the file, so nothing was attempted.
    #[serde(skip)]
    pub refused: bool,
    /// True when the apply resumed an unfinished job for the same file and
    /// settings instead of starting anew.
    #[serde(skip)]
    pub resumed: bool,
}

impl Applied {
    fn checked_only(mut checked: Checked) -> Self {
        Applied {
            listing: ChangeListing::take(&mut checked),
            file: checked.file,
            summary: checked.summary,
            issues: checked.issues,
            job: None,
            results: ResultCounts::default(),
            committed: false,
            revision: 0,
            created_groups: Vec::new(),
            rows: Vec::new(),
            refused: true,
            resumed: false,
        }
    }

    fn with_outcome(checked: Checked, outcome: ApplyOutcome) -> Self {
        let mut applied = Applied::checked_only(checked);
        applied.refused = false;
        applied.set_outcome(outcome);
        applied
    }

    fn set_outcome(&mut self, mut outcome: ApplyOutcome) {
        add_invalid_rows(&mut outcome, &self.issues);
        self.results = ResultCounts {
            created: outcome.created,
            updated: outcome.updated,
            deleted: outcome.deleted,
            unchanged: outcome.unchanged,
            skipped: outcome.skipped,
            failed: outcome.failed,
        };
        self.committed = outcome.committed;
        self.revision = outcome.revision;
        self.created_groups = outcome.created_groups;
        self.rows = outcome.results;
    }

    fn set_job(&mut self, job: Job) {
        self.refused = false;
        self.results = ResultCounts {
            created: job.created,
            updated: job.updated,
            deleted: job.deleted,
            unchanged: job.unchanged,
            skipped: 0,
            failed: job.failed,
        };
        self.committed = job.rows_done > 0 || job.status == JobStatus::Done;
        self.job = Some(job.into());
    }

    /// Writes the per-row results as the results CSV (formula-safe, BOM):
    /// the job's from `store`, or this apply's own.
    pub fn write_results<S: Jobs + ?Sized, W: std::io::Write>(
        &self,
        store: &S,
        out: W,
    ) -> Result<(), Error>
    where
        Error: From<S::Error>,
    {
        match &self.job {
            Some(job) => {
                let results = store.job_results(job.job.id)?;
                crate::write_results_csv_listed(&results, &self.issues, &self.listing, store, out)
            }
            None => {
                crate::write_results_csv_listed(&self.rows, &self.issues, &self.listing, store, out)
            }
        }
    }

    /// The check this apply began with (file, counts, issues), for reports.
    pub fn checked(&self) -> Checked {
        let mut checked = Checked::new(self.file.clone(), self.summary, self.issues.clone(), None);
        self.listing.restore(&mut checked);
        checked
    }

    /// True when no issue is an error and no row failed.
    pub fn is_clean(&self) -> bool {
        self.summary.errors == 0 && self.results.failed == 0
    }
}

/// Applies `input` to the store at `store_url` with `settings`, choosing
/// the path as the module docs say; `progress` is told of every write and
/// returning `false` stops (what is committed stays; a job can be resumed).
pub fn apply(
    store_url: &str,
    input: Input,
    settings: &ImportSettings,
    how: &ApplyOptions,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Applied, Error> {
    let mut store = Store::open_with(store_url, &how.store)?;
    if settings.skip_invalid || how.detach || how.expected_revision.is_some() {
        return apply_planned(&mut store, store_url, input, settings, how, progress)
            .map_err(|e| crate::moved::moved_if_drift(e, how.expected_revision));
    }
    let settings_json = settings.to_json();
    let job = match &input {
        Input::Reader(_) => None,
        Input::Path(path) => {
            if let Some(id) = jobs::unfinished_for(&store, path, &settings_json)? {
                let job = jobs::resume(&mut store, id, how.job_batch, progress)?;
                let mut applied = job_only(job);
                applied.resumed = true;
                return Ok(applied);
            }
            Some((
                job_spec(path, "", &settings_json, 0),
                how.background_threshold,
            ))
        }
    };
    let importer = listing(settings.importer()?, how);
    let input_size = match &input {
        Input::Path(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        Input::Reader(_) => None,
    };
    let options = StreamOptions {
        batch_rows: how.job_batch,
        input_size,
        job,
        invite: settings.invite.as_ref(),
        ..StreamOptions::default()
    };
    let again = match &input {
        Input::Path(path) => Some(path.clone()),
        Input::Reader(_) => None,
    };
    let reader = open(input)?;
    // A first import into an empty store is a bulk load, planned against
    // the store's (empty) contents read under its lock; otherwise the
    // planner reads through a second connection while this one writes.
    let streamed = if store.begin_bulk_load()? {
        let empty = EmptyDirectory::new(store.revision()?, store.groups()?);
        importer.apply_streaming(reader, empty, &mut store, &options, progress)
    } else {
        let planning = Store::open_existing(store_url)?;
        importer.apply_streaming(reader, planning, &mut store, &options, progress)
    }?;
    let StreamOutcome {
        mut checked,
        outcome,
        job,
    } = streamed;
    if !checked.is_clean() {
        fill_again(&importer, again.as_deref(), &mut checked)?;
        return Ok(Applied::checked_only(checked));
    }
    // A job shows once its first batch commits; a refusal before that
    // rolled it back with everything else.
    if let Some(job) = job.map(|id| store.job(id)).transpose()?.flatten() {
        let mut applied = Applied::checked_only(checked);
        applied.set_job(job);
        return Ok(applied);
    }
    Ok(Applied::with_outcome(checked, outcome))
}

/// The paths that leave refused rows out (`skip_invalid`) or record a job
/// to run later (`detach`). A file on disk is read twice, so that memory
/// does not grow with it: the first pass checks it, keeping only the
/// refused rows with their reasons (every error), the counts and sync's
/// removals; above the threshold the job is recorded with the refused rows
/// as its failed results, and (unless detached) a second pass plans the
/// file again as it is written, in batches committed from the first, with
/// those rows left out. A small file is planned again and written at once.
/// A stream cannot be read twice: it is planned at once, so its plan is in
/// memory (pass a file for large imports). A detached job is left taken
/// by `store`'s connection (its worker lock held) for the caller to run or
/// hand on.
pub(crate) fn apply_planned(
    store: &mut Store,
    store_url: &str,
    input: Input,
    settings: &ImportSettings,
    how: &ApplyOptions,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Applied, Error> {
    let importer = listing(settings.importer()?, how);
    let path = match input {
        Input::Reader(reader) => {
            return apply_at_once(store, reader, None, &importer, settings, how);
        }
        Input::Path(path) => path,
    };
    let size = std::fs::metadata(&path).ok().map(|m| m.len());
    let FirstPass {
        mut checked,
        ending,
        sha256: sha,
    } = first_pass(&importer, open_path(&path)?, size, store, progress)?;
    fill_again(&importer, Some(&path), &mut checked)?;
    crate::moved::guard(&*store, how.expected_revision, Some(ending.revision))?;
    if checked.is_refused() || (!checked.is_clean() && !settings.skip_invalid) {
        return Ok(Applied::checked_only(checked));
    }
    let rows = checked.file.rows;
    if rows <= how.background_threshold {
        let input = Box::new(open_path(&path)?);
        return apply_at_once(store, input, Some(&path), &importer, settings, how);
    }
    let settings_json = settings.to_json();
    let resumed = jobs::unfinished(store, &sha, &settings_json)?;
    let failed = invalid_rows(&checked.issues);
    let id = match resumed {
        Some(id) => id,
        None => {
            let id = store.create_job(&job_spec(&path, &sha, &settings_json, rows))?;
            if !failed.is_empty() {
                store.record_job_results(id, 0, &failed)?;
            }
            id
        }
    };
    let mut applied = Applied::checked_only(checked);
    applied.resumed = resumed.is_some();
    // Taken by this connection at once, so that it reads running (not
    // interrupted) while this apply, or the worker it is handed to, runs.
    let before = jobs::get(store, id)?;
    if how.detach {
        jobs::take(store, &before, resumed.is_some())?;
        applied.set_job(jobs::get(store, id)?);
        return Ok(applied);
    }
    let refused: Vec<u64> = failed.iter().map(|r| r.row).collect();
    drop(failed);
    let options = StreamOptions {
        batch_rows: how.job_batch,
        input_size: size,
        invite: settings.invite.as_ref(),
        ..StreamOptions::default()
    };
    let planning = Store::open_existing(store_url)?;
    let job = jobs::as_worker(store, &before, resumed.is_some(), |store, job| {
        let pass = SecondPass {
            job: id,
            refused: &refused,
            done: job.rows_done,
            tail: ending.tail,
            rows,
            revision: ending.revision,
            sha256: &sha,
        };
        importer.write_second_pass(open_path(&path)?, planning, store, pass, &options, progress)
    })?;
    applied.set_job(job);
    Ok(applied)
}

/// Plans `input` whole, then writes it at once (a small file, or a stream
/// that cannot be read twice; never a job). `path`: where `input` can be
/// read again, to give its in-file duplicates their keys.
fn apply_at_once(
    store: &mut Store,
    input: Box<dyn Read + Send>,
    path: Option<&Path>,
    importer: &crate::Importer,
    settings: &ImportSettings,
    how: &ApplyOptions,
) -> Result<Applied, Error> {
    let mut checked = importer.plan(input, &*store)?;
    fill_again(importer, path, &mut checked)?;
    let planned_at = checked.plan.as_ref().map(|p| p.revision);
    crate::moved::guard(&*store, how.expected_revision, planned_at)?;
    if checked.is_refused() || (!checked.is_clean() && !settings.skip_invalid) {
        return Ok(Applied::checked_only(checked));
    }
    if how.detach {
        return Err(Error::Refused(format!(
            "a detached apply runs as a background job: the file must be on disk and have more than {} rows",
            how.background_threshold
        )));
    }
    let plan = checked
        .plan
        .take()
        .ok_or_else(|| Error::Refused("the planner returned no plan".into()))?;
    let outcome = store.apply_inviting(&plan, settings.invite.as_ref(), &mut |_| true)?;
    Ok(Applied::with_outcome(checked, outcome))
}

/// Applies a reviewed plan (read with [`Plan::from_json`]) to `store` after
/// [`Plan::verify`]: refused, with nothing written, unless it was made with
/// `profile` on this store at its current revision, and every change passes
/// again as a row of a file and within `actor`'s authority.
pub fn apply_plan<S: Sink + ?Sized>(
    store: &mut S,
    plan: &Plan,
    profile: &Profile,
    actor: Option<&str>,
    invite: Option<&userimport_sink::Invite>,
) -> Result<Applied, Error>
where
    Error: From<S::Error>,
{
    // A plan of another revision is refused by the write, with the history
    // of what moved the store since.
    if store.revision()? == plan.revision {
        plan.verify(profile, actor, &*store)?;
    }
    let mut plan = std::borrow::Cow::Borrowed(plan);
    if let Some(actor) = actor
        && plan.options.actor.is_none()
    {
        plan.to_mut().options.actor = Some(actor.to_string());
    }
    let outcome = store.apply_inviting(&plan, invite, &mut |_| true)?;
    let checked = Checked::new(
        FileInfo {
            encoding: String::new(),
            delimiter: String::new(),
            header_line: 0,
            rows: plan.summary.rows,
            workbook: None,
        },
        plan.summary,
        plan.issues.clone(),
        None,
    );
    Ok(Applied::with_outcome(checked, outcome))
}

/// Reads the file at `path` (if it can be read again) a second time for
/// the keys of `checked`'s in-file duplicates, refused rows of the results.
fn fill_again(
    importer: &crate::Importer,
    path: Option<&Path>,
    checked: &mut Checked,
) -> Result<(), Error> {
    match path {
        Some(path) => importer.fill_end_of_file_issues(open_path(path)?, &mut checked.issues),
        None => Ok(()),
    }
}

fn job_only(job: Job) -> Applied {
    let mut applied = Applied::checked_only(Checked::new(
        FileInfo {
            encoding: String::new(),
            delimiter: String::new(),
            header_line: 0,
            rows: job.spec.rows_total,
            workbook: None,
        },
        Summary::default(),
        Vec::new(),
        None,
    ));
    applied.set_job(job);
    applied
}

fn open(input: Input) -> Result<Box<dyn Read + Send>, Error> {
    Ok(match input {
        Input::Reader(reader) => reader,
        Input::Path(path) => Box::new(open_path(&path)?),
    })
}

fn open_path(path: &Path) -> Result<std::fs::File, Error> {
    std::fs::File::open(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot open {}: {e}", path.display()),
        ))
    })
}

/// `importer` listing at most `how.max_changes` changes of each kind.
fn listing(importer: Importer, how: &ApplyOptions) -> Importer {
    let mut options = importer.options().clone();
    options.max_changes = how.max_changes;
    Importer::builder(importer.profile())
        .options(options)
        .build()
}

/// The spec of a new job for `file` (recorded by its canonical path).
fn job_spec(file: &Path, sha256: &str, settings: &str, rows_total: u64) -> JobSpec {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    JobSpec {
        file: file.display().to_string(),
        file_sha256: sha256.to_string(),
        options: settings.to_string(),
        rows_total,
    }
}

/// Rows refused before writing (applied around with `skip_invalid`) are
/// results too, so the counts and the results file cover every row.
fn add_invalid_rows(outcome: &mut ApplyOutcome, issues: &[Issue]) {
    let failed = invalid_rows(issues);
    if failed.is_empty() {
        return;
    }
    for result in failed {
        outcome.push(result);
    }
    // File order; sync's changes (row 0) last.
    outcome.results.sort_by_key(|r| (r.row == 0, r.row));
}
