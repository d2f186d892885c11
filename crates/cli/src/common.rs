//! Options shared by the commands that read an import file.

use std::path::PathBuf;

use userimport::parse::Charset;
use userimport::plan::{Merge, Mode, PlanOptions, SyncAction};
use userimport::schema::{KeyKind, Profile};
use userimport::validate::{CardIdType, ValidateOptions};
use userimport::{Format, ImportOptions, Importer};

use crate::Failure;

/// Where the store is: `--db`, accepted before or after a subcommand
/// (`groups --db F add X` and `groups add X --db F` alike).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The store: sqlite://FILE (default sqlite://userimport.db), sqlite:///ABS/PATH,
    /// a bare file path, or postgres://…
    #[arg(
        long,
        global = true,
        default_value = "sqlite://userimport.db",
        env = "USERIMPORT_DB"
    )]
    pub db: String,
}

/// How the file is read.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Profile: a built-in name (standard, team, access) or a TOML file.
    #[arg(long, default_value = "standard")]
    pub profile: String,
    /// Charset: auto, utf-8, shift_jis, euc-jp, utf-16le, utf-16be, windows-1252.
    #[arg(long, default_value = "auto")]
    pub charset: String,
    /// Delimiter: auto, ",", ";" or tab.
    #[arg(long, default_value = "auto")]
    pub delimiter: String,
    /// The 1-based line of the header row (rows above it are skipped).
    #[arg(long)]
    pub header_row: Option<u64>,
    /// A workbook's sheet: its name or 1-based position (default: the first).
    #[arg(long, value_name = "NAME|N")]
    pub sheet: Option<String>,
    /// Map a field to a header: FIELD=HEADER, or FIELD=none to ignore it. Repeatable.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    pub maps: Vec<String>,
    /// Card ID notation: decimal or hex.
    #[arg(long, default_value = "decimal")]
    pub card_id_type: String,
    /// Enabled identity sources, comma-separated (overrides the profile's).
    #[arg(long)]
    pub sources: Option<String>,
    /// The group new users join when their groups cell is blank (overrides
    /// the profile's default group: the importer's own group, say).
    #[arg(long)]
    pub default_group: Option<String>,
}

/// How rows become changes.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// upsert (default), create, update or sync.
    #[arg(long, default_value = "upsert")]
    pub mode: String,
    /// Key fallback order, e.g. id,login,email (default: the profile's).
    #[arg(long)]
    pub key: Option<String>,
    /// overwrite (default) or keep-existing (fill blanks only).
    #[arg(long, default_value = "overwrite")]
    pub merge: String,
    /// Passwords in the file also change existing users' passwords.
    #[arg(long)]
    pub update_passwords: bool,
    /// New users with a blank password get a random one (never shown).
    #[arg(long)]
    pub generate_passwords: bool,
    /// Apply the valid rows even when others have errors.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Sync refuses above this percentage of users removed.
    #[arg(long, default_value_t = 10.0)]
    pub max_delete: f64,
    /// What sync does to users absent from the file: delete or suspend.
    #[arg(long, default_value = "delete")]
    pub sync_action: String,
    /// The importing actor's login ID: roles and groups only within its authority.
    #[arg(long)]
    pub actor: Option<String>,
}

/// How the report is shown.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Report format: text, json or csv (the error report).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Leave warnings out of the issue list.
    #[arg(long)]
    pub only_errors: bool,
}

impl ReportArgs {
    pub fn format(&self) -> Result<Format, Failure> {
        self.format.parse::<Format>().map_err(Failure)
    }
}

/// Loads a profile by built-in name or TOML path.
pub fn load_profile_named(name: &str) -> Result<Profile, Failure> {
    Ok(Profile::load(name)?)
}

