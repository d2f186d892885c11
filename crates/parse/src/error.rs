//! The crate's error type: every error is file-level and says where.

use std::fmt;

/// Which streaming limit a file exceeded (the names are the fields of
/// [`userimport_schema::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// `max_bytes`: the file's size in bytes.
    Bytes,
    /// `max_rows`: the number of data rows (the header is not counted).
    Rows,
    /// `max_field_bytes`: one field's size in bytes, decoded to UTF-8.
    FieldBytes,
    /// `max_columns`: the number of fields in one record.
    Columns,
    /// `max_unzipped_bytes`: what a workbook's zip entries inflate to.
    UnzippedBytes,
    /// `max_entries`: the number of entries in a workbook's zip.
    ZipEntries,
}

impl Limit {
    /// The limit's name as in the profile (`max_field_bytes`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::Bytes => "max_bytes",
            Limit::Rows => "max_rows",
            Limit::FieldBytes => "max_field_bytes",
            Limit::Columns => "max_columns",
            Limit::UnzippedBytes => "max_unzipped_bytes",
            Limit::ZipEntries => "max_entries",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Formats `line 7, column 3: ` (or `line 7: ` without a column).
fn at(line: &u64, column: &Option<usize>) -> String {
    match column {
        Some(column) => format!("line {line}, column {column}"),
        None => format!("line {line}"),
    }
}

/// Everything that can stop reading a file. All of these are file-level
/// errors: the reader yields no more records after one of them. Lines are
/// 1-based physical lines (what a text editor or Excel shows), columns are
/// 1-based field positions in the record, byte offsets are 0-based offsets
/// into the raw (undecoded) input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A charset name that this crate does not know or support.
    #[error(
        "unknown charset {0:?} (expected auto, utf-8, shift_jis, euc-jp, utf-16le, utf-16be, windows-1252 or macintosh)"
    )]
    UnknownCharset(String),
    /// A delimiter that cannot be used (a quote, a line break, or a byte
    /// outside ASCII, which would cut characters apart).
    #[error("invalid delimiter {0:?}")]
    InvalidDelimiter(char),
    /// Bytes that do not decode in the file's encoding.
    #[error("line {line}, byte offset {offset}: bytes that are not valid {encoding}{}",
        if *.detected { " (the encoding was detected from the start of the file; if it is wrong, name the right one)" } else { "" })]
    Undecodable {
        /// The encoding's name as encoding_rs spells it (`Shift_JIS`).
        encoding: &'static str,
        /// The physical line where the bad bytes are.
        line: u64,
        /// The 0-based offset of the first bad byte in the raw input.
        offset: u64,
        /// The encoding was detected, not given.
        detected: bool,
    },
    /// The file is not text (NUL bytes or many control characters).
    #[error("byte offset {offset}: the file looks binary, not CSV text")]
    Binary {
        /// The offset (in the raw input) of a byte that gave it away.
        offset: u64,
    },
    /// The file's encoding is not one the profile allows.
    #[error("the file is encoded as {found}, but only {} is allowed", .allowed.join(", "))]
    EncodingNotAllowed {
        /// The encoding found (encoding_rs name).
        found: &'static str,
        /// The allowed encodings.
        allowed: Vec<String>,
    },
    /// A quoted field is still open at the end of the file.
    #[error("{}: unterminated quoted field (the quote opened here is never closed)", at(.line, &Some(*.column)))]
    UnterminatedQuote {
        /// The line where the quoted field starts.
        line: u64,
        /// The field's 1-based position in its record.
        column: usize,
    },
    /// A `"` inside an unquoted field (`ab"c`). No longer raised by the
    /// reader, which reads such a quote literally and notes it on the record
    /// ([`crate::StrayQuote`]); kept so that code matching on it compiles.
    #[error("{}: quote in the middle of an unquoted field (quote the whole field and double the quote)", at(.line, &Some(*.column)))]
    StrayQuote {
        /// The line of the quote.
        line: u64,
        /// The field's 1-based position in its record.
        column: usize,
    },
    /// Text right after a closing quote (`"ab"c`).
    #[error("{}: text after the closing quote of a quoted field", at(.line, &Some(*.column)))]
    TextAfterQuote {
        /// The line of the closing quote.
        line: u64,
        /// The field's 1-based position in its record.
        column: usize,
    },
    /// A streaming limit was exceeded.
    #[error("{}: the file exceeds the limit {limit} = {value}", at(.line, .column))]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The limit's value.
        value: u64,
        /// The line where it was exceeded.
        line: u64,
        /// The field, for `max_field_bytes` and `max_columns`.
        column: Option<usize>,
    },
    /// A quoted field ran past `max_field_bytes`: most likely its closing
    /// quote is missing and it would swallow the rest of the file.
    #[error("{}: a quoted field runs past the limit max_field_bytes = {value}; is its closing quote missing?", at(.line, &Some(*.column)))]
    QuotedFieldTooLong {
        /// The limit's value.
        value: u64,
        /// The line where the quoted field starts.
        line: u64,
        /// The field's 1-based position in its record.
        column: usize,
    },
    /// No header row was found (the file is empty or blank from the header
    /// row on).
    #[error("no header row found{}", .from_line.map(|l| format!(" at or after line {l}")).unwrap_or_default())]
    NoHeader {
        /// The header row asked for, if any.
        from_line: Option<u64>,
    },
    /// Two header cells name the same profile column.
    #[error(
        "duplicate column {column:?}: header cells {first} ({first_header:?}) and {second} ({second_header:?}) both name it"
    )]
    DuplicateColumn {
        /// The profile column's key.
        column: String,
        /// The first header cell (1-based position).
        first: usize,
        /// Its text.
        first_header: String,
        /// The second header cell (1-based position).
        second: usize,
        /// Its text.
        second_header: String,
    },
    /// Required profile columns are not in the file.
    #[error("missing required column{}: {}", if .columns.len() == 1 { "" } else { "s" }, .columns.join(", "))]
    MissingColumns {
        /// The missing columns' keys.
        columns: Vec<String>,
    },
    /// A `--map FIELD=…` override names a field the profile does not have.
    #[error("column mapping {field}: the profile has no field {field:?}")]
    UnknownField {
        /// The field as given.
        field: String,
    },
    /// A `--map FIELD=HEADER` override names a header that is not in the file.
    #[error("column mapping {field}={header}: the file has no header cell {header:?}")]
    HeaderNotFound {
        /// The field as given.
        field: String,
        /// The header as given.
        header: String,
    },
    /// The input is a workbook that cannot be read: not an .xlsx workbook
    /// (an .xls, an .ods, another zip), password-protected, or malformed.
    #[error("workbook: {reason}")]
    Workbook {
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A workbook exceeds a limit on its file or its zip container; it is
    /// refused before calamine reads it.
    #[error("workbook: the file exceeds the limit {limit} = {value} ({what})")]
    WorkbookLimit {
        /// Which limit.
        limit: Limit,
        /// The limit's value.
        value: u64,
        /// What exceeded it.
        what: String,
    },
    /// A workbook cell exceeds a limit (`max_columns`, `max_field_bytes`).
    #[error(
        "sheet {sheet:?}, cell {cell} (line {line}, column {column}): the workbook exceeds the limit {limit} = {value}"
    )]
    CellLimit {
        /// Which limit.
        limit: Limit,
        /// The limit's value.
        value: u64,
        /// The sheet's name.
        sheet: String,
        /// The cell's reference (`C7`).
        cell: String,
        /// The sheet's 1-based row number.
        line: u64,
        /// The 1-based column.
        column: usize,
    },
    /// `--sheet` names no sheet of the workbook.
    #[error("the workbook has no sheet {wanted:?}; its sheets are: {}", .sheets.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))]
    NoSheet {
        /// The sheet asked for.
        wanted: String,
        /// The workbook's sheets.
        sheets: Vec<String>,
    },
}

impl Error {
    /// The limit that was exceeded, if that is what happened.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            Error::LimitExceeded { limit, .. } => Some(*limit),
            Error::QuotedFieldTooLong { .. } => Some(Limit::FieldBytes),
            Error::WorkbookLimit { limit, .. } | Error::CellLimit { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    /// The physical line the error is about, when it has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            Error::Undecodable { line, .. }
            | Error::UnterminatedQuote { line, .. }
            | Error::StrayQuote { line, .. }
            | Error::TextAfterQuote { line, .. }
            | Error::QuotedFieldTooLong { line, .. }
            | Error::LimitExceeded { line, .. }
            | Error::CellLimit { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The 1-based field position the error is about, when it has one.
    pub fn column(&self) -> Option<usize> {
        match self {
            Error::UnterminatedQuote { column, .. }
            | Error::StrayQuote { column, .. }
            | Error::TextAfterQuote { column, .. }
            | Error::QuotedFieldTooLong { column, .. }
            | Error::CellLimit { column, .. } => Some(*column),
            Error::LimitExceeded { column, .. } => *column,
            _ => None,
        }
    }

    /// The raw byte offset the error is about, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Undecodable { offset, .. } | Error::Binary { offset } => Some(*offset),
            _ => None,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
