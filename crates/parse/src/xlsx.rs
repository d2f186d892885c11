//! Excel workbooks (.xlsx): recognised by their bytes, checked before anything
//! is inflated, and read with calamine into the same [`Record`]s as CSV.
//!
//! The order of work keeps memory bounded for any workbook:
//! 1. the file is read whole, at most `max_bytes`;
//! 2. the zip's central directory is read: the entries are counted and their
//!    declared sizes added up, both against the [`WorkbookOptions`] limits;
//!    then every entry is inflated once into a counter that stops at its
//!    declared size and at the budget, and that measures the longest run of
//!    bytes between two markup characters in every XML part (which bounds any
//!    single XML event, so every parser buffer after this one);
//! 3. the shared strings are counted and each is checked against
//!    `max_field_bytes`; every worksheet is scanned for shared-string indices
//!    out of range and for formula cells;
//! 4. only then does calamine open the workbook, and a worker thread streams
//!    the chosen sheet's cells, row by row, through a bounded channel, each
//!    cell checked against `max_columns` and `max_field_bytes`.
//!
//! Cells come out as the administrator saw them: text as typed (leading zeros
//! kept), numbers without a trailing `.0` and rounded to Excel's 15
//! significant digits, dates in the column's date format, formulas by their
//! cached value, booleans as `TRUE`/`FALSE`, errors as `#N/A`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Cursor, Read};
use std::sync::mpsc;

use calamine::{DataRef, Reader as _, Xlsx, XlsxError};
use chrono::{NaiveDate, NaiveTime};
use quick_xml::events::Event;
use serde::Serialize;
use userimport_schema::Limits;
use zip::ZipArchive;

use crate::Record;
use crate::error::{Error, Limit, Result};

/// The first bytes of a zip file (.xlsx, .ods), and of an empty one.
const ZIP_MAGIC: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];
/// The first bytes of an OLE compound file (.xls, or an encrypted .xlsx).
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Rows handed from the worker thread in one message.
const ROWS_PER_MESSAGE: usize = 256;
/// Messages in flight between the worker and the reader.
const MESSAGES: usize = 4;
/// Formula cells remembered per sheet; more are counted only.
const MAX_FORMULA_CELLS: usize = 10_000;
/// The largest serial date Excel shows (9999-12-31).
const MAX_SERIAL_DATE: f64 = 2_958_466.0;

/// True when `prefix` starts like a workbook (a zip or an OLE compound file)
/// rather than text.
pub(crate) fn is_workbook(prefix: &[u8]) -> bool {
    ZIP_MAGIC.iter().any(|m| prefix.starts_with(m)) || prefix.starts_with(OLE_MAGIC)
}

/// How workbooks are read: which sheet, the date format for date cells in
/// columns that have none of their own, and the limits on the zip container.
/// The row, column, cell-size and file-size limits are the
/// [`Limits`](userimport_schema::Limits) that CSV files have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkbookOptions {
    /// The sheet to read: its name, or its 1-based position; `None` (the
    /// default) reads the first sheet. A sheet whose name is exactly the text
    /// given wins over a position.
    pub sheet: Option<String>,
    /// The chrono format for date cells (default `%Y/%m/%d`);
    /// [`Reader::set_date_formats`](crate::Reader::set_date_formats) sets one
    /// per column.
    pub date_format: String,
    /// The most bytes all the zip's entries may inflate to, together
    /// (default 256 MiB).
    pub max_unzipped_bytes: u64,
    /// The most entries the zip may have (default 10,000).
    pub max_entries: usize,
}

impl Default for WorkbookOptions {
    fn default() -> Self {
        WorkbookOptions {
            sheet: None,
            date_format: "%Y/%m/%d".to_string(),
            max_unzipped_bytes: 256 * 1024 * 1024,
            max_entries: 10_000,
        }
    }
}

impl WorkbookOptions {
    /// Default options reading `sheet` (a name or a 1-based position).
    pub fn sheet(sheet: Option<String>) -> Self {
        WorkbookOptions {
            sheet,
            ..WorkbookOptions::default()
        }
    }
}

/// What was read from a workbook: its format and the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkbookInfo {
    /// The format: `xlsx`.
    pub format: String,
    /// The name of the sheet read.
    pub sheet: String,
    /// Every sheet's name, in the workbook's order.
    pub sheets: Vec<String>,
}

