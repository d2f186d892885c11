//! Every call the web frontend makes into the library, in one place: the
//! store opened from a URL, the import settings (a job's identity), check,
//! plan and apply, jobs. When the facade grows the same API
//! (`userimport::Store`, `ImportSettings`, `apply`, `jobs`), only this
//! module changes.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use userimport::StoreUrl;
use userimport::parse::Charset;
use userimport::plan::{
    Authority, Directory, Lookup, Merge, Mode, PlanOptions, StoredUser, SyncAction,
};
use userimport::schema::{KeyKind, Profile};
use userimport::sink::{
    ApiToken, ApplyOutcome, AuthStore, Batch, Credential, Error as SinkError, Invite, Job, JobSpec,
    JobStatus, Message, PostgresSink, Progress, Revision, RowResult, Session, Sink, SqliteSink,
};
use userimport::validate::{CardIdType, ValidateOptions};
use userimport::{ImportOptions, Importer};

use crate::error::ApiError;

/// The store a URL names, whichever backend it is.
#[derive(Debug)]
pub enum Store {
    /// An SQLite file.
    Sqlite(SqliteSink),
    /// A PostgreSQL database.
    Postgres(PostgresSink),
}

impl Store {
    /// Opens the store for writing, creating and migrating it if needed.
    pub fn open(url: &str) -> Result<Store, ApiError> {
        match url.parse::<StoreUrl>().map_err(ApiError::config)? {
            StoreUrl::Sqlite(path) => Ok(Store::Sqlite(SqliteSink::open(&path)?)),
            StoreUrl::Postgres(pg) => Ok(Store::Postgres(PostgresSink::open(&pg)?)),
            other => Err(ApiError::config(format!("unsupported store {other}"))),
        }
    }

    /// Opens the store for reading only; a missing one is empty.
    pub fn open_existing(url: &str) -> Result<Store, ApiError> {
        match url.parse::<StoreUrl>().map_err(ApiError::config)? {
            StoreUrl::Sqlite(path) => Ok(Store::Sqlite(SqliteSink::open_existing(&path)?)),
            StoreUrl::Postgres(pg) => Ok(Store::Postgres(PostgresSink::open_existing(&pg)?)),
            other => Err(ApiError::config(format!("unsupported store {other}"))),
        }
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
    fn authority(&self, actor: &str) -> Result<Option<Authority>, SinkError> {
        each!(self, s => s.authority(actor))
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

impl AuthStore for Store {
    fn credential(&self, login_or_email: &str) -> userimport::sink::Result<Option<Credential>> {
        each!(self, s => s.credential(login_or_email))
    }
    fn create_token(
        &mut self,
        actor: &str,
        label: &str,
        token_hash: &str,
    ) -> userimport::sink::Result<i64> {
        each!(self, s => s.create_token(actor, label, token_hash))
    }
    fn token(&self, token_hash: &str) -> userimport::sink::Result<Option<ApiToken>> {
        each!(self, s => s.token(token_hash))
    }
    fn tokens(&self) -> userimport::sink::Result<Vec<ApiToken>> {
        each!(self, s => s.tokens())
    }
    fn revoke_token(&mut self, id: i64) -> userimport::sink::Result<bool> {
        each!(self, s => s.revoke_token(id))
    }
    fn create_session(
        &mut self,
        token_hash: &str,
        session: &Session,
    ) -> userimport::sink::Result<()> {
        each!(self, s => s.create_session(token_hash, session))
    }
    fn session(&self, token_hash: &str) -> userimport::sink::Result<Option<Session>> {
        each!(self, s => s.session(token_hash))
    }
    fn delete_session(&mut self, token_hash: &str) -> userimport::sink::Result<()> {
        each!(self, s => s.delete_session(token_hash))
    }
}

/// The options of an import, as the client sends them (`options` JSON of
/// `POST /api/imports`) and as a job records them: the same keys as the
/// CLI's options. Every field has the CLI's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// A built-in profile (`standard`, `team`, `access`) or one the server offers.
    pub profile: String,
    /// auto, utf-8, shift_jis, euc-jp, utf-16le, utf-16be, windows-1252.
    pub charset: String,
    /// auto, ",", ";" or tab.
    pub delimiter: String,
    /// The header's 1-based line.
    pub header_row: Option<u64>,
    /// `FIELD=HEADER` or `FIELD=none`.
    pub maps: Vec<String>,
    /// decimal or hex.
    pub card_id_type: String,
    /// Enabled identity sources, comma-separated.
    pub sources: Option<String>,
    /// The group new users join when their groups cell is blank.
    pub default_group: Option<String>,
    /// upsert, create, update or sync.
    pub mode: String,
    /// Key fallback order, e.g. `id,login,email`.
    pub key: Option<String>,
    /// overwrite or keep-existing.
    pub merge: String,
    /// Passwords in the file also change existing users' passwords.
    pub update_passwords: bool,
    /// New users with a blank password get a random one.
    pub generate_passwords: bool,
    /// Apply the valid rows even when others have errors.
    pub skip_invalid: bool,
    /// Sync refuses above this percentage of users removed.
    pub max_delete: f64,
    /// delete or suspend.
    pub sync_action: String,
    /// The importing actor (set by the server to the signed-in user).
    pub actor: Option<String>,
    /// Invitations (set by the server at apply).
    #[schema(value_type = Option<Object>)]
    pub invite: Option<Invite>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            profile: "standard".into(),
            charset: "auto".into(),
            delimiter: "auto".into(),
            header_row: None,
            maps: Vec::new(),
            card_id_type: "decimal".into(),
            sources: None,
            default_group: None,
            mode: "upsert".into(),
            key: None,
            merge: "overwrite".into(),
            update_passwords: false,
            generate_passwords: false,
            skip_invalid: false,
            max_delete: 10.0,
            sync_action: "delete".into(),
            actor: None,
            invite: None,
        }
    }
}

