//! Import settings as one serialisable value: what a frontend collects
//! (command-line flags, a web form, an API call's options) and what a job
//! records as its identity, so that a job started by one frontend can be
//! resumed by another.

use serde::{Deserialize, Serialize};
use userimport_parse::Charset;
use userimport_plan::{Merge, Mode, PlanOptions, SyncAction};
use userimport_schema::{KeyKind, Profile};
use userimport_sink::Invite;
use userimport_validate::{CardIdType, ValidateOptions};

use crate::{Error, ImportOptions, Importer};

/// Every option of an import, each with the CLI's default. Serialised as
/// JSON it is a job's identity (with the file's SHA-256); it holds no
/// secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImportSettings {
    /// A built-in profile name (`standard`, `team`, `access`) or a TOML file.
    pub profile: String,
    /// `auto`, `utf-8`, `shift_jis`, `euc-jp`, `utf-16le`, `utf-16be`, `windows-1252` …
    pub charset: String,
    /// `auto`, `,`, `;` or `tab`.
    pub delimiter: String,
    /// The header's 1-based line (`None`: the first non-blank line).
    pub header_row: Option<u64>,
    /// Column mappings, `FIELD=HEADER` or `FIELD=none`.
    pub maps: Vec<String>,
    /// Card ID notation: `decimal` or `hex`.
    pub card_id_type: String,
    /// Enabled identity sources, comma-separated (overrides the profile's).
    pub sources: Option<String>,
    /// The group new users join when their groups cell is blank.
    pub default_group: Option<String>,
    /// `upsert`, `create`, `update` or `sync`.
    pub mode: String,
    /// Key fallback order, e.g. `id,login,email` (`None`: the profile's).
    pub key: Option<String>,
    /// `overwrite` or `keep-existing`.
    pub merge: String,
    /// Passwords in the file also change existing users' passwords.
    pub update_passwords: bool,
    /// New users with a blank password get a random one.
    pub generate_passwords: bool,
    /// Apply the valid rows even when others have errors.
    pub skip_invalid: bool,
    /// Sync refuses above this percentage of users removed.
    pub max_delete: f64,
    /// What sync does to users absent from the file: `delete` or `suspend`.
    pub sync_action: String,
    /// The importing actor (member ID, login ID or e-mail); `None` = the
    /// operator, unrestricted.
    pub actor: Option<String>,
    /// Invitations for created users.
    pub invite: Option<Invite>,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
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

fn bad(what: String) -> Error {
    Error::Settings(what)
}

impl ImportSettings {
    /// The settings as JSON (a job's identity).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads settings recorded by [`ImportSettings::to_json`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text)
            .map_err(|e| bad(format!("the recorded options are unreadable: {e}")))
    }

    /// The profile, with the default group and sources applied.
    pub fn load_profile(&self) -> Result<Profile, Error> {
        let mut profile = Profile::load(&self.profile).map_err(|e| bad(e.to_string()))?;
        if let Some(group) = &self.default_group {
            profile.groups.default_group = Some(group.trim().to_string()).filter(|g| !g.is_empty());
        }
        if let Some(sources) = &self.sources {
            profile.sources = sources
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        Ok(profile)
    }

    /// The importer these settings describe.
    pub fn importer(&self) -> Result<Importer, Error> {
        let profile = self.load_profile()?;
        Ok(Importer::builder(&profile)
            .options(self.import_options()?)
            .build())
    }

    /// The reading, validation and planning options.
    pub fn import_options(&self) -> Result<ImportOptions, Error> {
        Ok(ImportOptions {
            charset: self
                .charset
                .parse::<Charset>()
                .map_err(|e| bad(e.to_string()))?,
            delimiter: parse_delimiter(&self.delimiter)?,
            header_row: self.header_row,
            maps: self
                .maps
                .iter()
                .map(|m| parse_map(m))
                .collect::<Result<_, _>>()?,
            validate: ValidateOptions {
                card_id_type: CardIdType::parse(&self.card_id_type).ok_or_else(|| {
                    bad(format!(
                        "unknown card ID type {:?}: use decimal or hex",
                        self.card_id_type
                    ))
                })?,
                ..ValidateOptions::default()
            },
            plan: self.plan_options()?,
            ..ImportOptions::default()
        })
    }

    /// The planning options.
    pub fn plan_options(&self) -> Result<PlanOptions, Error> {
        if !(0.0..=100.0).contains(&self.max_delete) {
            return Err(bad(
                "the sync threshold (max delete) is a percentage from 0 to 100".into(),
            ));
        }
        let key_order = match &self.key {
            Some(list) => KeyKind::parse_list(list).map_err(|e| bad(e.to_string()))?,
            None => Vec::new(),
        };
        Ok(PlanOptions {
            mode: parse_mode(&self.mode)?,
            merge: parse_merge(&self.merge)?,
            key_order,
            update_passwords: self.update_passwords,
            generate_passwords: self.generate_passwords,
            skip_invalid: self.skip_invalid,
            max_delete_percent: self.max_delete,
            sync_action: parse_sync_action(&self.sync_action)?,
            actor: self.actor.clone(),
        })
    }
}