/// A cell holding a formula (its cached value is what the record has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormulaCell {
    /// The sheet's 1-based row number (the record's line).
    pub line: u64,
    /// The 0-based column (the field's index in the record).
    pub column: usize,
}

/// `C7`: a cell's reference from its 1-based row and 0-based column.
pub fn cell_reference(line: u64, column: usize) -> String {
    format!("{}{line}", column_letters(column))
}

/// `A`, `Z`, `AA`, …: the letters of a 0-based column.
pub fn column_letters(column: usize) -> String {
    let mut n = column as u64 + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// One cell's value as the record will show it.
#[derive(Debug)]
enum Value {
    Text(String),
    /// A date (and a time of day when it is not midnight), formatted by the
    /// reader with the column's date format.
    Date(NaiveDate, Option<NaiveTime>),
}

/// One sheet row: its 1-based number and its non-empty cells.
#[derive(Debug)]
struct Row {
    line: u64,
    cells: Vec<(usize, Value)>,
}

/// What the worker thread sends.
#[derive(Debug)]
enum Message {
    Opened {
        info: WorkbookInfo,
        formulas: Vec<FormulaCell>,
    },
    Rows(Vec<Row>),
    Failed(Error),
}

/// What the inspection found: the shared-string count and each worksheet's
/// formula cells (by normalised entry name).
#[derive(Debug, Default)]
struct Inventory {
    formulas: HashMap<String, Vec<FormulaCell>>,
}

/// Reads a workbook's chosen sheet as records; built by
/// [`ReaderBuilder::build`](crate::ReaderBuilder::build) when the input is a
/// workbook.
#[derive(Debug)]
pub(crate) struct SheetReader {
    rx: mpsc::Receiver<Message>,
    pending: std::vec::IntoIter<Row>,
    info: WorkbookInfo,
    formulas: Vec<FormulaCell>,
    header_row: Option<u64>,
    header_len: Option<usize>,
    date_formats: Vec<Option<String>>,
    date_format: String,
    done: bool,
}

impl SheetReader {
    /// Reads the rest of `rdr` after `prefix` (at most `max_bytes` in all),
    /// inspects the workbook and starts streaming its sheet.
    pub(crate) fn open<R: Read>(
        prefix: &[u8],
        rdr: &mut R,
        options: &WorkbookOptions,
        limits: Limits,
        header_row: Option<u64>,
    ) -> Result<SheetReader> {
        if prefix.starts_with(OLE_MAGIC) {
            return Err(workbook_error(
                "this is an Excel 97-2003 workbook (.xls) or a password-protected one; \
                 save it as an Excel Workbook (.xlsx) without a password, or as CSV UTF-8",
            ));
        }
        let bytes = read_all(prefix, rdr, limits.max_bytes)?;
        let inventory = inspect(&bytes, options, &limits)?;
        let (tx, rx) = mpsc::sync_channel(MESSAGES);
        let sheet = options.sheet.clone();
        std::thread::Builder::new()
            .name("userimport-xlsx".to_string())
            .spawn(move || {
                if let Err(e) = stream_sheet(bytes, sheet, inventory, limits, &tx) {
                    let _ = tx.send(Message::Failed(e));
                }
            })
            .map_err(Error::Io)?;
        let (info, formulas) = match rx.recv() {
            Ok(Message::Opened { info, formulas }) => (info, formulas),
            Ok(Message::Failed(e)) => return Err(e),
            _ => return Err(stopped()),
        };
        Ok(SheetReader {
            rx,
            pending: Vec::new().into_iter(),
            info,
            formulas,
            header_row,
            header_len: None,
            date_formats: Vec::new(),
            date_format: options.date_format.clone(),
            done: false,
        })
    }

    /// The workbook's format and sheet.
    pub(crate) fn info(&self) -> &WorkbookInfo {
        &self.info
    }

    /// The sheet's formula cells (the first 10,000), in sheet order.
    pub(crate) fn formulas(&self) -> &[FormulaCell] {
        &self.formulas
    }

    /// The date format of each column (by 0-based index); `None` and
    /// columns past the end use the workbook options' format.
    pub(crate) fn set_date_formats(&mut self, formats: Vec<Option<String>>) {
        self.date_formats = formats;
    }

    /// The next non-blank row at or after the header row, as a record:
    /// the header first, then data rows padded with empty fields to the
    /// header's length.
    pub(crate) fn next_record(&mut self, record: &mut Record) -> Result<bool> {
        while let Some(row) = self.next_row()? {
            if self.header_len.is_none() && self.header_row.is_some_and(|h| row.line < h) {
                continue;
            }
            self.fill(record, &row);
            if record.is_blank() {
                continue;
            }
            if self.header_len.is_none() {
                self.header_len = Some(record.len());
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn next_row(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(row) = self.pending.next() {
                return Ok(Some(row));
            }
            if self.done {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Message::Rows(rows)) => self.pending = rows.into_iter(),
                Ok(Message::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Ok(Message::Opened { .. }) => {}
                // The worker hung up: the sheet is done.
                Err(_) => self.done = true,
            }
        }
    }

    /// Writes `row` into `record`: every column up to the last non-empty
    /// cell, and at least up to the header's length.
    fn fill(&self, record: &mut Record, row: &Row) {
        record.clear();
        record.set_line(row.line);
        let last = row.cells.iter().map(|(c, _)| *c + 1).max().unwrap_or(0);
        let len = last.max(self.header_len.unwrap_or(0));
        let mut cells = row.cells.iter().peekable();
        let mut text = String::new();
        for column in 0..len {
            text.clear();
            while let Some((c, value)) = cells.next_if(|(c, _)| *c <= column) {
                if *c == column {
                    text.clear();
                    self.format(&mut text, column, value);
                }
            }
            record.push_field(&text);
        }
    }

    fn format(&self, out: &mut String, column: usize, value: &Value) {
        match value {
            Value::Text(s) => out.push_str(s),
            Value::Date(date, time) => {
                let format = self
                    .date_formats
                    .get(column)
                    .and_then(Option::as_deref)
                    .unwrap_or(&self.date_format);
                if write!(out, "{}", date.format(format)).is_err() {
                    // A format chrono cannot render: ISO 8601.
                    out.clear();
                    let _ = write!(out, "{}", date.format("%Y-%m-%d"));
                }
                if let Some(time) = time {
                    let _ = write!(out, " {}", time.format("%H:%M:%S"));
                }
            }
        }
    }
}

/// A workbook error; control characters (which a file's names or XML may
/// carry into a library's message) are written escaped.
fn workbook_error(reason: impl Into<String>) -> Error {
    let reason: String = reason.into();
    Error::Workbook {
        reason: reason
            .chars()
            .flat_map(|c| match c.is_control() {
                true => c.escape_default().collect::<Vec<_>>(),
                false => vec![c],
            })
            .collect(),
    }
}

fn stopped() -> Error {
    workbook_error("the workbook could not be read (its reader stopped on malformed content)")
}

/// The whole input: `prefix`, then the rest of `rdr`; at most `max_bytes`.
fn read_all<R: Read>(prefix: &[u8], rdr: &mut R, max_bytes: Option<u64>) -> Result<Vec<u8>> {
    let max = max_bytes.unwrap_or(u64::MAX);
    if prefix.len() as u64 > max {
        return Err(too_big(max));
    }
    let mut bytes = prefix.to_vec();
    let room = max - prefix.len() as u64;
    rdr.take(room.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Error::Io)?;
    if bytes.len() as u64 > max {
        return Err(too_big(max));
    }
    Ok(bytes)
}

fn too_big(max: u64) -> Error {
    Error::WorkbookLimit {
        limit: Limit::Bytes,
        value: max,
        what: "the file is larger".to_string(),
    }
}

/// Steps 2 and 3 of the module docs: the zip's entries counted, measured
/// and inflated once under the limits; shared strings and worksheets scanned.
fn inspect(bytes: &[u8], options: &WorkbookOptions, limits: &Limits) -> Result<Inventory> {
    let mut zip = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| workbook_error(format!("not a readable .xlsx workbook (zip: {e})")))?;
    if zip.len() > options.max_entries {
        return Err(Error::WorkbookLimit {
            limit: Limit::ZipEntries,
            value: options.max_entries as u64,
            what: format!("the zip has {} entries", zip.len()),
        });
    }
    refuse_other_zips(&mut zip)?;
    let mut declared = 0u64;
    let mut sizes = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(zip_error)?;
        declared = declared.saturating_add(entry.size());
        if declared > options.max_unzipped_bytes {
            return Err(unzipped_limit(options, entry.name()));
        }
        sizes.push(entry.size());
    }
    // Any single XML event, hence any parser buffer, stays below this.
    let max_run = (limits.max_field_bytes as u64)
        .saturating_mul(8)
        .max(1024 * 1024);
    let mut budget = options.max_unzipped_bytes;
    // The shared strings and the worksheets are measured while they are
    // scanned (one inflation each); every other entry is measured here.
    let mut strings_at = None;
    let mut sheets = Vec::new();
    let mut scanned = std::collections::HashSet::new();
    for (i, &size) in sizes.iter().enumerate() {
        let mut entry = zip.by_index(i).map_err(zip_error)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let normal = normalise(&name);
        let is_sheet = normal.starts_with("xl/worksheets/") && normal.ends_with(".xml");
        if is_sheet || normal == "xl/sharedstrings.xml" {
            if !scanned.insert(normal.clone()) {
                return Err(workbook_error(format!(
                    "the zip has two entries named {name:?}"
                )));
            }
            match is_sheet {
                true => sheets.push((i, normal)),
                false => strings_at = Some(i),
            }
            continue;
        }
        let xml = is_xml_part(&name);
        let mut measured = Measured::new(&mut entry, size.min(budget), xml.then_some(max_run));
        let copied = std::io::copy(&mut measured, &mut std::io::sink());
        budget -= measured
            .verdict(copied)
            .map_err(|e| e.into_error(&name, options, max_run))?;
    }
    let mut strings = 0;
    if let Some(i) = strings_at {
        let mut entry = zip.by_index(i).map_err(zip_error)?;
        let name = entry.name().to_string();
        let mut measured = Measured::new(&mut entry, sizes[i].min(budget), Some(max_run));
        let counted = count_strings_in(&mut measured, limits.max_field_bytes);
        let used = measured
            .verdict(Ok(0))
            .map_err(|e| e.into_error(&name, options, max_run))?;
        strings = counted.map_err(|e| e.into_error(&name, options, max_run))?;
        budget -= used;
    }
    let mut inventory = Inventory::default();
    for (i, normal) in sheets {
        let mut entry = zip.by_index(i).map_err(zip_error)?;
        let name = entry.name().to_string();
        let mut measured = Measured::new(&mut entry, sizes[i].min(budget), Some(max_run));
        let formulas = scan_worksheet(&mut measured, strings);
        let used = measured
            .verdict(Ok(0))
            .map_err(|e| e.into_error(&name, options, max_run))?;
        let formulas = formulas.map_err(|e| e.into_error(&name, options, max_run))?;
        budget -= used;
        inventory.formulas.insert(normal, formulas);
    }
    Ok(inventory)
}

/// An OpenDocument spreadsheet, or a zip that is no workbook at all.
fn refuse_other_zips(zip: &mut ZipArchive<Cursor<&[u8]>>) -> Result<()> {
    if let Ok(entry) = zip.by_name("mimetype") {
        let mut mimetype = String::new();
        let _ = entry.take(200).read_to_string(&mut mimetype);
        if mimetype.contains("opendocument") {
            return Err(workbook_error(
                "this is an OpenDocument spreadsheet (.ods); save it as an Excel Workbook (.xlsx) or as CSV UTF-8",
            ));
        }
    }
    if !zip.file_names().any(|n| normalise(n) == "xl/workbook.xml") {
        return Err(workbook_error(
            "a zip file that is not an Excel workbook (.xlsx): it has no xl/workbook.xml",
        ));
    }
    Ok(())
}

fn zip_error(e: zip::result::ZipError) -> Error {
    workbook_error(format!("the workbook's zip cannot be read: {e}"))
}

fn unzipped_limit(options: &WorkbookOptions, entry: &str) -> Error {
    Error::WorkbookLimit {
        limit: Limit::UnzippedBytes,
        value: options.max_unzipped_bytes,
        what: format!("its entries inflate to more (reached at {entry:?})"),
    }
}

/// The lower-case, `/`-separated name calamine looks entries up by.
fn normalise(name: &str) -> String {
    name.replace('\\', "/").to_ascii_lowercase()
}

fn is_xml_part(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".xml") || name.ends_with(".rels")
}

