//! Formula-safe CSV writing in a chosen charset, for every file the project
//! writes (templates, exports, error reports, results).

use std::borrow::Cow;
use std::io::{self, Write};

use encoding_rs::{Encoding, UTF_8};
use userimport_schema::{escape_formula, has_separated_formula, substitution_marker};

/// The charset of a file the project writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCharset {
    encoding: &'static Encoding,
    bom: bool,
}

impl OutputCharset {
    /// UTF-8 with a BOM, so Excel opens it as UTF-8 (the default).
    pub const UTF8_BOM: OutputCharset = OutputCharset {
        encoding: UTF_8,
        bom: true,
    };
    /// UTF-8 without a BOM.
    pub const UTF8: OutputCharset = OutputCharset {
        encoding: UTF_8,
        bom: false,
    };

    /// Parses `utf-8-bom` (or `utf-8` with `bom`), `utf-8`, `shift_jis`,
    /// `euc-jp`, `windows-1252`: the names `--charset` takes for output.
    /// UTF-16 output is refused: Excel's CSV import does not expect it.
    pub fn parse(name: &str) -> Option<OutputCharset> {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "utf-8-bom" | "utf8-bom" | "utf-8-sig" | "bom" => Some(Self::UTF8_BOM),
            "utf-8" | "utf8" => Some(Self::UTF8),
            "shift_jis" | "shift-jis" | "sjis" | "cp932" | "windows-31j" => {
                Some(Self::new(encoding_rs::SHIFT_JIS))
            }
            _ => {
                let encoding = Encoding::for_label(lower.as_bytes())?;
                (encoding.output_encoding() == encoding).then(|| Self::new(encoding))
            }
        }
    }

    fn new(encoding: &'static Encoding) -> OutputCharset {
        OutputCharset {
            encoding,
            bom: false,
        }
    }

    /// The encoding_rs encoding.
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }
}

/// What a writer does with a character its charset cannot represent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unencodable {
    /// Refuse the whole file, listing every such cell (the default).
    #[default]
    Refuse,
    /// Write the character as the marker `{U+00E9}` (see
    /// [`schema::substitution_marker`](userimport_schema::substitution_marker)),
    /// which the import refuses, so nobody re-imports it as a value unnoticed.
    Substitute,
}

impl Unencodable {
    /// Parses `refuse` or `substitute`.
    pub fn parse(name: &str) -> Option<Unencodable> {
        match name.trim().to_ascii_lowercase().as_str() {
            "refuse" => Some(Unencodable::Refuse),
            "substitute" => Some(Unencodable::Substitute),
            _ => None,
        }
    }
}

/// One cell a charset cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnencodableCell {
    /// 1-based physical line of the output file where the record starts.
    pub line: u64,
    /// 1-based column.
    pub column: usize,
    /// The column's header, when the first row written was a header.
    pub header: Option<String>,
    /// The first character that cannot be written.
    pub character: char,
}

impl std::fmt::Display for UnencodableCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        if let Some(header) = &self.header {
            write!(f, " ({header:?})")?;
        }
        write!(
            f,
            ": {:?} (U+{:04X})",
            self.character, self.character as u32
        )
    }
}

/// How many unencodable cells an error lists; the rest are counted.
const MAX_LISTED: usize = 10_000;

fn describe(cells: &[UnencodableCell], more: u64) -> String {
    let mut text: Vec<String> = cells.iter().map(ToString::to_string).collect();
    if more > 0 {
        text.push(format!("and {more} more"));
    }
    text.join("; ")
}

/// Errors while writing a CSV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The destination failed.
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
    /// Cells have characters the chosen charset cannot represent (every one
    /// is listed, up to 10,000, with the count of the rest): nothing usable
    /// was written.
    #[error(
        "{} value(s) cannot be written in {encoding}: {}; write the file in UTF-8, or substitute them with a marker the import refuses",
        .cells.len() as u64 + .more, describe(.cells, *.more)
    )]
    Unencodable {
        /// The cells, in file order.
        cells: Vec<UnencodableCell>,
        /// How many more there were beyond those listed.
        more: u64,
        /// The charset's name.
        encoding: &'static str,
    },
}

/// Writes rows as CSV (RFC 4180 quoting, CRLF line ends as Excel writes them),
/// escaping every cell that a spreadsheet would run as a formula.
///
/// A character the charset cannot represent is refused by default: the
/// writer goes on checking (writing nothing more) and [`CsvWriter::finish`]
/// lists every such cell. With [`Unencodable::Substitute`] it is written as
/// a marker instead.
pub struct CsvWriter<W: Write> {
    out: W,
    charset: OutputCharset,
    unencodable: Unencodable,
    /// The physical line the next record starts on.
    line: u64,
    header: Vec<String>,
    refused: Vec<UnencodableCell>,
    more: u64,
    line_buf: String,
    bytes: Vec<u8>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer in the given charset (writes the BOM at once if it has one).
    pub fn new(mut out: W, charset: OutputCharset) -> Result<Self, WriteError> {
        if charset.bom {
            out.write_all(b"\xEF\xBB\xBF")?;
        }
        Ok(CsvWriter {
            out,
            charset,
            unencodable: Unencodable::Refuse,
            line: 1,
            header: Vec::new(),
            refused: Vec::new(),
            more: 0,
            line_buf: String::new(),
            bytes: Vec::new(),
        })
    }

    /// Sets what happens to characters the charset cannot represent.
    pub fn unencodable(&mut self, mode: Unencodable) -> &mut Self {
        self.unencodable = mode;
        self
    }

