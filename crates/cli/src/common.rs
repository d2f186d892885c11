//! Options shared by the commands that read an import file.

use std::path::PathBuf;

use userimport::schema::Profile;
use userimport::{Format, ImportSettings, Importer};

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
    /// The importing actor (member ID, login ID or e-mail): every change is
    /// judged against its authority.
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

/// The import settings the command line gives (no invitation).
pub fn settings(read: &ReadArgs, plan: &PlanArgs) -> ImportSettings {
    let mut settings = ImportSettings::default();
    settings.profile = read.profile.clone();
    settings.charset = read.charset.clone();
    settings.delimiter = read.delimiter.clone();
    settings.header_row = read.header_row;
    settings.maps = read.maps.clone();
    settings.card_id_type = read.card_id_type.clone();
    settings.sources = read.sources.clone();
    settings.default_group = read.default_group.clone();
    settings.mode = plan.mode.clone();
    settings.key = plan.key.clone();
    settings.merge = plan.merge.clone();
    settings.update_passwords = plan.update_passwords;
    settings.generate_passwords = plan.generate_passwords;
    settings.skip_invalid = plan.skip_invalid;
    settings.max_delete = plan.max_delete;
    settings.sync_action = plan.sync_action.clone();
    settings.actor = plan.actor.clone();
    settings
}

/// Builds the importer from the command line.
pub fn importer(read: &ReadArgs, plan: &PlanArgs) -> Result<Importer, Failure> {
    Ok(settings(read, plan).importer()?)
}

/// The profile `--profile` names, with `--default-group` and `--sources`.
pub fn load_profile(read: &ReadArgs, plan: &PlanArgs) -> Result<Profile, Failure> {
    Ok(settings(read, plan).load_profile()?)
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