/// Why measuring or scanning an entry stopped.
#[derive(Debug)]
enum Bad {
    /// It inflates to more than it declares, or than the budget.
    Inflates,
    /// A run of this many bytes without markup.
    LongRun,
    /// A shared string larger than `max_field_bytes`.
    HugeString { index: u64, limit: usize },
    /// A shared-string index the workbook does not have.
    StringIndex {
        cell: String,
        index: String,
        strings: u64,
    },
    /// The entry is not valid XML, or not readable.
    Malformed(String),
}

impl Bad {
    fn into_error(self, entry: &str, options: &WorkbookOptions, max_run: u64) -> Error {
        match self {
            Bad::Inflates => Error::WorkbookLimit {
                limit: Limit::UnzippedBytes,
                value: options.max_unzipped_bytes,
                what: format!(
                    "{entry:?} inflates to more than it declares or than the limit allows"
                ),
            },
            Bad::LongRun => Error::WorkbookLimit {
                limit: Limit::FieldBytes,
                value: max_run,
                what: format!("{entry:?} holds a run of more bytes than any cell may have"),
            },
            Bad::HugeString { index, limit } => Error::WorkbookLimit {
                limit: Limit::FieldBytes,
                value: limit as u64,
                what: format!("shared string {index} is larger"),
            },
            Bad::StringIndex {
                cell,
                index,
                strings,
            } => workbook_error(format!(
                "{entry:?}, cell {cell}: shared string {index:?} does not exist (the workbook has {strings})"
            )),
            Bad::Malformed(why) => workbook_error(format!("{entry:?} is malformed: {why}")),
        }
    }
}

