//! The streamed apply: the file is read, checked and planned on one thread
//! while its changes are written on this one, so a large import costs about
//! as long as its writes rather than its check plus its writes, and memory
//! holds a few chunks rather than the whole plan.
//!
//! All-or-nothing still holds: every write is *held* in one open
//! transaction (see `Batch::hold`) until the whole file is checked. A file
//! with any error rolls all of it back, and the report is the one `check`
//! gives. Once the file is known to be clean, the held writes commit with
//! the next batch, and from then on every `batch_rows` changes commit with
//! the job's progress. Killed before that first commit, nothing is written
//! (and no job recorded); killed after, the job resumes from its progress.

use std::borrow::Cow;
use std::io::Read;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use userimport_plan::{Change, Directory};
use userimport_sink::{
    ApplyOutcome, Batch, Invite, JobSpec, JobStatus, JobStep, PreparedCreate, Sink,
    prepare_creates, prepare_passwords,
};

use crate::Error;
use crate::pipeline::{Checked, Importer, Keep, Streamed};

/// Chunks planned ahead of the writer: the planner runs ahead until this
/// many wait, which bounds memory (a chunk is about 1,000 rows).
const AHEAD: usize = 8;

/// How a streamed apply writes.
#[derive(Debug, Clone)]
pub struct StreamOptions<'a> {
    /// Changes per committed batch once the file is checked.
    pub batch_rows: usize,
    /// Changes per held write while the file is still being checked (a
    /// write has a fixed cost: on PostgreSQL, a few round trips).
    pub hold_rows: usize,
    /// Record the apply as a job (`spec`) when the file has more than
    /// `threshold` data rows; smaller files commit once, at the end. The
    /// apply fills in the spec's `file_sha256` (of the bytes it read) and
    /// `rows_total`.
    pub job: Option<(JobSpec, u64)>,
    /// Queue an invitation for every created user, in its transaction.
    pub invite: Option<&'a Invite>,
}

impl Default for StreamOptions<'_> {
    fn default() -> Self {
        StreamOptions {
            batch_rows: 10_000,
            hold_rows: 8_192,
            job: None,
            invite: None,
        }
    }
}

/// Progress of a streamed apply, after every write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamProgress {
    /// Data rows planned so far (the file's total once `checked`).
    pub rows_read: u64,
    /// Data rows written so far (held or committed).
    pub rows_written: u64,
    /// The whole file is checked and clean: writes now commit.
    pub checked: bool,
    /// The job recording this apply, once it is one.
    pub job: Option<i64>,
}

/// The result of a streamed apply.
#[derive(Debug, Clone)]
pub struct StreamOutcome {
    /// The check of the whole file (its plan is not kept).
    pub checked: Checked,
    /// Every row's result; `committed` is false when nothing was written.
    pub outcome: ApplyOutcome,
    /// The job that recorded the apply, when it became one.
    pub job: Option<i64>,
}

/// The planner's verdict on the whole file, shared with the writer ahead of
/// the chunks still queued: `PENDING` until the end of the file, then
/// `CLEAN` (with the file's `rows`) or `ERRORS` (as soon as one is seen).
struct Verdict {
    state: AtomicU8,
    rows: AtomicU64,
    revision: AtomicU64,
    /// The SHA-256 (hex) of every byte read, set with `CLEAN`.
    sha256: Mutex<String>,
}

const PENDING: u8 = 0;
const CLEAN: u8 = 1;
const ERRORS: u8 = 2;

impl Verdict {
    fn new() -> Self {
        Verdict {
            state: AtomicU8::new(PENDING),
            rows: AtomicU64::new(0),
            revision: AtomicU64::new(0),
            sha256: Mutex::new(String::new()),
        }
    }

    fn errors(&self) {
        self.state.store(ERRORS, Ordering::Release);
    }

    fn clean(&self, rows: u64, revision: u64, sha256: String) {
        self.rows.store(rows, Ordering::Relaxed);
        self.revision.store(revision, Ordering::Relaxed);
        if let Ok(mut slot) = self.sha256.lock() {
            *slot = sha256;
        }
        self.state.store(CLEAN, Ordering::Release);
    }

    fn has_errors(&self) -> bool {
        self.state.load(Ordering::Acquire) == ERRORS
    }

    /// The file's rows, and the store revision it was planned against,
    /// once it is known to be clean.
    fn clean_rows(&self) -> Option<(u64, u64)> {
        (self.state.load(Ordering::Acquire) == CLEAN).then(|| {
            (
                self.rows.load(Ordering::Relaxed),
                self.revision.load(Ordering::Relaxed),
            )
        })
    }

