//! Charsets: the names a user gives, and detection from a file's first bytes.
//!
//! Detection never leaves the supported set: a file without a BOM that is not
//! UTF-16 or strict UTF-8 is decoded in every supported legacy charset
//! (Shift_JIS, EUC-JP, windows-1252, MacRoman), and each decoding is scored
//! for how plausible its text is as something a person typed: hiragana,
//! katakana and common (JIS level 1) kanji for the Japanese charsets,
//! accented letters inside words for the Latin ones. chardetng's guess only
//! breaks near ties. A guess whose margin over the runner-up is thin, or
//! whose text mixes scripts nobody types together (Cyrillic beside
//! half-width katakana, C1 control characters), is not confident, and says
//! so through [`Detection`].

use encoding_rs::{
    EUC_JP, Encoding, MACINTOSH, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252,
};
use std::str::FromStr;

use crate::error::Error;

/// The character set of an input file: detected (`Auto`) or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Charset {
    /// Detect: BOM, then a UTF-16 heuristic, then strict UTF-8, then the
    /// most plausible of the supported legacy charsets (see [`Detection`]).
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
    /// MacRoman (`macintosh`): Excel for Mac's "CSV (Macintosh)".
    Macintosh,
}

/// Every explicit charset, in the order detection prefers on a tie.
const SUPPORTED: [Charset; 7] = [
    Charset::Utf8,
    Charset::ShiftJis,
    Charset::EucJp,
    Charset::Utf16Le,
    Charset::Utf16Be,
    Charset::Windows1252,
    Charset::Macintosh,
];

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
            Charset::Macintosh => MACINTOSH,
        })
    }

    /// The charset for a supported encoding.
    pub fn from_encoding(encoding: &'static Encoding) -> Option<Charset> {
        SUPPORTED
            .into_iter()
            .find(|c| c.encoding() == Some(encoding))
    }
}

impl FromStr for Charset {
    type Err = Error;

    /// Accepts the CLI spellings (`auto`, `utf-8`, `shift_jis`, `euc-jp`,
    /// `utf-16le`, `utf-16be`, `windows-1252`, `macintosh`) and any
    /// encoding_rs label of those encodings (`sjis`, `cp932`, `latin1`,
    /// `mac`, …), case-insensitively.
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
            "macroman" | "mac-roman" | "mac_roman" => Some(MACINTOSH),
            _ => Encoding::for_label(label.as_bytes()),
        };
        encoding
            .and_then(Charset::from_encoding)
            .ok_or_else(|| Error::UnknownCharset(s.to_string()))
    }
}

/// How a file's encoding was settled when it was detected: the encoding,
/// whether the guess is confident, and the runner-up. Only legacy charsets
/// can be unconfident: a BOM, UTF-16 and strict UTF-8 are certain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// The encoding chosen (always one [`Charset`] names).
    pub encoding: &'static Encoding,
    /// The next most plausible supported encoding, when another one decodes
    /// the file at all.
    pub runner_up: Option<&'static Encoding>,
    /// False when the runner-up was nearly as plausible, or when the chosen
    /// decoding holds text nobody would type (C1 controls, Cyrillic or Greek
    /// beside half-width katakana).
    pub confident: bool,
}

impl Detection {
    fn certain(encoding: &'static Encoding) -> Detection {
        Detection {
            encoding,
            runner_up: None,
            confident: true,
        }
    }
}

/// Decodes `prefix` strictly: `None` at the first malformed sequence (a
/// sequence cut by the end of an incomplete prefix is fine).
fn decode_strict(encoding: &'static Encoding, prefix: &[u8], whole: bool) -> Option<String> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(prefix.len())
        .unwrap_or(prefix.len().saturating_mul(3))
        .saturating_add(16);
    let mut out = String::with_capacity(capacity);
    let mut input = prefix;
    loop {
        let (result, read) = decoder.decode_to_string_without_replacement(input, &mut out, whole);
        input = &input[read..];
        match result {
            encoding_rs::DecoderResult::InputEmpty => return Some(out),
            encoding_rs::DecoderResult::OutputFull => out.reserve(input.len() * 3 + 16),
            encoding_rs::DecoderResult::Malformed(..) => return None,
        }
    }
}