impl Settings {
    /// The profile these settings name, with `sources` and
    /// `default_group` applied. Only built-in profiles and those in
    /// `offered` (name → profile) may be named: a client never makes the
    /// server read a file.
    pub fn profile(&self, offered: &[Profile]) -> Result<Profile, ApiError> {
        let name = self.profile.trim();
        let mut profile = offered
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .cloned()
            .or_else(|| Profile::builtin(&name.to_ascii_lowercase()))
            .ok_or_else(|| {
                ApiError::bad_options(format!(
                    "unknown profile {name:?}: use one of {}",
                    profile_names(offered).join(", ")
                ))
            })?;
        if let Some(group) = &self.default_group {
            profile.groups.default_group = Some(group.trim().to_string()).filter(|g| !g.is_empty());
        }
        if let Some(sources) = &self.sources {
            profile.sources = split_list(sources);
        }
        Ok(profile)
    }

    /// The importer these settings describe.
    pub fn importer(&self, offered: &[Profile]) -> Result<Importer, ApiError> {
        let profile = self.profile(offered)?;
        let mut options = ImportOptions::default();
        options.charset = self
            .charset
            .parse::<Charset>()
            .map_err(|e| ApiError::bad_options(e.to_string()))?;
        options.delimiter = parse_delimiter(&self.delimiter)?;
        options.header_row = self.header_row;
        options.maps = self
            .maps
            .iter()
            .map(|m| parse_map(m))
            .collect::<Result<_, _>>()?;
        options.validate = ValidateOptions {
            card_id_type: CardIdType::parse(&self.card_id_type).ok_or_else(|| {
                ApiError::bad_options(format!(
                    "unknown card ID type {:?}: use decimal or hex",
                    self.card_id_type
                ))
            })?,
            ..ValidateOptions::default()
        };
        options.plan = self.plan_options()?;
        Ok(Importer::builder(&profile).options(options).build())
    }

