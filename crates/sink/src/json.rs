//! Attributes as the JSON object both stores keep: the output of
//! `serde_json` for a map of strings, written without its generic
//! machinery (a bulk apply writes one per created user).

use std::collections::BTreeMap;

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

/// `map` as a JSON object.
pub(crate) fn attributes(map: &BTreeMap<String, String>) -> String {
    object(map.iter())
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

    use userimport_plan::Attributes;

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
        // A new user's attributes write the same object as the map.
        let new_user = Attributes::from(map.clone());
        assert_eq!(object(new_user.iter()), attributes(&map));
    }
}