/// A reader that passes an entry's inflated bytes through while counting
/// them: at most `cap`, and with `max_run`, no run between `<` and `>`
/// longer than that. A reader past either stops with an error, and
/// [`Measured::verdict`] says which.
struct Measured<R> {
    inner: std::io::Take<R>,
    cap: u64,
    max_run: Option<u64>,
    total: u64,
    run: u64,
    over: Option<Bad>,
}

impl<R: Read> Measured<R> {
    fn new(inner: R, cap: u64, max_run: Option<u64>) -> Self {
        Measured {
            inner: inner.take(cap.saturating_add(1)),
            cap,
            max_run,
            total: 0,
            run: 0,
            over: None,
        }
    }

    /// The bytes inflated, or why reading stopped (a limit first, then
    /// `result`'s own error).
    fn verdict(self, result: std::io::Result<u64>) -> std::result::Result<u64, Bad> {
        if let Some(bad) = self.over {
            return Err(bad);
        }
        result.map_err(|e| Bad::Malformed(e.to_string()))?;
        Ok(self.total)
    }

    fn check(&mut self, chunk: &[u8]) -> Option<Bad> {
        self.total += chunk.len() as u64;
        if self.total > self.cap {
            return Some(Bad::Inflates);
        }
        let max_run = self.max_run?;
        let mut last = 0;
        for at in memchr::memchr2_iter(b'<', b'>', chunk) {
            if self.run + (at - last) as u64 > max_run {
                return Some(Bad::LongRun);
            }
            self.run = 0;
            last = at + 1;
        }
        self.run += (chunk.len() - last) as u64;
        (self.run > max_run).then_some(Bad::LongRun)
    }
}

