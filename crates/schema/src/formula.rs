//! Formula-injection escaping shared by every CSV writer and the reader.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some
//! read a leading tab, CR, LF or NUL, or the full-width `＝＋－＠`, the same
//! way). Writers put a `'` in front of such a cell; the reader removes exactly
//! that one `'` again, so export → import changes nothing.

const DANGEROUS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠',
];

/// True when a cell would be read as a formula (or is already escaped, so its
/// `'` must be doubled to survive the round trip).
pub fn needs_formula_escape(cell: &str) -> bool {
    let mut chars = cell.chars();
    match chars.next() {
        Some(c) if DANGEROUS.contains(&c) => true,
        // An escaped-looking cell gets one more `'` so unescaping gives it back.
        Some('\'') => chars
            .next()
            .is_some_and(|c| DANGEROUS.contains(&c) || c == '\''),
        _ => false,
    }
}

/// Escapes one cell for a CSV a spreadsheet will open.
pub fn escape_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_formula_escape(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Undoes [`escape_formula`]: removes the one `'` it added.
pub fn unescape_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(|c: char| DANGEROUS.contains(&c) || c == '\'') => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_neutralises() {
        let cells = [
            "=SUM(A1)", "+1", "-5", "@cmd", "\tx", "\r", "\nx", "\0", "＝1", "＋", "－", "＠",
            "'=x", "''", "'", "'a", "plain", "", "a=b", "O'Brien",
        ];
        for cell in cells {
            let escaped = escape_formula(cell);
            assert_eq!(unescape_formula(&escaped), cell, "{cell:?}");
            assert!(!escaped.starts_with(DANGEROUS), "{cell:?} -> {escaped:?}");
        }
        assert_eq!(escape_formula("=1"), "'=1");
        assert_eq!(escape_formula("plain"), "plain");
    }
}
