//! The one writer loop: every way of applying changes (a plan at once, a
//! job in committed batches and its resume, a file streamed as it is
//! checked) feeds prepared chunks to [`write_feed`], which holds writes
//! until the input is known to be clean, checks the revision once, turns
//! the apply into a job when asked, commits in batches, and stops cleanly
//! on a cancel.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use userimport_plan::{Change, Directory, PasswordSource, Plan};

use crate::invite::Invite;
use crate::jobs::{CancelToken, JobSpec, JobStatus, Jobs};
use crate::sink::{
    ApplyOutcome, Batch, JobStep, PreparedCreate, Progress, RowResult, Sink, prepare_creates,
    prepare_passwords,
};
use crate::{Error, Result};

/// Changes ready to be written: their passwords hashed and their creates
/// prepared, aligned with the changes.
#[derive(Debug)]
pub struct Chunk<'a> {
    /// The changes, in plan order (borrowed from a plan, or owned by a
    /// streamed apply).
    pub changes: Cow<'a, [Change]>,
    /// One PHC hash (or `None`) per change; all `None` when no change had
    /// a password to hash (pre-hashed ones stay in their change, see
    /// [`Batch::passwords`](crate::Batch::passwords)).
    pub passwords: Vec<Option<Cow<'a, str>>>,
    /// One [`PreparedCreate`] (or `None`) per change.
    pub creates: Vec<Option<PreparedCreate>>,
    /// Groups to create with the first write that carries them.
    pub groups: Vec<String>,
}

impl<'a> Chunk<'a> {
    /// Prepares `changes`: passwords hashed in parallel (see
    /// [`prepare_passwords`]) and creates prepared. When no change has a
    /// password to hash (none, or PHC strings only, as in a file of
    /// pre-hashed passwords) nothing goes to the thread pool and no hash is
    /// copied: the writes take each PHC string from its change.
    pub fn prepare(changes: Cow<'a, [Change]>, groups: Vec<String>) -> Result<Chunk<'a>> {
        let passwords = if !changes.iter().any(needs_hashing) {
            vec![None; changes.len()]
        } else {
            match changes {
                Cow::Borrowed(slice) => prepare_passwords(slice)?,
                Cow::Owned(ref owned) => prepare_passwords(owned)?
                    .into_iter()
                    .map(|p| p.map(|p| Cow::Owned(p.into_owned())))
                    .collect(),
            }
        };
        Ok(Chunk {
            creates: prepare_creates(&changes),
            passwords,
            changes,
            groups,
        })
    }

    /// The last data row among the changes (0 for none).
    fn last_row(&self) -> u64 {
        self.changes.iter().map(Change::row).max().unwrap_or(0)
    }
}

/// True when `change` sets a password that is still to be hashed
/// (plaintext, or one to generate).
fn needs_hashing(change: &Change) -> bool {
    matches!(
        change.password(),
        Some(PasswordSource::Plain(_) | PasswordSource::Generate)
    )
}

/// What is known of the input as a whole, shared by the thread that checks
/// it and the writer: pending until its end, then clean (with its rows and
/// the revision it was planned against) or with errors (as soon as one is
/// seen).
#[derive(Debug)]
pub struct Verdict {
    state: AtomicU8,
    rows: AtomicU64,
    revision: AtomicU64,
    sha256: Mutex<String>,
}

const PENDING: u8 = 0;
const CLEAN: u8 = 1;
const ERRORS: u8 = 2;

impl Default for Verdict {
    fn default() -> Self {
        Verdict::pending()
    }
}

impl Verdict {
    /// Not known yet.
    pub fn pending() -> Self {
        Verdict {
            state: AtomicU8::new(PENDING),
            rows: AtomicU64::new(0),
            revision: AtomicU64::new(0),
            sha256: Mutex::new(String::new()),
        }
    }

    /// Known clean from the start (a plan checked as a whole).
    pub fn clean_now(rows: u64, revision: u64) -> Self {
        let verdict = Verdict::pending();
        verdict.clean(rows, revision, String::new());
        verdict
    }

