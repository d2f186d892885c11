//! Streaming CSV reading for user imports: bytes in, records with physical
//! line numbers out.
//!
//! This crate will own charset handling (explicit, or detected from a BOM, a
//! UTF-16 heuristic, strict UTF-8 and chardetng), a push-style core over
//! csv-core with an iterator on top, delimiter detection (`,` `;` tab and
//! Excel's `sep=` line), the header row, column mapping onto a profile, and the
//! limits (bytes, rows, field size, columns) enforced while streaming.
#![deny(missing_docs)]

mod record;

pub use record::Record;