/// Loads the profile named by `--profile`, with `--sources` applied.
pub fn load_profile(read: &ReadArgs) -> Result<Profile, Failure> {
    let mut profile = load_profile_named(&read.profile)?;
    if let Some(group) = &read.default_group {
        profile.groups.default_group = Some(group.trim().to_string()).filter(|g| !g.is_empty());
    }
    if let Some(sources) = &read.sources {
        profile.sources = sources
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    Ok(profile)
}

/// Builds the importer from the command line.
pub fn importer(read: &ReadArgs, plan: &PlanArgs) -> Result<Importer, Failure> {
    let profile = load_profile(read)?;
    let mut options = ImportOptions::default();
    options.charset = read
        .charset
        .parse::<Charset>()
        .map_err(|e| Failure(e.to_string()))?;
    options.delimiter = parse_delimiter(&read.delimiter)?;
    options.header_row = read.header_row;
    options.sheet = read.sheet.clone();
    options.maps = read
        .maps
        .iter()
        .map(|m| parse_map(m))
        .collect::<Result<_, _>>()?;
    options.validate = ValidateOptions {
        card_id_type: CardIdType::parse(&read.card_id_type).ok_or_else(|| {
            Failure(format!(
                "unknown card ID type {:?}: use decimal or hex",
                read.card_id_type
            ))
        })?,
        ..ValidateOptions::default()
    };
    options.plan = plan_options(plan)?;
    Ok(Importer::builder(&profile).options(options).build())
}

pub fn plan_options(plan: &PlanArgs) -> Result<PlanOptions, Failure> {
    let mode = match plan.mode.to_ascii_lowercase().as_str() {
        "upsert" => Mode::Upsert,
        "create" => Mode::Create,
        "update" => Mode::Update,
        "sync" => Mode::Sync,
        other => {
            return Err(Failure(format!(
                "unknown mode {other:?}: use upsert, create, update or sync"
            )));
        }
    };
    let merge = match plan.merge.to_ascii_lowercase().as_str() {
        "overwrite" => Merge::Overwrite,
        "keep-existing" | "keep_existing" | "keep" => Merge::KeepExisting,
        other => {
            return Err(Failure(format!(
                "unknown merge policy {other:?}: use overwrite or keep-existing"
            )));
        }
    };
    let sync_action = match plan.sync_action.to_ascii_lowercase().as_str() {
        "delete" => SyncAction::Delete,
        "suspend" => SyncAction::Suspend,
        other => {
            return Err(Failure(format!(
                "unknown sync action {other:?}: use delete or suspend"
            )));
        }
    };
    if !(0.0..=100.0).contains(&plan.max_delete) {
        return Err(Failure("--max-delete is a percentage from 0 to 100".into()));
    }
    let key_order = match &plan.key {
        Some(list) => KeyKind::parse_list(list)?,
        None => Vec::new(),
    };
    let options = PlanOptions {
        mode,
        merge,
        key_order,
        update_passwords: plan.update_passwords,
        generate_passwords: plan.generate_passwords,
        skip_invalid: plan.skip_invalid,
        max_delete_percent: plan.max_delete,
        sync_action,
        actor: plan.actor.clone(),
    };
    Ok(options)
}

pub fn parse_delimiter(text: &str) -> Result<Option<u8>, Failure> {
    Ok(match text {
        "auto" => None,
        "," | "comma" => Some(b','),
        ";" | "semicolon" => Some(b';'),
        "tab" | "\t" | "\\t" => Some(b'\t'),
        other => {
            return Err(Failure(format!(
                "unknown delimiter {other:?}: use auto, \",\", \";\" or tab"
            )));
        }
    })
}

fn parse_map(text: &str) -> Result<(String, Option<String>), Failure> {
    let (field, header) = text
        .split_once('=')
        .ok_or_else(|| Failure(format!("--map {text:?}: write FIELD=HEADER or FIELD=none")))?;
    let header = header.trim();
    let header = (!header.eq_ignore_ascii_case("none")).then(|| header.to_string());
    Ok((field.trim().to_string(), header))
}

/// Opens the import file (`-` = standard input).
pub fn open_input(path: &PathBuf) -> Result<Box<dyn std::io::Read + Send>, Failure> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Failure(format!("cannot open {}: {e}", path.display())))?;
    Ok(Box::new(file))
}