    /// The input has errors: nothing held is kept.
    pub fn errors(&self) {
        self.state.store(ERRORS, Ordering::Release);
    }

    /// The input is read to its end and clean: `rows` data rows, planned
    /// against `revision`, with the SHA-256 of its bytes.
    pub fn clean(&self, rows: u64, revision: u64, sha256: String) {
        self.rows.store(rows, Ordering::Relaxed);
        self.revision.store(revision, Ordering::Relaxed);
        if let Ok(mut slot) = self.sha256.lock() {
            *slot = sha256;
        }
        self.state.store(CLEAN, Ordering::Release);
    }

    /// True once an error was seen.
    pub fn has_errors(&self) -> bool {
        self.state.load(Ordering::Acquire) == ERRORS
    }

    /// The input's rows and the revision it was planned against, once clean.
    pub fn clean_rows(&self) -> Option<(u64, u64)> {
        (self.state.load(Ordering::Acquire) == CLEAN).then(|| {
            (
                self.rows.load(Ordering::Relaxed),
                self.revision.load(Ordering::Relaxed),
            )
        })
    }

    /// The SHA-256 of the input's bytes (once clean; empty when unknown).
    pub fn sha256(&self) -> String {
        self.sha256.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Whether, and how, the writes are recorded as a job.
#[derive(Debug, Clone)]
pub enum JobPlan {
    /// No job: everything commits once, at the end.
    None,
    /// An existing job (run or resumed): every batch commits with its
    /// progress. The feed holds only what is left to do.
    Existing(i64),
    /// A job created once the input is known to be clean, when it has
    /// more than the threshold's rows; the spec's SHA-256 and row count
    /// are filled in from the [`Verdict`].
    Above(JobSpec, u64),
}

/// How [`write_feed`] writes.
#[derive(Debug, Clone)]
pub struct FeedOptions<'a> {
    /// Changes per committed batch of a job.
    pub batch_rows: usize,
    /// Changes per held write while the input is not known to be clean.
    pub hold_rows: usize,
    /// True: one failing row rolls everything back (see [`Batch`]).
    pub all_or_nothing: bool,
    /// Queue an invitation for every created user, in its transaction.
    pub invite: Option<&'a Invite>,
    /// The job, if any.
    pub job: JobPlan,
}

/// Progress of [`write_feed`]: after every chunk received while the input
/// is being checked, and after every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedProgress {
    /// Data rows received so far (the input's total once at its end).
    pub rows_read: u64,
    /// Data rows written so far (held or committed).
    pub rows_written: u64,
    /// The input is known to be clean: writes now commit.
    pub checked: bool,
    /// The job recording the writes, once there is one.
    pub job: Option<i64>,
}

/// What [`write_feed`] did.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Every row's result; `committed` when all of it is committed.
    pub outcome: ApplyOutcome,
    /// The job that recorded the writes.
    pub job: Option<i64>,
}

/// [`Jobs::record_job_results`] as a function.
type RecordFn<S> = fn(&mut S, i64, u64, &[RowResult]) -> Result<(), <S as Directory>::Error>;
/// [`Jobs::finish_job`] as a function.
type FinishFn<S> = fn(&mut S, i64, JobStatus, Option<&str>) -> Result<(), <S as Directory>::Error>;

/// The job operations the writer uses, for stores that keep jobs.
pub(crate) struct JobOps<S: Sink + ?Sized> {
    create: fn(&mut S, &JobSpec) -> Result<i64, S::Error>,
    claim: fn(&mut S, i64) -> Result<bool, S::Error>,
    release: fn(&mut S, i64) -> Result<(), S::Error>,
    record: RecordFn<S>,
    finish: FinishFn<S>,
    cancel_requested: fn(&S, i64) -> Result<bool, S::Error>,
}

impl<S: Jobs + ?Sized> JobOps<S> {
    pub(crate) fn of() -> Self {
        JobOps {
            create: S::create_job,
            claim: S::claim_job,
            release: S::release_job,
            record: S::record_job_results,
            finish: S::finish_job,
            cancel_requested: S::cancel_requested,
        }
    }
}

