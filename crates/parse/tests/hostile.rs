//! Limits, hostile input, allowed charsets and the preview shape.

mod common;

use std::io::Read;

use common::{CHUNKS, parse};
use userimport_parse::{Charset, Error, Limit, ReaderBuilder, preview};
use userimport_schema::{Limits, Profile};

/// `head`, then `fill` repeated for `len` bytes, then `tail`, generated on the
/// fly (never held in memory).
struct Generated {
    head: Vec<u8>,
    fill: u8,
    len: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl Generated {
    fn new(head: &[u8], fill: u8, len: u64, tail: &[u8]) -> Self {
        Generated {
            head: head.to_vec(),
            fill,
            len,
            tail: tail.to_vec(),
            pos: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let head = self.head.len() as u64;
        let total = head + self.len + self.tail.len() as u64;
        let mut n = 0;
        while n < buf.len() && self.pos < total {
            let p = self.pos;
            buf[n] = if p < head {
                self.head[p as usize]
            } else if p < head + self.len {
                self.fill
            } else {
                self.tail[(p - head - self.len) as usize]
            };
            n += 1;
            self.pos += 1;
        }
        Ok(n)
    }
}

fn read_all(builder: &ReaderBuilder, rdr: impl Read) -> Result<u64, Error> {
    let mut reader = builder.build(rdr)?;
    let mut record = userimport_parse::Record::new();
    while reader.read_record(&mut record)? {}
    Ok(reader.records_read())
}

#[test]
fn a_64_mib_field_is_refused_at_the_field_limit() {
    let builder = ReaderBuilder::new();
    let huge = Generated::new(b"login_id,name\nu1,", b'x', 64 << 20, b"\n");
    let error = read_all(&builder, huge).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                limit: Limit::FieldBytes,
                value: 65536,
                line: 2,
                column: Some(2)
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "line 2, column 2: the file exceeds the limit max_field_bytes = 65536"
    );
    // Also inside quotes, where line breaks do not end the field: the
    // likely cause, a missing closing quote, is named.
    let huge = Generated::new(b"a,b\n1,\"", b'\n', 64 << 20, b"\"\n");
    let error = read_all(&builder, huge).unwrap_err();
    assert_eq!(error.limit(), Some(Limit::FieldBytes));
    assert_eq!(
        error.to_string(),
        "line 2, column 2: a quoted field runs past the limit max_field_bytes = 65536; \
         is its closing quote missing?"
    );
    // A stray quote early in a big file stops at the limit, saying where.
    let mut text = b"a,b\n1,2\n3,\"oops\n".to_vec();
    for i in 0..20_000 {
        text.extend_from_slice(format!("{i},x\n").as_bytes());
    }
    for size in CHUNKS {
        let error = parse(&builder, &text, size).unwrap_err();
        assert!(
            matches!(
                error,
                Error::QuotedFieldTooLong {
                    line: 3,
                    column: 2,
                    ..
                }
            ),
            "{size}: {error}"
        );
    }
}

#[test]
fn columns_rows_and_bytes_limits_say_which_and_where() {
    let limits = Limits {
        max_bytes: Some(1000),
        max_rows: Some(3),
        max_field_bytes: 10,
        max_columns: 4,
    };
    let mut builder = ReaderBuilder::new();
    builder.limits(limits);
    // The quoted field's eleventh byte is inside its quotes: whoever reads
    // it a byte at a time cannot yet know the quote closes, so no reading
    // does, and each asks whether the closing quote is missing.
    let cases: &[(&[u8], Limit, u64)] = &[
        (b"a,b\n1,2\n1,2,3,4,5\n", Limit::Columns, 3),
        (b"a,b\n1,2\n3,4\n5,6\n\n7,8\n9,0\n", Limit::Rows, 6),
        (b"a,b\n1,2\n3,0123456789x\n", Limit::FieldBytes, 3),
        (b"a,b\n1,2\n3,\"0123456789\n\"\n", Limit::FieldBytes, 3),
    ];
    for (input, limit, line) in cases {
        for size in CHUNKS {
            let error = parse(&builder, input, size).unwrap_err();
            assert_eq!(
                (error.limit(), error.line()),
                (Some(*limit), Some(*line)),
                "{limit} ({size}): {error}"
            );
        }
    }
    // Exactly at the limits is fine.
    let ok = parse(&builder, b"a,b,c,d\n1,2,3,0123456789\n3\n4\n", 7).unwrap();
    assert_eq!(ok.records.len(), 3);

    let mut data = b"a,b\n".to_vec();
    for i in 0..100 {
        data.extend_from_slice(format!("{i},x\n").as_bytes());
    }
    let mut builder = ReaderBuilder::new();
    builder.limits(Limits {
        max_bytes: Some(200),
        ..Limits::default()
    });
    for size in CHUNKS {
        let error = parse(&builder, &data, size).unwrap_err();
        // Byte 200 is on line 43 ("a,b\n" + 10 x 4 bytes + 28 x 5 bytes = 184).
        assert!(
            matches!(
                error,
                Error::LimitExceeded {
                    limit: Limit::Bytes,
                    value: 200,
                    line: 43,
                    ..
                }
            ),
            "{size}: {error}"
        );
    }
    builder.limits(Limits {
        max_bytes: Some(data.len() as u64),
        ..Limits::default()
    });
    assert_eq!(parse(&builder, &data, 64).unwrap().records.len(), 100);
}

/// A deterministic xorshift generator, so failures reproduce.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn random_bytes_never_panic_and_large_ones_are_refused_as_binary() {
    let charsets = [
        Charset::Auto,
        Charset::Utf8,
        Charset::ShiftJis,
        Charset::EucJp,
        Charset::Utf16Le,
        Charset::Windows1252,
    ];
    for seed in 0..300u64 {
        let len = [0, 1, 2, 3, 17, 100, 1000, 5000][seed as usize % 8];
        let data = random_bytes(seed, len);
        for charset in charsets {
            let mut builder = ReaderBuilder::new();
            builder.charset(charset);
            let _ = parse(&builder, &data, 1 + seed as usize % 13);
        }
    }
    for seed in 0..5 {
        let data = random_bytes(seed, 100_000);
        for charset in charsets {
            let mut builder = ReaderBuilder::new();
            builder.charset(charset);
            let error = parse(&builder, &data, 4096).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, Error::Binary { .. } | Error::Undecodable { .. }),
                "{charset:?}: {message}"
            );
        }
    }
}