    /// The SHA-256 of the bytes read (once clean).
    fn sha256(&self) -> String {
        self.sha256.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A reader that hashes what passes through it.
struct Hashing<'h, R> {
    inner: R,
    hasher: &'h Mutex<Sha256>,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut hasher) = self.hasher.lock() {
            hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Written changes with what was prepared for them, on their way to be
/// dropped.
type Retired = (
    Vec<Change>,
    Vec<Option<Cow<'static, str>>>,
    Vec<Option<PreparedCreate>>,
);

/// What the planning thread hands the writer.
enum Message {
    Chunk {
        changes: Vec<Change>,
        passwords: Vec<Option<Cow<'static, str>>>,
        creates: Vec<Option<PreparedCreate>>,
        groups: Vec<String>,
        /// The last data row planned.
        last_row: u64,
    },
    /// The file is read to the end, clean: `rows` data rows.
    Checked { rows: u64 },
}

impl Importer {
    /// Checks, plans and applies `input` in one pass: planned (against
    /// `planning`, a second handle on the same store) on a helper thread,
    /// written to `store` on this one, so a large import costs about as long
    /// as its writes, and memory holds a few chunks rather than the plan.
    ///
    /// All-or-nothing still holds: the writes are held in one open
    /// transaction (`Batch::hold`) until the whole file is checked; a file
    /// with any error writes nothing, and [`StreamOutcome::checked`] reports
    /// every error as [`Importer::check`] does. Once the file is known to be
    /// clean the held writes commit, and from then on every `batch_rows`
    /// changes commit with the job's progress (`options.job`, for files over
    /// its threshold; without a job everything commits once, at the end).
    /// `progress` returning `false` stops (what is held is rolled back; a
    /// job is marked cancelled).
    ///
    /// Refused for `skip_invalid` plans: rows found invalid only at the end
    /// of the file (in-file duplicates) could not be taken back; plan the
    /// whole file first ([`Importer::plan`]) for those.
    ///
    /// A first import into an empty store goes faster as a bulk load: when
    /// [`Sink::begin_bulk_load`] agrees, plan against an
    /// [`EmptyDirectory`](crate::plan::EmptyDirectory) of the store's
    /// revision and groups instead of a second connection (the store is
    /// then locked for other connections until the load commits), as
    /// `userimport apply` does.
    ///
    /// ```
    /// use userimport::plan::Directory;
    /// use userimport::{Importer, StreamOptions, schema::Profile, sink::SqliteSink};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("users.db");
    /// let mut store = SqliteSink::open(&path)?;
    /// let file = "Login ID,Name,Email address,Password\n\
    ///             tanaka,田中 花子,hanako@example.com,Sakura-2026-spring\n\
    ///             suzuki,鈴木 一郎,ichiro@example.com,Baseball-51-Seattle\n";
    /// let importer = Importer::builder(&Profile::standard()).build();
    /// // The planner reads through its own connection while `store` writes.
    /// let done = importer.apply_streaming(
    ///     file.as_bytes(),
    ///     SqliteSink::open_existing(&path)?,
    ///     &mut store,
    ///     &StreamOptions::default(),
    ///     &mut |_| true,
    /// )?;
    /// assert!(done.checked.is_clean() && done.outcome.committed);
    /// assert_eq!((done.outcome.created, store.user_count()?), (2, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_streaming<R, D, S>(
        &self,
        input: R,
        planning: D,
        store: &mut S,
        options: &StreamOptions<'_>,
        progress: &mut dyn FnMut(&StreamProgress) -> bool,
    ) -> Result<StreamOutcome, Error>
    where
        R: Read + Send,
        D: Directory + Send,
        S: Sink,
        Error: From<S::Error>,
    {
        if self.options().plan.skip_invalid {
            return Err(Error::Refused(
                "a streamed apply is all-or-nothing: plan the file first to skip invalid rows"
                    .into(),
            ));
        }
        // The held transaction opens first: it keeps other writers out, so
        // the planner's look-ups see the revision the writes expect.
        let revision = store.revision()?;
        let opened = store.write(
            &batch(revision, &[], &[], &[], &[], None, None, true),
            &mut |_| true,
        )?;
        debug_assert!(opened.held);
        let verdict = &Verdict::new();
        let (to_writer, from_planner) = mpsc::sync_channel::<Message>(AHEAD);
        // Written changes go back to the planning thread to be dropped: it
        // allocated them, and frees on the allocating thread are the cheap
        // ones; the writer, the busiest thread, does not pay for them.
        let (retire, retired) = mpsc::channel::<Retired>();
        std::thread::scope(|scope| {
            let planner = scope.spawn(move || {
                // The bytes are hashed as they are read: a job records the
                // SHA-256 of exactly the file it applied.
                let hasher = Mutex::new(Sha256::new());
                let input = Hashing {
                    inner: input,
                    hasher: &hasher,
                };
                let mut sending = true;
                let mut stream = |streamed: Streamed, clean: bool| -> Result<(), Error> {
                    retired.try_iter().for_each(drop);
                    if !clean {
                        verdict.errors();
                        sending = false;
                    }
                    if !sending {
                        return Ok(());
                    }
                    let message = match streamed {
                        Streamed::Chunk(chunk) => {
                            let passwords = prepare_passwords(&chunk.changes)?
                                .into_iter()
                                .map(|p| p.map(|p| Cow::Owned(p.into_owned())))
                                .collect();
                            Message::Chunk {
                                last_row: chunk.changes.iter().map(Change::row).max().unwrap_or(0),
                                creates: prepare_creates(&chunk.changes),
                                changes: chunk.changes,
                                passwords,
                                groups: chunk.created_groups,
                            }
                        }
                        Streamed::Checked { rows, revision, .. } => {
                            let sha256 = hasher
                                .lock()
                                .map(|h| hex::encode(h.clone().finalize()))
                                .unwrap_or_default();
                            verdict.clean(rows, revision, sha256);
                            Message::Checked { rows }
                        }
                    };
                    // The writer stops listening when a write fails; the
                    // check goes on for its report.
                    sending = to_writer.send(message).is_ok();
                    Ok(())
                };
                let checked = self.run(input, &planning, Keep::Stream(&mut stream));
                if checked.is_err() {
                    verdict.errors();
                }
                drop(to_writer);
                retired.into_iter().for_each(drop);
                checked
            });
            let written = write_stream(
                store,
                revision,
                &from_planner,
                verdict,
                options,
                &retire,
                progress,
            );
            drop(retire);
            drop(from_planner);
            let checked = match planner.join() {
                Ok(checked) => checked,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            let (outcome, job) = match written {
                Ok(done) => done,
                Err(e) => {
                    let _ = store.rollback();
                    return Err(e);
                }
            };
            let checked = checked?;
            Ok(StreamOutcome {
                checked,
                outcome,
                job,
            })
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn batch<'a>(
    expected_revision: u64,
    changes: &'a [Change],
    passwords: &'a [Option<Cow<'a, str>>],
    creates: &'a [Option<PreparedCreate>],
    create_groups: &'a [String],
    job: Option<JobStep>,
    invite: Option<&'a Invite>,
    hold: bool,
) -> Batch<'a> {
    Batch {
        expected_revision,
        changes,
        passwords,
        create_groups,
        all_or_nothing: true,
        job,
        invite,
        creates,
        hold,
    }
}

/// The writer's side: buffers until it knows whether the apply is a job,
/// holds writes until the file is checked, then commits in batches.
fn write_stream<S>(
    store: &mut S,
    mut revision: u64,
    from_planner: &mpsc::Receiver<Message>,
    verdict: &Verdict,
    options: &StreamOptions<'_>,
    retire: &mpsc::Sender<Retired>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<(ApplyOutcome, Option<i64>), Error>
where
    S: Sink,
    Error: From<S::Error>,
{
    let batch_rows = options.batch_rows.max(1);
    let hold_rows = options.hold_rows.max(1);
    let opened_at = revision;
    let mut total = ApplyOutcome::default();
    let mut changes: Vec<Change> = Vec::new();
    let mut passwords: Vec<Option<Cow<'static, str>>> = Vec::new();
    let mut creates: Vec<Option<PreparedCreate>> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut job: Option<i64> = None;
    let mut committed_any = false;
    let mut rows_read = 0u64;
    let mut rows_written = 0u64;
    let mut rows_total: Option<u64> = None;
    let mut at_end = false;
    // The last step is written (and with it the job marked done).
    let mut finished = false;
    let give_up = |store: &mut S, job: Option<i64>, committed: bool, status, why: &str| {
        if committed {
            if let Some(id) = job {
                let _ = store.finish_job(id, status, Some(why));
            }
        } else {
            let _ = store.rollback();
        }
    };
    loop {
        match from_planner.recv() {
            Ok(Message::Chunk {
                changes: more,
                passwords: more_passwords,
                creates: more_creates,
                groups: more_groups,
                last_row,
            }) => {
                changes.extend(more);
                passwords.extend(more_passwords);
                creates.extend(more_creates);
                groups.extend(more_groups);
                rows_read = rows_read.max(last_row);
            }
            Ok(Message::Checked { rows }) => {
                rows_read = rows;
                at_end = true;
            }
            // The planner stopped without a clean end: errors (or a failure
            // it reports itself). Nothing held is kept.
            Err(mpsc::RecvError) => {
                give_up(
                    store,
                    job,
                    committed_any,
                    JobStatus::Failed,
                    "the file could not be read to the end",
                );
                if !committed_any {
                    total.roll_back(revision);
                }
                return Ok((total, job));
            }
        }
        if verdict.has_errors() {
            let _ = store.rollback();
            total.roll_back(revision);
            return Ok((total, job));
        }
        if let (None, Some((rows, planned))) = (rows_total, verdict.clean_rows()) {
            if planned != opened_at {
                // Cannot happen while the held transaction keeps other
                // writers out; refuse rather than commit a stale plan.
                let _ = store.rollback();
                return Err(Error::Refused(format!(
                    "the file was planned against store revision {planned}, but the writes began at {opened_at}: apply it again"
                )));
            }
            rows_total = Some(rows);
            // A file over the threshold is a job, created now inside the
            // held transaction (it shows, and can be resumed, from the
            // first commit on) with the rows written so far.
            if let Some((spec, _)) = options.job.as_ref().filter(|(_, t)| rows > *t) {
                let spec = JobSpec {
                    file_sha256: verdict.sha256(),
                    rows_total: rows,
                    ..spec.clone()
                };
                let id = store.create_job(&spec)?;
                if !total.results.is_empty() {
                    store.record_job_results(id, rows_written, &total.results)?;
                }
                job = Some(id);
            }
        }
        let checked = rows_total.is_some();
        // Once the file is clean a job commits every `batch_rows` changes;
        // until then, and without a job, writes are held (`hold_rows` at a
        // time) and the last one commits them all.
        let in_batches = checked && job.is_some();
        let due = |pending: usize| {
            at_end
                || match in_batches {
                    true => pending >= batch_rows,
                    false => pending >= hold_rows,
                }
        };
        while !changes.is_empty() && due(changes.len()) {
            let take = match in_batches {
                true => changes.len().min(batch_rows),
                false => changes.len(),
            };
            let last = at_end && take == changes.len();
            let step_rows = if last {
                rows_read
            } else {
                changes[..take]
                    .iter()
                    .map(Change::row)
                    .max()
                    .unwrap_or(rows_written)
            };
            let step = job.map(|id| JobStep {
                id,
                rows_done: step_rows,
                last,
                rows_total,
            });
            let hold = !(in_batches || last);
            let outcome = store.write(
                &batch(
                    revision,
                    &changes[..take],
                    &passwords[..take],
                    &creates[..take],
                    &groups,
                    step,
                    options.invite,
                    hold,
                ),
                &mut |_| true,
            );
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    give_up(store, job, committed_any, JobStatus::Failed, &e.to_string());
                    return Err(e.into());
                }
            };
            groups.clear();
            if !outcome.committed && !outcome.held {
                // A row the store refused: everything held went with it.
                let why = outcome.first_failure();
                merge(&mut total, outcome);
                if committed_any {
                    give_up(store, job, true, JobStatus::Failed, &why);
                } else {
                    total.roll_back(revision);
                }
                return Ok((total, job));
            }
            committed_any |= outcome.committed;
            finished = last;
            revision = outcome.revision;
            rows_written = step_rows;
            merge(&mut total, outcome);
            let _ = retire.send((
                changes.drain(..take).collect(),
                passwords.drain(..take).collect(),
                creates.drain(..take).collect(),
            ));
            let going_on = progress(&StreamProgress {
                rows_read,
                rows_written,
                checked,
                job,
            });
            if !going_on {
                give_up(store, job, committed_any, JobStatus::Cancelled, "cancelled");
                return Err(match job.filter(|_| committed_any) {
                    Some(id) => Error::Stopped { job: id },
                    None => Error::Sink(userimport_sink::Error::Cancelled),
                });
            }
        }
        if at_end {
            if !finished {
                // Nothing left to carry the last step (an empty file, held
                // writes, or batches that ended before the file was known
                // to end): commit what is held and finish the job.
                let step = job.map(|id| JobStep {
                    id,
                    rows_done: rows_read,
                    last: true,
                    rows_total,
                });
                let outcome = store.write(
                    &batch(
                        revision,
                        &[],
                        &[],
                        &[],
                        &groups,
                        step,
                        options.invite,
                        false,
                    ),
                    &mut |_| true,
                )?;
                revision = outcome.revision;
                merge(&mut total, outcome);
                rows_written = rows_read;
                progress(&StreamProgress {
                    rows_read,
                    rows_written,
                    checked: true,
                    job,
                });
            }
            total.committed = true;
            total.held = false;
            total.revision = revision;
            return Ok((total, job));
        }
    }
}

/// Adds one write's outcome to the running total.
fn merge(total: &mut ApplyOutcome, outcome: ApplyOutcome) {
    total.created_groups.extend(outcome.created_groups);
    for result in outcome.results {
        total.push(result);
    }
    total.revision = outcome.revision;
}
