//! The web's side of the library's settings: the store opened from a URL,
//! the options a client sends ([`Settings`]) turned into the library's
//! [`ImportSettings`] (a job's identity) and into the importer that checks.
//! Applying goes through `userimport::apply`, `userimport::launch` and
//! `userimport::jobs` (see `imports.rs` and `runs.rs`).

use serde::{Deserialize, Serialize};
use userimport::schema::Profile;
use userimport::sink::{AuthStore, Invite};
use userimport::{ApplyOptions, ImportSettings, Importer};

use crate::Config;
use crate::error::ApiError;

pub use userimport::Store;

/// The sign-in side of `store` (API tokens, sessions, credentials).
pub fn auth(store: &Store) -> Result<&dyn AuthStore, ApiError> {
    match store {
        Store::Sqlite(s) => Ok(s),
        Store::Postgres(s) => Ok(s),
        _ => Err(ApiError::internal("this store keeps no sign-in data")),
    }
}

/// The sign-in side of `store`, to write.
pub fn auth_mut(store: &mut Store) -> Result<&mut dyn AuthStore, ApiError> {
    match store {
        Store::Sqlite(s) => Ok(s),
        Store::Postgres(s) => Ok(s),
        _ => Err(ApiError::internal("this store keeps no sign-in data")),
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

    /// The importer these settings describe: the profile resolved here
    /// (never a file a client names), every other option read by the
    /// library's [`ImportSettings`].
    pub fn importer(&self, offered: &[Profile]) -> Result<Importer, ApiError> {
        let profile = self.profile(offered)?;
        let options = self.to_library().import_options()?;
        Ok(Importer::builder(&profile).options(options).build())
    }

    /// [`Settings::importer`] whose check lists up to `limit` changes of
    /// each kind (the review).
    pub fn importer_listing(
        &self,
        offered: &[Profile],
        limit: usize,
    ) -> Result<Importer, ApiError> {
        let profile = self.profile(offered)?;
        let mut options = self.to_library().import_options()?;
        options.max_changes = limit;
        Ok(Importer::builder(&profile).options(options).build())
    }

    /// The library's settings with the same values.
    pub fn to_library(&self) -> ImportSettings {
        let mut s = ImportSettings::default();
        s.profile = self.profile.clone();
        s.charset = self.charset.clone();
        s.delimiter = self.delimiter.clone();
        s.header_row = self.header_row;
        s.maps = self.maps.clone();
        s.card_id_type = self.card_id_type.clone();
        s.sources = self.sources.clone();
        s.default_group = self.default_group.clone();
        s.mode = self.mode.clone();
        s.key = self.key.clone();
        s.merge = self.merge.clone();
        s.update_passwords = self.update_passwords;
        s.generate_passwords = self.generate_passwords;
        s.skip_invalid = self.skip_invalid;
        s.max_delete = self.max_delete;
        s.sync_action = self.sync_action.clone();
        s.actor = self.actor.clone();
        s.invite = self.invite.clone();
        s
    }

    /// The JSON a job records: the library's (its `jobs::resume` and the
    /// CLI's read it too).
    pub fn to_job_options(&self) -> String {
        self.to_library().to_json()
    }

    /// The library's settings to apply with: the profile named as the
    /// library reads it again when it resumes a job (a built-in name, or
    /// the offered profile's file), never a file the client names.
    pub fn for_apply(&self, config: &Config) -> Result<ImportSettings, ApiError> {
        let profile = self.profile(&config.profiles)?;
        let mut settings = self.to_library();
        settings.profile = if Profile::builtin(&profile.name).is_some()
            && !config.profiles.iter().any(|p| p.name == profile.name)
        {
            profile.name.clone()
        } else {
            let file = config.profile_files.get(&profile.name).ok_or_else(|| {
                ApiError::bad_options(format!(
                    "profile {:?} was offered without its file: it can be checked, not applied",
                    profile.name
                ))
            })?;
            file.display().to_string()
        };
        Ok(settings)
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

/// How the server applies an import checked at `revision`: its threshold
/// and batch size, refused if the store moved since.
pub fn apply_options(config: &Config, revision: u64) -> ApplyOptions {
    let mut how = ApplyOptions::default();
    how.background_threshold = config.background_threshold;
    how.job_batch = config.job_batch;
    how.expected_revision = Some(revision);
    how
}
