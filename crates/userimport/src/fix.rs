//! Fix in place: one cell of an uploaded file changed, the rest of the file
//! kept as the administrator wrote it, so that it can be checked again and
//! downloaded.
//!
//! [`edit_cell`] reads the file as the importer does (its charset and
//! delimiter, given or detected) and writes it again in the same charset,
//! with the same delimiter, byte-order mark and line ending, every cell
//! quoted where it must be (delimiters, quotes, line breaks) and nothing
//! else changed but the one cell. Lines before the header (and a `sep=`
//! line) are left out, so the header is on the first line: check the
//! corrected file with the charset and delimiter [`Fixed`] names and no
//! header row. A workbook is written as UTF-8 CSV.
//!
//! ```
//! use userimport::fix::{CellEdit, edit_cell};
//! use userimport::{Importer, schema::Profile};
//!
//! let file = "Login ID;Name;Email address\r\ntanaka;田中 花子;hanako@@example.com\r\n";
//! let importer = Importer::builder(&Profile::standard()).build();
//! let edit = CellEdit::new(2, "email", "hanako@example.com");
//! let (fixed, how) = edit_cell(&importer, file.as_bytes(), &edit, Vec::new())?;
//! assert_eq!(
//!     String::from_utf8(fixed)?,
//!     "Login ID;Name;Email address\r\ntanaka;田中 花子;hanako@example.com\r\n"
//! );
//! assert_eq!((how.charset, how.delimiter), ("UTF-8", b';'));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use userimport_parse::{ColumnMapping, Reader, Record};
use userimport_schema::FieldKind;

use crate::{Error, Importer, OutputCharset};

/// One cell to change: the record on physical `line` (as issues give it),
/// under `column` (a profile column key such as `email`, or the file's
/// header text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellEdit {
    /// The record's physical line (1-based, as in the check's issues).
    pub line: u64,
    /// The profile column key, or the header as the file writes it.
    pub column: String,
    /// The new value.
    pub value: String,
}

impl CellEdit {
    /// The edit of `column` on `line` to `value`.
    pub fn new(line: u64, column: &str, value: &str) -> Self {
        CellEdit {
            line,
            column: column.to_string(),
            value: value.to_string(),
        }
    }
}

/// How the corrected file is written: check it again with these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    /// The charset (the encoding_rs name: `Shift_JIS`, `UTF-8` …), which
    /// [`crate::ImportSettings::charset`] accepts.
    pub charset: &'static str,
    /// The delimiter.
    pub delimiter: u8,
    /// Data records written.
    pub rows: u64,
}

/// Writes `input` (read with `importer`'s settings) to `out` with `edit`
/// applied, in the file's own charset, delimiter, byte-order mark and line
/// ending. Refused with [`Error::Edit`], nothing useful written, when the
/// file has no record on that line or no such column, or when the value
/// cannot be written in the file's charset.
pub fn edit_cell<R: Read, W: Write>(
    importer: &Importer,
    input: R,
    edit: &CellEdit,
    mut out: W,
) -> Result<(W, Fixed), Error> {
    let head = Arc::new(Mutex::new(Vec::new()));
    let mut reader = importer.reader(Head {
        inner: input,
        head: head.clone(),
    })?;
    let index = column_of(importer, &reader, &edit.column)?;
    let style = Style::of(&reader, &head.lock().map(|h| h.clone()).unwrap_or_default());
    check_encodable(&style, edit)?;
    out.write_all(style.bom)?;
    let mut line = LineWriter::new(&style);
    let header: Vec<String> = reader.header().iter().map(str::to_string).collect();
    line.write(&header, &mut out)?;
    let mut record = Record::new();
    let mut rows = 0;
    let mut found = false;
    while reader.read_record(&mut record)? {
        let mut cells: Vec<String> = record.iter().map(str::to_string).collect();
        if record.line() == edit.line {
            found = true;
            if cells.len() <= index {
                cells.resize(index + 1, String::new());
            }
            cells[index].clone_from(&edit.value);
        }
        line.write(&cells, &mut out)?;
        rows += 1;
    }
    if !found {
        return Err(Error::Edit(format!(
            "line {}: the file has no record on this line",
            edit.line
        )));
    }
    out.flush()?;
    Ok((
        out,
        Fixed {
            charset: style.encoding.name(),
            delimiter: style.delimiter,
            rows,
        },
    ))
}

