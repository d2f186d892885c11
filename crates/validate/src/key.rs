//! Keys as people mean them: login IDs and e-mails compared after Unicode
//! normalisation, refused when they hide invisible characters, and checked
//! for look-alikes with the confusable skeleton of Unicode TR39.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds a key (login ID, e-mail) for comparison: trimmed, NFKC, lowercase
/// (full-width `ＢＯＳＳ` and `boss` are one key), and NFKC again, so the
/// result is stable. ASCII, the usual case, is only trimmed and lowercased.
///
/// ```
/// use userimport_validate::fold_key;
///
/// assert_eq!(fold_key(" Boss "), "boss");
/// assert_eq!(fold_key("ＢＯＳＳ"), "boss");
/// assert_eq!(fold_key("Straße"), "straße");
/// ```
pub fn fold_key(key: &str) -> Cow<'_, str> {
    let key = trim(key);
    if lowercase_ascii(key.as_bytes()) {
        return Cow::Borrowed(key);
    }
    if key.is_ascii() {
        return Cow::Owned(key.to_ascii_lowercase());
    }
    Cow::Owned(fold_unicode(key))
}

/// True when every byte is ASCII and none is an uppercase letter (the key
/// is its own fold), eight bytes at a time: a byte has its high bit set, or
/// gets it by adding 0x3F (at least `A`) but not by adding 0x25 (at least
/// `[`). Below 0x80 neither sum carries into the next byte.
fn lowercase_ascii(bytes: &[u8]) -> bool {
    use crate::swar::{HIGH, ONES, all_bytes};
    let word_ok = |w: u64| {
        let from_a = w.wrapping_add(ONES * 0x3F);
        let past_z = w.wrapping_add(ONES * 0x25);
        w & HIGH == 0 && from_a & !past_z & HIGH == 0
    };
    all_bytes(bytes, word_ok, |b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// [`fold_key`] without the ASCII shortcut: NFKC, lowercase, NFKC, trimmed.
fn fold_unicode(key: &str) -> String {
    let lower: String = key.trim().nfkc().flat_map(char::to_lowercase).collect();
    lower.nfkc().collect::<String>().trim().to_string()
}

/// The confusable skeleton (Unicode TR39) of a folded key: two keys with
/// the same skeleton look the same on screen (`boss` and `bоss` with a
/// Cyrillic `о`).
///
/// ```
/// use userimport_validate::{fold_key, key_skeleton};
///
/// assert_eq!(key_skeleton(&fold_key("boss")), key_skeleton(&fold_key("bоss")));
/// assert_ne!(key_skeleton(&fold_key("boss")), key_skeleton(&fold_key("bass")));
/// ```
pub fn key_skeleton(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len() + 4);
    skeleton_into(folded, &mut out);
    out
}

/// Appends the skeleton of `folded` to `out` (see [`skeleton_bytes_into`]).
pub(crate) fn skeleton_into(folded: &str, out: &mut String) {
    let mut bytes = Vec::with_capacity(folded.len() + 4);
    skeleton_bytes_into(folded, &mut bytes);
    // The bytes are the table's ASCII or a decomposed `String`'s: always
    // UTF-8, so this borrows them as they are.
    out.push_str(&String::from_utf8_lossy(&bytes));
}

/// Appends the skeleton of `folded` to `out`, as UTF-8 bytes. ASCII keys,
/// nearly every key, map byte by byte through a table made once from the
/// same TR39 data, so checking a million keys costs no Unicode
/// decomposition. The table holds the characters whose prototype is ASCII
/// (`1` → `l`, `m` → `rn`): their skeletons simply concatenate. A key with
/// any other character (`%` → `°/₀`, `é`) takes the decomposing path.
pub(crate) fn skeleton_bytes_into(folded: &str, out: &mut Vec<u8>) {
    let bytes = folded.as_bytes();
    let table = ascii_skeletons();
    let start = out.len();
    // Each byte's prototype is written as one 4-byte store and the end
    // moves on by its length: at most `MAX_ASCII_PROTOTYPE` bytes a byte,
    // and room for the last store's spare byte.
    out.resize(start + bytes.len() * MAX_ASCII_PROTOTYPE + 1, 0);
    let room = out.get_mut(start..).unwrap_or_default();
    let mut end = 0;
    for &b in bytes {
        let entry = table[usize::from(b)];
        let len = (entry >> 24) as usize;
        let slot = room.get_mut(end..end + 4).filter(|_| len > 0);
        let Some(slot) = slot.and_then(|slot| <&mut [u8; 4]>::try_from(slot).ok()) else {
            out.truncate(start);
            out.extend_from_slice(
                unicode_security::skeleton(folded)
                    .collect::<String>()
                    .as_bytes(),
            );
            return;
        };
        *slot = entry.to_le_bytes();
        end += len;
    }
    out.truncate(start + end);
}

/// The longest ASCII prototype of an ASCII character the table holds.
const MAX_ASCII_PROTOTYPE: usize = 3;

/// The TR39 prototype of every byte value, made once from the TR39 data,
/// where the byte is ASCII and so is its prototype, in at most
/// [`MAX_ASCII_PROTOTYPE`] bytes (`1` → `l`, `m` → `rn`): the prototype's
/// bytes in the low three bytes, its length in the high one. 0 for every
/// other byte (`%` → `°/₀`, bytes of longer characters). Indexed by byte,
/// so no look-up is bounds-checked.
fn ascii_skeletons() -> &'static [u32; 256] {
    static ASCII: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    ASCII.get_or_init(|| {
        let mut table = [0u32; 256];
        for (b, entry) in (0u8..128).zip(table.iter_mut()) {
            let prototype: String =
                unicode_security::skeleton(&char::from(b).to_string()).collect();
            if prototype.is_ascii() && (1..=MAX_ASCII_PROTOTYPE).contains(&prototype.len()) {
                let mut packed = [0u8; 4];
                // ok: the length was just checked against the array's.
                packed[..prototype.len()].copy_from_slice(prototype.as_bytes());
                packed[3] = prototype.len() as u8;
                *entry = u32::from_le_bytes(packed);
            }
        }
        table
    })
}

