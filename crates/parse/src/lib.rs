//! Streaming CSV reading for user imports: bytes in, records with physical
//! line numbers out.
//!
//! Administrators upload whatever their spreadsheet wrote: UTF-8 with or
//! without a BOM, Shift_JIS, EUC-JP, UTF-16 "Unicode text", windows-1252,
//! comma-, semicolon- or tab-separated, with LF, CRLF or old-Mac CR line ends.
//! [`ReaderBuilder`] detects the [`Charset`] (BOM, a UTF-16 heuristic, strict
//! UTF-8, then the most plausible of Shift_JIS, EUC-JP, windows-1252 and
//! MacRoman on the first 64 KiB, see [`Detection`]) and the delimiter (Excel's
//! `sep=` line, or the most consistent of `,` `;` tab), reads the header, and
//! gives a [`Reader`] that yields [`Record`]s carrying the 1-based physical
//! line where each starts (right across quoted line breaks).
//!
//! Two levels, as in csv-core and csv: [`Parser`] is the push-style core
//! that takes raw bytes in chunks of any size; [`Reader`] wraps any
//! `std::io::Read` and is an [`Iterator`]. Memory stays bounded whatever the
//! input: the [`Limits`](userimport_schema::Limits) (bytes, rows, field size,
//! columns) are enforced while streaming. Quoting is read as Excel reads it
//! where Excel is unambiguous (a quote inside an unquoted field, `O"Brien`,
//! is a literal quote, noted on the record as a [`StrayQuote`]) and strictly
//! where it is not (a quoted field that never closes, text after a closing
//! quote); undecodable bytes are an error naming line and byte offset, and
//! every failure is an [`Error`] that says where.
//!
//! Excel workbooks (.xlsx) are recognised by their first bytes and read with
//! calamine into the same [`Record`]s (line = the sheet's row number), after
//! their zip is checked against limits ([`WorkbookOptions`]) so that a zip
//! bomb is refused before it is inflated.
//!
//! [`ColumnMapping`] maps header cells onto a profile's columns, and
//! [`preview`] gives the header and first records for `userimport preview`.
//! Ragged rows are not an error here: the validator compares each record's
//! length with the header's.
//!
//! # Example
//!
//! ```
//! use userimport_parse::{ColumnMapping, ReaderBuilder, Record};
//! use userimport_schema::Profile;
//!
//! // Shift_JIS, semicolon-separated, CRLF, with a quoted line break.
//! let text = "User ID;Name;Email\r\nE1;山田;\"yamada@example.com\"\r\nE2;\"佐藤\r\n花子\";\r\n";
//! let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
//!
//! let mut reader = ReaderBuilder::new().build(&bytes[..])?;
//! assert_eq!(reader.encoding().name(), "Shift_JIS");
//! assert_eq!(reader.delimiter(), b';');
//!
//! let profile = Profile::access();
//! let mapping = ColumnMapping::new(&profile, reader.header(), &[], true)?;
//! let name = profile.column_index("name").unwrap();
//!
//! let mut record = Record::new();
//! let mut seen = Vec::new();
//! while reader.read_record(&mut record)? {
//!     seen.push((record.line(), mapping.get(&record, name).unwrap().to_string()));
//! }
//! assert_eq!(seen, [(2, "山田".to_string()), (3, "佐藤\r\n花子".to_string())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod charset;
mod core;
mod error;
mod mapping;
mod preview;
mod reader;
mod record;
mod xlsx;

pub use charset::{Charset, Detection};
pub use core::{Parser, ReadResult};
pub use error::{Error, Limit, Result};
pub use mapping::ColumnMapping;
pub use preview::{Preview, PreviewRecord, preview};
pub use reader::{Reader, ReaderBuilder};
pub use record::{Record, StrayQuote};
pub use xlsx::{FormulaCell, WorkbookInfo, WorkbookOptions, cell_reference, column_letters};
