//! The table-driven test: every case through 1-byte, 7-byte and 64 KiB
//! reads, with identical results.

mod common;

use common::{CHUNKS, parse};
use encoding_rs::{EUC_JP, Encoding, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use userimport_parse::{Charset, Error, ReaderBuilder, Record};

/// How a case's text becomes bytes.
#[derive(Clone, Copy)]
enum Bytes {
    /// Encoded with this encoding (UTF-16 by hand, since encoding_rs encodes
    /// UTF-16 as UTF-8).
    Encoded(&'static Encoding),
    /// Encoded, with the encoding's BOM in front.
    WithBom(&'static Encoding),
}

fn encode(text: &str, how: Bytes) -> Vec<u8> {
    let (encoding, bom) = match how {
        Bytes::Encoded(e) => (e, false),
        Bytes::WithBom(e) => (e, true),
    };
    let mut out = Vec::new();
    if encoding == UTF_16LE || encoding == UTF_16BE {
        let le = encoding == UTF_16LE;
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            out.extend(if le {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        return out;
    }
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable, "{} cannot encode {text:?}", encoding.name());
    out.extend_from_slice(&bytes);
    out
}

struct Case {
    name: &'static str,
    text: &'static str,
    bytes: Bytes,
    charset: Charset,
    header_row: Option<u64>,
    encoding: &'static str,
    delimiter: u8,
    header: (u64, &'static [&'static str]),
    records: &'static [(u64, &'static [&'static str])],
}

const fn case(
    name: &'static str,
    text: &'static str,
    header: (u64, &'static [&'static str]),
    records: &'static [(u64, &'static [&'static str])],
) -> Case {
    Case {
        name,
        text,
        bytes: Bytes::Encoded(UTF_8),
        charset: Charset::Auto,
        header_row: None,
        encoding: "UTF-8",
        delimiter: b',',
        header,
        records,
    }
}

const JAPANESE: &str = "ログインID,氏名,メールアドレス\r\nyamada,山田 太郎,yamada@example.jp\r\nsato,\"佐藤, 花子\",sato@example.jp\r\nsuzuki,\"鈴木\r\n一郎\",\"\"\r\n";
const JAPANESE_HEADER: (u64, &[&str]) = (1, &["ログインID", "氏名", "メールアドレス"]);
const JAPANESE_RECORDS: &[(u64, &[&str])] = &[
    (2, &["yamada", "山田 太郎", "yamada@example.jp"]),
    (3, &["sato", "佐藤, 花子", "sato@example.jp"]),
    (4, &["suzuki", "鈴木\r\n一郎", ""]),
];

fn cases() -> Vec<Case> {
    vec![
        case(
            "rfc4180 basic",
            "a,b,c\n1,2,3\n4,5,6\n",
            (1, &["a", "b", "c"]),
            &[(2, &["1", "2", "3"]), (3, &["4", "5", "6"])],
        ),
        case(
            "rfc4180 quotes, escaped quotes, delimiter in quotes",
            "name,note\r\n\"Smith, J\",\"say \"\"hi\"\"\"\r\n\"\",\"\"\"\"\r\n",
            (1, &["name", "note"]),
            &[(2, &["Smith, J", "say \"hi\""]), (3, &["", "\""])],
        ),
        case(
            "quoted crlf keeps physical lines",
            "a,b\r\n\"line1\r\nline2\r\nline3\",z\r\nnext,1\r\n",
            (1, &["a", "b"]),
            &[(2, &["line1\r\nline2\r\nline3", "z"]), (5, &["next", "1"])],
        ),
        case(
            "quoted lf and cr",
            "a,b\n\"x\ny\",\"p\rq\"\nlast,1",
            (1, &["a", "b"]),
            &[(2, &["x\ny", "p\rq"]), (5, &["last", "1"])],
        ),
        case(
            "cr-only line ends",
            "a,b\r1,2\r3,4\r",
            (1, &["a", "b"]),
            &[(2, &["1", "2"]), (3, &["3", "4"])],
        ),
        case(
            "mixed line ends",
            "a,b\r\n1,2\n3,4\r5,6",
            (1, &["a", "b"]),
            &[(2, &["1", "2"]), (3, &["3", "4"]), (4, &["5", "6"])],
        ),
        Case {
            bytes: Bytes::WithBom(UTF_8),
            ..case(
                "utf-8 bom stays out of the first header cell",
                "login_id,name\nu1,Ann\n",
                (1, &["login_id", "name"]),
                &[(2, &["u1", "Ann"])],
            )
        },
        Case {
            bytes: Bytes::WithBom(UTF_8),
            charset: Charset::Utf8,
            ..case(
                "utf-8 bom with explicit utf-8",
                "\"login_id\",name\nu1,Ann\n",
                (1, &["login_id", "name"]),
                &[(2, &["u1", "Ann"])],
            )
        },
        Case {
            delimiter: b';',
            ..case(
                "excel sep= line honoured and skipped",
                "sep=;\r\nid;amount\r\n1;3,5\r\n",
                (2, &["id", "amount"]),
                &[(3, &["1", "3,5"])],
            )
        },
        Case {
            delimiter: b';',
            ..case(
                "semicolons detected",
                "id;name;amount\n1;Zoe;3,5\n2;\"A;B\";4,25\n",
                (1, &["id", "name", "amount"]),
                &[(2, &["1", "Zoe", "3,5"]), (3, &["2", "A;B", "4,25"])],
            )
        },
        Case {
            delimiter: b'\t',
            ..case(
                "tabs detected",
                "id\tname, full\n1\tDoe, Jane\n",
                (1, &["id", "name, full"]),
                &[(2, &["1", "Doe, Jane"])],
            )
        },
        case(
            "empty fields",
            "a,b,c\n,,x\n,y,\n",
            (1, &["a", "b", "c"]),
            &[(2, &["", "", "x"]), (3, &["", "y", ""])],
        ),
        case(
            "trailing delimiter",
            "a,b,\n1,2,\n",
            (1, &["a", "b", ""]),
            &[(2, &["1", "2", ""])],
        ),
        case(
            "no final newline",
            "a,b\n1,2",
            (1, &["a", "b"]),
            &[(2, &["1", "2"])],
        ),
        case(
            "blank lines and all-empty rows skipped",
            "\n\na,b\n\n1,2\n,\n  , \n\r\n3,4\n,,\n",
            (3, &["a", "b"]),
            &[(5, &["1", "2"]), (9, &["3", "4"])],
        ),
        case(
            "ragged rows are kept as they are",
            "a,b,c\n1\n1,2,3,4\n",
            (1, &["a", "b", "c"]),
            &[(2, &["1"]), (3, &["1", "2", "3", "4"])],
        ),
        Case {
            header_row: Some(3),
            ..case(
                "header row below title lines (with a stray quote)",
                "User list \"export\nexported 2026-01-01\nid,name\n1,a\n",
                (3, &["id", "name"]),
                &[(4, &["1", "a"])],
            )
        },
        case(
            "japanese in utf-8",
            JAPANESE,
            JAPANESE_HEADER,
            JAPANESE_RECORDS,
        ),
        Case {
            bytes: Bytes::Encoded(SHIFT_JIS),
            encoding: "Shift_JIS",
            ..case(
                "japanese in shift_jis (detected)",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::Encoded(SHIFT_JIS),
            charset: Charset::ShiftJis,
            encoding: "Shift_JIS",
            ..case(
                "japanese in shift_jis (given)",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::Encoded(EUC_JP),
            encoding: "EUC-JP",
            ..case(
                "japanese in euc-jp (detected)",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::Encoded(EUC_JP),
            charset: Charset::EucJp,
            encoding: "EUC-JP",
            ..case(
                "japanese in euc-jp (given)",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::WithBom(UTF_16LE),
            encoding: "UTF-16LE",
            ..case(
                "japanese in utf-16le with bom",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::Encoded(UTF_16LE),
            encoding: "UTF-16LE",
            delimiter: b'\t',
            ..case(
                "excel unicode text: utf-16le, tabs, no bom",
                "ログインID\t氏名\r\nyamada\t山田\r\n",
                (1, &["ログインID", "氏名"]),
                &[(2, &["yamada", "山田"])],
            )
        },
        Case {
            bytes: Bytes::WithBom(UTF_16BE),
            encoding: "UTF-16BE",
            ..case(
                "japanese in utf-16be with bom",
                JAPANESE,
                JAPANESE_HEADER,
                JAPANESE_RECORDS,
            )
        },
        Case {
            bytes: Bytes::Encoded(WINDOWS_1252),
            encoding: "windows-1252",
            delimiter: b';',
            ..case(
                "windows-1252 from a european excel",
                "Nom;Prénom;Ville\nMüller;Zoë;Köln\nDupont;Amélie;Besançon\n",
                (1, &["Nom", "Prénom", "Ville"]),
                &[
                    (2, &["Müller", "Zoë", "Köln"]),
                    (3, &["Dupont", "Amélie", "Besançon"]),
                ],
            )
        },
    ]
}

#[test]
fn every_case_gives_the_same_records_in_every_chunking() {
    for case in cases() {
        let bytes = encode(case.text, case.bytes);
        let mut builder = ReaderBuilder::new();
        builder.charset(case.charset).header_row(case.header_row);
        for size in CHUNKS {
            let parsed = parse(&builder, &bytes, size)
                .unwrap_or_else(|e| panic!("{} ({size}-byte reads): {e}", case.name));
            let what = format!("{} ({size}-byte reads)", case.name);
            assert_eq!(parsed.encoding, case.encoding, "{what}");
            assert_eq!(parsed.delimiter, case.delimiter, "{what}");
            assert_eq!(
                parsed.header,
                Record::from_fields(case.header.0, case.header.1),
                "{what}"
            );
            let expected: Vec<Record> = case
                .records
                .iter()
                .map(|(line, fields)| Record::from_fields(*line, *fields))
                .collect();
            assert_eq!(parsed.records, expected, "{what}");
        }
    }
}

/// Errors, with where they happened, are the same in every chunking too.
#[test]
fn errors_say_where_in_every_chunking() {
    let cases: Vec<(&str, Vec<u8>, Charset, &str)> = vec![
        (
            "unterminated quote at eof",
            b"a,b\n1,2\n3,\"open\n4,5\n".to_vec(),
            Charset::Auto,
            "line 3, column 2: unterminated quoted field",
        ),
        (
            "a stray quote does not hide an open quote after it",
            b"a,b\nO\"Brien,\"open\n1,2\n".to_vec(),
            Charset::Auto,
            "line 2, column 2: unterminated quoted field",
        ),
        (
            "text after a closing quote",
            b"a,b\n\"x\ny\"z,1\n".to_vec(),
            Charset::Auto,
            "line 3, column 1: text after the closing quote",
        ),
        (
            "bad utf-8 under an explicit charset",
            b"a,b\n1,2\n3,caf\xe9\n".to_vec(),
            Charset::Utf8,
            "line 3, byte offset 13: bytes that are not valid UTF-8",
        ),
        (
            "bad utf-8 inside a quoted line break",
            b"a,b\n\"1\n2\",x\xff\n".to_vec(),
            Charset::Utf8,
            "line 3, byte offset 11: bytes that are not valid UTF-8",
        ),
        (
            "bad shift_jis",
            {
                let mut v = SHIFT_JIS.encode("a,b\n山田,1\n").0.into_owned();
                v.extend_from_slice(b"x,\x81\x20\n");
                v
            },
            Charset::ShiftJis,
            "line 3, byte offset 13: bytes that are not valid Shift_JIS",
        ),
        (
            "utf-8 cut at the end of the file",
            b"a,b\n1,\xe5\xb1".to_vec(),
            Charset::Utf8,
            "line 2, byte offset 6: bytes that are not valid UTF-8",
        ),
    ];
    for (name, bytes, charset, message) in cases {
        let mut builder = ReaderBuilder::new();
        builder.charset(charset);
        for size in CHUNKS {
            let error = parse(&builder, &bytes, size).expect_err(name);
            assert!(
                error.to_string().starts_with(message),
                "{name} ({size}-byte reads): {error}"
            );
        }
    }
}

#[test]
fn records_before_an_error_are_delivered_first() {
    let builder = ReaderBuilder::new();
    let mut reader = builder.build(&b"a,b\n1,2\n3,\"x\"y\n5,6\n"[..]).unwrap();
    let first = reader.next().unwrap().unwrap();
    assert_eq!(first, Record::from_fields(2, ["1", "2"]));
    let error = reader.next().unwrap().unwrap_err();
    assert!(
        matches!(error, Error::TextAfterQuote { line: 3, column: 2 }),
        "{error}"
    );
    assert_eq!((error.line(), error.column()), (Some(3), Some(2)));
    assert!(reader.next().is_none(), "the reader stops after an error");
}

/// A record as the stray-quote test compares it: line, fields, and the
/// (line, field) of each stray quote.
type Seen<'a> = (u64, Vec<&'a str>, Vec<(u64, usize)>);

/// A quote inside an unquoted field is a literal quote (as Excel,
/// LibreOffice and Python's csv module read it), noted on the record with
/// its line and field, in every chunking.
#[test]
fn stray_quotes_are_literal_and_noted_in_every_chunking() {
    type Expected = &'static [(u64, &'static [&'static str], &'static [(u64, usize)])];
    let cases: &[(&str, &str, Expected)] = &[
        (
            "a nickname in quotes",
            "name,note\nBob \"The Builder\" Smith,x\n",
            &[(2, &["Bob \"The Builder\" Smith", "x"], &[(2, 0)])],
        ),
        (
            "an apostrophe typed as a quote",
            "a,b\nO\"Brien,1\n2,ok\n",
            &[(2, &["O\"Brien", "1"], &[(2, 0)]), (3, &["2", "ok"], &[])],
        ),
        (
            "after a quoted line break, on the record's second line",
            "a,b\n\"x\ny\",5\"6\n",
            &[(2, &["x\ny", "5\"6"], &[(3, 1)])],
        ),
        (
            "two stray quotes in two fields",
            "a,b,c\n1,2,3\n4,ab\"c,d\"\"e\n",
            &[
                (2, &["1", "2", "3"], &[]),
                (3, &["4", "ab\"c", "d\"\"e"], &[(3, 1), (3, 2)]),
            ],
        ),
    ];
    let builder = ReaderBuilder::new();
    for (name, text, expected) in cases {
        for size in CHUNKS {
            let parsed = parse(&builder, text.as_bytes(), size)
                .unwrap_or_else(|e| panic!("{name} ({size}-byte reads): {e}"));
            let got: Vec<Seen> = parsed
                .records
                .iter()
                .map(|r| {
                    let strays = r.stray_quotes().iter().map(|q| (q.line, q.field)).collect();
                    (r.line(), r.iter().collect(), strays)
                })
                .collect();
            let want: Vec<Seen> = expected
                .iter()
                .map(|(line, fields, strays)| (*line, fields.to_vec(), strays.to_vec()))
                .collect();
            assert_eq!(got, want, "{name} ({size}-byte reads)");
        }
    }
}

/// Text of the pieces a hand-made file breaks on: quotes in every place,
/// delimiters, all three line ends, and multi-byte characters that a read
/// can cut.
fn rough_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop::sample::select(vec![
        "x", "xyz", "\"", "\"\"", ",", "\n", "\r\n", "\r", " ", "é", "山田",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// A reader that gives its first `first` bytes at once, then `size` bytes
/// a read: the reader's first 64 KiB, which it takes in before parsing,
/// arrive quickly, and what follows is cut.
struct CutAfter<'a> {
    data: &'a [u8],
    first: usize,
    size: usize,
}

impl std::io::Read for CutAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::mem::replace(&mut self.first, 0)
            .max(self.size)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 512,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any text, well formed or not, reads the same in every chunking under
    /// limits it keeps hitting: the same records, or the same error at the
    /// same line and column. The text starts just before the end of the
    /// first 64 KiB (what the reader takes in before parsing, under a named
    /// charset), so the reads of the chosen size cut it.
    #[test]
    fn rough_text_reads_alike_in_every_chunking(
        text in rough_text(),
        before_cut in 0usize..48,
        field in 3usize..12,
    ) {
        let mut builder = ReaderBuilder::new();
        builder.charset(Charset::Utf8);
        builder.limits(userimport_schema::Limits {
            max_field_bytes: field,
            max_columns: 4,
            ..Default::default()
        });
        // Blank lines up to there: skipped, and quick to skip.
        let mut data = b"a,b\n1,2\n".to_vec();
        data.resize(64 * 1024 - before_cut, b'\n');
        let first = data.len();
        data.extend_from_slice(text.as_bytes());
        let read = |size| {
            let input = CutAfter { data: &data, first, size };
            let reader = builder.build(input).map_err(|e| e.to_string())?;
            reader.collect::<Result<Vec<Record>, _>>().map_err(|e| e.to_string())
        };
        let whole = read(1 << 20);
        for size in [1, 2, 7] {
            proptest::prop_assert_eq!(&read(size), &whole, "{}-byte reads", size);
        }
    }
}
