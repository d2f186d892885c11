//! userimport, as a library: the engine behind "download template → edit in
//! Excel → upload and check → execute → results".
//!
//! This crate re-exports the component crates ([`schema`], [`parse`],
//! [`validate`], [`plan`], [`sink`]) and owns what wires them: the import
//! pipeline, result reports, export, and formula-safe CSV writing
//! ([`CsvWriter`]).
//!
//! # Example
//!
//! ```
//! use userimport::{OutputCharset, schema::Profile, write_template};
//!
//! let mut file = Vec::new();
//! write_template(&Profile::standard(), OutputCharset::UTF8_BOM, &mut file)?;
//! assert!(file.starts_with(b"\xEF\xBB\xBFLogin ID,Name,"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod csv_out;

pub use userimport_parse as parse;
pub use userimport_plan as plan;
pub use userimport_schema as schema;
pub use userimport_sink as sink;
pub use userimport_validate as validate;

pub use csv_out::{CsvWriter, OutputCharset, WriteError};

use schema::{Profile, Template};

/// Writes a profile's template (header plus one valid example row) as CSV.
pub fn write_template<W: std::io::Write>(
    profile: &Profile,
    charset: OutputCharset,
    out: W,
) -> Result<W, WriteError> {
    let template = Template::for_profile(profile);
    let mut writer = CsvWriter::new(out, charset)?;
    writer.write_row(&template.header)?;
    for row in &template.rows {
        writer.write_row(row)?;
    }
    writer.finish()
}