impl<R: Read> Read for Measured<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.over.is_some() {
            return Err(std::io::Error::other("over a workbook limit"));
        }
        let n = self.inner.read(buf)?;
        if let Some(bad) = self.check(&buf[..n]) {
            self.over = Some(bad);
            return Err(std::io::Error::other("over a workbook limit"));
        }
        Ok(n)
    }
}

/// An XML reader set up as calamine sets up its own.
fn xml_reader<R: Read>(entry: R) -> quick_xml::Reader<std::io::BufReader<R>> {
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    reader
}

/// The number of shared strings calamine will keep (an `<si>` without text
/// is skipped by it), each checked against `max_field_bytes`.
fn count_strings_in(entry: impl Read, max_field_bytes: usize) -> std::result::Result<u64, Bad> {
    let mut xml = xml_reader(entry);
    let mut buf = Vec::new();
    let (mut count, mut seen) = (0u64, 0u64);
    let (mut in_si, mut kept, mut phonetic, mut in_t) = (false, false, false, false);
    let mut size = 0usize;
    loop {
        buf.clear();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| Bad::Malformed(e.to_string()))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"si" => (in_si, kept, size) = (true, false, 0),
                b"r" if in_si => kept = true,
                b"rPh" => phonetic = true,
                b"t" if in_si && !phonetic => (kept, in_t) = (true, true),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"si" => {
                    in_si = false;
                    seen += 1;
                    count += u64::from(kept);
                }
                b"rPh" => phonetic = false,
                b"t" => in_t = false,
                _ => {}
            },
            Event::Text(t) if in_t => size += t.len(),
            Event::GeneralRef(_) if in_t => size += 4,
            Event::Eof => break,
            _ => {}
        }
        if size > max_field_bytes {
            return Err(Bad::HugeString {
                index: seen,
                limit: max_field_bytes,
            });
        }
    }
    Ok(count)
}

