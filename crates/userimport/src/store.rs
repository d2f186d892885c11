//! Stores opened from a URL: `sqlite://userimport.db`, `sqlite:///abs/path.db`,
//! a bare path, or `postgres://…`, as one value implementing the store traits.

use std::collections::BTreeSet;
use std::path::PathBuf;

use userimport_plan::{Directory, Lookup, StoredUser};
use userimport_sink::{
    ApplyOutcome, Batch, Error as SinkError, Job, JobSpec, JobStatus, Message, PostgresSink,
    Progress, Revision, RowResult, Sink, SqliteSink, StoreOptions,
};

use crate::Error;

/// The store a URL names, whichever backend it is: open it with
/// [`Store::open`] (to write) or [`Store::open_existing`] (to read), then
/// use it wherever a [`Directory`] or a [`Sink`] is wanted.
#[derive(Debug)]
#[non_exhaustive]
pub enum Store {
    /// An SQLite file.
    Sqlite(SqliteSink),
    /// A PostgreSQL database.
    Postgres(PostgresSink),
}

impl Store {
    /// Opens the store `url` names for writing: created and migrated if needed.
    pub fn open(url: &str) -> Result<Store, Error> {
        Store::open_with(url, &StoreOptions::default())
    }

    /// [`Store::open`] with options: a database (or schema) holding another
    /// application's tables gets the store's only with
    /// [`StoreOptions::init_foreign`].
    pub fn open_with(url: &str, options: &StoreOptions) -> Result<Store, Error> {
        let parsed: StoreUrl = url.parse().map_err(Error::Refused)?;
        let opened = match &parsed {
            StoreUrl::Sqlite(path) => SqliteSink::open_with(path, options).map(Store::Sqlite),
            StoreUrl::Postgres(pg) => PostgresSink::open_with(pg, options).map(Store::Postgres),
        };
        opened.map_err(|source| Error::Open {
            url: parsed.to_string(),
            source,
        })
    }

    /// Opens the store `url` names for reading only (`check`, `plan`,
    /// `export`): never created or migrated; a missing one is empty.
    pub fn open_existing(url: &str) -> Result<Store, Error> {
        let parsed: StoreUrl = url.parse().map_err(Error::Refused)?;
        let opened = match &parsed {
            StoreUrl::Sqlite(path) => SqliteSink::open_existing(path).map(Store::Sqlite),
            StoreUrl::Postgres(pg) => PostgresSink::open_existing(pg).map(Store::Postgres),
        };
        opened.map_err(|source| Error::Open {
            url: parsed.to_string(),
            source,
        })
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
    type Error = SinkError;

    fn revision(&self) -> Result<u64, SinkError> {
        each!(self, s => s.revision())
    }
    fn store_id(&self) -> Result<Option<String>, SinkError> {
        each!(self, s => s.store_id())
    }
    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>, SinkError> {
        each!(self, s => s.find(keys))
    }
    fn groups(&self) -> Result<BTreeSet<String>, SinkError> {
        each!(self, s => s.groups())
    }
    fn user_count(&self) -> Result<u64, SinkError> {
        each!(self, s => s.user_count())
    }
    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), SinkError> {
        each!(self, s => s.for_each_user(f))
    }
}

