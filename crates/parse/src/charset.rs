//! Charsets: the names a user gives, and detection from a file's first bytes.

use encoding_rs::{
    EUC_JP, Encoding, GB18030, GBK, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252,
};
use std::str::FromStr;

use crate::error::Error;

/// The character set of an input file: detected (`Auto`) or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Charset {
    /// Detect: BOM, then a UTF-16 heuristic, then strict UTF-8, then
    /// chardetng on the first 64 KiB (preferring Japanese encodings when a
    /// CJK guess is ambiguous).
    #[default]
    Auto,
    /// UTF-8 (a BOM is allowed and removed).
    Utf8,
    /// Shift_JIS (as Excel on Japanese Windows writes it; encoding_rs decodes
    /// the Windows-31J extensions too).
    ShiftJis,
    /// EUC-JP.
    EucJp,
    /// UTF-16 little-endian (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16 big-endian.
    Utf16Be,
    /// windows-1252 (also what `latin1` and `iso-8859-1` mean on the Web).
    Windows1252,
}

impl Charset {
    /// The encoding of an explicit charset; `None` for [`Charset::Auto`].
    pub fn encoding(self) -> Option<&'static Encoding> {
        Some(match self {
            Charset::Auto => return None,
            Charset::Utf8 => UTF_8,
            Charset::ShiftJis => SHIFT_JIS,
            Charset::EucJp => EUC_JP,
            Charset::Utf16Le => UTF_16LE,
            Charset::Utf16Be => UTF_16BE,
            Charset::Windows1252 => WINDOWS_1252,
        })
    }

    /// The charset for a supported encoding.
    pub fn from_encoding(encoding: &'static Encoding) -> Option<Charset> {
        [
            Charset::Utf8,
            Charset::ShiftJis,
            Charset::EucJp,
            Charset::Utf16Le,
            Charset::Utf16Be,
            Charset::Windows1252,
        ]
        .into_iter()
        .find(|c| c.encoding() == Some(encoding))
    }
}

impl FromStr for Charset {
    type Err = Error;

    /// Accepts the CLI spellings (`auto`, `utf-8`, `shift_jis`, `euc-jp`,
    /// `utf-16le`, `utf-16be`, `windows-1252`) and any encoding_rs label of
    /// those encodings (`sjis`, `cp932`, `latin1`, …), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let label = s.trim();
        if label.eq_ignore_ascii_case("auto") {
            return Ok(Charset::Auto);
        }
        let encoding = match label.to_ascii_lowercase().as_str() {
            "utf8" => Some(UTF_8),
            "cp932" | "ms932" | "windows-932" | "sjis" => Some(SHIFT_JIS),
            "eucjp" => Some(EUC_JP),
            "utf16le" | "utf-16" => Some(UTF_16LE),
            "utf16be" => Some(UTF_16BE),
            _ => Encoding::for_label(label.as_bytes()),
        };
        encoding
            .and_then(Charset::from_encoding)
            .ok_or_else(|| Error::UnknownCharset(s.to_string()))
    }
}

/// True when `prefix` decodes in `encoding` without a malformed sequence (a
/// sequence cut by the end of an incomplete prefix is fine).
pub(crate) fn decodes_cleanly(encoding: &'static Encoding, prefix: &[u8], whole: bool) -> bool {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = vec![0u8; 16 * 1024];
    let mut input = prefix;
    loop {
        let (result, read, _) = decoder.decode_to_utf8_without_replacement(input, &mut out, whole);
        input = &input[read..];
        match result {
            encoding_rs::DecoderResult::InputEmpty => return true,
            encoding_rs::DecoderResult::OutputFull => continue,
            encoding_rs::DecoderResult::Malformed(..) => return false,
        }
    }
}

/// Looks for UTF-16 without a BOM: ASCII text in UTF-16 has a zero byte in
/// every other position.
fn utf16_without_bom(prefix: &[u8], whole: bool) -> Option<&'static Encoding> {
    let pairs = prefix.len() / 2;
    if pairs < 2 {
        return None;
    }
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in prefix.chunks_exact(2) {
        even += (pair[0] == 0) as usize;
        odd += (pair[1] == 0) as usize;
    }
    let (encoding, zeros, others) = if odd > even {
        (UTF_16LE, odd, even)
    } else {
        (UTF_16BE, even, odd)
    };
    // At least one unit in ten is ASCII (delimiters, line ends, digits), and
    // the other position is almost never zero.
    if zeros * 10 >= pairs && others * 20 <= zeros && decodes_cleanly(encoding, prefix, whole) {
        Some(encoding)
    } else {
        None
    }
}

/// Detects the encoding of a file from its first bytes. `whole` says the
/// prefix is the whole file.
pub(crate) fn detect(prefix: &[u8], whole: bool) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(prefix) {
        return encoding;
    }
    if let Some(encoding) = utf16_without_bom(prefix, whole) {
        return encoding;
    }
    if decodes_cleanly(UTF_8, prefix, whole) {
        return UTF_8;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(prefix, whole);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    // Japanese tie-break: short Japanese text in EUC-JP or Shift_JIS often
    // scores as GBK, Big5 or EUC-KR. Our users are mostly Japanese, so for a
    // CJK guess ask again with the `.jp` hint and try the Japanese encodings
    // first (chardetng's Japanese guess first: EUC-JP text often decodes
    // as Shift_JIS half-width katakana too, so the order matters).
    let cjk = [
        GBK,
        GB18030,
        encoding_rs::BIG5,
        encoding_rs::EUC_KR,
        SHIFT_JIS,
        EUC_JP,
    ]
    .contains(&guess);
    let mut candidates: Vec<&'static Encoding> = Vec::new();
    if cjk {
        let japanese = detector.guess(Some(b"jp"), chardetng::Utf8Detection::Deny);
        if japanese == EUC_JP {
            candidates.extend([EUC_JP, SHIFT_JIS]);
        } else {
            candidates.extend([SHIFT_JIS, EUC_JP]);
        }
    }
    candidates.extend([guess, SHIFT_JIS, EUC_JP, WINDOWS_1252]);
    candidates
        .into_iter()
        .find(|&e| decodes_cleanly(e, prefix, whole))
        // windows-1252 decodes every byte in encoding_rs, so this is only
        // reached if that changes.
        .unwrap_or(WINDOWS_1252)
}

/// True when `encoding` is in `allowed` (names or labels, case-insensitive).
pub(crate) fn is_allowed(encoding: &'static Encoding, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|name| {
            name.eq_ignore_ascii_case(encoding.name())
                || Encoding::for_label(name.trim().as_bytes()) == Some(encoding)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_spellings_and_labels_parse() {
        for (s, c) in [
            ("auto", Charset::Auto),
            ("utf-8", Charset::Utf8),
            ("UTF8", Charset::Utf8),
            ("shift_jis", Charset::ShiftJis),
            ("Shift_JIS", Charset::ShiftJis),
            ("cp932", Charset::ShiftJis),
            ("euc-jp", Charset::EucJp),
            ("utf-16le", Charset::Utf16Le),
            ("utf-16be", Charset::Utf16Be),
            ("windows-1252", Charset::Windows1252),
            ("latin1", Charset::Windows1252),
        ] {
            assert_eq!(s.parse::<Charset>().unwrap(), c, "{s}");
        }
        assert!("klingon".parse::<Charset>().is_err());
        assert!("gbk".parse::<Charset>().is_err());
    }
}
