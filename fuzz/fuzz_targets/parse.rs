//! bytes → records, under every charset mode: never panics, and the records
//! are the same however the input is chunked.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use userimport::parse::{Charset, Error, ReaderBuilder, Record};
use userimport::schema::Limits;

const CHARSETS: [Charset; 7] = [
    Charset::Auto,
    Charset::Utf8,
    Charset::ShiftJis,
    Charset::EucJp,
    Charset::Utf16Le,
    Charset::Utf16Be,
    Charset::Windows1252,
];

/// A reader that returns at most `size` bytes per `read`.
struct Chunked<'a> {
    data: &'a [u8],
    size: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Everything read: header, records, and the error that ended it (as text).
fn read_all(builder: &ReaderBuilder, data: &[u8], size: usize) -> (Vec<Record>, Option<String>) {
    let mut out = Vec::new();
    let mut reader = match builder.build(Chunked { data, size }) {
        Ok(r) => r,
        Err(e) => return (out, Some(describe(&e))),
    };
    out.push(reader.header().clone());
    let mut record = Record::new();
    let mut last_line = reader.header().line();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                assert!(record.line() > last_line, "lines go forward");
                assert!(record.len() <= 64, "max_columns is enforced");
                assert!(
                    record.iter().all(|f| f.len() <= 4096),
                    "max_field_bytes is enforced"
                );
                last_line = record.line();
                out.push(record.clone());
            }
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(describe(&e))),
        }
    }
}

fn describe(e: &Error) -> String {
    let text = e.to_string();
    assert!(!text.is_empty());
    // Errors that carry a line say so in their message.
    if let Some(line) = e.line() {
        assert!(text.contains(&format!("line {line}")), "{text}");
    }
    text
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let charset = CHARSETS[(mode & 7) as usize % CHARSETS.len()];
    let delimiter = match (mode >> 3) & 3 {
        0 => None,
        1 => Some(b','),
        2 => Some(b';'),
        _ => Some(b'\t'),
    };
    let header_row = ((mode >> 5) & 3 != 0).then(|| u64::from((mode >> 5) & 3));
    let mut builder = ReaderBuilder::new();
    builder
        .charset(charset)
        .delimiter(delimiter)
        .header_row(header_row)
        .limits(Limits {
            max_bytes: Some(1 << 20),
            max_rows: Some(10_000),
            max_field_bytes: 4096,
            max_columns: 64,
        });
    let whole = read_all(&builder, data, usize::MAX);
    let small = read_all(&builder, data, 1 + (mode as usize % 13));
    assert_eq!(whole, small, "chunking changed the records");
});
