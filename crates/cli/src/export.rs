//! `userimport export`: the stored users as an import file.

use std::path::PathBuf;

use userimport::{ExportOptions, OutputCharset, Unencodable, export};

use crate::common::{StoreArgs, load_profile_named};
use crate::output::open_guarded;
use crate::{Failure, store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output file (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
    /// Profile: a built-in name (standard, team, access) or a TOML file.
    #[arg(long, default_value = "standard")]
    profile: String,
    /// Only users in these groups (comma-separated).
    #[arg(long)]
    groups: Option<String>,
    /// Only users whose FIELD equals VALUE. Repeatable.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    filters: Vec<String>,
    /// A random sample of N users.
    #[arg(long)]
    random: Option<usize>,
    /// Only these columns (keys), in this order (comma-separated).
    #[arg(long)]
    columns: Option<String>,
    /// Charset: utf-8-bom (default), utf-8, shift_jis.
    #[arg(long, default_value = "utf-8-bom")]
    charset: String,
    /// A character the charset cannot hold: refuse (default: the file is
    /// not written and every such value is listed) or substitute (written
    /// as a marker such as {U+00E9}, which an import refuses).
    #[arg(long, default_value = "refuse")]
    unencodable: String,
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let profile = load_profile_named(&args.profile)?;
    let charset = OutputCharset::parse(&args.charset).ok_or_else(|| {
        Failure(format!(
            "unknown charset {:?}: use utf-8-bom, utf-8 or shift_jis",
            args.charset
        ))
    })?;
    let mut options = ExportOptions::default();
    options.groups = list(&args.groups);
    options.columns = list(&args.columns);
    options.random = args.random;
    for filter in &args.filters {
        let (field, value) = filter
            .split_once('=')
            .ok_or_else(|| Failure(format!("--where {filter:?}: write FIELD=VALUE")))?;
        options
            .filters
            .push((field.trim().to_string(), value.to_string()));
    }
    options.unencodable = Unencodable::parse(&args.unencodable).ok_or_else(|| {
        Failure(format!(
            "--unencodable {:?}: use refuse or substitute",
            args.unencodable
        ))
    })?;
    let mut out = open_guarded(args.output.as_deref(), Some(&args.store.db), None)?;
    let store = store::open_read(&args.store.db)?;
    let written = export(&profile, &store, &options, charset, &mut out).map_err(|e| {
        Failure(match e {
            userimport::Error::Write(w @ userimport::WriteError::Unencodable { .. }) => {
                format!("{w} (--charset utf-8, or --unencodable substitute); nothing written")
            }
            other => other.to_string(),
        })
    })?;
    out.finish()?;
    if args.output.is_some() {
        eprintln!("exported {written} users");
    }
    Ok(0)
}
