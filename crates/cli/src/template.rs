//! `userimport template`

use std::path::PathBuf;

use userimport::{OutputCharset, schema::Profile, write_template};

use crate::Failure;
use crate::output::open_output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Profile: a built-in name (standard, team, access) or a TOML file.
    #[arg(long, default_value = "standard")]
    profile: String,
    /// Charset: utf-8-bom (default, so Excel opens it right), utf-8, shift_jis.
    #[arg(long, default_value = "utf-8-bom")]
    charset: String,
    /// Output file (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let profile = Profile::load(&args.profile)?;
    let charset = OutputCharset::parse(&args.charset).ok_or_else(|| {
        Failure(format!(
            "unknown charset {:?}: use utf-8-bom, utf-8 or shift_jis",
            args.charset
        ))
    })?;
    let out = open_output(args.output.as_deref())?;
    write_template(&profile, charset, out)?.finish()?;
    Ok(0)
}