/// The formula cells of a worksheet; refuses a shared-string index the
/// workbook does not have (calamine would index out of bounds).
fn scan_worksheet(entry: impl Read, strings: u64) -> std::result::Result<Vec<FormulaCell>, Bad> {
    let mut xml = xml_reader(entry);
    let mut buf = Vec::new();
    let mut formulas = Vec::new();
    let (mut row, mut col) = (0u64, 0u64);
    let mut cell: Option<CellScan> = None;
    let mut in_v = false;
    loop {
        buf.clear();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| Bad::Malformed(e.to_string()))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"row" => {
                    if let Some(r) = attribute(&e, b"r").and_then(|r| parse_u64(&r)) {
                        row = r.saturating_sub(1);
                    }
                }
                b"c" => {
                    if let Some((r, c)) = attribute(&e, b"r").and_then(|r| parse_cell(&r)) {
                        (row, col) = (r, c);
                    }
                    let shared = attribute(&e, b"t").is_some_and(|t| t == b"s");
                    cell = Some(CellScan {
                        row,
                        col,
                        shared,
                        formula: false,
                        value: String::new(),
                    });
                }
                b"f" => {
                    if let Some(cell) = cell.as_mut() {
                        cell.formula = true;
                    }
                }
                b"v" => in_v = cell.is_some(),
                _ => {}
            },
            Event::Text(t) if in_v => {
                if let Some(cell) = cell.as_mut() {
                    cell.value.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) if in_v => {
                if let Some(cell) = cell.as_mut() {
                    let c = r.resolve_char_ref().ok().flatten().unwrap_or('?');
                    cell.value.push(c);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"row" => (row, col) = (row + 1, 0),
                b"v" => in_v = false,
                b"c" => {
                    if let Some(done) = cell.take() {
                        done.check(strings)?;
                        if done.formula && formulas.len() < MAX_FORMULA_CELLS {
                            formulas.push(FormulaCell {
                                line: done.row + 1,
                                column: done.col as usize,
                            });
                        }
                    }
                    col += 1;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(formulas)
}

/// One cell as the worksheet scan sees it.
struct CellScan {
    row: u64,
    col: u64,
    shared: bool,
    formula: bool,
    value: String,
}

impl CellScan {
    /// A shared-string cell must name a string the workbook has (calamine
    /// reads an unparsable index as 0).
    fn check(&self, strings: u64) -> std::result::Result<(), Bad> {
        if !self.shared {
            return Ok(());
        }
        let index = self.value.parse::<u64>().unwrap_or(0);
        if index < strings {
            return Ok(());
        }
        Err(Bad::StringIndex {
            cell: cell_reference(self.row + 1, self.col as usize),
            index: self.value.chars().take(40).collect(),
            strings,
        })
    }
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &[u8]) -> Option<Vec<u8>> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| a.value.into_owned())
}

fn parse_u64(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// `C7` → (6, 2): 0-based row and column.
fn parse_cell(bytes: &[u8]) -> Option<(u64, u64)> {
    let letters = bytes.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let (col, row) = bytes.split_at(letters);
    let mut c = 0u64;
    for b in col {
        c = c
            .checked_mul(26)?
            .checked_add(u64::from(b.to_ascii_uppercase() - b'A') + 1)?;
    }
    let r = parse_u64(row)?;
    Some((r.checked_sub(1)?, c.checked_sub(1)?))
}

/// Step 4 of the module docs, on the worker thread: opens the workbook with
/// calamine, picks the sheet and sends its rows.
fn stream_sheet(
    bytes: Vec<u8>,
    sheet: Option<String>,
    mut inventory: Inventory,
    limits: Limits,
    tx: &mpsc::SyncSender<Message>,
) -> Result<()> {
    let paths = sheet_paths(&bytes);
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(calamine_error)?;
    let names = workbook.sheet_names();
    let index = choose_sheet(&names, sheet.as_deref())?;
    let name = names[index].clone(); // ok: choose_sheet returns an index of `names`
    let formulas = paths
        .get(index)
        .and_then(|path| inventory.formulas.remove(&normalise(path)))
        .unwrap_or_default();
    let info = WorkbookInfo {
        format: "xlsx".to_string(),
        sheet: name.clone(),
        sheets: names,
    };
    if tx.send(Message::Opened { info, formulas }).is_err() {
        return Ok(());
    }
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(calamine_error)?;
    let mut rows = Vec::with_capacity(ROWS_PER_MESSAGE);
    let mut row = Row {
        line: 0,
        cells: Vec::new(),
    };
    while let Some(cell) = cells.next_cell().map_err(calamine_error)? {
        let (r, c) = cell.get_position();
        let (line, column) = (u64::from(r) + 1, c as usize);
        if column >= limits.max_columns {
            return Err(cell_limit(
                Limit::Columns,
                limits.max_columns,
                &name,
                line,
                column,
            ));
        }
        if line != row.line {
            let next = Row {
                line,
                cells: Vec::new(),
            };
            let mut done = std::mem::replace(&mut row, next);
            if !done.cells.is_empty() {
                // Cells come in column order; a stray one is put in place.
                done.cells.sort_by_key(|(c, _)| *c);
                rows.push(done);
            }
            if rows.len() == ROWS_PER_MESSAGE {
                let full = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
                if tx.send(Message::Rows(full)).is_err() {
                    return Ok(());
                }
            }
        }
        let Some(value) = value(cell.get_value()) else {
            continue;
        };
        if let Value::Text(text) = &value
            && text.len() > limits.max_field_bytes
        {
            let max = limits.max_field_bytes;
            return Err(cell_limit(Limit::FieldBytes, max, &name, line, column));
        }
        row.cells.push((column, value));
    }
    if !row.cells.is_empty() {
        row.cells.sort_by_key(|(c, _)| *c);
        rows.push(row);
    }
    if !rows.is_empty() {
        let _ = tx.send(Message::Rows(rows));
    }
    Ok(())
}

fn cell_limit(limit: Limit, value: usize, sheet: &str, line: u64, column: usize) -> Error {
    Error::CellLimit {
        limit,
        value: value as u64,
        sheet: sheet.to_string(),
        cell: cell_reference(line, column),
        line,
        column: column + 1,
    }
}

fn calamine_error(e: XlsxError) -> Error {
    match e {
        XlsxError::Password => {
            workbook_error("the workbook is password-protected; save it without a password")
        }
        e => workbook_error(format!("the workbook cannot be read: {e}")),
    }
}

/// The sheet asked for: a name (exact, then ignoring case), or a 1-based
/// position; the first sheet when none is asked for.
fn choose_sheet(names: &[String], wanted: Option<&str>) -> Result<usize> {
    let no_sheet = |wanted: &str| Error::NoSheet {
        wanted: wanted.to_string(),
        sheets: names.to_vec(),
    };
    let Some(wanted) = wanted else {
        return match names.is_empty() {
            true => Err(no_sheet("1")),
            false => Ok(0),
        };
    };
    if let Some(i) = names.iter().position(|n| n == wanted) {
        return Ok(i);
    }
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(wanted)) {
        return Ok(i);
    }
    match wanted.trim().parse::<usize>() {
        Ok(n) if (1..=names.len()).contains(&n) => Ok(n - 1),
        _ => Err(no_sheet(wanted)),
    }
}

/// Each sheet's zip path, in the workbook's order, resolved as calamine
/// resolves them (`xl/workbook.xml` and its relationships); empty when
/// they cannot be read (calamine then reports why).
fn sheet_paths(bytes: &[u8]) -> Vec<String> {
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return Vec::new();
    };
    let targets: HashMap<Vec<u8>, String> = elements(
        &mut zip,
        "xl/_rels/workbook.xml.rels",
        b"Relationship",
        &[b"Id", b"Target"],
    )
    .into_iter()
    .filter_map(|mut a| Some((a[0].take()?, String::from_utf8(a[1].take()?).ok()?)))
    .collect();
    elements(
        &mut zip,
        "xl/workbook.xml",
        b"sheet",
        &[b"r:id", b"relationships:id"],
    )
    .into_iter()
    .map(|a| {
        let id = a.into_iter().flatten().next().unwrap_or_default();
        let target = targets.get(&id).map(String::as_str).unwrap_or("");
        if let Some(rest) = target.strip_prefix('/') {
            rest.to_string()
        } else if target.starts_with("xl/") {
            target.to_string()
        } else {
            format!("xl/{target}")
        }
    })
    .collect()
}