#[test]
fn random_csv_like_bytes_never_panic() {
    // Only the bytes that steer a CSV parser, in any order.
    let alphabet = b"a,;\t\"\r\n \xe3\x81\x82\xef\xbb\xbf";
    for seed in 0..2000u64 {
        let len = (seed % 40) as usize;
        let data: Vec<u8> = random_bytes(seed, len)
            .into_iter()
            .map(|b| alphabet[b as usize % alphabet.len()])
            .collect();
        let mut builder = ReaderBuilder::new();
        builder.header_row([None, Some(2)][seed as usize % 2]);
        let results: Vec<String> = CHUNKS
            .iter()
            .map(|&size| {
                format!(
                    "{:?}",
                    parse(&builder, &data, size).map_err(|e| e.to_string())
                )
            })
            .collect();
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "chunking changed the result for {data:?}: {results:#?}"
        );
    }
}

#[test]
fn binary_files_are_refused() {
    // A PNG header is binary; a cut-off ZIP (xlsx) is an unreadable workbook.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";
    let zip = b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0\xeb\x7a\xd2\x5c\x01\0\0\0\x05\0\0\0\x13\0\x08\x02[Content_Types].xml";
    let error = parse(&ReaderBuilder::new(), png, 64).unwrap_err();
    assert!(matches!(error, Error::Binary { .. }), "{error}");
    assert!(error.to_string().contains("looks binary"));
    let error = parse(&ReaderBuilder::new(), zip, 64).unwrap_err();
    assert!(matches!(error, Error::Workbook { .. }), "{error}");
    assert!(error.to_string().contains("not a readable .xlsx workbook"));
    // A few control characters (FileMaker's in-cell vertical tab, a stray
    // escape) do not make a text file binary.
    let parsed = parse(&ReaderBuilder::new(), b"a,b\n1,x\x0by\n2,\x1b[0m\n", 3).unwrap();
    assert_eq!(parsed.records[0].get(1), Some("x\u{b}y"));
}

#[test]
fn empty_and_blank_files_have_no_header() {
    for data in [&b""[..], b"\n\r\n", b",,\n ,\n", b"\xef\xbb\xbf"] {
        let error = parse(&ReaderBuilder::new(), data, 1).unwrap_err();
        assert!(
            matches!(error, Error::NoHeader { from_line: None }),
            "{error}"
        );
    }
    let mut builder = ReaderBuilder::new();
    builder.header_row(Some(5));
    let error = parse(&builder, b"a,b\n1,2\n", 7).unwrap_err();
    assert_eq!(error.to_string(), "no header row found at or after line 5");
}

