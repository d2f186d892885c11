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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use userimport_plan::Directory;
use userimport_sink::{
    ApplyOutcome, Batch, CancelToken, Chunk, Feed, FeedOptions, Invite, JobPlan, JobSpec, Jobs,
    Verdict, Written, write_feed,
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
struct Hashing<'h, R> {
    inner: R,
    hasher: &'h Mutex<Sha256>,
    bytes: &'h AtomicU64,
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
                        Streamed::Chunk(chunk) => {
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