/// Writes `input` (read with `importer`'s settings) to `out` as a download:
/// UTF-8 with a byte-order mark, header first, formula-safe, and every
/// plaintext password cell left blank.
pub fn masked_copy<R: Read, W: Write>(importer: &Importer, input: R, out: W) -> Result<W, Error> {
    let profile = importer.profile();
    let mut reader = importer.reader(input)?;
    let header = reader.header().clone();
    let mapping = ColumnMapping::new(profile, &header, &importer.options().maps, false)?;
    let masked: Vec<usize> = profile
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.kind, FieldKind::Password { .. }))
        .filter_map(|(i, _)| mapping.index(i))
        .collect();
    let mut writer = crate::CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row(header.iter())?;
    let mut record = Record::new();
    while reader.read_record(&mut record)? {
        let mut cells: Vec<&str> = record.iter().collect();
        for &i in &masked {
            if let Some(cell) = cells.get_mut(i) {
                *cell = "";
            }
        }
        writer.write_row(cells)?;
    }
    Ok(writer.finish()?)
}

/// The 0-based index in the file of `column`: a profile key through the
/// importer's mapping, or a header as written.
fn column_of<R: Read>(
    importer: &Importer,
    reader: &Reader<R>,
    column: &str,
) -> Result<usize, Error> {
    let profile = importer.profile();
    let header = reader.header();
    let mapping = ColumnMapping::new(profile, header, &importer.options().maps, false)?;
    profile
        .column_index(column)
        .and_then(|c| mapping.index(c))
        .or_else(|| header.iter().position(|h| h.trim() == column.trim()))
        .ok_or_else(|| Error::Edit(format!("the file has no column {column:?}")))
}

/// Refuses a value the file's charset cannot hold, naming the character.
fn check_encodable(style: &Style, edit: &CellEdit) -> Result<(), Error> {
    if style.is_unicode() {
        return Ok(());
    }
    let unencodable = edit.value.chars().find(|c| {
        let mut buf = [0u8; 4];
        style.encoding.encode(c.encode_utf8(&mut buf)).2
    });
    match unencodable {
        None => Ok(()),
        Some(c) => Err(Error::Edit(format!(
            "line {}, column {:?}: {:?} cannot be written in {}: the character {c:?} (U+{:04X}) has no code there",
            edit.line,
            edit.column,
            edit.value,
            style.encoding.name(),
            u32::from(c)
        ))),
    }
}

/// How the file was written: charset, byte-order mark, delimiter, line end.
struct Style {
    encoding: &'static Encoding,
    bom: &'static [u8],
    delimiter: u8,
    crlf: bool,
}