/// The values of `attributes` of every `local` element of an entry.
fn elements(
    zip: &mut ZipArchive<Cursor<&[u8]>>,
    path: &str,
    local: &[u8],
    attributes: &[&[u8]],
) -> Vec<Vec<Option<Vec<u8>>>> {
    let Some(name) = zip
        .file_names()
        .find(|n| normalise(n) == normalise(path))
        .map(str::to_string)
    else {
        return Vec::new();
    };
    let Ok(entry) = zip.by_name(&name) else {
        return Vec::new();
    };
    let mut xml = xml_reader(entry);
    let mut found = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == local => {
                found.push(attributes.iter().map(|a| attribute(&e, a)).collect());
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    found
}

/// A cell's value as the administrator saw it; `None` for an empty cell.
fn value(data: &DataRef<'_>) -> Option<Value> {
    let text = match data {
        DataRef::Empty => return None,
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) if dt.is_datetime() => return Some(date(dt)),
        DataRef::DateTime(dt) => number(dt.as_f64()),
        DataRef::DateTimeIso(s) => return Some(iso_date(s)),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    };
    Some(Value::Text(text))
}

/// A number as Excel shows it in a General cell: whole numbers without
/// `.0`, others rounded to 15 significant digits (`0.1 + 0.2` is `0.3`).
fn number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    format!("{rounded}")
}