/// True when `prefix` is strict UTF-8 (a character cut by the end of an
/// incomplete prefix is fine).
fn is_utf8(prefix: &[u8], whole: bool) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => !whole && e.error_len().is_none(),
    }
}

/// Looks for UTF-16 without a BOM: ASCII text in UTF-16 (delimiters, line
/// ends, digits) has a zero byte in every other position. A few zero bytes
/// in a short text file are not that: it takes at least four zero bytes, a
/// quarter of the units, and a line break or delimiter in the decoded text.
fn utf16_without_bom(prefix: &[u8], whole: bool) -> Option<&'static Encoding> {
    let pairs = prefix.len() / 2;
    if pairs < 4 {
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
    if zeros < 4 || zeros * 4 < pairs || others * 20 > zeros {
        return None;
    }
    let text = decode_strict(encoding, prefix, whole)?;
    text.contains(['\n', '\r', ',', ';', '\t'])
        .then_some(encoding)
}

/// Detects the encoding of a file from its first bytes. `whole` says the
/// prefix is the whole file.
pub(crate) fn detect(prefix: &[u8], whole: bool) -> Detection {
    if let Some((encoding, _)) = Encoding::for_bom(prefix) {
        return Detection::certain(encoding);
    }
    if let Some(encoding) = utf16_without_bom(prefix, whole) {
        return Detection::certain(encoding);
    }
    if is_utf8(prefix, whole) {
        return Detection::certain(UTF_8);
    }
    detect_legacy(prefix, whole)
}

/// The legacy charsets detection chooses among, in the order a tie goes.
const LEGACY: [&Encoding; 4] = [SHIFT_JIS, EUC_JP, WINDOWS_1252, MACINTOSH];

/// A winner whose score beats the runner-up by less than this much per
/// non-ASCII byte is not confident.
const CONFIDENT_MARGIN: f64 = 0.1;

/// What administrators upload, per non-ASCII byte: Excel on Japanese Windows
/// writes Shift_JIS; MacRoman comes only from old Macs.
fn prior(encoding: &'static Encoding) -> f64 {
    if encoding == SHIFT_JIS {
        0.15
    } else if encoding == MACINTOSH {
        -0.08
    } else {
        0.0
    }
}

/// Scores every legacy charset that decodes the prefix and picks the most
/// plausible; chardetng's guess (asked with the `.jp` hint) breaks near ties.
fn detect_legacy(prefix: &[u8], whole: bool) -> Detection {
    let non_ascii = prefix.iter().filter(|b| !b.is_ascii()).count().max(1) as f64;
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(prefix, whole);
    let hint = detector.guess(Some(b"jp"), chardetng::Utf8Detection::Deny);
    let mut scored: Vec<(f64, &'static Encoding, bool)> = LEGACY
        .iter()
        .filter_map(|&encoding| {
            let text = decode_strict(encoding, prefix, whole)?;
            let (mut score, odd) = plausibility(encoding, &text);
            score += prior(encoding) * non_ascii;
            if encoding == hint {
                score += 0.03 * non_ascii;
            }
            Some((score, encoding, odd))
        })
        .collect();
    // Stable: on equal scores the order of LEGACY decides.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(best, encoding, odd)) = scored.first() else {
        // windows-1252 decodes every byte in encoding_rs, so this is only
        // reached if that changes.
        return Detection {
            encoding: WINDOWS_1252,
            runner_up: None,
            confident: false,
        };
    };
    let runner_up = scored.get(1).map(|s| s.1);
    let margin = scored
        .get(1)
        .map_or(f64::INFINITY, |s| (best - s.0) / non_ascii);
    Detection {
        encoding,
        runner_up,
        confident: !odd && margin >= CONFIDENT_MARGIN,
    }
}

