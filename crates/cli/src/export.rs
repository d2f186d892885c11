//! `userimport export`: the stored users as an import file.

use std::path::PathBuf;

use userimport::{ExportOptions, OutputCharset, export, export_xlsx};

use crate::common::{StoreArgs, load_profile_named};
use crate::output::{open_output, wants_xlsx};
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
    /// csv or xlsx (default: xlsx when the output file ends in .xlsx, else csv).
    #[arg(long)]
    format: Option<String>,
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
    let store = store::open_read(&args.store.db)?;
    let out = open_output(args.output.as_deref())?;
    let written = match wants_xlsx(args.format.as_deref(), args.output.as_deref())? {
        true => export_xlsx(&profile, &store, &options, out)?.0,
        false => export(&profile, &store, &options, charset, out)?,
    };
    if args.output.is_some() {
        eprintln!("exported {written} users");
    }
    Ok(0)
}
