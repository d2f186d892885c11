//! The convenient layer: a builder that sniffs charset and dialect, and a
//! reader over any `std::io::Read`.

use std::io::Read;

use encoding_rs::Encoding;
use userimport_schema::Limits;

use crate::Record;
use crate::charset::{self, Charset, Detection};
use crate::core::{Parser, ReadResult};
use crate::error::{Error, Limit, Result};
use crate::xlsx::{FormulaCell, SheetReader, WorkbookInfo, WorkbookOptions};

/// How much of the input is read up front to detect charset and dialect.
pub(crate) const SNIFF_BYTES: usize = 64 * 1024;
/// In auto mode, an all-ASCII prefix is extended up to this size.
const SNIFF_ASCII_BYTES: usize = 1024 * 1024;
/// Size of the raw read buffer after sniffing.
const READ_BUFFER: usize = 64 * 1024;
/// At most this many records are looked at to guess the delimiter.
const SNIFF_RECORDS: usize = 50;

/// Configures and builds a [`Reader`]: charset, delimiter, header row,
/// limits and allowed charsets.
#[derive(Debug, Clone)]
pub struct ReaderBuilder {
    charset: Charset,
    delimiter: Option<u8>,
    header_row: Option<u64>,
    limits: Limits,
    allowed_charsets: Vec<String>,
    workbook: WorkbookOptions,
}

impl Default for ReaderBuilder {
    fn default() -> Self {
        ReaderBuilder::new()
    }
}

impl ReaderBuilder {
    /// Auto-detected charset and delimiter, the header on the first
    /// non-blank line, default limits, any charset allowed.
    pub fn new() -> ReaderBuilder {
        ReaderBuilder {
            charset: Charset::Auto,
            delimiter: None,
            header_row: None,
            limits: Limits::default(),
            allowed_charsets: Vec::new(),
            workbook: WorkbookOptions::default(),
        }
    }

    /// The charset (default [`Charset::Auto`]).
    pub fn charset(&mut self, charset: Charset) -> &mut Self {
        self.charset = charset;
        self
    }

    /// The delimiter; `None` (the default) detects `,`, `;` or tab from the
    /// first records. An Excel `sep=X` first line is honoured either way (an
    /// explicit delimiter wins) and skipped.
    pub fn delimiter(&mut self, delimiter: Option<u8>) -> &mut Self {
        self.delimiter = delimiter;
        self
    }

    /// The 1-based physical line of the header; the lines above it are
    /// skipped unparsed. `None` (the default): the first non-blank record.
    /// A blank line there moves the header to the next non-blank record.
    pub fn header_row(&mut self, line: Option<u64>) -> &mut Self {
        self.header_row = line;
        self
    }