/// How plausible `text` is as what a person typed, summed over its
/// characters (each weighted by the bytes it took in `encoding`, so that
/// the decodings of one input compare), and whether it holds text nobody
/// types (C1 controls, private use, Cyrillic or Greek beside half-width
/// katakana).
fn plausibility(encoding: &'static Encoding, text: &str) -> (f64, bool) {
    let japanese = encoding == SHIFT_JIS || encoding == EUC_JP;
    let chars: Vec<char> = text.chars().collect();
    let mut jis = EUC_JP.new_encoder();
    let mut score = 0.0;
    let mut odd = false;
    let (mut half_width, mut cyrillic_greek) = (false, false);
    let mut last_row: Option<u8> = None;
    for (i, &ch) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        if ch.is_ascii() {
            let control = ch.is_ascii_control() && !matches!(ch, '\t' | '\n' | '\r');
            odd |= control;
            score += if control { 0.0 } else { 0.5 };
            last_row = None;
            continue;
        }
        if ('\u{80}'..='\u{9f}').contains(&ch) || ('\u{e000}'..='\u{f8ff}').contains(&ch) {
            odd = true;
            last_row = None;
            continue;
        }
        let (weight, bytes) = if japanese {
            let row = jis_row(&mut jis, ch);
            half_width |= is_half_width_kana(ch);
            cyrillic_greek |= matches!(row, Some(6 | 7));
            let mut weight = japanese_weight(ch, row, prev, next);
            // Runs of kanji from one JIS row are what other bytes misread
            // look like (EUC-JP half-width katakana read as Shift_JIS).
            if row.is_some_and(|r| r >= 16) && row == last_row {
                weight *= 0.1;
            }
            // Kana and kanji inside a Latin word are Latin letters misread.
            if !is_half_width_kana(ch) {
                for side in [prev, next] {
                    if side.is_some_and(|c| c.is_ascii_alphabetic()) {
                        weight *= 0.6;
                    }
                }
            }
            last_row = row.filter(|&r| r >= 16);
            (weight, japanese_bytes(encoding, ch))
        } else {
            (latin_weight(ch, prev, next), 1)
        };
        score += weight * bytes as f64;
    }
    (score, odd || (half_width && cyrillic_greek))
}

/// The JIS X 0208 row (1 to 94) of `ch`, when EUC-JP encodes it in two
/// bytes.
fn jis_row(encoder: &mut encoding_rs::Encoder, ch: char) -> Option<u8> {
    let mut utf8 = [0u8; 4];
    let mut out = [0u8; 8];
    let (result, _, written) =
        encoder.encode_from_utf8_without_replacement(ch.encode_utf8(&mut utf8), &mut out, false);
    match (result, &out[..written]) {
        (encoding_rs::EncoderResult::InputEmpty, &[first, second])
            if first >= 0xa1 && second >= 0xa1 =>
        {
            Some(first - 0xa0)
        }
        _ => None,
    }
}

fn is_half_width_kana(ch: char) -> bool {
    ('\u{ff61}'..='\u{ff9f}').contains(&ch)
}

/// Bytes `ch` takes in a Japanese encoding.
fn japanese_bytes(encoding: &'static Encoding, ch: char) -> usize {
    match (encoding == SHIFT_JIS, is_half_width_kana(ch)) {
        (true, true) => 1,
        _ => 2,
    }
}

/// The plausibility of one non-ASCII character decoded as Japanese.
fn japanese_weight(ch: char, row: Option<u8>, prev: Option<char>, next: Option<char>) -> f64 {
    if is_half_width_kana(ch) {
        return half_width_weight(ch, prev, next);
    }
    if ch == '\u{3000}' {
        return 0.8;
    }
    match row {
        Some(1) => 0.6,
        Some(2) => 0.3,
        Some(3) => 0.7,
        Some(4 | 5) => 1.0,
        Some(6 | 7) => 0.05,
        Some(8) => 0.0,
        Some(16..=47) if COMMON_KANJI.contains(ch) => 0.95,
        Some(16..=47) => 0.35,
        Some(48..=84) if COMMON_KANJI.contains(ch) => 0.9,
        Some(48..=84) => 0.2,
        _ => 0.1,
    }
}

/// Half-width katakana (legacy furigana exports): plain kana in words of
/// two or more are fine; the sound marks, small kana and the long vowel
/// only after the kana they belong to.
fn half_width_weight(ch: char, prev: Option<char>, next: Option<char>) -> f64 {
    let in_word = prev.is_some_and(is_half_width_kana) || next.is_some_and(is_half_width_kana);
    let after_kana = prev.is_some_and(|p| ('\u{ff66}'..='\u{ff9d}').contains(&p));
    let voiceable =
        |p: char| matches!(p, '\u{ff73}' | '\u{ff76}'..='\u{ff84}' | '\u{ff8a}'..='\u{ff8e}');
    match ch {
        '\u{ff9e}' if prev.is_some_and(voiceable) => 0.95,
        '\u{ff9f}' if prev.is_some_and(|p| ('\u{ff8a}'..='\u{ff8e}').contains(&p)) => 0.95,
        '\u{ff9e}' | '\u{ff9f}' => 0.1,
        '\u{ff67}'..='\u{ff70}' if after_kana => 0.6,
        '\u{ff67}'..='\u{ff70}' => 0.2,
        '\u{ff66}' => 0.35,
        '\u{ff61}'..='\u{ff65}' => 0.3,
        _ if in_word => 0.7,
        _ => 0.4,
    }
}

