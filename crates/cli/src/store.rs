//! Opening the store named by `--db`: a SQLite file or a PostgreSQL database.

use std::collections::BTreeSet;

use userimport::StoreUrl;
use userimport::plan::{Authority, Directory, Lookup, StoredUser};
use userimport::sink::{
    ApplyOutcome, Batch, Error, Job, JobSpec, JobStatus, Jobs, Message, Outbox, PostgresSink,
    Progress, Revision, RowResult, Sink, SqliteSink,
};

use crate::Failure;

/// The store `--db` names, whichever backend it is.
#[derive(Debug)]
pub enum Store {
    /// An SQLite file.
    Sqlite(SqliteSink),
    /// A PostgreSQL database.
    Postgres(PostgresSink),
}

/// A store for reading only (`check`, `plan`, `export`): never created or
/// migrated; a missing one is empty.
pub fn open_read(url: &str) -> Result<Store, Failure> {
    match url.parse::<StoreUrl>().map_err(Failure)? {
        StoreUrl::Sqlite(path) => Ok(Store::Sqlite(
            SqliteSink::open_existing(&path)
                .map_err(|e| Failure(format!("cannot open store {}: {e}", path.display())))?,
        )),
        StoreUrl::Postgres(pg) => PostgresSink::open_existing(&pg)
            .map(Store::Postgres)
            .map_err(|e| Failure(format!("cannot open store {}: {e}", StoreUrl::Postgres(pg)))),
        other => Err(Failure(format!("unsupported store {other}"))),
    }
}

/// A store for writing (`apply`, `groups add`): created and migrated if needed.
pub fn open_write(url: &str) -> Result<Store, Failure> {
    match url.parse::<StoreUrl>().map_err(Failure)? {
        StoreUrl::Sqlite(path) => {
            Ok(Store::Sqlite(SqliteSink::open(&path).map_err(|e| {
                Failure(format!("cannot open store {}: {e}", path.display()))
            })?))
        }
        StoreUrl::Postgres(pg) => Ok(Store::Postgres(PostgresSink::open(&pg).map_err(|e| {
            Failure(format!(
                "cannot open store {}: {e}",
                StoreUrl::Postgres(pg.clone())
            ))
        })?)),
        other => Err(Failure(format!("unsupported store {other}"))),
    }
}

macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Store::Sqlite($s) => $body,
            Store::Postgres($s) => $body,
        }
    };
}

impl Directory for Store {
    type Error = Error;

    fn revision(&self) -> Result<u64, Error> {
        each!(self, s => s.revision())
    }
    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>, Error> {
        each!(self, s => s.find(keys))
    }
    fn groups(&self) -> Result<BTreeSet<String>, Error> {
        each!(self, s => s.groups())
    }
    fn user_count(&self) -> Result<u64, Error> {
        each!(self, s => s.user_count())
    }
    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), Error> {
        each!(self, s => s.for_each_user(f))
    }
    fn authority(&self, actor: &str) -> Result<Option<Authority>, Error> {
        each!(self, s => s.authority(actor))
    }
}

impl Sink for Store {
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, Error> {
        each!(self, s => s.write(batch, progress))
    }
    fn rollback(&mut self) -> Result<(), Error> {
        each!(self, s => s.rollback())
    }
    fn begin_bulk_load(&mut self) -> Result<bool, Error> {
        each!(self, s => s.begin_bulk_load())
    }
    fn add_groups(&mut self, names: &[String]) -> Result<usize, Error> {
        each!(self, s => s.add_groups(names))
    }
    fn remove_groups(&mut self, names: &[String]) -> Result<usize, Error> {
        each!(self, s => s.remove_groups(names))
    }
    fn history_since(&self, revision: u64) -> Result<Vec<Revision>, Error> {
        each!(self, s => s.history_since(revision))
    }
}

impl Jobs for Store {
    fn create_job(&mut self, spec: &JobSpec) -> Result<i64, Error> {
        each!(self, s => s.create_job(spec))
    }
    fn job(&self, id: i64) -> Result<Option<Job>, Error> {
        each!(self, s => s.job(id))
    }
    fn jobs(&self) -> Result<Vec<Job>, Error> {
        each!(self, s => s.jobs())
    }
    fn job_results(&self, id: i64) -> Result<Vec<RowResult>, Error> {
        each!(self, s => s.job_results(id))
    }
    fn record_job_results(
        &mut self,
        id: i64,
        rows_done: u64,
        results: &[RowResult],
    ) -> Result<(), Error> {
        each!(self, s => s.record_job_results(id, rows_done, results))
    }
    fn finish_job(&mut self, id: i64, status: JobStatus, error: Option<&str>) -> Result<(), Error> {
        each!(self, s => s.finish_job(id, status, error))
    }
    fn claim_job(&mut self, id: i64) -> Result<bool, Error> {
        each!(self, s => s.claim_job(id))
    }
    fn release_job(&mut self, id: i64) -> Result<(), Error> {
        each!(self, s => s.release_job(id))
    }
    fn request_cancel(&mut self, id: i64) -> Result<Option<Job>, Error> {
        each!(self, s => s.request_cancel(id))
    }
    fn cancel_requested(&self, id: i64) -> Result<bool, Error> {
        each!(self, s => s.cancel_requested(id))
    }
}

impl Outbox for Store {
    fn outbox(&self) -> Result<Vec<Message>, Error> {
        each!(self, s => s.outbox())
    }
    fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>, Error> {
        each!(self, s => s.claim_due(now, limit))
    }
    fn store_token(&mut self, message: i64, user: i64, hash: &str) -> Result<(), Error> {
        each!(self, s => s.store_token(message, user, hash))
    }
    fn mark_sent(&mut self, message: i64) -> Result<(), Error> {
        each!(self, s => s.mark_sent(message))
    }
    fn mark_failed(
        &mut self,
        message: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), Error> {
        each!(self, s => s.mark_failed(message, error, retry_at))
    }
}
