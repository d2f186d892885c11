//! Formula-safe CSV writing in a chosen charset, for every file the project
//! writes (templates, exports, error reports, results).

use std::io::{self, Write};

use encoding_rs::{Encoding, UTF_8};
use userimport_schema::escape_formula;

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

/// Errors while writing a CSV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The destination failed.
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
    /// A cell has a character the chosen charset cannot represent.
    #[error(
        "line {line}, column {column}: {value:?} cannot be written in {encoding}; choose UTF-8"
    )]
    Unmappable {
        /// 1-based line of the output file.
        line: u64,
        /// 1-based column.
        column: usize,
        /// The cell.
        value: String,
        /// The charset's name.
        encoding: &'static str,
    },
}

/// Writes rows as CSV (RFC 4180 quoting, CRLF line ends as Excel writes them),
/// escaping every cell that a spreadsheet would run as a formula.
pub struct CsvWriter<W: Write> {
    out: W,
    charset: OutputCharset,
    line: u64,
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
            line: 0,
            line_buf: String::new(),
            bytes: Vec::new(),
        })
    }

    /// Writes one row.
    pub fn write_row<I, S>(&mut self, cells: I) -> Result<(), WriteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.line += 1;
        self.line_buf.clear();
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.line_buf.push(',');
            }
            let cell = escape_formula(cell.as_ref());
            if cell.contains([',', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ')
            {
                self.line_buf.push('"');
                self.line_buf.push_str(&cell.replace('"', "\"\""));
                self.line_buf.push('"');
            } else {
                self.line_buf.push_str(&cell);
            }
            if self.charset.encoding != UTF_8 {
                let (bytes, _, unmappable) = self.charset.encoding.encode(&cell);
                // Some characters map without error but come back as others
                // (Shift_JIS writes `¥` as 0x5C, read back as `\`): refused
                // too, so what is written reads back exactly.
                let lossy = || {
                    self.charset
                        .encoding
                        .decode_without_bom_handling_and_without_replacement(&bytes)
                        .is_none_or(|back| back != cell)
                };
                if unmappable || lossy() {
                    return Err(WriteError::Unmappable {
                        line: self.line,
                        column: i + 1,
                        value: cell.into_owned(),
                        encoding: self.charset.encoding.name(),
                    });
                }
            }
        }
        self.line_buf.push_str("\r\n");
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

    /// Flushes and returns the destination.
    pub fn finish(mut self) -> Result<W, WriteError> {
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
    fn shift_jis_output_refuses_unmappable_cells() {
        let sjis = OutputCharset::parse("shift_jis").unwrap();
        let mut w = CsvWriter::new(Vec::new(), sjis).unwrap();
        w.write_row(["田中"]).unwrap();
        let err = w.write_row(["ok", "😀"]).unwrap_err();
        assert!(err.to_string().contains("line 2, column 2"), "{err}");
        assert_eq!(w.finish().unwrap(), b"\x93\x63\x92\x86\r\n".to_vec());
    }
}
