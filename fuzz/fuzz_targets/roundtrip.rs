//! arbitrary records → `CsvWriter` → the parse `Reader` → un-escaping gives
//! back exactly the records, and no written cell starts like a formula.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use userimport::parse::{Charset, ReaderBuilder};
use userimport::schema::unescape_formula;
use userimport::{CsvWriter, OutputCharset, WriteError};

#[derive(Debug, Arbitrary)]
struct Input {
    charset: u8,
    records: Vec<Vec<String>>,
}

/// Characters a CSV text file cannot hold (the reader refuses NUL and other
/// control characters as binary): replaced before writing.
fn clean(cell: &str) -> String {
    cell.chars()
        .map(|c| {
            if (c < ' ' && !matches!(c, '\t' | '\r' | '\n')) || c == '\u{7f}' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

const DANGEROUS: [char; 11] = ['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠'];

fuzz_target!(|input: Input| {
    let (out, charset) = match input.charset % 3 {
        0 => (OutputCharset::UTF8_BOM, Charset::Utf8),
        1 => (OutputCharset::UTF8, Charset::Utf8),
        _ => (
            OutputCharset::parse("shift_jis").unwrap(),
            Charset::ShiftJis,
        ),
    };
    // A fixed header, as every file the project writes has one.
    let header = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let records: Vec<Vec<String>> = input
        .records
        .iter()
        .take(200)
        .map(|r| r.iter().take(20).map(|c| clean(c)).collect())
        .collect();
    let mut writer = CsvWriter::new(Vec::new(), out).unwrap();
    writer.write_row(&header).unwrap();
    for record in &records {
        writer.write_row(record).expect("writing to memory");
    }
    // A cell the charset cannot hold refuses the whole file (at the end,
    // listing every such cell).
    let bytes = match writer.finish() {
        Ok(bytes) => bytes,
        Err(WriteError::Unencodable { .. }) => return,
        Err(e) => panic!("{e}"),
    };

    let mut builder = ReaderBuilder::new();
    builder.charset(charset).delimiter(Some(b','));
    let mut reader = builder
        .build(&bytes[..])
        .expect("our own output reads back");
    assert_eq!(reader.header().iter().collect::<Vec<_>>(), header);
    let mut got: Vec<Vec<String>> = Vec::new();
    for record in &mut reader {
        let record = record.expect("our own output reads back");
        for cell in record.iter() {
            assert!(!cell.starts_with(DANGEROUS), "unescaped cell {cell:?}");
        }
        got.push(
            record
                .iter()
                .map(|c| unescape_formula(c).to_string())
                .collect(),
        );
    }
    // Blank records (every cell empty or whitespace) are skipped on reading.
    let expected: Vec<Vec<String>> = records
        .into_iter()
        .filter(|r| {
            !r.iter()
                .all(|c| userimport::schema::escape_formula(c).trim().is_empty())
        })
        .collect();
    assert_eq!(got, expected);
});