/// The checks every plan passes before anything is written: no file-level
/// error, no row errors unless made with `skip_invalid`, and within its
/// actor's authority (a plan file may have been edited since it was made).
/// The revision is checked by the writer, under the write's lock.
pub fn preflight<S: Sink + ?Sized>(store: &S, plan: &Plan) -> Result<(), S::Error> {
    if plan.is_refused() {
        let reason = plan
            .issues
            .iter()
            .find(|i| i.is_error() && i.row == 0)
            .map(|i| i.message.clone())
            .unwrap_or_default();
        return Err(Error::Refused(reason).into());
    }
    if !plan.is_clean() && !plan.options.skip_invalid {
        return Err(Error::RowErrors(plan.summary.errors).into());
    }
    let violations = plan.authority_violations(store).map_err(Error::Plan)?;
    if !violations.is_empty() {
        return Err(Error::Refused(format!(
            "the plan goes beyond its actor's authority: {}",
            violations.join("; ")
        ))
        .into());
    }
    Ok(())
}

/// Writes what `next` yields (`None`: the input ended) into `store`, as
/// `verdict` allows: held until the input is known to be clean (the last
/// write commits them all, or a job's first batch does), then, for a job,
/// committed every `batch_rows` changes with its progress. The revision
/// the input was planned against must be the store's when the writes
/// began. `progress` returning `false`, `cancel`, or a cancel requested
/// through the store ([`Jobs::request_cancel`]) stops at the next batch
/// boundary: held writes are rolled back, committed batches stay and the
/// job is marked cancelled. The job's worker lock is held from the job's
/// start to the end of the call.
///
/// Each written chunk is handed to `retire` (a streamed apply frees it on
/// the thread that allocated it).
pub fn write_feed<'a, S: Jobs + ?Sized>(
    store: &mut S,
    feed: Feed<'a, '_>,
    options: &FeedOptions<'_>,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&FeedProgress) -> bool,
) -> Result<Written, S::Error> {
    run(
        store,
        Some(JobOps::of()),
        feed,
        options,
        cancel,
        progress,
        &mut |_| true,
    )
}

/// Where [`write_feed`] takes its chunks from.
pub struct Feed<'a, 'f> {
    /// The next chunk; `None` once the input ended.
    pub next: &'f mut dyn FnMut() -> Option<Result<Chunk<'a>, Error>>,
    /// What is known of the input as a whole.
    pub verdict: &'f Verdict,
    /// Takes each chunk once written.
    pub retire: &'f mut dyn FnMut(Chunk<'a>),
}

impl std::fmt::Debug for Feed<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("verdict", &self.verdict)
            .finish_non_exhaustive()
    }
}

