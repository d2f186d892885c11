//! The streamed apply: the file is read, checked and planned on one thread
//! while its changes are written on this one, so a large import costs about
//! as long as its writes rather than its check plus its writes, and memory
//! holds a few chunks rather than the whole plan.
//!
//! All-or-nothing still holds: every write is *held* in one open
//! transaction (see `Batch::hold`) until the whole file is checked. A file
//! with any error rolls all of it back, and the report is the one `check`
//! gives. The file is known to be clean only at its end, when what is left
//! to write is the few chunks in flight: they join the held writes, and
//! all of it commits once, with the job (done) when there is one. Killed
//! before that commit, nothing is written and no job recorded. (A job
//! whose rows are known before it writes, a resumed or a `--skip-invalid`
//! one, commits every `batch_rows` changes with its progress.)

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use userimport_plan::{Change, Directory};
use userimport_sink::{
    ApplyOutcome, Batch, CancelToken, Chunk, Feed, FeedOptions, Invite, Job, JobPlan, JobSpec,
    JobStatus, Jobs, Outcome, RowResult, Verdict, Written, write_feed,
};
use userimport_validate::Issue;

use crate::Error;
use crate::pipeline::{Checked, Importer, Keep, Streamed};

/// Chunks planned ahead of the writer: the planner runs ahead until this
/// many wait, which bounds memory (a chunk is about 1,000 rows).
const AHEAD: usize = 8;

/// How a streamed apply writes.
#[derive(Debug, Clone)]
pub struct StreamOptions<'a> {
    /// Changes per committed batch of a job whose rows are known before it
    /// writes (the second pass of [`crate::apply()`] with `skip_invalid`); a
    /// streamed file commits once, when it is known to be clean.
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
    /// The input's size in bytes, when known (a file's length): progress
    /// then tells how much of it is checked.
    pub input_size: Option<u64>,
}

impl Default for StreamOptions<'_> {
    fn default() -> Self {
        StreamOptions {
            batch_rows: 10_000,
            hold_rows: 8_192,
            job: None,
            invite: None,
            input_size: None,
        }
    }
}

/// What a streamed apply is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// The file is being read and checked (writes are held until it is
    /// clean): progress is bytes read of the input's size, and rows checked.
    #[default]
    Checking,
    /// The file is checked and clean: progress is rows written of the
    /// file's rows.
    Writing,
}

/// Progress of a streamed apply: after every chunk checked and every write.
/// A frontend shows the phase and its progress (bytes of the file while
/// checking, then rows written of the file's rows) with rate and ETA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamProgress {
    /// What the apply is doing.
    pub phase: Phase,
    /// Bytes of the input read so far.
    pub bytes_read: u64,
    /// The input's size ([`StreamOptions::input_size`]), when known.
    pub bytes_total: Option<u64>,
    /// Data rows checked and planned so far (the file's total once `checked`).
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

