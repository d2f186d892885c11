//! `userimport preview`: the header and the first records exactly as parsed.

use std::io::Read;

use serde::Serialize;

use crate::Record;
use crate::error::Result;
use crate::reader::ReaderBuilder;

/// The header and first records of a file exactly as parsed, with the
/// encoding, the delimiter and physical line numbers. Serialises to the
/// preview JSON of the design:
/// `{"encoding": "Shift_JIS", "delimiter": ",", "header_line": 1,
///   "header": ["…"], "records": [{"line": 2, "fields": ["…"]}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// The encoding_rs name of the encoding (`UTF-8`, `Shift_JIS`, …).
    pub encoding: String,
    /// The delimiter as text: `","`, `";"` or `"\t"`.
    pub delimiter: String,
    /// The physical line of the header.
    pub header_line: u64,
    /// The header cells.
    pub header: Vec<String>,
    /// The first records.
    pub records: Vec<PreviewRecord>,
    /// The workbook's format and sheet, when the file is a workbook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workbook: Option<crate::WorkbookInfo>,
}

/// One record of a [`Preview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewRecord {
    /// The physical line where the record starts.
    pub line: u64,
    /// The fields, as parsed (no validation, no unescaping).
    pub fields: Vec<String>,
}

fn fields(record: &Record) -> Vec<String> {
    record.iter().map(str::to_string).collect()
}

/// Reads the header and at most `rows` records of `rdr` with `builder`'s
/// settings. Reading stops after `rows` records, so the rest of the file is
/// neither read nor checked.
pub fn preview<R: Read>(builder: &ReaderBuilder, rdr: R, rows: usize) -> Result<Preview> {
    let mut reader = builder.build(rdr)?;
    let mut records = Vec::new();
    let mut record = Record::new();
    while records.len() < rows && reader.read_record(&mut record)? {
        records.push(PreviewRecord {
            line: record.line(),
            fields: fields(&record),
        });
    }
    Ok(Preview {
        encoding: reader.encoding().name().to_string(),
        delimiter: (reader.delimiter() as char).to_string(),
        header_line: reader.header().line(),
        header: fields(reader.header()),
        records,
        workbook: reader.workbook().cloned(),
    })
}