/// The plausibility of one non-ASCII character decoded as windows-1252 or
/// MacRoman: accented letters inside words are what Latin text has;
/// symbols and letters among other non-ASCII bytes are what misread bytes
/// look like.
fn latin_weight(ch: char, prev: Option<char>, next: Option<char>) -> f64 {
    let in_word = prev.is_some_and(|c| c.is_ascii_alphanumeric())
        || next.is_some_and(|c| c.is_ascii_alphanumeric());
    let spaced = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == ' ');
    let beside_ascii = spaced(prev) || spaced(next);
    const COMMON: &str = "àáâäãåçèéêëíîïñóôöõøùúûüßæœÀÁÂÄÃÅÇÈÉÊËÍÎÏÑÓÔÖÕØÙÚÛÜÆŒ";
    const RARE: &str = "ìòÌÒýÝÿŸšŠžŽðÐþÞƒ";
    const PUNCTUATION: &str = "‘’“”–—…€•·«»¿¡°";
    if COMMON.contains(ch) {
        if in_word { 0.9 } else { 0.4 }
    } else if RARE.contains(ch) {
        if in_word { 0.45 } else { 0.12 }
    } else if PUNCTUATION.contains(ch) {
        if beside_ascii { 0.6 } else { 0.15 }
    } else if ch == '\u{a0}' {
        0.3
    } else {
        0.1
    }
}