/// A reader that hashes and counts what passes through it.
pub(crate) struct Hashing<'h, R> {
    pub(crate) inner: R,
    pub(crate) hasher: &'h Mutex<Sha256>,
    pub(crate) bytes: &'h AtomicU64,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut hasher) = self.hasher.lock() {
            hasher.update(&buf[..n]);
        }
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
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
    /// clean (at its end) the rest joins the held writes and everything
    /// commits once, with the job's record (`options.job`, for files over
    /// its threshold) when there is one.
    /// `progress` returning `false` stops (what is held is rolled back; a
    /// job is marked cancelled).
    ///
    /// Refused for `skip_invalid` plans: rows found invalid only at the end
    /// of the file (in-file duplicates) could not be taken back; check the
    /// whole file first for those, as [`crate::apply()`] does.
    ///
    /// A first import into an empty store goes faster as a bulk load: when
    /// [`Sink::begin_bulk_load`](userimport_sink::Sink::begin_bulk_load) agrees, plan against an
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
        S: Jobs,
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
        let opened = store.write(
            &Batch {
                expected_revision: store.revision()?,
                changes: &[],
                passwords: &[],
                create_groups: &[],
                all_or_nothing: true,
                job: None,
                invite: None,
                creates: &[],
                hold: true,
            },
            &mut |_| true,
        )?;
        debug_assert!(opened.held);
        let verdict = &Verdict::pending();
        let bytes = &AtomicU64::new(0);
        let (to_writer, from_planner) = mpsc::sync_channel::<Chunk<'static>>(AHEAD);
        // Written changes go back to the planning thread to be dropped: it
        // allocated them, and frees on the allocating thread are the cheap
        // ones; the writer, the busiest thread, does not pay for them.
        let (retire, retired) = mpsc::channel::<Chunk<'static>>();
        std::thread::scope(|scope| {
            let planner = scope.spawn(move || {
                // The bytes are hashed as they are read: a job records the
                // SHA-256 of exactly the file it applied.
                let hasher = Mutex::new(Sha256::new());
                let input = Hashing {
                    inner: input,
                    hasher: &hasher,
                    bytes,
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
                    match streamed {
                        Streamed::Chunk { chunk, .. } => {
                            let chunk =
                                Chunk::prepare(Cow::Owned(chunk.changes), chunk.created_groups)?;
                            // The writer stops listening when a write
                            // fails; the check goes on for its report.
                            sending = to_writer.send(chunk).is_ok();
                        }
                        Streamed::Checked { rows, revision, .. } => {
                            let sha256 = hasher
                                .lock()
                                .map(|h| hex::encode(h.clone().finalize()))
                                .unwrap_or_default();
                            verdict.clean(rows, revision, sha256);
                        }
                    }
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
            let written = write(
                store,
                &from_planner,
                verdict,
                bytes,
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
            let Written { outcome, job } = match written {
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

/// The writer's side: the sink's writer loop over the planner's chunks,
/// its progress told with the bytes read.
fn write<S>(
    store: &mut S,
    from_planner: &mpsc::Receiver<Chunk<'static>>,
    verdict: &Verdict,
    bytes: &AtomicU64,
    options: &StreamOptions<'_>,
    retire: &mpsc::Sender<Chunk<'static>>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Written, Error>
where
    S: Jobs,
    Error: From<S::Error>,
{
    let feed_options = FeedOptions {
        batch_rows: options.batch_rows,
        hold_rows: options.hold_rows,
        all_or_nothing: true,
        invite: options.invite,
        job: match &options.job {
            Some((spec, threshold)) => JobPlan::Above(spec.clone(), *threshold),
            None => JobPlan::None,
        },
    };
    let mut next = || from_planner.recv().ok().map(Ok);
    let mut retired = |chunk| {
        let _ = retire.send(chunk);
    };
    let feed = Feed {
        next: &mut next,
        verdict,
        retire: &mut retired,
    };
    // The job, once a committed batch makes it visible.
    let mut committed_job = None;
    let written = write_feed(store, feed, &feed_options, &CancelToken::new(), &mut |p| {
        if p.checked {
            committed_job = p.job;
        }
        progress(&StreamProgress {
            phase: if p.checked {
                Phase::Writing
            } else {
                Phase::Checking
            },
            bytes_read: bytes.load(Ordering::Relaxed),
            bytes_total: options.input_size,
            rows_read: p.rows_read,
            rows_written: p.rows_written,
            checked: p.checked,
            job: p.job,
        })
    });
    match (written.map_err(Error::from), committed_job) {
        // Stopped after batches were committed: they stay, resumable.
        (Err(Error::Sink(userimport_sink::Error::Cancelled)), Some(job)) => {
            Err(Error::Stopped { job })
        }
        (written, _) => written,
    }
}

/// The second pass of a job that leaves rows out (`skip_invalid`), or of a
/// job's resume: what the first pass found, and what is written already.
pub(crate) struct SecondPass<'p> {
    /// The job the writes are recorded in.
    pub job: i64,
    /// The data rows the first pass refused, ascending: left out (their
    /// failed results are recorded with the job).
    pub refused: &'p [u64],
    /// Data rows up to this one are written already (a resumed job).
    pub done: u64,
    /// Sync's removals, planned by the first pass: written last. The
    /// second pass plans against the store as its own batches change it,
    /// so only the first pass knows who is absent from the file.
    pub tail: Vec<Change>,
    /// The file's data rows.
    pub rows: u64,
    /// The store revision the first pass planned against: the store must
    /// still be at it when the second pass starts writing.
    pub revision: u64,
    /// The file's SHA-256 as the first pass read it.
    pub sha256: &'p str,
}

impl SecondPass<'_> {
    /// True when data row `row` is to be written by this pass.
    fn keeps(&self, row: u64) -> bool {
        row > self.done && self.refused.binary_search(&row).is_err()
    }

    /// Drops what this pass does not write from `chunk` (rows `rows`):
    /// rows refused by the first pass, rows written already, and the
    /// second pass's own sync tail. Returns the error issues of rows kept
    /// that this pass refused although the first did not, so that they are
    /// failed results too (every row of the file has one).
    fn filter(&self, chunk: &mut userimport_plan::Chunk, rows: &Range<u64>) -> Vec<Issue> {
        if rows.is_empty() {
            chunk.changes.clear();
            return Vec::new();
        }
        chunk.changes.retain(|c| self.keeps(c.row()));
        let planned: Vec<u64> = chunk.changes.iter().map(Change::row).collect();
        chunk
            .issues
            .iter()
            .filter(|i| i.is_error() && rows.contains(&i.row) && self.keeps(i.row))
            .filter(|i| planned.binary_search(&i.row).is_err())
            .cloned()
            .collect()
    }
}

/// What the second pass's planning thread sends the writer.
type Sent = Result<Chunk<'static>, userimport_sink::Error>;

impl Importer {
    /// Writes job `pass.job` by planning `input` a second time (against
    /// `planning`, a second handle on `store`, on a helper thread) and
    /// feeding the writer loop each chunk's changes as they are planned,
    /// less the rows `pass` leaves out, in batches committed with the
    /// job's progress from the first. Memory holds a few chunks, not the
    /// plan. Rows refused only by this pass (none are expected: what
    /// an earlier row of the file changes in the store is also checked
    /// within the file) are recorded as failed results of the job.
    pub(crate) fn write_second_pass<R, D, S>(
        &self,
        input: R,
        planning: D,
        store: &mut S,
        pass: SecondPass<'_>,
        options: &StreamOptions<'_>,
        progress: &mut dyn FnMut(&StreamProgress) -> bool,
    ) -> Result<Job, Error>
    where
        R: Read + Send,
        D: Directory + Send,
        S: Jobs + Directory<Error = userimport_sink::Error>,
    {
        // The job has begun (`userimport_sink::begin_job`): a cancel
        // requested from now on stops it at a batch boundary.
        let job = pass.job;
        let verdict = &Verdict::clean_now(pass.rows, pass.revision);
        let bytes = &AtomicU64::new(0);
        let (to_writer, from_planner) = mpsc::sync_channel::<Sent>(AHEAD);
        let (retire, retired) = mpsc::channel::<Chunk<'static>>();
        let pass = &pass;
        std::thread::scope(|scope| {
            let planner = scope.spawn(move || {
                let hasher = Mutex::new(Sha256::new());
                let input = Hashing {
                    inner: input,
                    hasher: &hasher,
                    bytes,
                };
                let mut sending = true;
                let mut late: Vec<Issue> = Vec::new();
                let mut stream = |streamed: Streamed, _clean: bool| -> Result<(), Error> {
                    retired.try_iter().for_each(drop);
                    let Streamed::Chunk { mut chunk, rows } = streamed else {
                        return Ok(());
                    };
                    late.extend(pass.filter(&mut chunk, &rows));
                    if !sending || (chunk.changes.is_empty() && chunk.created_groups.is_empty()) {
                        return Ok(());
                    }
                    let chunk = Chunk::prepare(Cow::Owned(chunk.changes), chunk.created_groups)?;
                    // The writer stops listening when a write fails: no
                    // use planning the rest.
                    sending = to_writer.send(Ok(chunk)).is_ok();
                    match sending {
                        true => Ok(()),
                        false => Err(Error::Refused("the writer stopped".into())),
                    }
                };
                let ran = self.run(input, &planning, Keep::Stream(&mut stream));
                let sha256 = hasher
                    .lock()
                    .map(|h| hex::encode(h.clone().finalize()))
                    .unwrap_or_default();
                let last = match &ran {
                    Err(e) => Err(userimport_sink::Error::Refused(e.to_string())),
                    Ok(_) if sha256 != pass.sha256 => Err(userimport_sink::Error::Refused(
                        "the file changed while it was being applied".into(),
                    )),
                    Ok(_) if pass.tail.is_empty() => Ok(None),
                    Ok(_) => Chunk::prepare(Cow::Owned(pass.tail.clone()), Vec::new()).map(Some),
                };
                match last {
                    Ok(None) => {}
                    Ok(Some(tail)) => drop(to_writer.send(Ok(tail))),
                    Err(e) => drop(to_writer.send(Err(e))),
                }
                drop(to_writer);
                retired.into_iter().for_each(drop);
                (ran, late, !sending)
            });
            let feed_options = FeedOptions {
                batch_rows: options.batch_rows,
                hold_rows: usize::MAX,
                all_or_nothing: !self.options().plan.skip_invalid,
                invite: options.invite,
                job: JobPlan::Existing(job),
            };
            let mut next = || from_planner.recv().ok();
            let mut retired = |chunk| {
                let _ = retire.send(chunk);
            };
            let feed = Feed {
                next: &mut next,
                verdict,
                retire: &mut retired,
            };
            let written = write_feed(store, feed, &feed_options, &CancelToken::new(), &mut |p| {
                progress(&StreamProgress {
                    phase: Phase::Writing,
                    bytes_read: bytes.load(Ordering::Relaxed),
                    bytes_total: options.input_size,
                    rows_read: p.rows_read,
                    rows_written: p.rows_written,
                    checked: true,
                    job: Some(job),
                })
            });
            drop(retire);
            drop(from_planner);
            let (ran, late, writer_gone) = match planner.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            record_late(store, job, &late)?;
            let written = match (written, ran) {
                (Err(userimport_sink::Error::Cancelled), _) => return Err(Error::Stopped { job }),
                // The planner failed on its own (its error, passed on,
                // stopped the writer).
                (Err(_), Err(e)) if !writer_gone => return Err(e),
                (Err(source), _) => return Err(Error::JobStopped { id: job, source }),
                (Ok(_), Err(e)) => return Err(e),
                (Ok(written), Ok(_)) => written,
            };
            if !written.outcome.committed {
                let source = userimport_sink::Error::Refused(written.outcome.first_failure());
                return Err(Error::JobStopped { id: job, source });
            }
            store
                .job(job)?
                .ok_or_else(|| Error::Refused(format!("no job {job}")))
        })
    }
}

/// Records rows refused only by the second pass as failed results of job
/// `id` (those it has reached), keeping the job's status.
fn record_late<S>(store: &mut S, id: i64, late: &[Issue]) -> Result<(), Error>
where
    S: Jobs + Directory<Error = userimport_sink::Error>,
{
    let Some(job) = store.job(id)?.filter(|_| !late.is_empty()) else {
        return Ok(());
    };
    let reached: Vec<Issue> = late
        .iter()
        .filter(|i| i.row <= job.rows_done)
        .cloned()
        .collect();
    let failed = invalid_rows(&reached);
    if failed.is_empty() {
        return Ok(());
    }
    store.record_job_results(id, job.rows_done, &failed)?;
    if job.status != JobStatus::Running {
        store.finish_job(id, job.status, job.error.as_deref())?;
    }
    Ok(())
}

/// Rows refused by validation or planning, as failed results with their
/// reasons, in file order.
pub(crate) fn invalid_rows(issues: &[Issue]) -> Vec<RowResult> {
    let mut failed: BTreeMap<u64, (u64, Vec<String>, Option<i64>)> = BTreeMap::new();
    for issue in issues.iter().filter(|i| i.is_error() && i.row > 0) {
        let entry = failed
            .entry(issue.row)
            .or_insert((issue.line, Vec::new(), None));
        entry.1.push(format!("{}: {}", issue.code, issue.message));
        // The user the row matched (or named by member ID), if any.
        let id = issue
            .keys
            .member_id
            .as_deref()
            .and_then(|m| m.trim().parse().ok());
        entry.2 = entry.2.or(id);
    }
    failed
        .into_iter()
        .map(|(row, (line, reasons, id))| RowResult {
            line,
            row,
            outcome: Outcome::Failed,
            id,
            reason: Some(reasons.join("; ")),
        })
        .collect()
}
