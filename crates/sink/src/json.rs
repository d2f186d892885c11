//! Attributes as the JSON object both stores keep: the output of
//! `serde_json` for a map of strings, written without its generic
//! machinery (a bulk apply writes one per created user).

use std::collections::BTreeMap;

/// Appends `map` as a JSON object to `out`, exactly as
/// `serde_json::to_string(map)` writes it.
pub(crate) fn write_attributes(map: &BTreeMap<String, String>, out: &mut String) {
    out.push('{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(key, out);
        out.push(':');
        write_str(value, out);
    }
    out.push('}');
}

/// `map` as a JSON object.
pub(crate) fn attributes(map: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(32 * map.len() + 2);
    write_attributes(map, &mut out);
    out
}

/// A JSON string: the common case (nothing to escape) is copied whole;
/// anything else goes through `serde_json`.
fn write_str(text: &str, out: &mut String) {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else if let Ok(escaped) = serde_json::to_string(text) {
        out.push_str(&escaped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_writes() {
        let mut map = BTreeMap::new();
        assert_eq!(attributes(&map), serde_json::to_string(&map).unwrap());
        for (key, value) in [
            ("name", "Hanako Tanaka"),
            ("quote\"d", "back\\slash"),
            ("control", "tab\there\nnew line\u{1}\u{1f}"),
            ("unicode", "田中 \u{7f} 😀"),
            ("", ""),
        ] {
            map.insert(key.to_string(), value.to_string());
        }
        assert_eq!(attributes(&map), serde_json::to_string(&map).unwrap());
        let back: BTreeMap<String, String> = serde_json::from_str(&attributes(&map)).unwrap();
        assert_eq!(back, map);
    }
}