/// Writes `plan` (checked with [`preflight`] first) through the writer loop:
/// at once without a job, else in the job's batches (skipping the rows a
/// resumed job has done). Passwords of the next chunk are hashed on a
/// helper thread while this one writes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_plan<S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<JobOps<S>>,
    plan: &Plan,
    options: &FeedOptions<'_>,
    rows: (u64, u64),
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&FeedProgress) -> bool,
    write_progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Written, S::Error> {
    let (done, total) = rows;
    let pending = pending_changes(&plan.changes, done);
    let chunk_rows = match options.job {
        JobPlan::None => pending.len().max(1),
        _ => options.batch_rows.max(1),
    };
    let verdict = Verdict::clean_now(total, plan.revision);
    let pending = &pending;
    std::thread::scope(|scope| {
        let (to_writer, from_preparer) = std::sync::mpsc::sync_channel::<Result<Chunk<'_>>>(1);
        let groups = plan.created_groups.clone();
        scope.spawn(move || {
            let mut groups = Some(groups);
            for part in chunks_of(pending, chunk_rows) {
                let chunk = Chunk::prepare(part, groups.take().unwrap_or_default());
                let failed = chunk.is_err();
                if to_writer.send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        let mut next = || from_preparer.recv().ok();
        let feed = Feed {
            next: &mut next,
            verdict: &verdict,
            retire: &mut drop,
        };
        let written = run(store, jobs, feed, options, cancel, progress, write_progress);
        // Dropping the receiver ends the preparer at its next send.
        drop(from_preparer);
        written
    })
}

/// [`Sink::apply_inviting`]: `plan`, checked with [`preflight`], written
/// through the writer loop in one transaction, between the store's
/// [`Sink::begin_apply`] and [`Sink::end_apply`] hooks.
pub(crate) fn write_at_once<S: Sink + ?Sized>(
    store: &mut S,
    plan: &Plan,
    invite: Option<&Invite>,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<ApplyOutcome, S::Error> {
    preflight(&*store, plan)?;
    if !store.begin_apply(plan)? {
        return Err(Error::Cancelled.into());
    }
    let options = FeedOptions {
        batch_rows: usize::MAX,
        hold_rows: usize::MAX,
        all_or_nothing: !plan.options.skip_invalid,
        invite,
        job: JobPlan::None,
    };
    let written = write_plan(
        store,
        None,
        plan,
        &options,
        (0, plan.summary.rows),
        &CancelToken::new(),
        &mut |_| true,
        progress,
    )?;
    store.end_apply(&written.outcome)?;
    Ok(written.outcome)
}

/// The changes a job still has to write: rows after `done`, and the sync
/// tail (row 0). Borrowed when they are one run of the plan (they are in
/// plan order), copied otherwise.
fn pending_changes(changes: &[Change], done: u64) -> Cow<'_, [Change]> {
    let keep = |c: &Change| c.row() == 0 || c.row() > done;
    let start = changes.iter().position(keep).unwrap_or(changes.len());
    if changes[start..].iter().all(keep) {
        Cow::Borrowed(&changes[start..])
    } else {
        Cow::Owned(changes.iter().filter(|c| keep(c)).cloned().collect())
    }
}

/// `changes` in parts of `rows` changes; the sync tail (row 0) joins the
/// last part. An empty list is one empty part.
fn chunks_of<'a>(changes: &Cow<'a, [Change]>, rows: usize) -> Vec<Cow<'a, [Change]>> {
    let all: &[Change] = changes;
    let tail = all.iter().rposition(|c| c.row() != 0).map_or(0, |i| i + 1);
    let mut bounds = Vec::new();
    let mut start = 0;
    while start < tail {
        let end = (start + rows).min(tail);
        bounds.push((start, if end == tail { all.len() } else { end }));
        start = end;
    }
    if bounds.is_empty() {
        bounds.push((0, all.len()));
    }
    bounds
        .into_iter()
        .map(|(a, b)| match changes {
            Cow::Borrowed(slice) => Cow::Borrowed(&slice[a..b]),
            Cow::Owned(vec) => Cow::Owned(vec[a..b].to_vec()),
        })
        .collect()
}

/// The writer's state between writes.
struct State<'a> {
    total: ApplyOutcome,
    pending: Vec<Chunk<'a>>,
    pending_len: usize,
    revision: u64,
    opened_at: u64,
    job: Option<i64>,
    /// The job is visible to others (created before, or committed).
    committed: bool,
    rows_read: u64,
    rows_written: u64,
    rows_total: Option<u64>,
    at_end: bool,
    finished: bool,
    /// The write was given up (and the job marked) already.
    stopped: bool,
    /// The input turned out clean at its end while every write was still
    /// held: what is left is planned and in flight (a few chunks), so it
    /// joins the held writes and commits with them, in one transaction,
    /// rather than in the job's batches after them (each a commit, and on
    /// a bulk load each written after the indexes are built).
    hold_to_end: bool,
}

