//! Property: records written by a CSV writer (the `csv` crate) read back
//! unchanged, in every charset that can encode them, whatever the chunking.

mod common;

use common::parse;
use encoding_rs::{EUC_JP, Encoding, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use proptest::prelude::*;
use userimport_parse::{Charset, ReaderBuilder, Record};

/// Any character a spreadsheet can hold: everything but the C0 controls
/// other than tab, CR and LF (NUL and friends make a file look binary), with
/// the characters that steer a CSV parser and Japanese text made likely.
fn cell_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![',', ';', '\t', '"', '\r', '\n', ' ', '\'', '=', '\u{3000}']),
        4 => prop::char::range('a', 'z'),
        4 => prop::char::range('\u{3041}', '\u{30F6}'),
        2 => prop::char::range('\u{4E00}', '\u{4FFF}'),
        2 => prop::sample::select(vec!['é', 'ü', 'ß', 'Ø', '€', '£', '¥', '－', '〜', '①']),
        2 => any::<char>().prop_filter("no C0 control but tab, CR, LF; no DEL", |&c| {
            (c >= ' ' || matches!(c, '\t' | '\r' | '\n')) && c != '\u{7f}'
        }),
    ]
}

/// Characters every Japanese charset (and UTF-8/16) can encode.
fn japanese_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![',', ';', '\t', '"', '\r', '\n', ' ', '\u{3000}', '－', '～']),
        4 => prop::char::range('a', 'z'),
        4 => prop::char::range('\u{3041}', '\u{3093}'),
        4 => prop::char::range('\u{30A1}', '\u{30F6}'),
        4 => prop::sample::select("山田太郎佐藤花子鈴木一高橋伊渡辺中村小林加東京都大阪市営業部長課".chars().collect::<Vec<_>>()),
        1 => prop::char::range('Ａ', 'Ｚ'),
    ]
}

fn cell(chars: BoxedStrategy<char>) -> impl Strategy<Value = String> {
    prop::collection::vec(chars, 0..10).prop_map(|chars| chars.into_iter().collect())
}

/// Records that are not blank (blank records are skipped by design), the
/// first not looking like Excel's `sep=` line or starting with a BOM.
fn records(chars: BoxedStrategy<char>) -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(cell(chars), 1..6), 1..8).prop_filter(
        "no blank record, no sep= or BOM at the start",
        |records| {
            records
                .iter()
                .all(|r| r.iter().any(|f| !f.trim().is_empty()))
                && !records[0][0].starts_with("sep=")
                && !records[0][0].starts_with("\"sep=")
                && !records[0][0].starts_with('\u{FEFF}')
        },
    )
}

/// `text` in `encoding` (by hand for UTF-16), if it round-trips exactly.
fn encode(text: &str, encoding: &'static Encoding, bom: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if encoding == UTF_16LE || encoding == UTF_16BE {
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            out.extend(if encoding == UTF_16LE {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        return Some(out);
    }
    let (bytes, _, unmappable) = encoding.encode(text);
    if unmappable {
        return None;
    }
    // Shift_JIS and EUC-JP map a few characters one way only (U+00A5,
    // U+203E, U+2212): such text cannot be written in them.
    let (back, malformed) = encoding.decode_without_bom_handling(&bytes);
    if malformed || back != text {
        return None;
    }
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    out.extend_from_slice(&bytes);
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_records_read_back_unchanged(
        records in records(cell_char().boxed()),
        delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        crlf in any::<bool>(),
        chunk in 1usize..80,
    ) {
        round_trip(&records, delimiter, crlf, chunk, false)?;
    }

    #[test]
    fn japanese_records_read_back_unchanged_in_every_japanese_charset(
        records in records(japanese_char().boxed()),
        delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        crlf in any::<bool>(),
        chunk in 1usize..80,
    ) {
        round_trip(&records, delimiter, crlf, chunk, true)?;
    }
}

/// Writes `records`, encodes them in each charset that can, reads them back.
/// `all_japanese`: Shift_JIS and EUC-JP must be able to encode them.
fn round_trip(
    records: &[Vec<String>],
    delimiter: u8,
    crlf: bool,
    chunk: usize,
    all_japanese: bool,
) -> Result<(), TestCaseError> {
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .terminator(if crlf {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            })
            .from_writer(Vec::new());
        for record in records {
            writer.write_record(record).unwrap();
        }
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let expected: Vec<Record> = {
            // Physical lines: each record starts after the line breaks of
            // the records before it.
            let mut line = 1;
            records
                .iter()
                .map(|fields| {
                    let record = Record::from_fields(line, fields);
                    let written = fields.join(" ");
                    let breaks = written.matches('\n').count() + written.matches('\r').count()
                        - written.matches("\r\n").count();
                    line += breaks as u64 + 1;
                    record
                })
                .collect()
        };
        let charsets = [
            (UTF_8, Charset::Auto, false),
            (UTF_8, Charset::Auto, true),
            (UTF_8, Charset::Utf8, false),
            (UTF_16LE, Charset::Auto, true),
            (UTF_16LE, Charset::Utf16Le, false),
            (UTF_16BE, Charset::Utf16Be, true),
            (SHIFT_JIS, Charset::ShiftJis, false),
            (EUC_JP, Charset::EucJp, false),
            (WINDOWS_1252, Charset::Windows1252, false),
        ];
        for (encoding, charset, bom) in charsets {
            let Some(bytes) = encode(&text, encoding, bom) else {
                prop_assert!(
                    !all_japanese || (encoding != SHIFT_JIS && encoding != EUC_JP),
                    "{} cannot encode {:?}",
                    encoding.name(),
                    text
                );
                continue;
            };
            let mut builder = ReaderBuilder::new();
            builder.charset(charset).delimiter(Some(delimiter));
            let parsed = parse(&builder, &bytes, chunk).map_err(|e| {
                TestCaseError::fail(format!("{} {charset:?}: {e}", encoding.name()))
            })?;
            prop_assert_eq!(parsed.encoding, encoding.name());
            prop_assert_eq!(
                &parsed.header,
                &expected[0],
                "{} {:?}",
                encoding.name(),
                charset
            );
            prop_assert_eq!(
                &parsed.records[..],
                &expected[1..],
                "{} {:?}",
                encoding.name(),
                charset
            );
        }
    }
    Ok(())
}
