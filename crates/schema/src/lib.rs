//! The schema of a user import: what a file may contain.
//!
//! A [`Profile`] lists the [`Column`]s of one import system (the learning
//! platform's `standard`, the team tool's `team`, the access portal's
//! `access`, or your own from TOML), each with a [`FieldKind`] that says what a
//! cell may hold and a [`Purpose`] that says what the planner does with it. The
//! [`CodeTable`]s resolve countries, languages, time zones and date and time
//! formats from whatever spelling a spreadsheet user typed to one canonical
//! value, and [`Template`] gives the header and example row to download.
//!
//! This crate does no I/O beyond reading a profile file.
//!
//! # Example
//!
//! ```
//! use userimport_schema::{CodeTable, Profile, Template};
//!
//! let profile = Profile::standard();
//! let email = profile.column_for_header("メールアドレス").unwrap();
//! assert_eq!(profile.columns[email].key, "email");
//!
//! // The seed's typo, the clean spelling and the ISO codes all resolve.
//! assert_eq!(CodeTable::Country.resolve("Djibouti."), Ok("Djibouti"));
//! assert_eq!(CodeTable::Country.resolve("DJI"), Ok("Djibouti"));
//!
//! let template = Template::for_profile(&profile);
//! assert_eq!(template.header[0], "Login ID");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod codes;
mod formula;
mod hash_floor;
mod kind;
mod marker;
mod profile;
mod sample;
mod template;

pub use codes::{
    CodeTable, CountryRow, DATE_FORMATS, LanguageRow, TIME_FORMATS, TimeZoneRow, Unknown,
    countries, languages, seed_time_zones,
};
pub use formula::{
    escape_formula, has_separated_formula, needs_formula_escape, unescape_formula,
    unescape_formula_inner, unescape_formula_start,
};
pub use hash_floor::HashFloor;
pub use kind::{EnumValue, FieldKind, due_date_type_values, status_values};
pub use marker::{find_substitution_marker, substitution_marker};
pub use profile::{Column, CrossRule, GroupPolicy, KeyKind, Limits, Profile, Purpose};
pub use sample::{Defect, SampleRows};
pub use template::Template;

/// Errors from loading or checking a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file's path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML text is malformed or has unknown fields.
    #[error("profile is not valid TOML: {0}")]
    Toml(String),
    /// The profile is well-formed but incoherent.
    #[error("profile is invalid: {0}")]
    Invalid(String),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps a full-width ASCII form (`Ａ`, `＿`, the ideographic space) to its
/// half-width character; other characters pass through.
pub fn fold_width(ch: char) -> char {
    match ch {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
        '\u{3000}' => ' ',
        _ => ch,
    }
}

/// Folds a header cell for matching: trimmed, full-width folded, lowercase,
/// runs of spaces, `_` and `-` treated alike.
pub fn fold_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut gap = false;
    for ch in header.chars().map(fold_width) {
        if ch.is_whitespace() || ch == '_' || ch == '-' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.extend(ch.to_lowercase());
    }
    out
}
