//! Charset detection on the short, hand-made files administrators upload:
//! generated Shift_JIS and EUC-JP files (kanji, full- and half-width kana,
//! mixed with ASCII) and windows-1252 and MacRoman files of one to five
//! rows are all detected right, and detection never names a charset that
//! `--charset` would refuse.

use encoding_rs::{EUC_JP, Encoding, MACINTOSH, SHIFT_JIS, WINDOWS_1252};
use userimport_parse::{Charset, Error, ReaderBuilder};

const KANJI: &[&str] = &[
    "山田 太郎",
    "佐藤 花子",
    "鈴木 一郎",
    "高橋 健",
    "田中 美咲",
    "伊藤 翔",
    "渡辺 直樹",
    "中村 陽菜",
    "小林 誠",
    "加藤 恵子",
    "吉田 拓也",
    "山本 結衣",
    "松本 大輝",
    "井上 彩",
    "木村 蓮",
    "斎藤 優",
    "清水 悠真",
    "森 葵",
];
const HIRAGANA: &[&str] = &[
    "やまだ たろう",
    "さとう はなこ",
    "すずき いちろう",
    "たかはし けん",
    "たなか みさき",
    "いとう しょう",
    "わたなべ なおき",
    "なかむら ひな",
    "こばやし まこと",
    "かとう けいこ",
];
const KATAKANA: &[&str] = &[
    "ヤマダ タロウ",
    "サトウ ハナコ",
    "スズキ イチロウ",
    "タカハシ ケン",
    "タナカ ミサキ",
    "イトウ ショウ",
    "ワタナベ ナオキ",
    "ナカムラ ヒナ",
    "コバヤシ マコト",
    "カトウ ケイコ",
];
const HALF_WIDTH: &[&str] = &[
    "ｽｽﾞｷ ﾊﾅｺ",
    "ﾀｶﾊｼ ｲﾁﾛｳ",
    "ﾔﾏﾀﾞ",
    "ﾔﾏﾀﾞ ﾀﾛｳ",
    "ｻﾄｳ ﾊﾅｺ",
    "ﾀﾅｶ ﾐｻｷ",
    "ｲﾄｳ ｼｮｳ",
    "ﾜﾀﾅﾍﾞ ﾅｵｷ",
    "ﾅｶﾑﾗ ﾋﾅ",
    "ｺﾊﾞﾔｼ ﾏｺﾄ",
    "ｶﾄｳ ｹｲｺ",
    "ﾖｼﾀﾞ ﾀｸﾔ",
    "ﾔﾏﾓﾄ ﾕｲ",
    "ﾏﾂﾓﾄ ﾀﾞｲｷ",
    "ｲﾉｳｴ ｱﾔ",
    "ｷﾑﾗ ﾚﾝ",
];
const MIXED: &[&str] = &[
    "営業部 Sales",
    "Tanaka 田中",
    "東京 Office 2",
    "開発部,Dev",
    "山田 Taro",
    "総務 HR-1",
    "さくら Team",
    "ABC株式会社",
    "第2営業課",
    "ヤマダ Taro",
];
const LATIN: &[&str] = &[
    "Müller",
    "José García",
    "François Lefèvre",
    "Zoë Brontë",
    "Søren Kierkegaard",
    "Åsa Öberg",
    "Renée Dubois",
    "Björn Ångström",
    "Çelik",
    "Niño",
    "Café Crème",
    "Ørsted",
    "Jürgen Groß",
    "Élodie Bélanger",
    "Señora Peña",
    "Mañana",
    "Noël",
    "Håkon",
];

/// `rows` data rows cycling through `names` from `start`, with an ASCII
/// header (or a Japanese one), in `encoding`.
fn file(
    encoding: &'static Encoding,
    names: &[&str],
    start: usize,
    rows: usize,
    header: &str,
) -> Vec<u8> {
    let mut text = format!("{header}\r\n");
    for i in 0..rows {
        let name = names[(start + i) % names.len()];
        let name = if name.contains(',') {
            format!("\"{name}\"")
        } else {
            name.to_string()
        };
        text.push_str(&format!("{},{name}\r\n", i + 1));
    }
    let (bytes, _, unmappable) = encoding.encode(&text);
    assert!(!unmappable, "{} cannot encode {text:?}", encoding.name());
    bytes.into_owned()
}

