//! `userimport template`

use std::path::PathBuf;

use userimport::{
    OutputCharset, schema::Lang, schema::Profile, write_template_in, write_template_xlsx,
};

use crate::Failure;
use crate::output::{open_output, wants_xlsx};

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
    /// Header language: en, or ja (the Japanese headers, as the learning
    /// platform and member site download them; import reads either).
    #[arg(long, default_value = "en")]
    lang: String,
    /// csv or xlsx (default: xlsx when the output file ends in .xlsx, else csv).
    #[arg(long)]
    format: Option<String>,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let profile = Profile::load(&args.profile)?;
    let charset = OutputCharset::parse(&args.charset).ok_or_else(|| {
        Failure(format!(
            "unknown charset {:?}: use utf-8-bom, utf-8 or shift_jis",
            args.charset
        ))
    })?;
    if wants_xlsx(args.format.as_deref(), args.output.as_deref())? {
        write_template_xlsx(&profile, open_output(args.output.as_deref())?)?.finish()?;
        return Ok(0);
    }
    let out = open_output(args.output.as_deref())?;
    let lang: Lang = args.lang.parse().map_err(Failure)?;
    write_template_in(&profile, lang, charset, out)?.finish()?;
    Ok(0)
}