fn run<'a, S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<JobOps<S>>,
    feed: Feed<'a, '_>,
    options: &FeedOptions<'_>,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&FeedProgress) -> bool,
    write_progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Written, S::Error> {
    let revision = store.revision()?;
    let existing = match options.job {
        JobPlan::Existing(id) => Some(id),
        _ => None,
    };
    let mut state = State {
        total: ApplyOutcome::default(),
        pending: Vec::new(),
        pending_len: 0,
        revision,
        opened_at: revision,
        job: existing,
        committed: existing.is_some(),
        rows_read: 0,
        rows_written: 0,
        rows_total: None,
        at_end: false,
        finished: false,
        stopped: false,
        hold_to_end: false,
    };
    if let (Some(id), Some(ops)) = (existing, jobs.as_ref())
        && !(ops.claim)(store, id)?
    {
        return Err(Error::JobRunning(id).into());
    }
    let result = write_all(
        store,
        jobs.as_ref(),
        &mut state,
        feed,
        options,
        cancel,
        progress,
        write_progress,
    );
    if let Err(e) = &result
        && !state.stopped
    {
        give_up(
            store,
            jobs.as_ref(),
            &mut state,
            JobStatus::Failed,
            &e.to_string(),
        );
    }
    if let (Some(id), Some(ops)) = (state.job, jobs.as_ref()) {
        let _ = (ops.release)(store, id);
    }
    result.map(|()| Written {
        outcome: state.total,
        job: state.job,
    })
}

/// Ends a write that cannot go on: a visible job is marked `status`; held
/// writes are rolled back.
fn give_up<S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<&JobOps<S>>,
    state: &mut State<'_>,
    status: JobStatus,
    why: &str,
) {
    state.stopped = true;
    let _ = store.rollback();
    if let (true, Some(id), Some(ops)) = (state.committed, state.job, jobs) {
        let _ = (ops.finish)(store, id, status, Some(why));
    }
}

#[allow(clippy::too_many_arguments)]
fn write_all<'a, S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<&JobOps<S>>,
    state: &mut State<'a>,
    feed: Feed<'a, '_>,
    options: &FeedOptions<'_>,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(&FeedProgress) -> bool,
    write_progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<(), S::Error> {
    let Feed {
        next,
        verdict,
        retire,
    } = feed;
    let clean_from_start = verdict.clean_rows().is_some();
    loop {
        let received = match next() {
            Some(chunk) => {
                let chunk = chunk?;
                state.rows_read = state.rows_read.max(chunk.last_row());
                state.pending_len += chunk.changes.len();
                state.pending.push(chunk);
                true
            }
            None => {
                state.at_end = true;
                false
            }
        };
        if verdict.has_errors() || (state.at_end && verdict.clean_rows().is_none()) {
            // Errors (or an input not read to its end): nothing held is
            // kept; the check reports why.
            give_up(
                store,
                jobs,
                state,
                JobStatus::Failed,
                "the input has errors",
            );
            if !state.committed {
                state.total.roll_back(state.revision);
            }
            return Ok(());
        }
        if state.rows_total.is_none()
            && let Some((rows, planned)) = verdict.clean_rows()
        {
            on_clean(store, jobs, state, verdict, options, rows, planned)?;
            state.hold_to_end = !clean_from_start && !state.committed;
        }
        if state.at_end {
            state.rows_read = state.rows_total.unwrap_or(state.rows_read);
        }
        if received && state.rows_total.is_none() && !progress(&snapshot(state)) {
            return stop(store, jobs, state);
        }
        let due = Due {
            options,
            cancel,
            progress: &mut *progress,
            write_progress: &mut *write_progress,
            retire: &mut *retire,
        };
        if !write_due(store, jobs, state, due)? {
            return Ok(());
        }
        if state.at_end {
            return finish(store, state, options, progress);
        }
    }
}

/// The input is known to be clean: the revision it was planned against is
/// checked, and a job is created when one is asked for.
fn on_clean<S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<&JobOps<S>>,
    state: &mut State<'_>,
    verdict: &Verdict,
    options: &FeedOptions<'_>,
    rows: u64,
    planned: u64,
) -> Result<(), S::Error> {
    if planned != state.opened_at {
        let history = store.history_since(planned)?;
        return Err(Error::Drift {
            planned,
            current: state.opened_at,
            history,
        }
        .into());
    }
    state.rows_total = Some(rows);
    let (JobPlan::Above(spec, threshold), Some(ops)) = (&options.job, jobs) else {
        return Ok(());
    };
    if rows <= *threshold {
        return Ok(());
    }
    // Created inside the held transaction: it shows, and can be resumed,
    // from the first commit on, with the rows written so far.
    let spec = JobSpec {
        file_sha256: verdict.sha256(),
        rows_total: rows,
        ..spec.clone()
    };
    let id = (ops.create)(store, &spec)?;
    state.job = Some(id);
    if !(ops.claim)(store, id)? {
        return Err(Error::JobRunning(id).into());
    }
    if !state.total.results.is_empty() {
        (ops.record)(store, id, state.rows_written, &state.total.results)?;
    }
    Ok(())
}