fn detect(bytes: &[u8]) -> Result<(&'static str, bool, Option<&'static str>), Error> {
    let reader = ReaderBuilder::new().build(bytes)?;
    let detection = reader.detection().copied();
    Ok((
        reader.encoding().name(),
        detection.is_none_or(|d| d.confident),
        detection.and_then(|d| d.runner_up).map(Encoding::name),
    ))
}

#[test]
fn short_japanese_and_latin_files_are_detected_right() {
    let tables: &[(&str, &'static Encoding, &[&str])] = &[
        ("kanji", SHIFT_JIS, KANJI),
        ("kanji", EUC_JP, KANJI),
        ("hiragana", SHIFT_JIS, HIRAGANA),
        ("hiragana", EUC_JP, HIRAGANA),
        ("katakana", SHIFT_JIS, KATAKANA),
        ("katakana", EUC_JP, KATAKANA),
        ("half-width katakana", SHIFT_JIS, HALF_WIDTH),
        ("half-width katakana", EUC_JP, HALF_WIDTH),
        ("mixed with ASCII", SHIFT_JIS, MIXED),
        ("mixed with ASCII", EUC_JP, MIXED),
        ("latin", WINDOWS_1252, LATIN),
    ];
    let mut wrong = Vec::new();
    let mut files = 0;
    for &(what, encoding, names) in tables {
        for rows in 1..=5 {
            for start in 0..names.len() {
                for header in ["ID,Name", "id,name"] {
                    let bytes = file(encoding, names, start, rows, header);
                    files += 1;
                    match detect(&bytes) {
                        Ok((found, _, _)) if found == encoding.name() => {}
                        other => wrong.push(format!(
                            "{what} in {} ({rows} rows from {start}): {other:?}",
                            encoding.name()
                        )),
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {files} files misdetected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn japanese_headers_make_the_guess_confident() {
    for encoding in [SHIFT_JIS, EUC_JP] {
        for names in [KANJI, HALF_WIDTH, KATAKANA] {
            let bytes = file(encoding, names, 0, 2, "ID,氏名");
            let (found, confident, _) = detect(&bytes).unwrap();
            assert_eq!(found, encoding.name());
            assert!(confident, "{} {:?}", encoding.name(), names[0]);
        }
    }
}

#[test]
fn the_reported_files_are_read_as_written() {
    let cases: &[(&[u8], &str, &[&str])] = &[
        (
            b"ID,Name\r\n1,\xbd\xbd\xde\xb7 \xca\xc5\xba\r\n2,\xc0\xb6\xca\xbc \xb2\xc1\xdb\xb3\r\n",
            "Shift_JIS",
            &["ｽｽﾞｷ ﾊﾅｺ", "ﾀｶﾊｼ ｲﾁﾛｳ"],
        ),
        (b"ID,Name\r\n1,\xd4\xcf\xc0\xde\r\n", "Shift_JIS", &["ﾔﾏﾀﾞ"]),
    ];
    for (bytes, encoding, names) in cases {
        let reader = ReaderBuilder::new().build(*bytes).unwrap();
        assert_eq!(reader.encoding().name(), *encoding);
        let got: Vec<String> = reader
            .map(|r| r.unwrap().get(1).unwrap().to_string())
            .collect();
        assert_eq!(got, *names);
    }
    // The same half-width rows, a thousand of them.
    let mut big = b"ID,Name\r\n".to_vec();
    for i in 0..1000 {
        big.extend_from_slice(format!("{i},").as_bytes());
        big.extend_from_slice(if i % 2 == 0 {
            b"\xbd\xbd\xde\xb7 \xca\xc5\xba\r\n"
        } else {
            b"\xc0\xb6\xca\xbc \xb2\xc1\xdb\xb3\r\n"
        });
    }
    let (found, confident, _) = detect(&big).unwrap();
    assert_eq!((found, confident), ("Shift_JIS", true));
}

#[test]
fn an_unconfident_guess_names_the_runner_up() {
    // Two bytes that are one kanji in EUC-JP and two half-width katakana in
    // Shift_JIS: either could be meant.
    let (found, confident, runner_up) = detect(b"ID,Name\r\n1,\xb0\xa1\r\n").unwrap();
    assert!(!confident, "{found}");
    assert!(runner_up.is_some());
    assert_ne!(runner_up, Some(found));
}

#[test]
fn text_nobody_types_is_not_confident() {
    // Shift_JIS Cyrillic (row 7) beside half-width katakana.
    let (text, _, _) = SHIFT_JIS.encode("ID,Name\r\n1,Жｱｲ\r\n");
    let (found, confident, _) = detect(&text).unwrap();
    assert_eq!(found, "Shift_JIS");
    assert!(!confident);
    // A C1 control (Shift_JIS reads 0x80 as U+0080) in Japanese text.
    let (text, _, _) = SHIFT_JIS.encode("ID,氏名\r\n1,山田 太郎\r\n");
    let mut bytes = text.into_owned();
    bytes.insert(bytes.len() - 2, 0x80);
    let (found, confident, _) = detect(&bytes).unwrap();
    assert_eq!(found, "Shift_JIS");
    assert!(!confident);
}

#[test]
fn macroman_is_detected_where_it_can_be_told_apart_and_accepted_when_named() {
    for rows in 2..=5 {
        for start in 0..LATIN.len() {
            let bytes = file(MACINTOSH, LATIN, start, rows, "ID,Name");
            let (found, _, _) = detect(&bytes).unwrap();
            assert_eq!(found, "macintosh", "{rows} rows from {start}");
        }
    }
    let bytes = file(MACINTOSH, LATIN, 0, 1, "ID,Name");
    let charset: Charset = "macintosh".parse().unwrap();
    let reader = ReaderBuilder::new()
        .charset(charset)
        .build(&bytes[..])
        .unwrap();
    assert_eq!(reader.encoding().name(), "macintosh");
    assert!(reader.detection().is_none());
    let names: Vec<String> = reader
        .map(|r| r.unwrap().get(1).unwrap().to_string())
        .collect();
    assert_eq!(names, ["Müller"]);
}

#[test]
fn a_lone_nul_is_binary_not_utf16() {
    for bytes in [
        &b"a,\x00b,c"[..],
        b"id,name\n1,a\x00b\n",
        b"id,name\r\n1,\x00\r\n2,x\r\n",
    ] {
        match ReaderBuilder::new().build(bytes) {
            Err(Error::Binary { .. }) => {}
            other => panic!("{bytes:?}: {:?}", other.map(|r| r.encoding().name())),
        }
    }
    // Real UTF-16 without a BOM is still UTF-16.
    let text = "id,name\r\n1,山田\r\n2,Ann\r\n";
    for (le, name) in [(true, "UTF-16LE"), (false, "UTF-16BE")] {
        let bytes: Vec<u8> = text
            .encode_utf16()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect();
        assert_eq!(detect(&bytes).unwrap().0, name);
    }
}

/// Whatever the bytes, the charset detected is one `--charset` accepts.
#[test]
fn detection_never_returns_an_unsupported_charset() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 2, 3, 5, 8, 13, 40, 200] {
        for _ in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Mostly high bytes, some ASCII structure.
                    match seed % 8 {
                        0 => b',',
                        1 => b'\n',
                        2 => b'a' + (seed >> 8) as u8 % 26,
                        _ => 0x80 | (seed >> 16) as u8,
                    }
                })
                .collect();
            let mut data = b"id,name\n".to_vec();
            data.extend_from_slice(&bytes);
            if let Ok(reader) = ReaderBuilder::new().build(&data[..]) {
                let name = reader.encoding().name();
                assert!(
                    Charset::from_encoding(reader.encoding()).is_some(),
                    "{data:?} detected as {name}"
                );
                assert!(
                    name.parse::<Charset>().is_ok(),
                    "{name} is refused by --charset"
                );
                if let Some(d) = reader.detection() {
                    assert!(
                        d.runner_up
                            .is_none_or(|e| Charset::from_encoding(e).is_some())
                    );
                }
            }
        }
    }
}