    fn plan_options(&self) -> Result<PlanOptions, ApiError> {
        let mode = match self.mode.to_ascii_lowercase().as_str() {
            "upsert" => Mode::Upsert,
            "create" => Mode::Create,
            "update" => Mode::Update,
            "sync" => Mode::Sync,
            other => {
                return Err(ApiError::bad_options(format!(
                    "unknown mode {other:?}: use upsert, create, update or sync"
                )));
            }
        };
        let merge = match self.merge.to_ascii_lowercase().as_str() {
            "overwrite" => Merge::Overwrite,
            "keep-existing" | "keep_existing" | "keep" => Merge::KeepExisting,
            other => {
                return Err(ApiError::bad_options(format!(
                    "unknown merge policy {other:?}: use overwrite or keep-existing"
                )));
            }
        };
        let sync_action = match self.sync_action.to_ascii_lowercase().as_str() {
            "delete" => SyncAction::Delete,
            "suspend" => SyncAction::Suspend,
            other => {
                return Err(ApiError::bad_options(format!(
                    "unknown sync action {other:?}: use delete or suspend"
                )));
            }
        };
        if !(0.0..=100.0).contains(&self.max_delete) {
            return Err(ApiError::bad_options(
                "max_delete is a percentage from 0 to 100",
            ));
        }
        let key_order = match &self.key {
            Some(list) if !list.trim().is_empty() => {
                KeyKind::parse_list(list).map_err(|e| ApiError::bad_options(e.to_string()))?
            }
            _ => Vec::new(),
        };
        Ok(PlanOptions {
            mode,
            merge,
            key_order,
            update_passwords: self.update_passwords,
            generate_passwords: self.generate_passwords,
            skip_invalid: self.skip_invalid,
            max_delete_percent: self.max_delete,
            sync_action,
            actor: self.actor.clone(),
        })
    }

    /// The JSON a job records (the CLI's `jobs resume` reads it too).
    pub fn to_job_options(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Settings from a job's recorded options.
    pub fn from_job_options(text: &str) -> Result<Settings, ApiError> {
        // The CLI records every key; unknown ones (a newer program) are
        // no reason to give up resuming.
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::internal(format!("the job's options are unreadable: {e}")))?;
        let mut settings = Settings::default();
        if let serde_json::Value::Object(map) = value {
            let known = serde_json::to_value(Settings::default()).unwrap_or_default();
            let mut merged = serde_json::Map::new();
            for (k, v) in map {
                if known.get(&k).is_some() && !v.is_null() {
                    merged.insert(k, v);
                }
            }
            settings = serde_json::from_value(serde_json::Value::Object(merged)).map_err(|e| {
                ApiError::internal(format!("the job's options are unreadable: {e}"))
            })?;
        }
        Ok(settings)
    }
}

/// The names of the profiles a client may choose.
pub fn profile_names(offered: &[Profile]) -> Vec<String> {
    let mut names: Vec<String> = Profile::builtin_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    for p in offered {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&p.name)) {
            names.push(p.name.clone());
        }
    }
    names
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_delimiter(text: &str) -> Result<Option<u8>, ApiError> {
    Ok(match text {
        "auto" | "" => None,
        "," | "comma" => Some(b','),
        ";" | "semicolon" => Some(b';'),
        "tab" | "\t" | "\\t" => Some(b'\t'),
        other => {
            return Err(ApiError::bad_options(format!(
                "unknown delimiter {other:?}: use auto, \",\", \";\" or tab"
            )));
        }
    })
}

fn parse_map(text: &str) -> Result<(String, Option<String>), ApiError> {
    let (field, header) = text.split_once('=').ok_or_else(|| {
        ApiError::bad_options(format!("map {text:?}: write FIELD=HEADER or FIELD=none"))
    })?;
    let header = header.trim();
    let header = (!header.eq_ignore_ascii_case("none")).then(|| header.to_string());
    Ok((field.trim().to_string(), header))
}

/// The SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// True for a job this program may resume: not finished, and not stopped
/// on purpose.
pub fn is_interrupted(job: &Job) -> bool {
    job.status == JobStatus::Running
}
