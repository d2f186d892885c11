//! The push-style core: raw bytes in (any chunking), records out.
//!
//! [`Parser`] decodes with an encoding_rs streaming decoder into a bounded
//! buffer, runs csv-core over the decoded UTF-8, counts physical lines (LF,
//! CRLF and CR), checks quoting strictly where csv-core is lenient, and
//! enforces the limits. Its memory is bounded by the limits whatever the
//! input: a 64 KiB decoded buffer plus at most one record.

use csv_core::ReadRecordResult;
use encoding_rs::{Decoder, DecoderResult, Encoding};
use userimport_schema::Limits;

use crate::error::{Error, Limit, Result};
use crate::{Record, StrayQuote};

/// Size of the decoded-text buffer.
const DECODED_CAPACITY: usize = 64 * 1024;

/// What [`Parser::read_record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadResult {
    /// All of the input was taken in and no record is complete yet: call
    /// again with more input (or an empty slice at the end of the data).
    InputEmpty,
    /// A record was read into the caller's [`Record`]. Some input may be
    /// left: pass the rest again.
    Record,
    /// The end of the data: there are no more records. Returned only after
    /// an empty input; every later call returns it again.
    End,
}

/// A deferred error: raised once every decoded byte before it is parsed, so
/// that its line is exact.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Undecodable { offset: u64 },
    Bytes,
}