impl State<'_> {
    /// The job step a write that brings the job to `rows_done` commits
    /// with, when there is a job.
    fn step(&self, rows_done: u64, last: bool) -> Option<JobStep> {
        self.job.map(|id| JobStep {
            id,
            rows_done,
            last,
            rows_total: self.rows_total,
        })
    }
}

/// Writes `chunk` as one batch at the writer's revision (held with `hold`).
fn write_chunk<S: Sink + ?Sized>(
    store: &mut S,
    state: &State<'_>,
    options: &FeedOptions<'_>,
    chunk: &Chunk<'_>,
    step: Option<JobStep>,
    hold: bool,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<ApplyOutcome, S::Error> {
    let batch = Batch {
        expected_revision: state.revision,
        changes: &chunk.changes,
        passwords: &chunk.passwords,
        create_groups: &chunk.groups,
        all_or_nothing: options.all_or_nothing,
        job: step,
        invite: options.invite,
        creates: &chunk.creates,
        hold,
    };
    store.write(&batch, progress)
}

/// The progress snapshot of `state`.
fn snapshot(s: &State<'_>) -> FeedProgress {
    FeedProgress {
        rows_read: s.rows_read,
        rows_written: s.rows_written,
        checked: s.rows_total.is_some(),
        job: s.job,
    }
}

/// What [`write_due`] writes with.
struct Due<'o, 'a, 'f> {
    options: &'o FeedOptions<'o>,
    cancel: &'o CancelToken,
    progress: &'f mut dyn FnMut(&FeedProgress) -> bool,
    write_progress: &'f mut dyn FnMut(&Progress) -> bool,
    retire: &'f mut dyn FnMut(Chunk<'a>),
}

/// Writes what is due; false when the write stopped (a refused row).
fn write_due<'a, S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<&JobOps<S>>,
    state: &mut State<'a>,
    due: Due<'_, 'a, '_>,
) -> Result<bool, S::Error> {
    let Due {
        options,
        cancel,
        progress,
        write_progress,
        retire,
    } = due;
    let batch_rows = options.batch_rows.max(1);
    let hold_rows = options.hold_rows.max(1);
    // Once clean a job commits every `batch_rows` changes; until then, and
    // without a job, writes are held and the last one commits them all (as
    // does a job whose input turned clean only at its end: `hold_to_end`).
    let in_batches = state.rows_total.is_some() && state.job.is_some() && !state.hold_to_end;
    let limit = if in_batches { batch_rows } else { hold_rows };
    while state.pending_len > 0 && (state.at_end || state.pending_len >= limit) {
        if in_batches && cancelled(store, jobs, state, cancel)? {
            stop(store, jobs, state)?;
            return Ok(false);
        }
        let chunk = take(
            &mut state.pending,
            &mut state.pending_len,
            in_batches.then_some(batch_rows),
        );
        let last = state.at_end && state.pending_len == 0;
        let step_rows = if last {
            state.rows_read
        } else {
            chunk.last_row().max(state.rows_written)
        };
        let step = state.step(step_rows, last);
        let hold = !(in_batches || last);
        let outcome = write_chunk(store, state, options, &chunk, step, hold, write_progress)?;
        retire(chunk);
        if !outcome.committed && !outcome.held {
            // A row the store refused: everything held went with it.
            let why = outcome.first_failure();
            merge(&mut state.total, outcome);
            if state.committed {
                give_up(store, jobs, state, JobStatus::Failed, &why);
            } else {
                state.total.roll_back(state.revision);
            }
            return Ok(false);
        }
        state.committed |= outcome.committed;
        state.finished = last;
        state.revision = outcome.revision;
        state.rows_written = step_rows;
        merge(&mut state.total, outcome);
        if !progress(&snapshot(state)) && !last {
            stop(store, jobs, state)?;
            return Ok(false);
        }
    }
    Ok(true)
}

