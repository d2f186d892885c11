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
    if key.is_ascii() {
        return if key.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(key.to_ascii_lowercase())
        } else {
            Cow::Borrowed(key)
        };
    }
    Cow::Owned(fold_unicode(key))
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

/// Appends the skeleton of `folded` to `out`. ASCII keys, nearly every
/// key, map character by character through a table made once from the
/// same TR39 data, so checking a million keys costs no Unicode
/// decomposition. The table holds the characters whose prototype is ASCII
/// (`1` → `l`, `m` → `rn`): their skeletons simply concatenate. A key with
/// one of the others (`%` → `°/₀`) takes the decomposing path.
pub(crate) fn skeleton_into(folded: &str, out: &mut String) {
    if folded.is_ascii() {
        let table = ascii_skeletons();
        let start = out.len();
        out.reserve(folded.len());
        let mapped = folded.bytes().all(|b| match table.get(usize::from(b)) {
            // Most prototypes are one ASCII character: pushed as such, with
            // no copy of a string per character.
            Some(AsciiPrototype::One(c)) => {
                out.push(char::from(*c));
                true
            }
            Some(AsciiPrototype::More(prototype)) => {
                out.push_str(prototype);
                true
            }
            _ => false,
        });
        if mapped {
            return;
        }
        out.truncate(start);
    }
    out.extend(unicode_security::skeleton(folded));
}

/// The TR39 prototype of one ASCII character, when it is ASCII too.
enum AsciiPrototype {
    /// One ASCII character (`1` → `l`, `a` → `a`).
    One(u8),
    /// Several (`m` → `rn`).
    More(String),
    /// Not ASCII (`%` → `°/₀`): the key takes the decomposing path.
    Other,
}

/// The prototypes of the 128 ASCII characters, made once from the TR39 data.
fn ascii_skeletons() -> &'static [AsciiPrototype] {
    static ASCII: std::sync::OnceLock<Vec<AsciiPrototype>> = std::sync::OnceLock::new();
    ASCII.get_or_init(|| {
        (0u8..128)
            .map(|b| {
                let prototype: String =
                    unicode_security::skeleton(&char::from(b).to_string()).collect();
                match prototype.as_bytes() {
                    [one] if one.is_ascii() => AsciiPrototype::One(*one),
                    _ if prototype.is_ascii() => AsciiPrototype::More(prototype),
                    _ => AsciiPrototype::Other,
                }
            })
            .collect()
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