impl Sink for Store {
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, SinkError> {
        each!(self, s => s.write(batch, progress))
    }
    fn rollback(&mut self) -> Result<(), SinkError> {
        each!(self, s => s.rollback())
    }
    fn begin_bulk_load(&mut self) -> Result<bool, SinkError> {
        each!(self, s => s.begin_bulk_load())
    }
    fn add_groups(&mut self, names: &[String]) -> Result<usize, SinkError> {
        each!(self, s => s.add_groups(names))
    }
    fn remove_groups(&mut self, names: &[String]) -> Result<usize, SinkError> {
        each!(self, s => s.remove_groups(names))
    }
    fn history_since(&self, revision: u64) -> Result<Vec<Revision>, SinkError> {
        each!(self, s => s.history_since(revision))
    }
    fn create_job(&mut self, spec: &JobSpec) -> Result<i64, SinkError> {
        each!(self, s => s.create_job(spec))
    }
    fn job(&self, id: i64) -> Result<Option<Job>, SinkError> {
        each!(self, s => s.job(id))
    }
    fn jobs(&self) -> Result<Vec<Job>, SinkError> {
        each!(self, s => s.jobs())
    }
    fn job_results(&self, id: i64) -> Result<Vec<RowResult>, SinkError> {
        each!(self, s => s.job_results(id))
    }
    fn record_job_results(
        &mut self,
        id: i64,
        rows_done: u64,
        results: &[RowResult],
    ) -> Result<(), SinkError> {
        each!(self, s => s.record_job_results(id, rows_done, results))
    }
    fn finish_job(
        &mut self,
        id: i64,
        status: JobStatus,
        error: Option<&str>,
    ) -> Result<(), SinkError> {
        each!(self, s => s.finish_job(id, status, error))
    }
    fn outbox(&self) -> Result<Vec<Message>, SinkError> {
        each!(self, s => s.outbox())
    }
    fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>, SinkError> {
        each!(self, s => s.claim_due(now, limit))
    }
    fn store_token(&mut self, message: i64, user: i64, hash: &str) -> Result<(), SinkError> {
        each!(self, s => s.store_token(message, user, hash))
    }
    fn mark_sent(&mut self, message: i64) -> Result<(), SinkError> {
        each!(self, s => s.mark_sent(message))
    }
    fn mark_failed(
        &mut self,
        message: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), SinkError> {
        each!(self, s => s.mark_failed(message, error, retry_at))
    }
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_string()));
        }
        let path = match url.strip_prefix("sqlite://") {
            Some(rest) => rest,
            None if url.contains("://") => {
                return Err(format!(
                    "unsupported store {url:?}: use sqlite://FILE, a file path, or postgres://…"
                ));
            }
            None => url.strip_prefix("sqlite:").unwrap_or(url),
        };
        if path.is_empty() {
            return Err("the store URL names no file: use sqlite://userimport.db".to_string());
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(path)))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            // Never print a password that may sit in the URL.
            StoreUrl::Postgres(url) => f.write_str(&mask_url_password(url)),
        }
    }
}

/// A URL with its password shown as `***`: the one of `user:password@`
/// and every `password=` query parameter (`?password=X`, `&password=X`).
pub fn mask_url_password(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            // The host follows the last `@` (a password may hold `/` or `@`).
            let host_at = rest.rfind('@').unwrap_or(0);
            let end = rest[host_at..]
                .find('/')
                .map_or(rest.len(), |i| host_at + i);
            let (authority, path) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => authority.to_string(),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_the_cli_documents() {
        let sqlite = |p: &str| Ok(StoreUrl::Sqlite(PathBuf::from(p)));
        assert_eq!("sqlite://userimport.db".parse(), sqlite("userimport.db"));
        assert_eq!("sqlite:///abs/path.db".parse(), sqlite("/abs/path.db"));
        assert_eq!("users.db".parse(), sqlite("users.db"));
        assert_eq!("/tmp/x.db".parse(), sqlite("/tmp/x.db"));
        assert!(matches!(
            "postgres://u@h/db".parse(),
            Ok(StoreUrl::Postgres(_))
        ));
        assert!("mysql://x".parse::<StoreUrl>().is_err());
        let shown = "postgres://me:secret@localhost/db"
            .parse::<StoreUrl>()
            .unwrap()
            .to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn passwords_are_masked_in_every_place_a_url_holds_them() {
        for (url, shown) in [
            (
                "postgres://me:secret@localhost/db",
                "postgres://me:***@localhost/db",
            ),
            (
                "postgres://me@localhost/db?password=secret",
                "postgres://me@localhost/db?password=***",
            ),
            (
                "postgresql://h/db?sslmode=disable&PASSWORD=secret&user=me",
                "postgresql://h/db?sslmode=disable&PASSWORD=***&user=me",
            ),
            (
                "postgres://me:p@ss:w@rd@h:5432/db?options=-csearch_path%3Dx",
                "postgres://me:***@h:5432/db?options=-csearch_path%3Dx",
            ),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://me:a/b@h/db", "postgres://me:***@h/db"),
        ] {
            let got = url.parse::<StoreUrl>().unwrap().to_string();
            assert_eq!(got, shown, "{url}");
        }
    }
}