/// A serial date (with its time of day, unless midnight); a number outside
/// Excel's dates stays a number.
fn date(dt: &calamine::ExcelDateTime) -> Value {
    let serial = dt.as_f64();
    if !(0.0..MAX_SERIAL_DATE).contains(&serial) {
        return Value::Text(number(serial));
    }
    let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
    let time = NaiveTime::from_hms_opt(u32::from(h), u32::from(mi), u32::from(s));
    if serial < 1.0 {
        // A time of day only.
        return match time {
            Some(time) => Value::Text(time.format("%H:%M:%S").to_string()),
            None => Value::Text(number(serial)),
        };
    }
    match NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d)) {
        Some(date) => Value::Date(date, time.filter(|t| *t != NaiveTime::MIN)),
        // Excel's 1900-02-29, which never was.
        None => Value::Text(format!("{y:04}-{mo:02}-{d:02}")),
    }
}

/// An ISO 8601 date cell (`t="d"`): a date when it is one.
fn iso_date(s: &str) -> Value {
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Value::Date(date, None);
    }
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        let time = Some(dt.time()).filter(|t| *t != NaiveTime::MIN);
        return Value::Date(dt.date(), time);
    }
    Value::Text(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_and_references() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(cell_reference(7, 2), "C7");
        assert_eq!(parse_cell(b"C7"), Some((6, 2)));
        assert_eq!(parse_cell(b"XFD1048576"), Some((1_048_575, 16_383)));
        assert_eq!(parse_cell(b"7"), None);
        assert_eq!(parse_cell(b"ZZZZZZZZZZZZZZZZZZZZ1"), None);
    }

    #[test]
    fn numbers_as_excel_shows_them() {
        assert_eq!(number(42.0), "42");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(12345678901234567890.0), "12345678901234600000");
    }

    #[test]
    fn sheets_by_name_or_position() {
        let names = vec!["Users".to_string(), "2".to_string(), "Notes".to_string()];
        assert_eq!(choose_sheet(&names, None).ok(), Some(0));
        assert_eq!(choose_sheet(&names, Some("notes")).ok(), Some(2));
        assert_eq!(choose_sheet(&names, Some("2")).ok(), Some(1));
        assert_eq!(choose_sheet(&names, Some("3")).ok(), Some(2));
        assert!(matches!(
            choose_sheet(&names, Some("4")),
            Err(Error::NoSheet { .. })
        ));
    }

    /// Inflated `xml` through a [`Measured`] in 4-byte reads.
    fn measure(xml: &[u8], cap: u64, max_run: Option<u64>) -> std::result::Result<u64, Bad> {
        let mut measured = Measured::new(xml, cap, max_run);
        let mut buffer = [0u8; 4];
        let result = loop {
            match measured.read(&mut buffer) {
                Ok(0) => break Ok(0),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        measured.verdict(result)
    }

    #[test]
    fn runs_without_markup_are_measured_across_chunks() {
        let xml = b"<a>0123456789</a>";
        assert_eq!(measure(xml, 100, Some(10)).ok(), Some(17));
        assert!(matches!(measure(xml, 100, Some(9)), Err(Bad::LongRun)));
        assert!(matches!(measure(xml, 10, None), Err(Bad::Inflates)));
        assert_eq!(measure(xml, 17, None).ok(), Some(17));
    }
}