/// True when the job is to stop at this batch boundary.
fn cancelled<S: Sink + ?Sized>(
    store: &S,
    jobs: Option<&JobOps<S>>,
    state: &State<'_>,
    cancel: &CancelToken,
) -> Result<bool, S::Error> {
    if cancel.is_cancelled() {
        return Ok(true);
    }
    match (state.job, jobs) {
        (Some(id), Some(ops)) if state.committed => (ops.cancel_requested)(store, id),
        _ => Ok(false),
    }
}

/// Stops on a cancel: held writes rolled back, a visible job cancelled.
fn stop<S: Sink + ?Sized>(
    store: &mut S,
    jobs: Option<&JobOps<S>>,
    state: &mut State<'_>,
) -> Result<(), S::Error> {
    give_up(store, jobs, state, JobStatus::Cancelled, "cancelled");
    Err(Error::Cancelled.into())
}

/// The input ended clean: commits what is held and finishes the job when
/// no write carried the last step (an empty input, held writes, or batches
/// that ended before the input was known to end).
fn finish<S: Sink + ?Sized>(
    store: &mut S,
    state: &mut State<'_>,
    options: &FeedOptions<'_>,
    progress: &mut dyn FnMut(&FeedProgress) -> bool,
) -> Result<(), S::Error> {
    if !state.finished {
        // Nothing left but the groups: a write that commits (and ends the job).
        let commit = Chunk {
            changes: Cow::Borrowed(&[]),
            passwords: Vec::new(),
            creates: Vec::new(),
            groups: state.pending.drain(..).flat_map(|c| c.groups).collect(),
        };
        let step = state.step(state.rows_read, true);
        let outcome = write_chunk(store, state, options, &commit, step, false, &mut |_| true)?;
        state.revision = outcome.revision;
        merge(&mut state.total, outcome);
        state.rows_written = state.rows_read;
        // Known clean by now, so this reads `checked`.
        progress(&snapshot(state));
    }
    state.total.committed = true;
    state.total.held = false;
    state.total.revision = state.revision;
    Ok(())
}

/// Takes up to `limit` changes (all without one) off the front of
/// `pending` as one chunk.
fn take<'a>(pending: &mut Vec<Chunk<'a>>, len: &mut usize, limit: Option<usize>) -> Chunk<'a> {
    let limit = limit.unwrap_or(usize::MAX).min(*len);
    // One chunk of exactly the size wanted goes as it is (no copy).
    if pending.first().is_some_and(|c| c.changes.len() == limit) {
        let chunk = pending.remove(0);
        *len -= limit;
        return chunk;
    }
    let mut out = Chunk {
        changes: Cow::Owned(Vec::with_capacity(limit)),
        passwords: Vec::with_capacity(limit),
        creates: Vec::with_capacity(limit),
        groups: Vec::new(),
    };
    while out.changes.len() < limit {
        let Some(first) = pending.first_mut() else {
            break;
        };
        let want = limit - out.changes.len();
        out.groups.append(&mut first.groups);
        if first.changes.len() <= want {
            let chunk = pending.remove(0);
            out.changes.to_mut().extend(chunk.changes.into_owned());
            out.passwords.extend(chunk.passwords);
            out.creates.extend(chunk.creates);
        } else {
            let rest = first.changes.to_mut().split_off(want);
            let head = std::mem::replace(&mut first.changes, Cow::Owned(rest));
            out.changes.to_mut().extend(head.into_owned());
            let rest = first.passwords.split_off(want);
            out.passwords
                .extend(std::mem::replace(&mut first.passwords, rest));
            let rest = first.creates.split_off(want);
            out.creates
                .extend(std::mem::replace(&mut first.creates, rest));
        }
    }
    *len -= out.changes.len();
    out
}

/// Adds one write's outcome to the running total.
fn merge(total: &mut ApplyOutcome, outcome: ApplyOutcome) {
    total.created_groups.extend(outcome.created_groups);
    for result in outcome.results {
        total.push(result);
    }
    total.revision = outcome.revision;
}
