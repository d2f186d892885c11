//! The marker an export writes in place of a character its charset cannot
//! represent, and its detection on import (where it is refused, so a
//! substituted value never comes back into the store unnoticed).

/// The marker for `c`: `{U+00E9}` for `é`.
pub fn substitution_marker(c: char) -> String {
    format!("{{U+{:04X}}}", c as u32)
}

/// The first substitution marker in `text`, as the character it stands for.
pub fn find_substitution_marker(text: &str) -> Option<char> {
    // Checked on every cell: a byte scan rules out nearly all of them
    // before the substring search is set up.
    if !text.as_bytes().contains(&b'{') {
        return None;
    }
    text.match_indices("{U+").find_map(|(at, _)| {
        let rest = &text[at + 3..];
        let end = rest.find('}')?;
        let hex = &rest[..end];
        if !(4..=6).contains(&hex.len()) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_again() {
        for c in ['é', '😀', '\u{10FFFF}'] {
            let text = format!("Jos{}!", substitution_marker(c));
            assert_eq!(find_substitution_marker(&text), Some(c), "{text}");
        }
        for text in [
            "José",
            "{U+}",
            "{U+12}",
            "{U+GGGG}",
            "{U+110000}",
            "{u+00e9",
        ] {
            assert_eq!(find_substitution_marker(text), None, "{text}");
        }
    }
}
