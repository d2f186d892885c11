//! Formula-injection escaping shared by every CSV writer and the reader.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some
//! read a leading tab, CR, LF or NUL, or the full-width `＝＋－＠`, the same
//! way). Writers put a `'` in front of such a cell; the reader removes exactly
//! that one `'` again, so export → import changes nothing.
//!
//! A spreadsheet that splits on another delimiter than the file's (Excel in
//! a locale whose list separator is `;`) starts a new cell after each `;`,
//! tab, `|` or `,`: `Bob;=1+1` would run `=1+1`. So a formula character right
//! after one of those separators gets the same `'` in front of it (and the
//! writer quotes such a cell), and the reader removes exactly those too.

use std::borrow::Cow;

const DANGEROUS: &[char] = &[
    '=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠',
];

/// Where a spreadsheet reading with another delimiter may start a new cell.
const SEPARATORS: &[char] = &[';', '\t', '|', ','];

/// True when `rest` must get a `'` in front: it starts like a formula, or
/// already looks escaped (its `'` must be doubled to survive the round trip).
fn starts_dangerous(rest: &str) -> bool {
    let mut chars = rest.chars();
    match chars.next() {
        Some(c) if DANGEROUS.contains(&c) => true,
        Some('\'') => chars
            .next()
            .is_some_and(|c| DANGEROUS.contains(&c) || c == '\''),
        _ => false,
    }
}

/// True when `rest` starts with a `'` that [`starts_dangerous`] added.
#[inline]
fn starts_escaped(rest: &str) -> bool {
    rest.strip_prefix('\'')
        .is_some_and(|r| r.starts_with(|c: char| DANGEROUS.contains(&c) || c == '\''))
}

/// True when a cell would be read as a formula (or is already escaped, so its
/// `'` must be doubled to survive the round trip).
pub fn needs_formula_escape(cell: &str) -> bool {
    starts_dangerous(cell) || has_separated_formula(cell)
}

/// True when a separator (`;`, tab, `|`, `,`) inside the cell is followed by
/// a formula character: a spreadsheet splitting on that separator would run
/// it. Writers quote such a cell whatever their own delimiter.
pub fn has_separated_formula(cell: &str) -> bool {
    has_separator_byte(cell)
        && cell
            .match_indices(SEPARATORS)
            .any(|(at, sep)| starts_dangerous(&cell[at + sep.len()..]))
}

/// True when `cell` holds one of [`SEPARATORS`] (all ASCII).
fn has_separator_byte(cell: &str) -> bool {
    cell.bytes()
        .any(|b| matches!(b, b';' | b'\t' | b'|' | b','))
}

/// Escapes one cell for a CSV a spreadsheet will open: a `'` before a
/// formula character at the start and after each separator.
pub fn escape_formula(cell: &str) -> Cow<'_, str> {
    if !needs_formula_escape(cell) {
        return Cow::Borrowed(cell);
    }
    let mut out = String::with_capacity(cell.len() + 2);
    if starts_dangerous(cell) {
        out.push('\'');
    }
    for (at, c) in cell.char_indices() {
        out.push(c);
        if SEPARATORS.contains(&c) && starts_dangerous(&cell[at + c.len_utf8()..]) {
            out.push('\'');
        }
    }
    Cow::Owned(out)
}

/// Undoes [`escape_formula`] at the start of the cell only: removes the one
/// `'` it put there. Readers first undo the escaping after separators
/// ([`unescape_formula_inner`]); [`unescape_formula`] does both.
#[inline]
pub fn unescape_formula_start(cell: &str) -> &str {
    if starts_escaped(cell) {
        &cell[1..] // ok: the first char is the 1-byte `'`
    } else {
        cell
    }
}

/// Undoes [`escape_formula`] after the separators inside the cell (not at
/// its start); `None` when there is nothing to undo.
pub fn unescape_formula_inner(cell: &str) -> Option<String> {
    // Nearly every cell has no separator at all: one byte scan says so (the
    // separators are ASCII, so no byte of a longer character matches).
    if !has_separator_byte(cell) {
        return None;
    }
    let escaped = cell
        .match_indices(SEPARATORS)
        .any(|(at, sep)| starts_escaped(&cell[at + sep.len()..]));
    if !escaped {
        return None;
    }
    let mut out = String::with_capacity(cell.len());
    let mut skip = None;
    for (at, c) in cell.char_indices() {
        if skip == Some(at) {
            continue;
        }
        out.push(c);
        let next = at + c.len_utf8();
        if SEPARATORS.contains(&c) && starts_escaped(&cell[next..]) {
            skip = Some(next);
        }
    }
    Some(out)
}

/// Undoes [`escape_formula`]: removes exactly the `'`s it added.
pub fn unescape_formula(cell: &str) -> Cow<'_, str> {
    match unescape_formula_inner(cell) {
        Some(inner) => Cow::Owned(unescape_formula_start(&inner).to_string()),
        None => Cow::Borrowed(unescape_formula_start(cell)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_neutralises() {
        let cells = [
            "=SUM(A1)",
            "+1",
            "-5",
            "@cmd",
            "\tx",
            "\r",
            "\nx",
            "\0",
            "＝1",
            "＋",
            "－",
            "＠",
            "'=x",
            "''",
            "'",
            "'a",
            "plain",
            "",
            "a=b",
            "O'Brien",
            "Bob;=1+1",
            "Bob\t=1+1",
            "a|@x",
            "a,-1",
            "a;'=x",
            "a;''",
            ";;=",
            "\t=1",
            "a; =1",
            "x,'",
            "a;\t=1",
        ];
        for cell in cells {
            let escaped = escape_formula(cell);
            assert_eq!(unescape_formula(&escaped), cell, "{cell:?}");
            assert!(!escaped.starts_with(DANGEROUS), "{cell:?} -> {escaped:?}");
            let live = escaped
                .match_indices(SEPARATORS)
                .any(|(at, sep)| escaped[at + sep.len()..].starts_with(DANGEROUS));
            assert!(!live, "{cell:?} -> {escaped:?}");
        }
        assert_eq!(escape_formula("=1"), "'=1");
        assert_eq!(escape_formula("plain"), "plain");
        assert_eq!(escape_formula("Bob;=1+1"), "Bob;'=1+1");
        assert_eq!(escape_formula("Bob\t=1+1"), "Bob\t'=1+1");
        assert_eq!(escape_formula("a,b"), "a,b");
    }
}