/// Kanji common in Japanese names, places, companies and everyday text
/// (roughly the most frequent thousand): real text is mostly these, bytes
/// misread as kanji mostly are not.
const COMMON_KANJI: &str = concat!(
    "日一国会人年大十二本中長出三同時政事自行社見月分議後前民生連五発間対上部東者党地合市業内相方四定今回新場金員九入選立開手米力学問高代明実円関決子動京全目表戦経通外最言氏現理調体化田当八六約主題下首意法不来作性的要用制治度務強気小七成期公持野協取都和統以機平総加山思家話世受区領多県続進正安設保改数記院女初北午指権心界支第産結百派点教報済書府活原先共得解名交資予川向際査勝面委告軍文反元重近千考判認画海参売利組知案道信策集在件団別物側任引使求所次水半品昨論計死官増係感特情投示変打男基私各始島直両朝革価式確村提運終挙果西勢減台広容必応演電歳住争談能無再位置企真流格有疑口過局少放税検藤町常校料沢裁状工建語球営空職証土与急止送援供可役構木割聞身費付施切由説転食比難防補車優夫研収断井何南石足違消境神番規術護展態導鮮備宅害配副算視条幹独警宮究育席輸訪楽起万着乗店述残想線率病農州武声質念待試族象銀域助労例衛然早張映限親額監環験追審商葉義伝働形景落欧担好退準賞訴辺造英被株頭技低毎医復仕去姿味負閣韓渡失移差衆個門写評課末守若脳極種美岡影命含福蔵量望松非撃佐核観察整段横融型白深字答夜製票況音申様財港識注呼渉達良響阪帰針専推谷古候史天階程満敗管値歌買突兵接請器士光討路悪科攻崎督授催細効図週積丸他及湾録処省旧室憲太橋歩離岸客風紙激否周師摘材登系批郎母易健黒火戸速存花春飛殺央券赤号単盟座青破編捜竹除完降超責並療従右修捕隊危採織森競拡故館振給屋介読弁根色友苦就迎走販園具左異歴辞将秋因献厳馬愛幅休維富浜父遺彼般未塁貿講邦舞林装諸夏素亡劇河遣航抗冷模雄適婦鉄寄益込顔緊類児余禁印逆王返標換久短油妻暴輪占宣背昭廃植熱宿薬伊江清習険頼僚覚吉盛船倍均億途圧芸許皇臨踏駅署抜壊債便伸留罪停興爆陸玉源儀波創障継筋狙帯延羽努固闘精則葬乱避普散司康測豊洋静善逮婚厚喜齢囲卒迫略承浮惑崩順紀聴脱旅絶級幸岩練押軽倒了庁博城患締等救執層版老令角絡損房募曲撤裏払削密庭徒措仏績築貨志混載昇池陣我勤為血遅抑幕居染温雑招奈季困星傷永択秀著徴誌庫弾償刊像功拠香欠更秘拒刑坂刻底賛塚致抱繰服犯尾描布恐寺鈴盤息宇項喪伴遠養懸戻街巨震願絵希越契掲躍棄欲痛触邸依籍汚縮還枚属笑互複慮郵束仲栄札枠似夕恵板列露沖探逃借緩節需骨射傾届曜遊迷夢巻購揮君燃充雨閉緒跡包駐貢鹿弱却端賃折紹獲郡併草徹飲貴埼衝焦奪雇災浦暮替析預焼簡譲称肉納樹挑章臓律誘紛貸至宗促慎控贈智握照宙酒俊銭薄堂渋群銃悲秒操携奥診詰託晴撮誕侵括掛謝双孝刺到駆寝透津壁稲仮暗裂敏鳥純是飯排裕堅訳盗芝綱吸典賀扱顧弘看訟戒祉誉歓勉奏勧騒翌陽閥甲快縄片郷敬揺免既薦隣悩華泉御範隠冬徳皮哲漁杉里釈己荒貯硬妥威豪熊歯滞微隆埋症暫忠倉昼茶彦肝柱喚沿妙唱祭袋阿索誠忘襲雪筆吹訓懇浴俳童宝柄驚麻封胸娘砂李塩浩誤剤瀬趣陥斎貫仙慰賢序弟旬腕兼聖旨即洗柳舎偽較覇兆床畑慣詳毛緑尊抵脅祝礼窓柔茂犠旗距雅飾網竜詩昔繁殿濃翼牛茨潟敵魅嫌魚斉液貧敷擁衣肩圏零酸兄罰怒滅泳礎腐祖幼脚菱荷潮梅泊尽杯僕桜滑孤黄炎賠句寿鋼頑甘臣鎖彩摩浅励掃雲掘縦輝蓄軸巡疲稼瞬捨皆砲軟噴沈誇祥牲秩帝宏鋭粧符胆",
    "辺渡邉邊斉齋齊菊柴崎﨑嶋島宮菅原野々久保関桑須賀翔蓮湊陽葵結衣咲菜美愛優奈莉彩花凛颯悠真大輝樹誠健太郎次郎三郎一子恵幸直和也拓哉貴俊博隆浩治司明弘勇進豊茂實修淳聡亮介輔祐佑裕香織沙紀理絵麻由佳代江枝奈穂瑞千尋智春夏秋冬雪月星空海凪湖栞紬琴芽心結羽陸蒼碧朝",
    "営業総務人事経理開発技術情報企画広報製造品質管理本社支店東京大阪名古屋札幌福岡横浜神戸京都仙台広島部課係室長主任担当職員社員会員",
);

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

    /// Prints every candidate's score (run with `--nocapture` to tune).
    #[test]
    fn print_scores() {
        let Ok(input) = std::env::var("CHARSET_SCORES") else {
            return;
        };
        let bytes: Vec<u8> = (0..input.len() / 2)
            .filter_map(|i| u8::from_str_radix(&input[2 * i..2 * i + 2], 16).ok())
            .collect();
        for encoding in LEGACY {
            if let Some(text) = decode_strict(encoding, &bytes, true) {
                let (score, odd) = plausibility(encoding, &text);
                println!("{} {score:.2} {odd} {text:?}", encoding.name());
            }
        }
        println!("{:?}", detect(&bytes, true));
    }

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
            ("macintosh", Charset::Macintosh),
            ("MacRoman", Charset::Macintosh),
            ("x-mac-roman", Charset::Macintosh),
        ] {
            assert_eq!(s.parse::<Charset>().unwrap(), c, "{s}");
        }
        assert!("klingon".parse::<Charset>().is_err());
        assert!("gbk".parse::<Charset>().is_err());
        assert!("ibm866".parse::<Charset>().is_err());
        assert!("iso-8859-5".parse::<Charset>().is_err());
    }
}