impl Style {
    fn of<R: Read>(reader: &Reader<R>, head: &[u8]) -> Style {
        if reader.workbook().is_some() {
            return Style {
                encoding: UTF_8,
                bom: b"\xEF\xBB\xBF",
                delimiter: b',',
                crlf: true,
            };
        }
        let encoding = reader.encoding();
        let bom: &'static [u8] = match encoding {
            e if e == UTF_8 && head.starts_with(b"\xEF\xBB\xBF") => b"\xEF\xBB\xBF",
            e if e == UTF_16LE && head.starts_with(b"\xFF\xFE") => b"\xFF\xFE",
            e if e == UTF_16BE && head.starts_with(b"\xFE\xFF") => b"\xFE\xFF",
            _ => b"",
        };
        let (cr, lf): (&[u8], &[u8]) = match encoding {
            e if e == UTF_16LE => (b"\r\0\n\0", b"\n\0"),
            e if e == UTF_16BE => (b"\0\r\0\n", b"\0\n"),
            _ => (b"\r\n", b"\n"),
        };
        let first_lf = find(head, lf);
        let crlf = first_lf.is_none_or(|at| find(&head[..at + lf.len()], cr).is_some());
        Style {
            encoding,
            bom,
            delimiter: reader.delimiter(),
            crlf,
        }
    }

    fn is_unicode(&self) -> bool {
        [UTF_8, UTF_16LE, UTF_16BE].contains(&self.encoding)
    }

    /// `text` in the file's charset (every character checked encodable:
    /// the edit was, the rest came from this charset).
    fn encode(&self, text: &str, out: &mut Vec<u8>) {
        match self.encoding {
            e if e == UTF_16LE => out.extend(text.encode_utf16().flat_map(u16::to_le_bytes)),
            e if e == UTF_16BE => out.extend(text.encode_utf16().flat_map(u16::to_be_bytes)),
            e => out.extend_from_slice(&e.encode(text).0),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes records as CSV lines in a [`Style`], quoting only where needed.
struct LineWriter<'s> {
    style: &'s Style,
    csv: csv::Writer<Buffer>,
    line: Buffer,
    encoded: Vec<u8>,
}

/// The csv writer's output, taken line by line to be encoded.
#[derive(Clone, Default)]
struct Buffer(Rc<RefCell<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'s> LineWriter<'s> {
    fn new(style: &'s Style) -> Self {
        let line = Buffer::default();
        let csv = csv::WriterBuilder::new()
            .delimiter(style.delimiter)
            .terminator(if style.crlf {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            })
            .quote_style(csv::QuoteStyle::Necessary)
            .flexible(true)
            .from_writer(line.clone());
        LineWriter {
            style,
            csv,
            line,
            encoded: Vec::new(),
        }
    }

    fn write<W: Write>(&mut self, cells: &[String], out: &mut W) -> Result<(), Error> {
        let written = self.csv.write_record(cells).and_then(|()| {
            self.csv.flush()?;
            Ok(())
        });
        written.map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let line = std::mem::take(&mut *self.line.0.borrow_mut());
        // UTF-8 cells and ASCII separators: nothing is lost.
        let text = String::from_utf8_lossy(&line);
        self.encoded.clear();
        self.style.encode(&text, &mut self.encoded);
        out.write_all(&self.encoded)?;
        Ok(())
    }
}

/// A reader that keeps the first bytes read (the byte-order mark and the
/// first line's ending tell how to write the file back).
struct Head<R> {
    inner: R,
    head: Arc<Mutex<Vec<u8>>>,
}

/// The bytes kept: enough for a long header line.
const HEAD_BYTES: usize = 64 * 1024;

impl<R: Read> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut head) = self.head.lock()
            && head.len() < HEAD_BYTES
        {
            let take = n.min(HEAD_BYTES - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Profile;
    use crate::{ImportOptions, Importer};

    fn importer() -> Importer {
        Importer::builder(&Profile::standard()).build()
    }

    fn edit(file: &[u8], line: u64, column: &str, value: &str) -> (Vec<u8>, Fixed) {
        edit_cell(
            &importer(),
            file,
            &CellEdit::new(line, column, value),
            Vec::new(),
        )
        .unwrap()
    }

    /// The records of `file` as the importer reads them.
    fn records(importer: &Importer, file: &[u8]) -> Vec<Vec<String>> {
        let mut reader = importer.reader(file).unwrap();
        let mut all = vec![reader.header().iter().map(str::to_string).collect()];
        let mut record = Record::new();
        while reader.read_record(&mut record).unwrap() {
            all.push(record.iter().map(str::to_string).collect());
        }
        all
    }

    const FILE: &str = "Login ID,Name,Email address\n\
                        tanaka,Tanaka,tanaka@example\n\
                        suzuki,Suzuki,suzuki@example.com\n";

    #[test]
    fn only_the_edited_cell_changes_and_the_rest_keeps_its_bytes() {
        let (fixed, how) = edit(FILE.as_bytes(), 2, "email", "tanaka@example.com");
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            FILE.replace("tanaka@example\n", "tanaka@example.com\n")
        );
        assert_eq!((how.charset, how.delimiter, how.rows), ("UTF-8", b',', 2));
    }

    #[test]
    fn a_script_value_is_written_as_the_text_it_is() {
        let value = "<script>alert('x')</script>";
        let (fixed, _) = edit(FILE.as_bytes(), 3, "name", value);
        let text = String::from_utf8(fixed).unwrap();
        assert!(
            text.contains("suzuki,<script>alert('x')</script>,suzuki"),
            "{text}"
        );
        assert_eq!(records(&importer(), text.as_bytes())[2][1], value);
    }

    #[test]
    fn quotes_delimiters_and_line_breaks_are_quoted_and_read_back_whole() {
        let value = "Suzuki, \"Ichi\"\r\nsecond line; third";
        let (fixed, _) = edit(FILE.as_bytes(), 3, "name", value);
        let text = String::from_utf8(fixed.clone()).unwrap();
        assert!(
            text.contains("suzuki,\"Suzuki, \"\"Ichi\"\"\r\nsecond line; third\",suzuki"),
            "{text}"
        );
        let back = records(&importer(), &fixed);
        assert_eq!(back.len(), 3);
        assert_eq!(back[2], ["suzuki", value, "suzuki@example.com"]);
    }

    #[test]
    fn a_semicolon_file_keeps_its_delimiter_and_quotes_a_value_holding_one() {
        let file = "Login ID;Name;Email address\r\ntanaka;Tanaka;tanaka@example\r\n";
        let (fixed, how) = edit(file.as_bytes(), 2, "name", "Tanaka; Hanako");
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            "Login ID;Name;Email address\r\ntanaka;\"Tanaka; Hanako\";tanaka@example\r\n"
        );
        assert_eq!(how.delimiter, b';');
    }

    #[test]
    fn a_shift_jis_file_stays_shift_jis_with_its_other_cells_unchanged() {
        let text = "ログインID,氏名,メールアドレス\r\ntanaka,田中 花子,hanako@example\r\nsuzuki,鈴木 一郎,ichiro@example.com\r\n";
        let (file, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let (fixed, how) = edit(&file, 2, "email", "hanako@example.com");
        assert_eq!(how.charset, "Shift_JIS");
        let fixed_text = text.replace("hanako@example\r", "hanako@example.com\r");
        let (expected, _, _) = encoding_rs::SHIFT_JIS.encode(&fixed_text);
        assert_eq!(fixed, expected.into_owned());
        // A Japanese value is written in Shift_JIS too.
        let (fixed, _) = edit(&file, 3, "name", "鈴木 一朗");
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&fixed);
        assert!(
            !bad && decoded.contains("suzuki,鈴木 一朗,ichiro"),
            "{decoded}"
        );
    }

    #[test]
    fn a_value_shift_jis_cannot_hold_is_refused_naming_the_character() {
        let (file, _, _) = encoding_rs::SHIFT_JIS.encode("ログインID,氏名\r\ntanaka,田中\r\n");
        let refused = edit_cell(
            &importer(),
            &file[..],
            &CellEdit::new(2, "name", "田中 😀"),
            Vec::new(),
        )
        .unwrap_err();
        let message = refused.to_string();
        assert!(matches!(refused, Error::Edit(_)), "{refused:?}");
        assert!(
            message.contains("line 2") && message.contains("U+1F600"),
            "{message}"
        );
    }

    #[test]
    fn a_bom_and_utf16_are_kept() {
        let with_bom = format!("\u{FEFF}{FILE}");
        let (fixed, _) = edit(with_bom.as_bytes(), 2, "email", "t@example.com");
        assert!(fixed.starts_with(b"\xEF\xBB\xBFLogin ID,"));
        let utf16: Vec<u8> = with_bom.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let (fixed, how) = edit(&utf16, 2, "email", "t@example.com");
        assert_eq!(how.charset, "UTF-16LE");
        let expected: Vec<u8> = with_bom
            .replace("tanaka@example\n", "t@example.com\n")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(fixed, expected);
    }

    #[test]
    fn a_header_below_other_lines_comes_first_and_lines_stay_those_of_the_source() {
        let file = "Users of 2026\n\nLogin ID,Name,Email address\ntanaka,Tanaka,bad\n";
        let options = ImportOptions {
            header_row: Some(3),
            ..ImportOptions::default()
        };
        let importer = Importer::builder(&Profile::standard())
            .options(options)
            .build();
        let (fixed, _) = edit_cell(
            &importer,
            file.as_bytes(),
            &CellEdit::new(4, "Email address", "t@example.com"),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            "Login ID,Name,Email address\ntanaka,Tanaka,t@example.com\n"
        );
    }

    #[test]
    fn a_missing_line_or_column_is_refused() {
        for (line, column, expected) in [
            (9, "email", "no record on this line"),
            (2, "shoe_size", "no column \"shoe_size\""),
        ] {
            let refused = edit_cell(
                &importer(),
                FILE.as_bytes(),
                &CellEdit::new(line, column, "x"),
                Vec::new(),
            )
            .unwrap_err()
            .to_string();
            assert!(refused.contains(expected), "{refused}");
        }
    }

    #[test]
    fn the_masked_copy_blanks_passwords_and_neutralises_formulas() {
        let file = "Login ID,Name,Email address,Password\nkimura,=1+2,kimura@example.com,Plain-Secret-4711\n";
        let copy = masked_copy(&importer(), file.as_bytes(), Vec::new()).unwrap();
        let text = String::from_utf8(copy).unwrap();
        assert!(text.starts_with("\u{FEFF}Login ID,"), "{text}");
        assert!(!text.contains("Plain-Secret-4711"), "{text}");
        assert!(!text.contains(",=1+2,"), "{text}");
    }
}
