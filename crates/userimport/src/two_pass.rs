//! The two passes over a file on disk that keep memory bounded for
//! `skip_invalid`, detached jobs and resumes: a first pass checks the file
//! and keeps only the rows it refuses ([`first_pass`]), a second plans it
//! again as the other rows are written ([`resume_in_two_passes`]).

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use sha2::{Digest, Sha256};
use userimport_sink::{Job, JobStatus, Jobs};

use crate::settings::ImportSettings;
use crate::stream::{Hashing, SecondPass, StreamOptions, StreamProgress, invalid_rows};
use crate::{Checked, Error, Store};

/// What the first pass over a file keeps: its check (every error), sync's
/// removals with the revision planned against, and the file's SHA-256.
pub(crate) struct FirstPass {
    pub(crate) checked: Checked,
    pub(crate) ending: crate::pipeline::Ending,
    pub(crate) sha256: String,
}

/// Checks `file` (of `size` bytes) against `store`, keeping what a second
/// pass needs and not the plan; `progress` is told of the bytes checked.
pub(crate) fn first_pass(
    importer: &crate::Importer,
    file: std::fs::File,
    size: Option<u64>,
    store: &Store,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<FirstPass, Error> {
    let hasher = Mutex::new(Sha256::new());
    let bytes = AtomicU64::new(0);
    let mut stopped = false;
    let first = {
        let hashing = Hashing {
            inner: file,
            hasher: &hasher,
            bytes: &bytes,
        };
        let checking = Checking {
            inner: hashing,
            read: 0,
            told: 0,
            size,
            progress,
            stopped: &mut stopped,
        };
        importer.refusals(checking, store)
    };
    if stopped {
        return Err(userimport_sink::Error::Cancelled.into());
    }
    let (checked, ending) = first?;
    let sha256 = hasher
        .lock()
        .map(|h| hex::encode(h.clone().finalize()))
        .map_err(|_| Error::Refused("the file's SHA-256 was lost".into()))?;
    Ok(FirstPass {
        checked,
        ending,
        sha256,
    })
}

/// Resumes `job` (taken by this connection's worker: see
/// [`crate::jobs::as_worker`]) in two passes over `path`, its file (or the
/// same bytes elsewhere), as [`apply`] runs a job that skips invalid rows:
/// the file (refused if it changed since the job started) is checked
/// against the store as it is now, then planned again as the rows not done
/// yet are written, in batches of `batch` changes, reading the store
/// through `planning` (a second handle on `store`). A file with row errors
/// is refused unless the job skips invalid rows; the rows refused are left
/// out (their results were recorded when the job was created). Stopped by
/// `progress` while the file is checked: [`Error::Stopped`].
pub(crate) fn resume_in_two_passes(
    store: &mut Store,
    planning: Store,
    job: &Job,
    path: &Path,
    batch: usize,
    expected_revision: Option<u64>,
    progress: &mut dyn FnMut(&StreamProgress) -> bool,
) -> Result<Job, Error> {
    let id = job.id;
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Refused(format!("job {id}: cannot read {}: {e}", path.display())))?;
    let size = file.metadata().ok().map(|m| m.len());
    let settings = ImportSettings::from_json(&job.spec.options)?;
    let importer = settings.importer()?;
    let first = match first_pass(&importer, file, size, store, progress) {
        Err(Error::Sink(userimport_sink::Error::Cancelled)) => {
            return Err(Error::Stopped { job: id });
        }
        other => other?,
    };
    if first.sha256 != job.spec.file_sha256 {
        let reason = format!(
            "{} changed since job {id} started (SHA-256 {}, recorded {}): the job cannot be resumed",
            path.display(),
            first.sha256,
            job.spec.file_sha256
        );
        store.finish_job(id, JobStatus::Failed, Some(&reason))?;
        return Err(Error::Refused(reason));
    }
    if job.rows_done == 0
        && let Err(moved) =
            crate::moved::guard(store, expected_revision, Some(first.ending.revision))
    {
        store.finish_job(id, JobStatus::Failed, Some(&moved.to_string()))?;
        return Err(moved);
    }
    let checked = &first.checked;
    if let Some(issue) = checked.errors().find(|i| i.row == 0) {
        let source = userimport_sink::Error::Refused(issue.message.clone());
        return Err(Error::JobStopped { id, source });
    }
    if !checked.is_clean() && !settings.skip_invalid {
        let source = userimport_sink::Error::RowErrors(checked.summary.errors);
        return Err(Error::JobStopped { id, source });
    }
    let refused: Vec<u64> = invalid_rows(&checked.issues)
        .iter()
        .map(|r| r.row)
        .collect();
    let pass = SecondPass {
        job: id,
        refused: &refused,
        done: job.rows_done,
        tail: first.ending.tail,
        rows: checked.file.rows,
        revision: first.ending.revision,
        sha256: &first.sha256,
    };
    let options = StreamOptions {
        batch_rows: batch,
        input_size: size,
        invite: settings.invite.as_ref(),
        ..StreamOptions::default()
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Refused(format!("job {id}: cannot read {}: {e}", path.display())))?;
    importer.write_second_pass(file, planning, store, pass, &options, progress)
}

/// A reader that tells `progress` how much of the file the first pass has
/// checked (about every MiB); `false` stops it.
struct Checking<'p, R> {
    inner: R,
    read: u64,
    told: u64,
    size: Option<u64>,
    progress: &'p mut dyn FnMut(&StreamProgress) -> bool,
    stopped: &'p mut bool,
}

impl<R: Read> Read for Checking<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.told >= 1 << 20 || n == 0 {
            self.told = self.read;
            let going = (self.progress)(&StreamProgress {
                bytes_read: self.read,
                bytes_total: self.size,
                ..StreamProgress::default()
            });
            if !going {
                *self.stopped = true;
                return Err(std::io::Error::other("stopped"));
            }
        }
        Ok(n)
    }
}
