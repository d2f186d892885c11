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
    /// Map a field to a header (FIELD=HEADER), as for check and apply: a
    /// header mapped to a password field is masked too. Repeatable.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    maps: Vec<String>,
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

/// Where a preview's password cells are: columns, or parts of a column
/// when the file is read with another delimiter than its own.
struct Secrets<'a> {
    profile: &'a Profile,
    /// Headers that `--map` gives to a password or password-hash field.
    mapped: Vec<String>,
}

impl Secrets<'_> {
    fn is_password(&self, column: usize) -> bool {
        matches!(
            self.profile.columns[column].purpose,
            Purpose::Password | Purpose::PasswordHash
        )
    }

    /// True when the header cell names a password column: by the
    /// profile's headers, or by `--map`.
    fn is_secret(&self, header: &str) -> bool {
        let header = header.trim();
        self.mapped.iter().any(|m| m.eq_ignore_ascii_case(header))
            || self
                .profile
                .column_for_header(header)
                .is_some_and(|c| self.is_password(c))
    }
}

/// A header cell that holds a password header once split on another
/// delimiter than the file's.
struct Split {
    sep: char,
    /// How many parts the header splits into.
    count: usize,
    /// The parts under a password header.
    parts: Vec<usize>,
}

/// Masks one cell: all of it, or the parts under a password header when it
/// splits as its header did (all of it otherwise).
fn mask_cell(field: &mut String, split: Option<&Split>) {
    if field.is_empty() {
        return;
    }
    let Some(Split { sep, count, parts }) = split else {
        *field = "***".to_string();
        return;
    };
    let mut pieces: Vec<String> = field.split(*sep).map(str::to_string).collect();
    if pieces.len() != *count {
        *field = "***".to_string();
        return;
    }
    for &k in parts {
        if !pieces[k].is_empty() {
            pieces[k] = "***".to_string();
        }
    }
    *field = pieces.join(sep.to_string().as_str());
}

/// Replaces the cells under the profile's password and password-hash
/// columns (found by header or by `--map`) by `***`: a preview never shows
/// a password, not even when read with the wrong delimiter (then the parts
/// of a cell under a password header are masked).
fn mask_passwords(shown: &mut Preview, secrets: &Secrets<'_>) {
    let own = shown.delimiter.chars().next();
    let mut masks: Vec<(usize, Option<Split>)> = Vec::new();
    for (i, header) in shown.header.iter().enumerate() {
        if secrets.is_secret(header) {
            masks.push((i, None));
            continue;
        }
        for sep in [',', ';', '\t', '|']
            .into_iter()
            .filter(|&d| Some(d) != own)
        {
            let parts: Vec<&str> = header.split(sep).collect();
            let secret: Vec<usize> = (0..parts.len())
                .filter(|&k| secrets.is_secret(parts[k].trim_matches('"')))
                .collect();
            if parts.len() > 1 && !secret.is_empty() {
                masks.push((
                    i,
                    Some(Split {
                        sep,
                        count: parts.len(),
                        parts: secret,
                    }),
                ));
                break;
            }
        }
    }
    for record in &mut shown.records {
        for (i, split) in &masks {
            if let Some(field) = record.fields.get_mut(*i) {
                mask_cell(field, split.as_ref());
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
    let mut mapped = Vec::new();
    for map in &args.maps {
        let (field, header) = map
            .split_once('=')
            .ok_or_else(|| Failure(format!("--map {map:?}: write FIELD=HEADER")))?;
        let column = profile
            .column_index(field.trim())
            .ok_or_else(|| Failure(format!("--map {map:?}: unknown field {field:?}")))?;
        if matches!(
            profile.columns[column].purpose,
            Purpose::Password | Purpose::PasswordHash
        ) {
            mapped.push(header.trim().to_string());
        }
    }
    mask_passwords(
        &mut shown,
        &Secrets {
            profile: &profile,
            mapped,
        },
    );
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