#[test]
fn profile_charsets_are_enforced() {
    let profile = Profile::access();
    let mut builder = ReaderBuilder::new();
    builder.allowed_charsets(profile.charsets.clone());
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("User ID,Name\nE1,山田太郎\n");
    let error = parse(&builder, &sjis, 64).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the file is encoded as Shift_JIS, but only UTF-8 is allowed"
    );
    assert!(parse(&builder, "User ID,Name\nE1,山田太郎\n".as_bytes(), 64).is_ok());
    builder.charset(Charset::Windows1252);
    assert!(matches!(
        parse(&builder, b"a\n", 64).unwrap_err(),
        Error::EncodingNotAllowed {
            found: "windows-1252",
            ..
        }
    ));
}

#[test]
fn explicit_delimiter_and_invalid_ones() {
    let mut builder = ReaderBuilder::new();
    builder.delimiter(Some(b'|'));
    let parsed = parse(&builder, b"a|b\n1|2,3\n", 3).unwrap();
    assert_eq!(parsed.records[0].iter().collect::<Vec<_>>(), ["1", "2,3"]);
    builder.delimiter(Some(b'"'));
    assert!(matches!(
        parse(&builder, b"a\n", 3).unwrap_err(),
        Error::InvalidDelimiter('"')
    ));
}

#[test]
fn preview_has_the_design_json_shape() {
    let text =
        "sep=;\r\nログインID;氏名\r\nyamada;\"山田\r\n太郎\"\r\n\r\nsato;佐藤\r\nito;伊藤\r\n";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    let p = preview(&ReaderBuilder::new(), &bytes[..], 2).unwrap();
    assert_eq!(
        serde_json::to_string(&p).unwrap(),
        r#"{"encoding":"Shift_JIS","delimiter":";","header_line":2,"header":["ログインID","氏名"],"records":[{"line":3,"fields":["yamada","山田\r\n太郎"]},{"line":6,"fields":["sato","佐藤"]}]}"#
    );
    let p = preview(&ReaderBuilder::new(), &b"a\tb\n1\t2\n"[..], 10).unwrap();
    assert_eq!(serde_json::to_value(&p).unwrap()["delimiter"], "\t");
}

#[test]
fn a_long_ascii_start_does_not_hide_the_charset() {
    let mut text = String::from("login_id,email,name\r\n");
    let mut i = 0;
    while text.len() < 200 * 1024 {
        text.push_str(&format!("user{i},user{i}@example.jp,\r\n"));
        i += 1;
    }
    for name in [
        "佐藤 花子",
        "鈴木 一郎",
        "高橋 美咲",
        "田中 健",
        "伊藤 陽子",
        "山田 太郎",
    ] {
        text.push_str(&format!("u{i},u{i}@example.jp,{name}\r\n"));
        i += 1;
    }
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    for size in CHUNKS {
        let parsed = parse(&ReaderBuilder::new(), &bytes, size).unwrap();
        assert_eq!(parsed.encoding, "Shift_JIS");
        let last = parsed.records.last().unwrap();
        assert_eq!(last.get(2), Some("山田 太郎"));
        assert_eq!(last.line(), i + 1);
    }
}

#[test]
fn undecodable_bytes_after_the_sniffed_prefix_say_the_encoding_was_detected() {
    let mut data = b"a,b\n".to_vec();
    while data.len() < 100 * 1024 {
        data.extend_from_slice("x,日本\n".as_bytes());
    }
    let line = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let offset = data.len() as u64 + 2;
    data.extend_from_slice(b"y,\x82\xa0\n");
    let error = parse(&ReaderBuilder::new(), &data, 4096).unwrap_err();
    assert!(
        matches!(error, Error::Undecodable { encoding: "UTF-8", detected: true, line: l, offset: o } if l == line && o == offset),
        "{error}"
    );
    assert!(error.to_string().contains("detected"), "{error}");
    let mut builder = ReaderBuilder::new();
    builder.charset(Charset::Utf8);
    let error = parse(&builder, &data, 4096).unwrap_err();
    assert!(!error.to_string().contains("detected"), "{error}");
}
