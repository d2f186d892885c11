//! Attributes as the JSON object both stores keep: the output of
//! `serde_json` for a map of strings, written without its generic
//! machinery (a bulk apply writes one per created user).

/// Appends `pairs` (in key order, each key once, as a map iterates) as a
/// JSON object to `out`, exactly as `serde_json::to_string` writes the map.
pub(crate) fn write_attributes<K, V>(pairs: impl IntoIterator<Item = (K, V)>, out: &mut String)
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    out.push('{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(key.as_ref(), out);
        out.push(':');
        write_str(value.as_ref(), out);
    }
    out.push('}');
}

/// `pairs` (a map's entries, in key order) as a JSON object.
pub(crate) fn object<K, V>(pairs: impl ExactSizeIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::with_capacity(32 * pairs.len() + 2);
    write_attributes(pairs, &mut out);
    out
}

/// A JSON string: the common case (nothing to escape) is copied whole;
/// anything else goes through `serde_json`.
fn write_str(text: &str, out: &mut String) {
    if !needs_escape(text.as_bytes()) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else if let Ok(escaped) = serde_json::to_string(text) {
        out.push_str(&escaped);
    }
}

/// True when `text` holds a byte that JSON escapes: a control character,
/// `"` or `\`. Eight bytes at a time, with the bit tricks of "Bit
/// Twiddling Hacks" (a zero byte; a byte less than a value), which are
/// exact for "any byte"; the last bytes are padded with spaces.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let less_than = |x: u64, n: u8| x.wrapping_sub(ONES * n as u64) & !x & HIGH != 0;
    let any = |x: u64| {
        less_than(x, 0x20)
            || less_than(x ^ (ONES * b'"' as u64), 1)
            || less_than(x ^ (ONES * b'\\' as u64), 1)
    };
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        match <[u8; 8]>::try_from(chunk) {
            Ok(bytes) if !any(u64::from_le_bytes(bytes)) => {}
            _ => return true,
        }
    }
    let rest = chunks.remainder();
    let mut last = [b' '; 8];
    if let Some(head) = last.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    any(u64::from_le_bytes(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use userimport_plan::Attributes;

    #[test]
    fn finds_every_byte_to_escape_at_every_place() {
        let naive = |text: &[u8]| text.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..=17 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    // Around the byte: plain text, and bytes next to those escaped.
                    for fill in [b'a', b'!', b'#', b'[', b']', 0x7f, 0xe3, 0x20] {
                        let mut text = vec![fill; len];
                        text[at] = byte;
                        assert_eq!(needs_escape(&text), naive(&text), "{text:?}");
                    }
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let mut map = BTreeMap::new();
        assert_eq!(object(map.iter()), serde_json::to_string(&map).unwrap());
        for (key, value) in [
            ("name", "Hanako Tanaka"),
            ("quote\"d", "back\\slash"),
            ("control", "tab\there\nnew line\u{1}\u{1f}"),
            ("unicode", "田中 \u{7f} 😀"),
            ("", ""),
        ] {
            map.insert(key.to_string(), value.to_string());
        }
        assert_eq!(object(map.iter()), serde_json::to_string(&map).unwrap());
        let back: BTreeMap<String, String> = serde_json::from_str(&object(map.iter())).unwrap();
        assert_eq!(back, map);
        // A new user's attributes write the same object as the map.
        let new_user = Attributes::from(&map);
        assert_eq!(object(new_user.iter()), object(map.iter()));
    }
}