/// The push-style streaming parser (the core under [`crate::Reader`], in the
/// manner of csv-core under csv). Feed it raw bytes in chunks of any size;
/// it never reads on its own and never buffers more than the decoded-text
/// buffer and one record.
///
/// It does not sniff: give it the encoding and delimiter (the
/// [`crate::ReaderBuilder`] detects them). Blank records (no field holds
/// anything but whitespace) are skipped. The row limit is left to the
/// caller, which knows which record is the header.
///
/// ```
/// use userimport_parse::{Parser, ReadResult, Record};
/// use userimport_schema::Limits;
///
/// let mut parser = Parser::new(encoding_rs::UTF_8, b',', Limits::default());
/// let mut input: &[u8] = b"a,b\n\n\"c\nd\",e";
/// let mut record = Record::new();
/// let mut lines = Vec::new();
/// loop {
///     let (result, n) = parser.read_record(input, &mut record)?;
///     input = &input[n..];
///     match result {
///         ReadResult::Record => lines.push(record.line()),
///         ReadResult::InputEmpty => input = b"", // no more data: signal the end
///         ReadResult::End => break,
///     }
/// }
/// assert_eq!(lines, [1, 3]);
/// assert_eq!(record.get(0), Some("c\nd"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Parser {
    encoding: &'static Encoding,
    decoder: Decoder,
    decoder_done: bool,
    csv: csv_core::Reader,
    delimiter: u8,
    limits: Limits,
    /// Decoded UTF-8 text; `dbuf[dpos..dlen]` is not parsed yet.
    dbuf: Vec<u8>,
    dpos: usize,
    dlen: usize,
    /// Strip a U+FEFF at the start of the decoded text.
    at_text_start: bool,
    /// Raw bytes taken in.
    raw_consumed: u64,
    /// The physical line of `dbuf[dpos]` when outside a record.
    line: u64,
    prev_cr: bool,
    /// Physical lines before this one are skipped unparsed.
    skip_before: u64,
    in_record: bool,
    rec_line: u64,
    rec_start: usize,
    /// The raw (decoded) text of the current record from earlier buffers.
    spill: Vec<u8>,
    out: Vec<u8>,
    olen: usize,
    ends: Vec<usize>,
    nend: usize,
    pending: Option<Pending>,
    done: bool,
    /// The encoding was detected (for the error message).
    detected: bool,
    /// csv-core has read a record: from then on it is at the start of a
    /// record between records, and [`Parser::split_plain_line`] may stand
    /// in for it (before, it would still strip a byte-order mark).
    csv_started: bool,
    /// Whole quote-free lines skip csv-core (off only in tests, to compare).
    plain_lines: bool,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser")
            .field("encoding", &self.encoding.name())
            .field("delimiter", &(self.delimiter as char))
            .field("bytes_read", &self.raw_consumed)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Parser {
    /// A parser for text in `encoding` (its own BOM, if present, is removed)
    /// separated by `delimiter`, enforcing `limits` (except `max_rows`, which
    /// is the caller's: it knows which record is the header). A delimiter
    /// outside ASCII may be a byte of a longer character: a record it cuts
    /// apart is an [`Error::InvalidDelimiter`].
    pub fn new(encoding: &'static Encoding, delimiter: u8, limits: Limits) -> Parser {
        let csv = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(b'"')
            .double_quote(true)
            .terminator(csv_core::Terminator::CRLF)
            .build();
        Parser {
            encoding,
            decoder: encoding.new_decoder_with_bom_removal(),
            decoder_done: false,
            csv,
            delimiter,
            limits,
            dbuf: vec![0; DECODED_CAPACITY],
            dpos: 0,
            dlen: 0,
            at_text_start: true,
            raw_consumed: 0,
            line: 1,
            prev_cr: false,
            skip_before: 1,
            in_record: false,
            rec_line: 1,
            rec_start: 0,
            spill: Vec::new(),
            out: vec![0; 1024],
            olen: 0,
            ends: vec![0; 64],
            nend: 0,
            pending: None,
            done: false,
            detected: false,
            csv_started: false,
            // A delimiter outside ASCII leaves every record to csv-core,
            // whose output is checked (see `fill_record`).
            plain_lines: delimiter.is_ascii(),
        }
    }

    /// Skips the physical lines before `line` (1-based) without parsing
    /// them: Excel's `sep=` line, or the title rows above a header row. Call
    /// before the first [`Parser::read_record`].
    pub fn skip_lines_before(&mut self, line: u64) -> &mut Self {
        self.skip_before = line.max(1);
        self
    }

    /// Marks the encoding as detected rather than given, so that an
    /// undecodable byte later in the file says so.
    pub fn set_detected(&mut self, detected: bool) -> &mut Self {
        self.detected = detected;
        self
    }

    /// The encoding being decoded.
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    /// The delimiter.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// Raw bytes taken in so far.
    pub fn bytes_read(&self) -> u64 {
        self.raw_consumed
    }

    /// Reads raw bytes from `input` until a record is complete. Returns what
    /// happened and how many bytes of `input` were taken in; pass the rest
    /// again. An empty `input` means the data has ended. After an error the
    /// parser returns [`ReadResult::End`].
    pub fn read_record(
        &mut self,
        input: &[u8],
        record: &mut Record,
    ) -> Result<(ReadResult, usize)> {
        if self.done {
            return Ok((ReadResult::End, 0));
        }
        let result = self.read_record_inner(input, record);
        if result.is_err() {
            self.done = true;
        }
        result
    }

    fn read_record_inner(
        &mut self,
        input: &[u8],
        record: &mut Record,
    ) -> Result<(ReadResult, usize)> {
        let mut consumed = 0;
        loop {
            if self.parse_decoded(record)? {
                return Ok((ReadResult::Record, consumed));
            }
            // Every decoded byte is parsed.
            if let Some(pending) = self.pending {
                return Err(self.pending_error(pending));
            }
            if self.in_record {
                self.spill
                    .extend_from_slice(&self.dbuf[self.rec_start..self.dlen]);
                self.rec_start = 0;
            }
            self.dpos = 0;
            self.dlen = 0;
            if !input.is_empty() {
                if consumed == input.len() {
                    return Ok((ReadResult::InputEmpty, consumed));
                }
                consumed += self.decode(&input[consumed..], false);
                continue;
            }
            if !self.decoder_done {
                self.decode(&[], true);
                self.decoder_done = true;
                continue;
            }
            if self.in_record && self.finish_at_eof(record)? {
                return Ok((ReadResult::Record, 0));
            }
            self.done = true;
            return Ok((ReadResult::End, 0));
        }
    }

    /// Decodes raw bytes into the empty decoded buffer; returns how many raw
    /// bytes were taken.
    fn decode(&mut self, input: &[u8], last: bool) -> usize {
        let mut input = input;
        let mut over_limit = false;
        if let Some(max) = self.limits.max_bytes {
            let allowed = max.saturating_sub(self.raw_consumed);
            if (input.len() as u64) > allowed {
                input = &input[..allowed as usize];
                over_limit = true;
            }
        }
        let (result, read, written) =
            self.decoder
                .decode_to_utf8_without_replacement(input, &mut self.dbuf, last);
        self.raw_consumed += read as u64;
        self.dlen = written;
        match result {
            DecoderResult::Malformed(bad, extra) => {
                let offset = self
                    .raw_consumed
                    .saturating_sub(u64::from(bad) + u64::from(extra));
                self.pending = Some(Pending::Undecodable { offset });
            }
            DecoderResult::InputEmpty if over_limit => self.pending = Some(Pending::Bytes),
            _ => {}
        }
        if self.at_text_start && written > 0 {
            self.at_text_start = false;
            if self.dbuf[..written].starts_with("\u{FEFF}".as_bytes()) {
                self.dpos = 3;
            }
        }
        read
    }

    /// The line of the end of the decoded text parsed so far.
    fn current_line(&self) -> u64 {
        if self.in_record {
            let mut prev_cr = false;
            self.rec_line
                + count_breaks(&self.spill, &mut prev_cr)
                + count_breaks(&self.dbuf[self.rec_start..self.dlen], &mut prev_cr)
        } else {
            self.line
        }
    }

    fn pending_error(&self, pending: Pending) -> Error {
        let line = self.current_line();
        match pending {
            Pending::Undecodable { offset } => Error::Undecodable {
                encoding: self.encoding.name(),
                line,
                offset,
                detected: self.detected,
            },
            Pending::Bytes => Error::LimitExceeded {
                limit: Limit::Bytes,
                value: self.limits.max_bytes.unwrap_or(0),
                line,
                column: None,
            },
        }
    }

    /// Parses `dbuf[dpos..dlen]` until a (non-blank) record is complete
    /// (true) or the buffer is used up (false).
    fn parse_decoded(&mut self, record: &mut Record) -> Result<bool> {
        loop {
            if self.dpos == self.dlen {
                return Ok(false);
            }
            if !self.in_record {
                if self.line < self.skip_before {
                    self.skip_lines();
                    continue;
                }
                // Skip line ends (blank lines) before a record.
                while self.dpos < self.dlen {
                    match self.dbuf[self.dpos] {
                        b'\n' => {
                            if !self.prev_cr {
                                self.line += 1;
                            }
                            self.prev_cr = false;
                        }
                        b'\r' => {
                            self.line += 1;
                            self.prev_cr = true;
                        }
                        _ => break,
                    }
                    self.dpos += 1;
                }
                if self.dpos == self.dlen {
                    return Ok(false);
                }
                self.in_record = true;
                self.prev_cr = false;
                self.rec_line = self.line;
                self.rec_start = self.dpos;
                self.spill.clear();
                self.olen = 0;
                self.nend = 0;
                if self.csv_started && self.plain_lines {
                    match self.read_plain_line(record)? {
                        Some(true) => return Ok(true),
                        Some(false) => continue,
                        None => {}
                    }
                }
            }
            self.csv_started = true;
            let (result, nin, nout, nend) = self.csv.read_record(
                &self.dbuf[self.dpos..self.dlen],
                &mut self.out[self.olen..],
                &mut self.ends[self.nend..],
            );
            self.dpos += nin;
            self.olen += nout;
            self.nend += nend;
            match result {
                ReadRecordResult::InputEmpty => self.check_partial()?,
                ReadRecordResult::OutputFull => {
                    self.check_partial()?;
                    let len = self.out.len() * 2;
                    self.out.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    self.check_partial()?;
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => {
                    if self.finish_record(record, false)? {
                        return Ok(true);
                    }
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    /// Reads the record starting at `dpos` without csv-core when it is one
    /// whole line in the buffer with no quote: its fields are the text
    /// between delimiters, which is what csv-core gives for such a line,
    /// found eight bytes at a time instead of by a state machine stepped
    /// byte by byte (csv-core took 14 instructions a byte). The line is
    /// copied into the record once, delimiters and all, rather than field
    /// by field. Taken only when csv-core would have read the line in one
    /// call (it fits the output buffers), so limits are checked exactly as
    /// for csv-core's records. `Ok(None)` (nothing consumed) otherwise:
    /// csv-core reads it.
    fn read_plain_line(&mut self, record: &mut Record) -> Result<Option<bool>> {
        let rest = &self.dbuf[self.dpos..self.dlen];
        let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
            return Ok(None);
        };
        let line = &rest[..end];
        if line.len() >= self.out.len() || memchr::memchr(b'"', line).is_some() {
            return Ok(None);
        }
        let Some(nend) = field_ends(line, self.delimiter, &mut self.ends) else {
            return Ok(None);
        };
        // The same checks as for csv-core's records (`finish_record`'s),
        // over the line and its terminator; a line no longer than the field
        // limit, with no more fields than the column limit, keeps both.
        self.nend = nend;
        if nend > self.limits.max_columns || line.len() > self.limits.max_field_bytes {
            self.check_limits(&rest[..=end], false, 1)?;
        }
        let ends = &self.ends[..nend];
        debug_assert!(
            std::str::from_utf8(line).is_ok(),
            "a line cut mid-character"
        );
        // SAFETY: `line` is valid UTF-8: the decoder writes only whole
        // characters into `dbuf`, a record starts after whole ASCII line
        // ends (or the 3-byte U+FEFF), and the line stops before an ASCII
        // line end. Every test runs the debug assertion above.
        let text = unsafe { std::str::from_utf8_unchecked(line) };
        record.set_line_text(self.rec_line, text, ends);
        // The line and its terminator (a CR's LF is skipped as a blank line
        // end before the next record, as after csv-core).
        self.prev_cr = rest[end] == b'\r';
        self.dpos += end + 1;
        self.olen = 0;
        self.nend = 0;
        self.in_record = false;
        self.line = self.rec_line + 1;
        Ok(Some(!record.is_blank()))
    }

    /// Skips raw text until the line `skip_before` starts.
    fn skip_lines(&mut self) {
        while self.dpos < self.dlen && self.line < self.skip_before {
            match self.dbuf[self.dpos] {
                b'\n' => {
                    if !self.prev_cr {
                        self.line += 1;
                    }
                    self.prev_cr = false;
                }
                b'\r' => {
                    self.line += 1;
                    self.prev_cr = true;
                }
                _ => self.prev_cr = false,
            }
            self.dpos += 1;
        }
    }

    /// Ends the last record at the end of the data.
    fn finish_at_eof(&mut self, record: &mut Record) -> Result<bool> {
        loop {
            let (result, _, _, nend) =
                self.csv
                    .read_record(&[], &mut self.out[self.olen..], &mut self.ends[self.nend..]);
            self.nend += nend;
            match result {
                ReadRecordResult::OutputEndsFull => {
                    self.check_partial()?;
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                ReadRecordResult::Record => return self.finish_record(record, true),
                _ => {
                    self.in_record = false;
                    return Ok(false);
                }
            }
        }
    }

    /// Checks the record being read against the limits: the field being
    /// read against the field limit, the fields so far against the column
    /// limit. A broken limit stops the read before the record ends (a
    /// missing closing quote would otherwise read the rest of the file).
    fn check_partial(&self) -> Result<()> {
        let start = if self.nend == 0 {
            0
        } else {
            self.ends[self.nend - 1]
        };
        let rules = self.rules(false);
        let broken = if self.olen - start > self.limits.max_field_bytes {
            rules.too_long_at(None, self.nend + 1)
        } else if self.nend > self.limits.max_columns {
            rules.too_many_columns()
        } else {
            return Ok(());
        };
        let raw = self
            .spill
            .iter()
            .chain(&self.dbuf[self.rec_start..self.dpos])
            .copied();
        Err(first_error(raw, &rules, broken))
    }

    /// Checks the record complete in `ends`, whose text is `raw`, against
    /// the column and field limits; each field starts `gap` bytes after the
    /// previous one ends (0 in `out`; 1 in a quote-free line, across its
    /// delimiter).
    fn check_limits(&self, raw: &[u8], at_eof: bool, gap: usize) -> Result<()> {
        let rules = self.rules(at_eof);
        let mut start = 0;
        for (i, &end) in self.ends[..self.nend].iter().enumerate() {
            let broken = if end - start > self.limits.max_field_bytes {
                rules.too_long_at(None, i + 1)
            } else if i >= self.limits.max_columns {
                rules.too_many_columns()
            } else {
                start = end + gap;
                continue;
            };
            return Err(first_error(raw.iter().copied(), &rules, broken));
        }
        Ok(())
    }

    /// How [`check_record`] reads the record being read.
    fn rules(&self, at_eof: bool) -> RecordRules {
        RecordRules {
            delimiter: self.delimiter,
            start_line: self.rec_line,
            at_eof,
            max_field_bytes: self.limits.max_field_bytes,
            max_columns: self.limits.max_columns,
        }
    }

    /// A record is complete in `out`/`ends`: count its lines, check it,
    /// and fill `record`. Returns false for a blank record (skipped).
    fn finish_record(&mut self, record: &mut Record, at_eof: bool) -> Result<bool> {
        self.in_record = false;
        // The record's raw text in one slice (it spans buffers rarely: at
        // most once per 64 KiB of text).
        let raw: &[u8] = if self.spill.is_empty() {
            &self.dbuf[self.rec_start..self.dpos]
        } else {
            self.spill
                .extend_from_slice(&self.dbuf[self.rec_start..self.dpos]);
            &self.spill
        };
        let mut prev_cr = false;
        self.line = self.rec_line + count_breaks(raw, &mut prev_cr);
        self.prev_cr = prev_cr;
        let mut strays = Vec::new();
        if memchr::memchr(b'"', raw).is_some() && !quotes_are_strict(raw, self.delimiter, at_eof) {
            check_record(raw.iter().copied(), &self.rules(at_eof), &mut strays)?;
        }
        self.check_limits(raw, at_eof, 0)?;
        self.fill_record(record, strays)
    }

    /// Fills `record` with the record in `out`/`ends`, checked. Returns
    /// false for a blank record.
    fn fill_record(&mut self, record: &mut Record, strays: Vec<StrayQuote>) -> Result<bool> {
        let ends = &self.ends[..self.nend];
        record.clear();
        record.set_line(self.rec_line);
        for quote in strays {
            record.push_stray_quote(quote);
        }
        let (data, record_ends) = record.parts_mut();
        let out = &self.out[..self.olen];
        // A delimiter outside ASCII (refused by `ReaderBuilder`, possible
        // here) can be a byte of a longer character: then the text is
        // checked, and a character cut apart is an error.
        if !self.delimiter.is_ascii() && std::str::from_utf8(out).is_err() {
            return Err(Error::InvalidDelimiter(char::from(self.delimiter)));
        }
        debug_assert!(std::str::from_utf8(out).is_ok(), "csv-core broke UTF-8");
        // SAFETY: `out` is valid UTF-8 (checked above for a delimiter
        // outside ASCII). The decoder writes only valid UTF-8
        // (whole characters) into `dbuf`; a record's text is a run of those
        // bytes (the parser only ever skips whole ASCII line ends and the
        // 3-byte U+FEFF); csv-core's output is that run
        // minus some ASCII bytes (quotes, delimiters, line ends), and removing ASCII bytes
        // from valid UTF-8 leaves valid UTF-8. Validating again cost 15% of
        // the throughput. Every test runs the debug assertion above.
        data.push_str(unsafe { std::str::from_utf8_unchecked(out) });
        record_ends.extend_from_slice(ends);
        Ok(!record.is_blank())
    }
}

/// Where the fields of `line` (no quote, no line end) end when it is split
/// at `delimiter`, as csv-core splits it: the delimiters' offsets, then the
/// line's length, written to `ends`; returns how many, or `None` when
/// `ends` is too short (csv-core wants an end to spare). Delimiters are
/// found eight bytes at a time: a word's byte is a delimiter when, XORed
/// with the delimiter, it is zero.
fn field_ends(line: &[u8], delimiter: u8, ends: &mut [usize]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pattern = ONES * u64::from(delimiter);
    let mut nend = 0;
    let mut field_to = |at: usize| -> Option<()> {
        if nend + 1 >= ends.len() {
            return None;
        }
        *ends.get_mut(nend)? = at;
        nend += 1;
        Some(())
    };
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ pattern;
        // The high bit of each zero byte of `x`, exactly: a byte's low
        // seven bits plus 0x7F carry into its high bit unless they are
        // zero, and no sum carries into the next byte.
        let mut found = !(((x & LOW7) + LOW7) | x | LOW7);
        while found != 0 {
            field_to(base + (found.trailing_zeros() / 8) as usize)?;
            found &= found - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == delimiter {
            field_to(base + i)?;
        }
    }
    field_to(line.len())?;
    Some(nend)
}

/// Counts physical line breaks (LF, CRLF, CR) in `bytes`; `prev_cr` carries
/// a CR at the end of the previous slice so a split CRLF counts once.
pub(crate) fn count_breaks(bytes: &[u8], prev_cr: &mut bool) -> u64 {
    let mut breaks = 0;
    let mut last = None;
    for i in memchr::memchr2_iter(b'\r', b'\n', bytes) {
        // A LF right after a CR ends the same line.
        let after_cr = match i.checked_sub(1) {
            Some(j) => last == Some(j) && bytes[j] == b'\r',
            None => *prev_cr,
        };
        if !(bytes[i] == b'\n' && after_cr) {
            breaks += 1;
        }
        last = Some(i);
    }
    if let Some(&b) = bytes.last() {
        *prev_cr = b == b'\r';
    }
    breaks
}

/// The fast check of RFC 4180 quoting over one record's raw text, jumping
/// from quote to quote: a quote opens a field only at its start, a quoted
/// field ends with a quote followed by a delimiter or line end, and (at the
/// end of the file) must be closed. csv-core accepts anything.
fn quotes_are_strict(raw: &[u8], delimiter: u8, at_eof: bool) -> bool {
    let ends_field = |b: u8| b == delimiter || b == b'\r' || b == b'\n';
    let mut quoted = false;
    let mut skip = None;
    for i in memchr::memchr_iter(b'"', raw) {
        if skip == Some(i) {
            continue;
        }
        if !quoted {
            if i > 0 && !ends_field(raw[i - 1]) {
                return false;
            }
            quoted = true;
        } else {
            match raw.get(i + 1) {
                Some(b'"') => skip = Some(i + 1),
                Some(&b) if !ends_field(b) => return false,
                _ => quoted = false,
            }
        }
    }
    !(quoted && at_eof)
}

/// How [`check_record`] reads one record's raw text.
struct RecordRules {
    delimiter: u8,
    /// The line the record starts on.
    start_line: u64,
    /// The text ends the file (a quote still open there is an error).
    at_eof: bool,
    max_field_bytes: usize,
    max_columns: usize,
}

/// The first thing wrong in a record's raw text (`raw`, its start up to
/// where reading stopped), found once a limit is known to be broken:
/// `broken`, or whatever [`check_record`] finds before it. Every chunking
/// of a file reads the same text up to its first fault, so the error is
/// the same however the file arrives (whole, or a byte at a time).
fn first_error(raw: impl Iterator<Item = u8>, rules: &RecordRules, broken: Error) -> Error {
    match check_record(raw, rules, &mut Vec::new()) {
        Err(error) => error,
        Ok(()) => broken,
    }
}

/// Reads one record's raw text byte by byte as csv-core does, and says
/// where the rules of [`quotes_are_strict`] or a limit are first broken. A
/// quote inside an unquoted field is read literally, as Excel reads it: it
/// is noted in `strays` (once per field), not an error. A field past
/// `max_field_bytes` (counted as csv-core gives it: no enclosing quotes,
/// a doubled quote as one) is an error at its first byte too many; if that
/// byte is inside quotes, the closing quote is likely missing
/// ([`Error::QuotedFieldTooLong`]). One field past `max_columns` is an
/// error where it ends.
fn check_record(
    bytes: impl Iterator<Item = u8>,
    rules: &RecordRules,
    strays: &mut Vec<StrayQuote>,
) -> Result<()> {
    #[derive(PartialEq)]
    enum State {
        Start,
        Unquoted,
        Quoted,
        QuoteSeen,
    }
    let mut state = State::Start;
    let mut line = rules.start_line;
    let mut open_line = rules.start_line;
    let mut column = 1;
    let mut field_bytes = 0;
    let mut prev_cr = false;
    // A field ends: one past the column limit is the error.
    let ended = |column: usize| {
        if column > rules.max_columns {
            return Err(rules.too_many_columns());
        }
        Ok(())
    };
    for b in bytes {
        let term = b == b'\r' || b == b'\n';
        // Whether csv-core gives this byte as the field's text.
        let mut text = false;
        match state {
            // Only the record's last byte, in a record.
            State::Start | State::Unquoted | State::QuoteSeen if term => {
                ended(column)?;
                state = State::Start;
            }
            State::Start => {
                if b == b'"' {
                    state = State::Quoted;
                    open_line = line;
                } else if b == rules.delimiter {
                    ended(column)?;
                    column += 1;
                } else {
                    state = State::Unquoted;
                    text = true;
                }
            }
            State::Unquoted => {
                if b == rules.delimiter {
                    ended(column)?;
                    column += 1;
                    field_bytes = 0;
                    state = State::Start;
                } else {
                    if b == b'"' && strays.last().is_none_or(|s| s.field + 1 != column) {
                        strays.push(StrayQuote {
                            line,
                            field: column - 1,
                        });
                    }
                    text = true;
                }
            }
            State::Quoted => {
                if b == b'"' {
                    state = State::QuoteSeen;
                } else {
                    text = true;
                }
            }
            State::QuoteSeen => {
                if b == b'"' {
                    state = State::Quoted;
                    text = true;
                } else if b == rules.delimiter {
                    ended(column)?;
                    column += 1;
                    field_bytes = 0;
                    state = State::Start;
                } else {
                    return Err(Error::TextAfterQuote { line, column });
                }
            }
        }
        if text {
            field_bytes += 1;
            if field_bytes > rules.max_field_bytes {
                let quoted = (state == State::Quoted).then_some(open_line);
                return Err(rules.too_long_at(quoted, column));
            }
        }
        if b == b'\n' {
            if !prev_cr {
                line += 1;
            }
            prev_cr = false;
        } else if b == b'\r' {
            line += 1;
            prev_cr = true;
        } else {
            prev_cr = false;
        }
    }
    if rules.at_eof {
        if state == State::Quoted {
            return Err(Error::UnterminatedQuote {
                line: open_line,
                column,
            });
        }
        ended(column)?;
    }
    Ok(())
}

impl RecordRules {
    /// A field past `max_field_bytes`: `quoted_from` is the line its open
    /// quote is on when its byte too many is inside quotes (the closing
    /// quote is then likely missing).
    fn too_long_at(&self, quoted_from: Option<u64>, column: usize) -> Error {
        match quoted_from {
            Some(line) => Error::QuotedFieldTooLong {
                value: self.max_field_bytes as u64,
                line,
                column,
            },
            None => Error::LimitExceeded {
                limit: Limit::FieldBytes,
                value: self.max_field_bytes as u64,
                line: self.start_line,
                column: Some(column),
            },
        }
    }

    /// A record with a field past `max_columns`.
    fn too_many_columns(&self) -> Error {
        Error::LimitExceeded {
            limit: Limit::Columns,
            value: self.max_columns as u64,
            line: self.start_line,
            column: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a parser gives for `input` fed `piece` bytes at a time: each
    /// record's line, fields and stray quotes, then the error, if any.
    type Parsed = (Vec<(u64, Vec<String>, Vec<StrayQuote>)>, Option<String>);

    fn parse_in_pieces(input: &[u8], piece: usize, limits: Limits, plain_lines: bool) -> Parsed {
        let mut parser = Parser::new(encoding_rs::UTF_8, b',', limits);
        parser.plain_lines = plain_lines;
        let mut record = Record::new();
        let mut records = Vec::new();
        let mut rest = input;
        loop {
            let take = rest.len().min(piece);
            match parser.read_record(&rest[..take], &mut record) {
                Err(e) => return (records, Some(e.to_string())),
                Ok((ReadResult::End, _)) => return (records, None),
                Ok((result, n)) => {
                    rest = &rest[n..];
                    if result == ReadResult::Record {
                        let fields = record.iter().map(String::from).collect();
                        records.push((record.line(), fields, record.stray_quotes().to_vec()));
                    }
                }
            }
        }
    }

    proptest! {
        /// Quote-free whole lines read by `split_fields` give what csv-core
        /// gives for them, whether the text comes at once or in pieces of
        /// 7 bytes (lines cut across pieces): the same records, lines,
        /// stray quotes and errors, under tight limits too.
        #[test]
        fn plain_lines_read_as_csv_core_reads_them(
            text in "([a,\"\r\n é;]{0,12}\n){0,12}[a,\"\r\n é]{0,12}",
            many_fields in 0usize..80,
            tight in any::<bool>(),
        ) {
            let mut input = text.into_bytes();
            input.extend(std::iter::repeat_n(b',', many_fields));
            input.extend_from_slice(b"\nz,z\n");
            let mut limits = Limits::default();
            if tight {
                limits.max_columns = 6;
                limits.max_field_bytes = 5;
            }
            for piece in [usize::MAX, 7] {
                prop_assert_eq!(
                    parse_in_pieces(&input, piece, limits, true),
                    parse_in_pieces(&input, piece, limits, false)
                );
            }
        }
    }

    /// A delimiter byte that is part of a longer character never yields
    /// text cut mid-character: fields that keep whole characters read, a
    /// record cut apart is an error; the reader refuses such a delimiter.
    #[test]
    fn a_delimiter_outside_ascii_never_cuts_characters() {
        // 0xA9 is the second byte of "é" (C3 A9) and of "©" (C2 A9).
        let (records, error) = {
            let mut parser = Parser::new(encoding_rs::UTF_8, 0xA9, Limits::default());
            let mut record = Record::new();
            let mut out = Vec::new();
            let mut input: &[u8] = "ab\n\"x\u{e9}\"\nx\u{e9}\n".as_bytes();
            let error = loop {
                match parser.read_record(input, &mut record) {
                    Err(e) => break Some(e),
                    Ok((ReadResult::End, _)) => break None,
                    Ok((result, n)) => {
                        input = &input[n..];
                        if result == ReadResult::Record {
                            out.push(record.iter().map(String::from).collect::<Vec<_>>());
                        } else if n == 0 {
                            input = b"";
                        }
                    }
                }
            };
            (out, error)
        };
        assert_eq!(records, [vec!["ab"], vec!["x\u{e9}"]]);
        assert!(
            matches!(error, Some(Error::InvalidDelimiter(_))),
            "{error:?}"
        );
        let refused = crate::ReaderBuilder::new()
            .delimiter(Some(0xA9))
            .build(&b"a,b\n"[..]);
        assert!(matches!(refused, Err(Error::InvalidDelimiter(_))));
    }

    #[test]
    fn breaks_count_crlf_once_even_when_split() {
        let mut prev = false;
        assert_eq!(count_breaks(b"a\r\nb\nc\rd", &mut prev), 3);
        assert!(!prev);
        assert_eq!(count_breaks(b"a\r", &mut prev), 1);
        assert!(prev);
        assert_eq!(count_breaks(b"\nb", &mut prev), 0);
        assert_eq!(count_breaks(b"", &mut prev), 0);
        let mut prev = true;
        assert_eq!(count_breaks(b"\n\n\r\r\n", &mut prev), 3);
    }

    /// The fast quote check and the one that says where agree on every
    /// short text.
    #[test]
    fn both_quote_checks_agree() {
        let alphabet = [b'a', b',', b'"', b'\n'];
        for len in 0..=7u32 {
            for mut n in 0..4usize.pow(len) {
                let mut raw = Vec::new();
                for _ in 0..len {
                    raw.push(alphabet[n % 4]);
                    n /= 4;
                }
                for at_eof in [false, true] {
                    let mut strays = Vec::new();
                    let rules = RecordRules {
                        delimiter: b',',
                        start_line: 1,
                        at_eof,
                        max_field_bytes: usize::MAX,
                        max_columns: usize::MAX,
                    };
                    let ok = check_record(raw.iter().copied(), &rules, &mut strays);
                    assert_eq!(
                        quotes_are_strict(&raw, b',', at_eof),
                        ok.is_ok() && strays.is_empty(),
                        "{:?} at_eof={at_eof}",
                        String::from_utf8_lossy(&raw)
                    );
                }
            }
        }
    }
}
