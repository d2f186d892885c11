//! `userimport preview`: the header and first records exactly as parsed.

use std::io::Write;
use std::path::PathBuf;

use userimport::parse::{Charset, Preview, ReaderBuilder, preview};
use userimport::schema::{Profile, Purpose};

use crate::Failure;
use crate::common::{load_profile_named, open_input};
use userimport::parse_delimiter;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV file (`-` = standard input).
    file: PathBuf,
    /// How many records to show.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// The 1-based line of the header row.
    #[arg(long)]
    header_row: Option<u64>,
    /// Charset: auto, utf-8, shift_jis, euc-jp, utf-16le, utf-16be, windows-1252.
    #[arg(long, default_value = "auto")]
    charset: String,
    /// Delimiter: auto, ",", ";" or tab.
    #[arg(long, default_value = "auto")]
    delimiter: String,
    /// text (a table) or json.
    #[arg(long, default_value = "text")]
    format: String,
    /// Profile whose password columns are masked: a built-in name or a TOML file.
    #[arg(long, default_value = "standard")]
    profile: String,
}

/// A cell as the terminal may show it: line breaks as `⏎`, and every other
/// control character (escape sequences from a hostile file included)
/// written out as `\u{1b}`, so nothing in a file can drive the terminal.
fn visible(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '\r' | '\n' => out.push('⏎'),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// Replaces the cells under the profile's password and password-hash
/// columns by `***`: a preview never shows a password.
fn mask_passwords(shown: &mut Preview, profile: &Profile) {
    let secret: Vec<usize> = shown
        .header
        .iter()
        .enumerate()
        .filter(|(_, cell)| {
            profile.column_for_header(cell).is_some_and(|c| {
                matches!(
                    profile.columns[c].purpose,
                    Purpose::Password | Purpose::PasswordHash
                )
            })
        })
        .map(|(i, _)| i)
        .collect();
    for record in &mut shown.records {
        for &i in &secret {
            if let Some(field) = record.fields.get_mut(i)
                && !field.is_empty()
            {
                *field = "***".to_string();
            }
        }
    }
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let mut builder = ReaderBuilder::new();
    builder
        .charset(args.charset.parse::<Charset>()?)
        .delimiter(parse_delimiter(&args.delimiter)?)
        .header_row(args.header_row);
    let profile = load_profile_named(&args.profile)?;
    let mut shown = preview(&builder, open_input(&args.file)?, args.rows)?;
    mask_passwords(&mut shown, &profile);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format.as_str() {
        "json" => writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?,
        "text" => {
            let delimiter = match shown.delimiter.as_str() {
                "\t" => "tab".to_string(),
                d => format!("{d:?}"),
            };
            writeln!(
                out,
                "encoding {}, delimiter {delimiter}, header on line {}",
                shown.encoding, shown.header_line
            )?;
            let mut table: Vec<Vec<String>> = vec![
                std::iter::once("line".to_string())
                    .chain(shown.header.iter().map(|h| visible(h)))
                    .collect(),
            ];
            for record in &shown.records {
                table.push(
                    std::iter::once(record.line.to_string())
                        .chain(record.fields.iter().map(|f| visible(f)))
                        .collect(),
                );
            }
            let columns = table.iter().map(Vec::len).max().unwrap_or(0);
            let widths: Vec<usize> = (0..columns)
                .map(|c| {
                    table
                        .iter()
                        .filter_map(|r| r.get(c))
                        .map(|s| s.chars().count().min(40))
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for row in &table {
                let cells: Vec<String> = row
                    .iter()
                    .enumerate()
                    .map(|(c, s)| {
                        let s: String = s.chars().take(40).collect();
                        format!("{s:<w$}", w = widths[c])
                    })
                    .collect();
                writeln!(out, "{}", cells.join(" | ").trim_end())?;
            }
        }
        other => {
            return Err(Failure(format!(
                "unknown format {other:?}: use text or json"
            )));
        }
    }
    Ok(0)
}