    /// The streaming limits (usually the profile's).
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The encodings the file may be in (encoding_rs names or labels,
    /// case-insensitive); empty (the default) allows any.
    pub fn allowed_charsets(&mut self, charsets: Vec<String>) -> &mut Self {
        self.allowed_charsets = charsets;
        self
    }

    /// How a workbook is read (sheet, date format, zip limits). Workbooks
    /// are recognised by their first bytes, whatever the file's name.
    pub fn workbook(&mut self, options: WorkbookOptions) -> &mut Self {
        self.workbook = options;
        self
    }

    /// Reads 64 KiB of `rdr` (in auto mode, 64 KiB from the first non-ASCII
    /// byte, within the first 1 MiB) to settle the charset and the
    /// delimiter, then reads the header record. Fails on a file-level problem: a
    /// charset that is not allowed, a binary file, a bad header row, or any
    /// reading error.
    pub fn build<R: Read>(&self, mut rdr: R) -> Result<Reader<R>> {
        if let Some(d) = self.delimiter
            && (matches!(d, b'"' | b'\r' | b'\n') || !d.is_ascii())
        {
            return Err(Error::InvalidDelimiter(d as char));
        }
        // The prefix: 64 KiB; in auto mode, 64 KiB from the first non-ASCII
        // byte (all-ASCII text says nothing about the charset), at most
        // 1 MiB plus 64 KiB.
        let mut buf = vec![0u8; SNIFF_BYTES.max(READ_BUFFER)];
        let mut len = 0;
        let mut eof = false;
        let mut first_non_ascii: Option<usize> = None;
        loop {
            let goal = match (self.charset, first_non_ascii) {
                (Charset::Auto, None) => SNIFF_ASCII_BYTES,
                (Charset::Auto, Some(p)) => (p + SNIFF_BYTES).min(SNIFF_ASCII_BYTES + SNIFF_BYTES),
                _ => SNIFF_BYTES,
            };
            if len >= goal {
                break;
            }
            if len == buf.len() {
                buf.resize((2 * len).min(goal), 0);
            }
            let end = goal.min(buf.len());
            match rdr.read(&mut buf[len..end]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    if first_non_ascii.is_none() {
                        first_non_ascii = buf[len..len + n]
                            .iter()
                            .position(|b| !b.is_ascii())
                            .map(|p| len + p);
                    }
                    len += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        let prefix = &buf[..len];
        if crate::xlsx::is_workbook(prefix) {
            let sheet = SheetReader::open(
                prefix,
                &mut rdr,
                &self.workbook,
                self.limits,
                self.header_row,
            )?;
            return Reader::from_workbook(rdr, sheet, self.limits);
        }
        let detection = match self.charset.encoding() {
            Some(_) => None,
            None => Some(charset::detect(prefix, eof)),
        };
        let encoding = match (self.charset.encoding(), detection) {
            (Some(encoding), _) => encoding,
            (None, Some(detection)) => detection.encoding,
            // Not reached: auto mode always detects.
            (None, None) => encoding_rs::UTF_8,
        };
        if !charset::is_allowed(encoding, &self.allowed_charsets) {
            return Err(Error::EncodingNotAllowed {
                found: encoding.name(),
                allowed: self.allowed_charsets.clone(),
            });
        }
        let (text, _) = encoding.decode_with_bom_removal(prefix);
        check_text(encoding, prefix, &text)?;
        let mut start_line = 1;
        let mut delimiter = self.delimiter;
        if let Some(sep) = sep_line(&text) {
            start_line = 2;
            delimiter = delimiter.or(Some(sep));
        }
        if let Some(row) = self.header_row {
            start_line = start_line.max(row);
        }
        let delimiter = match delimiter {
            Some(d) => d,
            None => sniff_delimiter(skip_lines(&text, start_line - 1), eof),
        };
        let mut parser = Parser::new(encoding, delimiter, self.limits);
        parser
            .skip_lines_before(start_line)
            .set_detected(self.charset == Charset::Auto);
        let mut reader = Reader {
            rdr,
            parser,
            buf,
            pos: 0,
            len,
            eof,
            header: Record::new(),
            detection,
            records: 0,
            max_rows: self.limits.max_rows,
            done: false,
            workbook: None,
        };
        let mut header = Record::new();
        if !reader.next_record(&mut header)? {
            return Err(Error::NoHeader {
                from_line: self.header_row,
            });
        }
        reader.header = header;
        Ok(reader)
    }
}

/// Refuses binary input: NUL characters or many control characters.
fn check_text(encoding: &'static Encoding, prefix: &[u8], text: &str) -> Result<()> {
    let mut controls = 0usize;
    let mut first = None;
    let mut chars = 0usize;
    let mut nul = false;
    for (i, ch) in text.char_indices() {
        chars += 1;
        let control = ch == '\0'
            || (ch < ' ' && !matches!(ch, '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
            || ch == '\u{7f}';
        if control {
            controls += 1;
            first.get_or_insert(i);
            if ch == '\0' {
                nul = true;
                break;
            }
        }
    }
    if nul || (controls > 8 && controls.saturating_mul(20) > chars) {
        let index = first.unwrap_or(0);
        // Map the position in the decoded text back to the raw input.
        let offset = if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
            let bom = usize::from(Encoding::for_bom(prefix).is_some()) * 2;
            bom + text[..index].encode_utf16().count() * 2
        } else {
            prefix
                .iter()
                .position(|&b| {
                    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) || b == 0x7f
                })
                .unwrap_or(0)
        };
        return Err(Error::Binary {
            offset: offset as u64,
        });
    }
    Ok(())
}

/// Excel's `sep=X` first line: the delimiter it names.
fn sep_line(text: &str) -> Option<u8> {
    let first = text.split(['\r', '\n']).next()?;
    let first = first.trim_matches(|c| c == ' ' || c == '"');
    let rest = first
        .strip_prefix("sep=")
        .or_else(|| first.strip_prefix("SEP="))?;
    match rest.as_bytes() {
        [d] if !matches!(d, b'"' | b'\r' | b'\n') && d.is_ascii() => Some(*d),
        _ if rest.eq_ignore_ascii_case("\\t") => Some(b'\t'),
        _ => None,
    }
}

/// `text` from the start of its `n`+1-th physical line.
fn skip_lines(text: &str, n: u64) -> &str {
    let bytes = text.as_bytes();
    let mut left = n;
    let mut i = 0;
    while left > 0 && i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                left -= 1;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => left -= 1,
            _ => {}
        }
        i += 1;
    }
    text.get(i..).unwrap_or("")
}

/// Guesses the delimiter among `,` `;` and tab: the one that appears the
/// same number of times (outside quotes) in most of the first records,
/// then the one less often followed by a space (`Tokyo, Japan` in a
/// tab-separated file), then the one that appears most, then in that order. No candidate at all
/// means one column: `,`.
fn sniff_delimiter(text: &str, whole: bool) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts: Vec<[usize; 3]> = Vec::new();
    let mut current = [0usize; 3];
    let mut spaced = [0usize; 3];
    let mut in_quotes = false;
    let mut nonblank = false;
    let bytes = text.as_bytes();
    let mut complete = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' {
            in_quotes = !in_quotes;
            nonblank = true;
        } else if !in_quotes && (b == b'\n' || b == b'\r') {
            if nonblank {
                counts.push(current);
                if counts.len() == SNIFF_RECORDS {
                    complete = true;
                    break;
                }
            }
            current = [0; 3];
            nonblank = false;
        } else if !in_quotes {
            if let Some(k) = CANDIDATES.iter().position(|&c| c == b) {
                current[k] += 1;
                spaced[k] += usize::from(bytes.get(i + 1) == Some(&b' '));
            }
            nonblank |= !b.is_ascii_whitespace();
        }
    }
    // The last line counts only if it is known to be complete.
    if !complete && nonblank && (whole || counts.is_empty()) {
        counts.push(current);
    }
    let mut best = (0usize, std::cmp::Reverse(usize::MAX), 0usize, 0usize);
    let mut best_k = None;
    for k in 0..3 {
        // The most common non-zero count.
        let mut values: Vec<usize> = counts.iter().map(|c| c[k]).filter(|&n| n > 0).collect();
        values.sort_unstable();
        let mut mode = 0;
        let mut mode_freq = 0;
        let mut i = 0;
        while i < values.len() {
            let j = values[i..].iter().take_while(|&&v| v == values[i]).count();
            if j > mode_freq || (j == mode_freq && values[i] > mode) {
                mode = values[i];
                mode_freq = j;
            }
            i += j;
        }
        if mode == 0 {
            continue;
        }
        let score = (mode_freq, std::cmp::Reverse(spaced[k]), mode, 3 - k);
        if score > best {
            best = score;
            best_k = Some(k);
        }
    }
    best_k.map_or(b',', |k| CANDIDATES[k])
}