/// The first character of `key` that has no place in a key: invisible or
/// default-ignorable characters (soft hyphen U+00AD, combining grapheme
/// joiner U+034F, Hangul fillers U+115F U+1160 U+3164 U+FFA0, Mongolian
/// vowel separator U+180E, variation selectors, tags), and combining marks
/// left after NFC (a mark that composes, `e` + U+0301 = `é`, is fine).
pub fn hidden_in_key(key: &str) -> Option<char> {
    if key.is_ascii() {
        return None;
    }
    let invisible = |c: char| {
        matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{e0000}'..='\u{e0fff}'
        )
    };
    if let Some(c) = key.chars().find(|&c| invisible(c)) {
        return Some(c);
    }
    key.nfc().find(|&c| is_combining_mark(c))
}

/// `str::trim`, with a fast path for the common cell that starts and ends
/// with a visible ASCII character.
pub(crate) fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [] => text,
        [first, .., last] | [first @ last]
            if (0x21..0x7F).contains(first) && (0x21..0x7F).contains(last) =>
        {
            text
        }
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The ASCII shortcuts give what the full Unicode paths give:
        /// folding (trim and lowercase against NFKC, lowercase, NFKC) and
        /// the skeleton table against TR39's decomposing skeleton.
        #[test]
        fn ascii_shortcuts_agree_with_the_full_paths(key in "[ -~\\t]{0,24}") {
            prop_assert_eq!(fold_key(&key).into_owned(), fold_unicode(&key));
            let folded = fold_key(&key);
            let full: String = unicode_security::skeleton(&folded).collect();
            prop_assert_eq!(key_skeleton(&folded), full);
        }

        /// The eight-bytes-at-a-time test of a key that is its own fold
        /// agrees with a byte-by-byte one, at the edges of the uppercase
        /// range (`@`, `A`, `Z`, `[`), on control bytes and non-ASCII text.
        #[test]
        fn lowercase_ascii_agrees_with_bytes(key in "[@AZ\\[a-z\\x00-\\x7fé日]{0,40}") {
            let naive = key.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase());
            prop_assert_eq!(lowercase_ascii(key.as_bytes()), naive);
        }

        /// Mixed keys: the shortcut is taken or left whole, never half.
        #[test]
        fn mixed_keys_take_the_full_path(key in "[a-z0-9%m]{0,8}[ｂ-ｚоа%]?[a-z0-9m]{0,8}") {
            let folded = fold_key(&key);
            prop_assert_eq!(folded.clone().into_owned(), fold_unicode(&key));
            let full: String = unicode_security::skeleton(&folded).collect();
            prop_assert_eq!(key_skeleton(&folded), full);
        }
    }

    #[test]
    fn look_alikes_share_a_skeleton_and_invisibles_are_found() {
        let skeleton = |k: &str| key_skeleton(&fold_key(k));
        for (a, b) in [
            ("boss", "bоss"),
            ("boss", "ｂｏｓｓ"),
            ("paypal", "pаypal"),
            ("admin", "аdmin"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} {b}");
        }
        assert_ne!(skeleton("boss"), skeleton("bose"));
        // The ASCII table agrees with the decomposing path.
        for key in [
            "user1", "admin", "b0ss", "l|i`x\"y", "rn-m_0O", "50%off", "a%",
        ] {
            let slow: String = unicode_security::skeleton(key).collect();
            assert_eq!(key_skeleton(key), slow, "{key}");
        }
        for key in [
            "bo\u{ad}ss",
            "bo\u{34f}ss",
            "\u{3164}boss",
            "bo\u{180e}ss",
            "bos\u{336}s",
        ] {
            assert!(hidden_in_key(key).is_some(), "{key:?}");
        }
        for key in ["boss", "José", "Jose\u{301}", "田中", "tanaka.hanako"] {
            assert_eq!(hidden_in_key(key), None, "{key:?}");
        }
    }
}