    /// Writes one row.
    pub fn write_row<I, S>(&mut self, cells: I) -> Result<(), WriteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let first = self.line == 1 && self.header.is_empty();
        self.line_buf.clear();
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.line_buf.push(',');
            }
            let cell = cell.as_ref();
            if first {
                self.header.push(cell.to_string());
            }
            let cell = self.encodable(cell, i);
            let separated = has_separated_formula(&cell);
            let cell = escape_formula(&cell);
            if separated
                || cell.contains([',', '"', '\r', '\n'])
                || cell.starts_with(' ')
                || cell.ends_with(' ')
            {
                self.line_buf.push('"');
                self.line_buf.push_str(&cell.replace('"', "\"\""));
                self.line_buf.push('"');
            } else {
                self.line_buf.push_str(&cell);
            }
        }
        self.line_buf.push_str("\r\n");
        self.line += self.line_buf.matches('\n').count() as u64;
        if !self.refused.is_empty() || self.more > 0 {
            // The file is refused: keep checking, write nothing more.
            return Ok(());
        }
        if self.charset.encoding == UTF_8 {
            self.out.write_all(self.line_buf.as_bytes())?;
        } else {
            let (encoded, _, _) = self.charset.encoding.encode(&self.line_buf);
            self.bytes.clear();
            self.bytes.extend_from_slice(&encoded);
            self.out.write_all(&self.bytes)?;
        }
        Ok(())
    }

    /// The cell as it can be written: itself, or with markers in place of
    /// the characters the charset cannot represent (substituting), or
    /// itself with the cell recorded as refused.
    fn encodable<'c>(&mut self, cell: &'c str, index: usize) -> Cow<'c, str> {
        if self.charset.encoding == UTF_8 || self.round_trips(cell) {
            return Cow::Borrowed(cell);
        }
        if self.unencodable == Unencodable::Substitute {
            let mut out = String::with_capacity(cell.len() + 8);
            let mut buf = [0u8; 4];
            for c in cell.chars() {
                if self.round_trips(c.encode_utf8(&mut buf)) {
                    out.push(c);
                } else {
                    out.push_str(&substitution_marker(c));
                }
            }
            return Cow::Owned(out);
        }
        let mut buf = [0u8; 4];
        let character = cell
            .chars()
            .find(|c| !self.round_trips(c.encode_utf8(&mut buf)))
            .unwrap_or('\u{FFFD}');
        if self.refused.len() < MAX_LISTED {
            self.refused.push(UnencodableCell {
                line: self.line,
                column: index + 1,
                header: self.header.get(index).cloned().filter(|_| self.line > 1),
                character,
            });
        } else {
            self.more += 1;
        }
        Cow::Borrowed(cell)
    }

    /// True when the charset writes `text` so that it reads back the same.
    /// Some characters map without error but come back as others
    /// (Shift_JIS writes `¥` as 0x5C, read back as `\`): those do not.
    fn round_trips(&self, text: &str) -> bool {
        let (bytes, _, unmappable) = self.charset.encoding.encode(text);
        !unmappable
            && self
                .charset
                .encoding
                .decode_without_bom_handling_and_without_replacement(&bytes)
                .is_some_and(|back| back == text)
    }

    /// Flushes and returns the destination; refused when a cell could not
    /// be written (see [`WriteError::Unencodable`]).
    pub fn finish(mut self) -> Result<W, WriteError> {
        if !self.refused.is_empty() || self.more > 0 {
            return Err(WriteError::Unencodable {
                cells: std::mem::take(&mut self.refused),
                more: self.more,
                encoding: self.charset.encoding.name(),
            });
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_escaped_and_encoded() {
        let mut w = CsvWriter::new(Vec::new(), OutputCharset::UTF8_BOM).unwrap();
        w.write_row(["a,b", "say \"hi\"", "=1+1", "plain"]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(
            bytes,
            b"\xEF\xBB\xBF\"a,b\",\"say \"\"hi\"\"\",'=1+1,plain\r\n".to_vec()
        );
    }

    #[test]
    fn shift_jis_output_lists_every_unencodable_cell() {
        let sjis = OutputCharset::parse("shift_jis").unwrap();
        let mut w = CsvWriter::new(Vec::new(), sjis).unwrap();
        w.write_row(["login", "name"]).unwrap();
        w.write_row(["a", "田中"]).unwrap();
        w.write_row(["b", "José"]).unwrap();
        w.write_row(["c\nd", "ok"]).unwrap();
        w.write_row(["😀", "Zoë"]).unwrap();
        let err = w.finish().unwrap_err().to_string();
        assert!(
            err.starts_with("3 value(s) cannot be written in Shift_JIS"),
            "{err}"
        );
        for part in [
            "line 3, column 2 (\"name\"): 'é'",
            "line 6, column 1 (\"login\")",
            "line 6, column 2 (\"name\"): 'ë' (U+00EB)",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }

    #[test]
    fn substitution_writes_a_marker() {
        let sjis = OutputCharset::parse("shift_jis").unwrap();
        let mut w = CsvWriter::new(Vec::new(), sjis).unwrap();
        w.unencodable(Unencodable::Substitute);
        w.write_row(["José", "田中"]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes, b"Jos{U+00E9},\x93\x63\x92\x86\r\n".to_vec());
    }

    #[test]
    fn a_formula_after_another_delimiter_is_quoted_and_neutralised() {
        let mut w = CsvWriter::new(Vec::new(), OutputCharset::UTF8).unwrap();
        w.write_row(["Bob;=1+1", "Bob\t=1+1", "a|@x", "a,-1", "a;b"])
            .unwrap();
        let bytes = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            bytes,
            "\"Bob;'=1+1\",\"Bob\t'=1+1\",\"a|'@x\",\"a,'-1\",a;b\r\n"
        );
    }
}