/// Reads records from a CSV file: decoded, with physical line numbers, and
/// checked against the limits. Built by [`ReaderBuilder::build`], which has
/// already read the header ([`Reader::header`]).
///
/// [`Reader::read_record`] reuses one [`Record`]; the [`Iterator`]
/// implementation allocates one per record. Either ends for good after the
/// first error.
#[derive(Debug)]
pub struct Reader<R> {
    rdr: R,
    parser: Parser,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    header: Record,
    detection: Option<Detection>,
    records: u64,
    max_rows: Option<u64>,
    done: bool,
    workbook: Option<Box<SheetReader>>,
}

impl<R: Read> Reader<R> {
    /// A reader over a workbook's sheet, its header read.
    fn from_workbook(rdr: R, sheet: SheetReader, limits: Limits) -> Result<Reader<R>> {
        let mut reader = Reader {
            rdr,
            parser: Parser::new(encoding_rs::UTF_8, b',', limits),
            buf: Vec::new(),
            pos: 0,
            len: 0,
            eof: true,
            header: Record::new(),
            records: 0,
            max_rows: limits.max_rows,
            done: false,
            workbook: Some(Box::new(sheet)),
            detection: None,
        };
        let mut header = Record::new();
        if !reader.next_record(&mut header)? {
            return Err(Error::NoHeader { from_line: None });
        }
        reader.header = header;
        Ok(reader)
    }