fn parse_mode(text: &str) -> Result<Mode, Error> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "upsert" => Mode::Upsert,
        "create" => Mode::Create,
        "update" => Mode::Update,
        "sync" => Mode::Sync,
        other => {
            return Err(bad(format!(
                "unknown mode {other:?}: use upsert, create, update or sync"
            )));
        }
    })
}

fn parse_merge(text: &str) -> Result<Merge, Error> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "overwrite" => Merge::Overwrite,
        "keep-existing" | "keep_existing" | "keep" => Merge::KeepExisting,
        other => {
            return Err(bad(format!(
                "unknown merge policy {other:?}: use overwrite or keep-existing"
            )));
        }
    })
}

fn parse_sync_action(text: &str) -> Result<SyncAction, Error> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "delete" => SyncAction::Delete,
        "suspend" => SyncAction::Suspend,
        other => {
            return Err(bad(format!(
                "unknown sync action {other:?}: use delete or suspend"
            )));
        }
    })
}

/// Parses a delimiter name: `auto` (`None`), `,`, `;` or `tab`.
pub fn parse_delimiter(text: &str) -> Result<Option<u8>, Error> {
    Ok(match text {
        "auto" => None,
        "," | "comma" => Some(b','),
        ";" | "semicolon" => Some(b';'),
        "tab" | "\t" | "\\t" => Some(b'\t'),
        other => {
            return Err(bad(format!(
                "unknown delimiter {other:?}: use auto, \",\", \";\" or tab"
            )));
        }
    })
}

/// Parses a column mapping `FIELD=HEADER` (`Some`) or `FIELD=none` (`None`).
pub fn parse_map(text: &str) -> Result<(String, Option<String>), Error> {
    let (field, header) = text.split_once('=').ok_or_else(|| {
        bad(format!(
            "column mapping {text:?}: write FIELD=HEADER or FIELD=none"
        ))
    })?;
    let header = header.trim();
    let header = (!header.eq_ignore_ascii_case("none")).then(|| header.to_string());
    Ok((field.trim().to_string(), header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_their_json_and_build_an_importer() {
        let settings = ImportSettings {
            mode: "sync".into(),
            maps: vec!["email=Mail".into(), "name=none".into()],
            actor: Some("lead@example.com".into()),
            ..ImportSettings::default()
        };
        let back = ImportSettings::from_json(&settings.to_json()).unwrap();
        assert_eq!(back, settings);
        let options = back.import_options().unwrap();
        assert_eq!(options.plan.mode, Mode::Sync);
        assert_eq!(options.maps[1], ("name".to_string(), None));
    }

    #[test]
    fn bad_settings_say_what_is_wrong_without_naming_a_flag() {
        let settings = ImportSettings {
            mode: "replace".into(),
            ..ImportSettings::default()
        };
        let message = settings.import_options().unwrap_err().to_string();
        assert!(message.contains("unknown mode \"replace\""), "{message}");
        assert!(!message.contains("--"), "{message}");
    }
}