    /// The workbook's format and sheet, when the input is a workbook (its
    /// [`encoding`](Reader::encoding) is then UTF-8 and its delimiter `,`).
    pub fn workbook(&self) -> Option<&WorkbookInfo> {
        self.workbook.as_deref().map(SheetReader::info)
    }

    /// A workbook's formula cells (the first 10,000, in sheet order);
    /// empty for CSV.
    pub fn formula_cells(&self) -> &[FormulaCell] {
        self.workbook.as_deref().map_or(&[], SheetReader::formulas)
    }

    /// The chrono date format for a workbook's date cells in each column (by
    /// 0-based index; `None` keeps the [`WorkbookOptions`] format). Takes
    /// effect for the records read after it; CSV files ignore it.
    pub fn set_date_formats(&mut self, formats: Vec<Option<String>>) {
        if let Some(sheet) = self.workbook.as_deref_mut() {
            sheet.set_date_formats(formats);
        }
    }

    /// The encoding the file is decoded with (given or detected);
    /// `encoding().name()` is the encoding_rs name (`Shift_JIS`).
    pub fn encoding(&self) -> &'static Encoding {
        self.parser.encoding()
    }

    /// How the encoding was detected (`None` when it was given): the
    /// runner-up and whether the guess is confident. A caller shows an
    /// unconfident guess to the user, naming both encodings.
    pub fn detection(&self) -> Option<&Detection> {
        self.detection.as_ref()
    }

    /// The delimiter (given, from `sep=`, or detected).
    pub fn delimiter(&self) -> u8 {
        self.parser.delimiter()
    }

    /// The header record, with its physical line.
    pub fn header(&self) -> &Record {
        &self.header
    }

    /// Raw bytes decoded so far (the input may have been read further ahead).
    pub fn bytes_read(&self) -> u64 {
        self.parser.bytes_read()
    }

    /// Data records read so far (the header not counted).
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Reads the next data record into `record`: true if there was one,
    /// false at the end (and after an error). Blank records are skipped.
    pub fn read_record(&mut self, record: &mut Record) -> Result<bool> {
        if !self.next_record(record)? {
            return Ok(false);
        }
        self.records += 1;
        if let Some(max) = self.max_rows
            && self.records > max
        {
            self.done = true;
            return Err(Error::LimitExceeded {
                limit: Limit::Rows,
                value: max,
                line: record.line(),
                column: None,
            });
        }
        Ok(true)
    }

    fn next_record(&mut self, record: &mut Record) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let result = self.next_record_inner(record);
        if !matches!(result, Ok(true)) {
            self.done = true;
        }
        result
    }

    fn next_record_inner(&mut self, record: &mut Record) -> Result<bool> {
        if let Some(sheet) = self.workbook.as_deref_mut() {
            return sheet.next_record(record);
        }
        loop {
            if self.pos == self.len && !self.eof {
                self.fill()?;
            }
            let input = &self.buf[self.pos..self.len];
            let (result, n) = self.parser.read_record(input, record)?;
            self.pos += n;
            match result {
                ReadResult::Record => return Ok(true),
                ReadResult::End => return Ok(false),
                ReadResult::InputEmpty => {}
            }
        }
    }

    fn fill(&mut self) -> Result<()> {
        self.pos = 0;
        self.len = 0;
        loop {
            match self.rdr.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.len = n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = Record::new();
        match self.read_record(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n", true), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1,5;2;3\n", true), b';');
        assert_eq!(sniff_delimiter("a\tb\n\"x,y\"\tz\n", true), b'\t');
        assert_eq!(sniff_delimiter("name\nbob\n", true), b',');
        assert_eq!(sniff_delimiter("", true), b',');
    }

    #[test]
    fn sep_lines() {
        assert_eq!(sep_line("sep=;\r\na;b"), Some(b';'));
        assert_eq!(sep_line("\"sep=,\"\na"), Some(b','));
        assert_eq!(sep_line("sep=\t\n"), Some(b'\t'));
        assert_eq!(sep_line("separator,x\n"), None);
    }
}
