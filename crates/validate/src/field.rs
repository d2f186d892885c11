//! Per-field rules: one cell's text in, a canonical [`Cell`] or a problem out.
//!
//! Every rule is chosen by the column's [`FieldKind`], never by its name.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use email_address::{EmailAddress, Options};
use userimport_schema::EnumValue;
use userimport_schema::{
    CodeTable, FieldKind, HashFloor, find_substitution_marker, unescape_formula_start,
};

use crate::codes;
use crate::options::CardIdType;
use crate::row::{Cell, ListEdit, Secret};

/// What went wrong with one cell: a code and a message that never contains a
/// secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
        }
    }
}

/// A checked cell before it is stored in a row: borrowed text is copied into
/// the row's existing buffer when it has one, so reused rows allocate little.
#[derive(Debug)]
pub(crate) enum Out<'a> {
    Absent,
    Blank,
    Clear,
    Text(&'a str),
    Owned(String),
    Secret(&'a str),
    List(ListEdit),
    /// A list that adds one name and removes none (nearly every list
    /// cell): stored into the row's list without a new allocation.
    Name(Cow<'a, str>),
}

impl Out<'_> {
    /// Stores the cell, reusing the string `cell` already holds.
    ///
    /// Matched variant by variant, never moved whole: a cell comes back from
    /// the rules through memory, and copying the whole enum (two 16-byte
    /// loads of fields written by 8-byte stores) stalled the CPU once per
    /// cell, a tenth of a `check`'s time. Inlined into the validator's loop:
    /// as a call, saving and restoring registers cost a fifth of its time.
    #[inline(always)]
    pub(crate) fn store(self, cell: &mut Cell) {
        match self {
            Out::Text(text) => match cell {
                Cell::Value(buf) => {
                    buf.clear();
                    buf.push_str(text);
                }
                _ => *cell = Cell::Value(text.to_string()),
            },
            Out::Secret(text) => match cell {
                Cell::Secret(buf) => buf.set(text),
                _ => *cell = Cell::Secret(Secret::new(text)),
            },
            // A reused row's cell of a column usually holds the same
            // variant as last time: kept as it is, no drop of the old value.
            Out::Absent if matches!(cell, Cell::Absent) => {}
            Out::Blank if matches!(cell, Cell::Blank) => {}
            Out::Absent => *cell = Cell::Absent,
            Out::Blank => *cell = Cell::Blank,
            Out::Clear => *cell = Cell::Clear,
            Out::Owned(text) => *cell = Cell::Value(text),
            Out::List(edit) => *cell = Cell::List(edit),
            Out::Name(name) => match cell {
                Cell::List(edit) => {
                    edit.remove.clear();
                    edit.add.truncate(1);
                    match edit.add.first_mut() {
                        Some(buf) => {
                            buf.clear();
                            buf.push_str(&name);
                        }
                        None => edit.add.push(name.into_owned()),
                    }
                }
                _ => {
                    *cell = Cell::List(ListEdit {
                        add: vec![name.into_owned()],
                        remove: Vec::new(),
                    })
                }
            },
        }
    }

    /// The same value, owning its text.
    fn into_owned<'b>(self) -> Out<'b> {
        match self {
            Out::Absent => Out::Absent,
            Out::Blank => Out::Blank,
            Out::Clear => Out::Clear,
            Out::Text(text) => Out::Owned(text.to_string()),
            // Secrets are never unescaped (see `check_cell`), so never owned
            // here; were one to come, it is dropped rather than shown.
            Out::Secret(_) => Out::Absent,
            Out::Owned(text) => Out::Owned(text),
            Out::List(edit) => Out::List(edit),
            Out::Name(name) => Out::Name(Cow::Owned(name.into_owned())),
        }
    }
}

/// Borrows the input when the canonical form is the same text.
fn owned_or_text(canonical: String, text: &str) -> Out<'_> {
    if canonical == text {
        Out::Text(text)
    } else {
        Out::Owned(canonical)
    }
}

/// One profile column as the validator sees it: its kind and where it is in
/// the file.
#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    /// Required for new users (after the e-mail override).
    pub required: bool,
    pub clear_keyword: Option<String>,
    /// Password or hash: values never leave the validator except as [`Secret`].
    pub secret: bool,
    /// A key column (member ID, login ID, e-mail): checked even on delete rows.
    pub is_key: bool,
    /// The record field holding this column, if the file has it.
    pub field: Option<usize>,
    /// The declared names a name list may hold (the profile's roles, for
    /// its roles column); empty: any name.
    pub names: Vec<EnumValue>,
    /// The card ID notation the column's header names (`Card ID
    /// (decimal)`, as exports write it), over the run's option.
    pub card_id_type: Option<CardIdType>,
}

/// Run-wide settings the field rules need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    pub card_id_type: CardIdType,
    pub sources: &'a [String],
    pub hash_floor: HashFloor,
}

/// Checks one cell and returns its canonical form, after undoing the
/// formula escaping our exports add after separators inside a cell.
/// Inlined into the validator's loop, its one caller.
#[inline(always)]
pub(crate) fn check_cell<'a>(
    col: &'a ColumnPlan,
    raw: &'a str,
    env: Env<'_>,
) -> Result<Out<'a>, Problem> {
    // Nearly every cell holds none of the bytes the escaping, line and
    // marker checks look for: one pass over it says so, and they are skipped.
    let ordinary = ordinary(raw.as_bytes());
    let plain = match &col.kind {
        FieldKind::Password { .. } | FieldKind::PasswordHash => None,
        _ if ordinary => None,
        _ => userimport_schema::unescape_formula_inner(raw),
    };
    match plain {
        Some(plain) => check_plain(col, &plain, env, false).map(Out::into_owned),
        None => check_plain(col, raw, env, ordinary),
    }
}

/// The bytes that make [`check_cell`] look closer: the separators after
/// which exports escape formulas (`;`, tab, `|`, `,`), CR and LF (one line
/// per field), and `{` (a substitution marker). All ASCII, so no byte of a
/// longer character is one of them.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    let special = b";\t|,\r\n{";
    while i < special.len() {
        table[special[i] as usize] = true;
        i += 1;
    }
    table
};

/// True when `bytes` holds no [`SPECIAL`] byte, eight bytes at a time: a
/// word passes when no byte is below 0x20 (tab, CR, LF and the other
/// controls, which then take the closer look for nothing) and none is `;`
/// or `{` (equal once bit 0x40 is cleared), `,` or `|`. Each test is exact
/// for the word as a whole (a borrow only crosses into a byte above a
/// byte that already failed).
fn ordinary(bytes: &[u8]) -> bool {
    use crate::swar::{HIGH, ONES, all_bytes};
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let word_ok = |w: u64| {
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let semicolon_or_brace = has_zero((w & !(ONES * 0x40)) ^ (ONES * u64::from(b';')));
        let comma = has_zero(w ^ (ONES * u64::from(b',')));
        let bar = has_zero(w ^ (ONES * u64::from(b'|')));
        below_space | semicolon_or_brace | comma | bar == 0
    };
    all_bytes(bytes, word_ok, |b| !SPECIAL[usize::from(b)])
}

/// Checks one cell with no escaping after separators left in it;
/// `ordinary`: `raw` holds no [`SPECIAL`] byte.
fn check_plain<'a>(
    col: &'a ColumnPlan,
    raw: &'a str,
    env: Env<'_>,
    ordinary: bool,
) -> Result<Out<'a>, Problem> {
    match &col.kind {
        FieldKind::ReadOnly => return Ok(Out::Absent),
        // Passwords are taken exactly as typed: a space is a legal password
        // character and our exports never contain passwords to unescape.
        FieldKind::Password { min_len, max_len } => {
            if trim(raw).is_empty() {
                return Ok(Out::Blank);
            }
            return password(raw, *min_len, *max_len);
        }
        _ => {}
    }
    let trimmed = trim(raw);
    let unescaped = unescape_formula_start(trimmed);
    // Trim again only when the escaping `'` came off: it may have guarded a
    // leading tab or line break.
    let text = if unescaped.len() == trimmed.len() {
        trimmed
    } else {
        unescaped.trim()
    };
    if text.is_empty() {
        return Ok(Out::Blank);
    }
    if let Some(c) = find_hidden(text) {
        return Err(Problem::new(
            codes::FIELD_CONTROL_CHARACTER,
            format!(
                "{} contains the invisible character U+{:04X}: remove it (it may hide a \
                 different value behind a familiar one)",
                col.label, c as u32
            ),
        ));
    }
    if col.is_key
        && let Some(c) = crate::key::hidden_in_key(text)
    {
        return Err(Problem::new(
            codes::KEY_INVISIBLE_CHARACTER,
            format!(
                "{} contains U+{:04X}, which does not show (or only changes how a letter \
                 looks): a key must read as it is written, so remove it",
                col.label, c as u32
            ),
        ));
    }
    // `text` is part of `raw`: an ordinary cell has no tab, line break or marker.
    if !ordinary {
        one_line_unsubstituted(col, text)?;
    }
    if let Some(keyword) = &col.clear_keyword
        && text.eq_ignore_ascii_case(keyword)
    {
        if col.required {
            return Err(Problem::new(
                codes::FIELD_CLEAR_REQUIRED,
                format!(
                    "{:?} would clear {}, but {} is required in this profile: enter a value, \
                         or leave the cell blank to keep the current one",
                    keyword, col.label, col.label
                ),
            ));
        }
        return Ok(Out::Clear);
    }
    match &col.kind {
        FieldKind::Text { min_len, max_len } => text_value(col, text, *min_len, *max_len),
        // The usual address holds no quote: nothing more to look at.
        FieldKind::Email if plain_address(text) => Ok(Out::Text(text)),
        FieldKind::Email => quoted_local_part(text).and_then(|()| email(text)),
        FieldKind::PasswordHash => {
            password_hash(text).and_then(|cost| hash_above_floor(cost, env.hash_floor))?;
            Ok(Out::Secret(text))
        }
        FieldKind::Enum { values } => match col.kind.resolve_enum(text) {
            Some(canonical) => Ok(Out::Text(canonical)),
            None => {
                let allowed: Vec<&str> = values.iter().map(|v| v.canonical.as_str()).collect();
                Err(Problem::new(
                    codes::ENUM_UNKNOWN,
                    format!(
                        "{:?} is not an allowed value of {}: use one of {}",
                        clip(text),
                        col.label,
                        allowed.join(", ")
                    ),
                ))
            }
        },
        FieldKind::OnOff { .. } => {
            if text.eq_ignore_ascii_case("on") {
                Ok(Out::Text("On"))
            } else if text.eq_ignore_ascii_case("off") {
                Ok(Out::Text("Off"))
            } else {
                Err(Problem::new(
                    codes::ONOFF_INVALID,
                    format!(
                        "{:?} is neither On nor Off: write On or Off, or leave the cell blank \
                         for the default",
                        clip(text)
                    ),
                ))
            }
        }
        FieldKind::DeleteFlag => match text {
            "1" => Ok(Out::Text("1")),
            "0" => Ok(Out::Blank),
            _ => Err(Problem::new(
                codes::DELETE_FLAG_INVALID,
                format!(
                    "{:?} is not a delete flag: write 1 to delete the user, or 0 or nothing to keep it",
                    clip(text)
                ),
            )),
        },
        FieldKind::Code { table } => code(*table, text),
        FieldKind::Date { formats } => date(text, formats)
            .map(|canonical| owned_or_text(canonical, text))
            .map_err(|message| Problem::new(codes::DATE_INVALID, message)),
        FieldKind::DayCount { max } if is_canonical_day_count(text, *max) => Ok(Out::Text(text)),
        FieldKind::DayCount { max } => day_count(text, *max)
            .map(|canonical| owned_or_text(canonical, text))
            .map_err(|message| Problem::new(codes::DAY_COUNT_INVALID, message)),
        FieldKind::Integer { min, max } => integer(text, *min, *max),
        FieldKind::CardId => card_id(
            text,
            col.card_id_type.unwrap_or(env.card_id_type),
            col.card_id_type.is_some(),
        ),
        FieldKind::NameList if !col.names.is_empty() => {
            list_edit(col, text, |name| declared_name(&col.names, name))
        }
        FieldKind::NameList => name_list(col, text),
        FieldKind::IdentityList => identity_list(col, text, env.sources),
        // Kinds added to the schema later: keep the trimmed text.
        _ => Ok(Out::Text(text)),
    }
}

/// Control and invisible formatting characters no value may hold: C0 and C1
/// controls but tab and line breaks, the byte-order mark, zero-width
/// characters and bidirectional overrides.
fn find_hidden(text: &str) -> Option<char> {
    // Most cells are printable ASCII: one pass over bytes settles them.
    if printable_ascii(text.as_bytes()) {
        return None;
    }
    text.chars().find(|&c| is_hidden(c))
}

/// True when every byte is printable ASCII (0x20 to 0x7E), eight bytes at a
/// time: a word passes when no byte has its high bit set, none reaches it by
/// adding one (0x7F), and none borrows when 0x20 is taken away (below 0x20).
/// Carries and borrows cross bytes only where a byte already fails.
fn printable_ascii(bytes: &[u8]) -> bool {
    use crate::swar::{HIGH, ONES, all_bytes};
    let word_ok =
        |w: u64| (w | w.wrapping_add(ONES) | (w.wrapping_sub(ONES * 0x20) & !w)) & HIGH == 0;
    all_bytes(bytes, word_ok, |b| (0x20..0x7F).contains(&b))
}

fn is_hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}')
}

pub(crate) use crate::key::trim;

/// At most 64 characters of a value, for messages.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

fn text_value<'a>(
    col: &ColumnPlan,
    text: &'a str,
    min: usize,
    max: usize,
) -> Result<Out<'a>, Problem> {
    // Byte length bounds the character count from above: skip counting when short.
    if text.len() > max || text.len() < min {
        let n = text.chars().count();
        if n > max {
            return Err(Problem::new(
                codes::FIELD_TOO_LONG,
                format!(
                    "{} is {n} characters long, but at most {max} are allowed: shorten it",
                    col.label
                ),
            ));
        }
        if n < min {
            return Err(Problem::new(
                codes::FIELD_TOO_SHORT,
                format!(
                    "{} is {n} characters long, but at least {min} are needed: lengthen it",
                    col.label
                ),
            ));
        }
    }
    Ok(Out::Text(text))
}

const EMAIL_OPTIONS: Options = Options {
    minimum_sub_domains: 2,
    allow_domain_literal: false,
    allow_display_text: false,
};

fn email(text: &str) -> Result<Out<'_>, Problem> {
    use email_address::Error as E;
    if plain_address(text) {
        return Ok(Out::Text(text));
    }
    let why = match EmailAddress::parse_with_options(text, EMAIL_OPTIONS) {
        Ok(_) => {
            // A top-level domain has a letter: `a@10.0.0.1` is an IP address.
            let tld = text.rsplit('.').next().unwrap_or_default();
            if tld.chars().any(char::is_alphabetic) {
                return Ok(Out::Text(text));
            }
            "the domain must be a name such as example.com, not an IP address"
        }
        Err(e) => match e {
            E::MissingSeparator => "it has no @: write it as name@example.com",
            E::LocalPartEmpty => "there is nothing before the @",
            E::LocalPartTooLong => "the part before the @ is longer than 64 characters",
            E::DomainEmpty => "there is nothing after the @",
            E::DomainTooLong => "the domain is longer than 254 characters",
            E::SubDomainEmpty | E::DomainInvalidSeparator => {
                "the domain has an empty part (two dots in a row, or a dot at its start or end)"
            }
            E::SubDomainTooLong => "a part of the domain is longer than 63 characters",
            E::DomainTooFew => "the domain needs a top-level part such as .com",
            E::UnbalancedQuotes => "its quotes are unbalanced",
            E::InvalidComment => "comments in parentheses are not allowed",
            E::InvalidIPAddress | E::UnsupportedDomainLiteral => {
                "the domain must be a name such as example.com, not an address in brackets"
            }
            E::UnsupportedDisplayName | E::MissingDisplayName | E::MissingEndBracket => {
                "write only the address (name@example.com), without a name or angle brackets"
            }
            E::InvalidCharacter => {
                "it contains a character not allowed there (a space, a comma, a second @ or a \
                 misplaced dot): write it as name@example.com"
            }
        },
    };
    Err(Problem::new(
        codes::EMAIL_INVALID,
        format!("not a valid e-mail address: {why}"),
    ))
}

/// True for the usual address, `name.surname+tag@mail.example.com`, which
/// [`email`] accepts: one pass over its bytes instead of the general parser
/// (which copies the address and walks it several times). A narrower rule
/// than the parser's (`EMAIL_OPTIONS`), so it only ever says yes where the
/// parser does; every other text, valid or not, goes to the parser, and so
/// every message stays the parser's.
///
/// Accepted: ASCII only; one `@`; before it 1 to 64 bytes of letters,
/// digits and ``!#$%&'*+-/=?^_`{|}~``, in dot-separated non-empty parts;
/// after it at most 254 bytes in two or more dot-separated labels of 1 to
/// 63 letters, digits and inner hyphens; the last label holds a letter.
fn plain_address(text: &str) -> bool {
    let bytes = text.as_bytes();
    // The local part, up to the first `@`: no empty dot-separated part (a
    // dot first, last or after another one).
    let mut after_dot = true;
    let mut at = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'@' => {
                at = Some(i);
                break;
            }
            b'.' if after_dot => return false,
            b'.' => after_dot = true,
            _ if ATEXT[usize::from(b)] => after_dot = false,
            _ => return false,
        }
    }
    let Some(at) = at else {
        return false;
    };
    if after_dot || at > 64 || bytes.len() - at - 1 > 254 {
        return false;
    }
    // The domain: labels of 1 to 63 letters, digits and inner hyphens.
    let (mut labels, mut start, mut has_letter) = (0, at + 1, false);
    for i in at + 1..=bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(b'.');
        if b != b'.' {
            if !(b.is_ascii_alphanumeric() || b == b'-') {
                return false;
            }
            has_letter |= b.is_ascii_alphabetic();
            continue;
        }
        let label = &bytes[start..i]; // ok: at < start <= i <= len
        match (label.first(), label.last()) {
            (Some(first), Some(last))
                if label.len() <= 63
                    && first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric() => {}
            _ => return false,
        }
        labels += 1;
        start = i + 1;
        if i < bytes.len() {
            has_letter = false;
        }
    }
    labels >= 2 && has_letter
}

/// The bytes of an unquoted local part besides the dot: letters, digits
/// and ``!#$%&'*+-/=?^_`{|}~``.
static ATEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

fn password(raw: &str, min: usize, max: usize) -> Result<Out<'_>, Problem> {
    let n = raw.chars().count();
    if n < min {
        return Err(Problem::new(
            codes::PASSWORD_TOO_SHORT,
            format!(
                "the password has {n} characters, but at least {min} are needed: choose a longer one"
            ),
        ));
    }
    if n > max {
        return Err(Problem::new(
            codes::PASSWORD_TOO_LONG,
            format!(
                "the password has {n} characters, but at most {max} are allowed (it is never \
                 shortened): choose a shorter one"
            ),
        ));
    }
    Ok(Out::Secret(raw))
}

/// What a well-formed hash costs to compute, read once from its text.
#[derive(Debug, Clone, Copy)]
enum HashCost {
    /// argon2id's memory (KiB), iterations and parallelism.
    Argon2id { m: u32, t: u32, p: u32 },
    /// bcrypt's cost.
    Bcrypt(u32),
}

/// Checks PHC syntax: `$argon2id$v=19$m=…,t=…,p=…$salt$hash` or bcrypt's
/// `$2b$12$` plus 53 characters, and reads what the hash costs (parsed
/// once: a pre-hashed import checks one per row). Messages never echo the
/// hash.
fn password_hash(text: &str) -> Result<HashCost, Problem> {
    let fail = |why: &str| {
        Err(Problem::new(
            codes::PASSWORD_HASH_INVALID,
            format!(
                "not a supported password hash: {why}; use an argon2id PHC string \
                 ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or a bcrypt hash ($2b$12$…)"
            ),
        ))
    };
    if let Some(rest) = text.strip_prefix("$2") {
        return if is_bcrypt(rest) {
            // `is_bcrypt` checked "b$12$…": the cost is bytes 2 and 3.
            Ok(HashCost::Bcrypt(
                rest.get(2..4).and_then(|c| c.parse().ok()).unwrap_or(0),
            ))
        } else {
            fail(
                "it starts like bcrypt but is not $2a$, $2b$ or $2y$, a cost from 04 to 31, and 53 characters",
            )
        };
    }
    let hash = match password_hash::PasswordHash::new(text) {
        Ok(hash) => hash,
        Err(_) => return fail("it is not a PHC string"),
    };
    if hash.algorithm.as_str() != "argon2id" {
        return fail("its algorithm is not argon2id");
    }
    if hash.version.is_some_and(|v| v != 0x13) {
        return fail("its version is not v=19");
    }
    let param = |name: &str| hash.params.get_decimal(name);
    let (Some(m), Some(t), Some(p)) = (param("m"), param("t"), param("p")) else {
        return fail("it lacks one of the parameters m, t and p");
    };
    if hash.salt.is_none() || hash.hash.is_none() {
        return fail("it lacks the salt or the hash");
    }
    Ok(HashCost::Argon2id { m, t, p })
}

/// Every field is one line: a tab, CR or LF in a value is refused (in a
/// name it would garble an invitation's subject and body), and so is a
/// marker an export wrote for a character its charset could not encode.
fn one_line_unsubstituted(col: &ColumnPlan, text: &str) -> Result<(), Problem> {
    // A byte scan: tab, CR and LF are ASCII, never part of a longer character.
    if let Some(&b) = text
        .as_bytes()
        .iter()
        .find(|b| matches!(b, b'\t' | b'\r' | b'\n'))
    {
        let c = char::from(b);
        let name = match c {
            '\t' => "a tab",
            '\r' => "a carriage return",
            _ => "a line break",
        };
        return Err(Problem::new(
            codes::FIELD_CONTROL_CHARACTER,
            format!(
                "{} contains {name} (U+{:04X}): every field is one line; remove it",
                col.label, c as u32
            ),
        ));
    }
    if let Some(c) = find_substitution_marker(text) {
        return Err(Problem::new(
            codes::FIELD_SUBSTITUTED,
            format!(
                "{} holds the marker an export wrote for {c:?} (U+{:04X}), which its charset \
                 could not encode: write the real value",
                col.label, c as u32
            ),
        ));
    }
    Ok(())
}

/// An address with a quoted local part (`"a@b,"@example.com`) is legal
/// but mail software reads it in different ways: refused.
fn quoted_local_part(text: &str) -> Result<(), Problem> {
    if text.as_bytes().contains(&b'"') && (text.starts_with('"') || text.contains("\"@")) {
        return Err(Problem::new(
            codes::EMAIL_INVALID,
            "not a valid e-mail address: a quoted part before the @ is not accepted; \
             write it as name@example.com"
                .to_string(),
        ));
    }
    Ok(())
}

/// A well-formed hash (see [`password_hash`]) must also cost at least the
/// profile's floor.
fn hash_above_floor(cost: HashCost, floor: HashFloor) -> Result<(), Problem> {
    let weak = |what: String| {
        Err(Problem::new(
            codes::PASSWORD_HASH_WEAK,
            format!(
                "the hash is too weak: {what}; hash the passwords again with at least argon2id \
                 m={}, t={}, p={} or bcrypt cost {}",
                floor.argon2_memory_kib,
                floor.argon2_iterations,
                floor.argon2_parallelism,
                floor.bcrypt_cost
            ),
        ))
    };
    match cost {
        HashCost::Bcrypt(cost) if cost < floor.bcrypt_cost => {
            weak(format!("bcrypt cost {cost} is below {}", floor.bcrypt_cost))
        }
        HashCost::Argon2id { m, t, p }
            if m < floor.argon2_memory_kib
                || t < floor.argon2_iterations
                || p < floor.argon2_parallelism =>
        {
            weak(format!("argon2id m={m}, t={t}, p={p}"))
        }
        _ => Ok(()),
    }
}

/// [`password_hash`] for callers outside the validator: the refusal's message.
pub(crate) fn check_password_hash(text: &str, floor: HashFloor) -> Result<(), String> {
    password_hash(text)
        .and_then(|cost| hash_above_floor(cost, floor))
        .map_err(|p| p.message)
}

fn is_bcrypt(rest: &str) -> bool {
    // rest = "b$12$" + 53 characters of bcrypt's base64 alphabet.
    let bytes = rest.as_bytes();
    // ok: every index below is within the 58 bytes checked here.
    if bytes.len() != 5 + 53 || !matches!(bytes[0], b'a' | b'b' | b'y') || bytes[1] != b'$' {
        return false;
    }
    // Bytes, not a `str` slice: a multi-byte character there must not panic.
    let cost_ok = bytes[2].is_ascii_digit()
        && bytes[3].is_ascii_digit()
        && (4..=31).contains(&((bytes[2] - b'0') * 10 + (bytes[3] - b'0')));
    cost_ok
        && bytes[4] == b'$'
        && bytes[5..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/'))
}

fn code(table: CodeTable, text: &str) -> Result<Out<'static>, Problem> {
    if let Some(canonical) = cached_code(table, text) {
        return Ok(Out::Text(canonical));
    }
    let (code, what, example) = match table {
        CodeTable::Country => (codes::COUNTRY_UNKNOWN, "country or region", "Japan"),
        CodeTable::Language => (codes::LANGUAGE_UNKNOWN, "language", "ja_JP"),
        CodeTable::TimeZone | CodeTable::AnyTimeZone => {
            (codes::TIMEZONE_UNKNOWN, "time zone", "Asia/Tokyo")
        }
        CodeTable::DateFormat => (codes::DATE_FORMAT_UNKNOWN, "date format", "YYYY/MM/DD"),
        CodeTable::TimeFormat => (codes::TIME_FORMAT_UNKNOWN, "time format", "HH:mm:ss"),
    };
    // No spelling in any table is this long; suggesting would compare a
    // hostile 64 KiB cell with every spelling.
    if text.chars().count() > MAX_CODE_CHARS {
        return Err(Problem::new(
            code,
            format!(
                "a {what} of {} characters is not known: use a value of the code table, such as {example}",
                text.chars().count()
            ),
        ));
    }
    match table.resolve(text) {
        Ok(canonical) => {
            remember_code(table, text, canonical);
            Ok(Out::Text(canonical))
        }
        Err(unknown) => {
            let mut message = format!("{:?} is not a known {what}", clip(text));
            match unknown.suggestions.as_slice() {
                [] => {
                    let _ = write!(
                        message,
                        ": use a value of the code table, such as {example}"
                    );
                }
                [one] => {
                    let _ = write!(message, ": did you mean {one}?");
                }
                [init @ .., last] => {
                    let _ = write!(message, ": did you mean {} or {last}?", init.join(", "));
                }
            }
            Err(Problem::new(code, message))
        }
    }
}

/// Longest input looked up in a code table, in characters.
const MAX_CODE_CHARS: usize = 100;

/// Distinct spellings remembered per code table and thread at most.
const CODE_CACHE_MAX: usize = 4_096;

thread_local! {
    /// What each code table resolved spellings to, per thread: a file repeats
    /// a few spellings (`Japan`, `Asia/Tokyo`) on every row, and resolving
    /// folds and looks up each time.
    static CODE_CACHE: std::cell::RefCell<[std::collections::HashMap<Box<str>, &'static str>; 6]> =
        std::cell::RefCell::new(Default::default());
}

fn table_slot(table: CodeTable) -> usize {
    match table {
        CodeTable::Country => 0,
        CodeTable::Language => 1,
        CodeTable::TimeZone => 2,
        CodeTable::DateFormat => 3,
        CodeTable::TimeFormat => 4,
        CodeTable::AnyTimeZone => 5,
    }
}

/// Entries of the per-thread, per-table direct-mapped front of the code
/// cache.
const RECENT_SLOTS: usize = 32;

type Recent = [Option<(Box<str>, &'static str)>; RECENT_SLOTS];

thread_local! {
    /// The spellings seen last, in a small direct-mapped table per code
    /// table: a hit costs one short hash and one comparison, not a SipHash
    /// of the cell and a map probe (a file holds few distinct codes). A
    /// crafted file can only make it miss, never slow it down.
    static RECENT_CODES: std::cell::RefCell<[Recent; 6]> =
        std::cell::RefCell::new(Default::default());
}

/// The front table's slot for `text` (FNV-1a over its bytes).
fn recent_slot(text: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in text.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h as usize ^ (h as usize >> 16)) % RECENT_SLOTS
}

fn cached_code(table: CodeTable, text: &str) -> Option<&'static str> {
    let slot = recent_slot(text);
    let recent = RECENT_CODES
        .try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            match &recent.get(table_slot(table))?[slot] {
                Some((seen, canonical)) if **seen == *text => Some(*canonical),
                _ => None,
            }
        })
        .ok()
        .flatten();
    if recent.is_some() {
        return recent;
    }
    let canonical = CODE_CACHE
        .try_with(|cache| {
            cache
                .try_borrow()
                .ok()
                .and_then(|c| c.get(table_slot(table))?.get(text).copied())
        })
        .ok()
        .flatten()?;
    remember_recent(table, slot, text, canonical);
    Some(canonical)
}

fn remember_recent(table: CodeTable, slot: usize, text: &str, canonical: &'static str) {
    // Long cells are not worth keeping here (and no code is long).
    if text.len() > 64 {
        return;
    }
    let _ = RECENT_CODES.try_with(|recent| {
        if let Ok(mut recent) = recent.try_borrow_mut()
            && let Some(table) = recent.get_mut(table_slot(table))
        {
            table[slot] = Some((text.into(), canonical));
        }
    });
}

fn remember_code(table: CodeTable, text: &str, canonical: &'static str) {
    let _ = CODE_CACHE.try_with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut()
            && let Some(map) = cache.get_mut(table_slot(table))
            && map.len() < CODE_CACHE_MAX
        {
            map.insert(text.into(), canonical);
        }
    });
}

/// Human spelling of a chrono date format (`%Y/%m/%d` → `YYYY/MM/DD`).
pub(crate) fn human_format(format: &str) -> String {
    format
        .replace("%Y", "YYYY")
        .replace("%m", "MM")
        .replace("%d", "DD")
        .replace("%b", "MMM")
        .replace("%e", "D")
}

/// Parses a date written exactly in one of `formats` (it must round-trip:
/// `2026-01-05T00:00` or `+2026-01-05` are refused), or, when a format puts
/// the year first, as people type and spreadsheets re-save such dates:
/// `2027/3/31`, `2027-3-31` (no zero padding) and `2027年3月31日` (Japanese
/// Excel, full-width digits too). Returns the date and its text in the first
/// (canonical) format.
pub(crate) fn parse_date<S: AsRef<str>>(text: &str, formats: &[S]) -> Option<(NaiveDate, String)> {
    if let Some(found) = parse_exact_date(text, formats) {
        return Some(found);
    }
    if formats.iter().any(|f| f.as_ref().starts_with("%Y")) {
        let date = parse_typed_date(text)?;
        return Some((date, format_date(date, formats)?));
    }
    None
}

/// A year-first date as typed: `2027/3/31`, `2027-03-31`, `2027年3月31日`:
/// a four-digit year, a month and a day of one or two digits each.
fn parse_typed_date(text: &str) -> Option<NaiveDate> {
    let folded: String = text.chars().map(userimport_schema::fold_width).collect();
    let folded = folded.trim();
    let parts: Vec<&str> = match folded.strip_suffix('日') {
        Some(rest) => rest.split(['年', '月']).collect(),
        None if folded.contains('/') => folded.split('/').collect(),
        None => folded.split('-').collect(),
    };
    let [year, month, day] = parts.as_slice() else {
        return None;
    };
    let number = |part: &str, digits: std::ops::RangeInclusive<usize>| {
        let part = part.trim();
        (digits.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let year = i32::try_from(number(year, 4..=4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(month, 1..=2)?, number(day, 1..=2)?)
}

/// A date written exactly in one of `formats`.
fn parse_exact_date<S: AsRef<str>>(text: &str, formats: &[S]) -> Option<(NaiveDate, String)> {
    let mut again = String::with_capacity(text.len());
    for (i, format) in formats.iter().enumerate() {
        let format = format.as_ref();
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            again.clear();
            if write!(again, "{}", date.format(format)).is_ok() && again.eq_ignore_ascii_case(text)
            {
                if i > 0 {
                    again = format_date(date, formats)?;
                }
                return Some((date, again));
            }
        }
    }
    None
}

/// A date in the canonical (first) format.
fn format_date<S: AsRef<str>>(date: NaiveDate, formats: &[S]) -> Option<String> {
    let mut out = String::with_capacity(10);
    let format = formats.first()?.as_ref();
    write!(out, "{}", date.format(format)).ok()?;
    Some(out)
}

/// A date cell: its canonical text, or a message saying how to write it.
pub(crate) fn date<S: AsRef<str>>(text: &str, formats: &[S]) -> Result<String, String> {
    if let Some((_, canonical)) = parse_date(text, formats) {
        return Ok(canonical);
    }
    let human: Vec<String> = formats.iter().map(|f| human_format(f.as_ref())).collect();
    let example = NaiveDate::from_ymd_opt(2026, 1, 31)
        .and_then(|d| format_date(d, formats))
        .unwrap_or_default();
    Err(format!(
        "{:?} is not a date written as {}: write a real date, for example {example}",
        clip(text),
        human.join(" or ")
    ))
}

/// True when `text` is a number of days from 1 to `max` written as
/// [`day_count`] writes it (no sign, no leading zero): nothing to rewrite.
pub(crate) fn is_canonical_day_count(text: &str, max: u32) -> bool {
    !text.starts_with('0') && day_count_value(text, max).is_some()
}

fn day_count_value(text: &str, max: u32) -> Option<u64> {
    let parsed = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()
    } else {
        None
    };
    parsed.filter(|n| *n >= 1 && *n <= u64::from(max))
}

pub(crate) fn day_count(text: &str, max: u32) -> Result<String, String> {
    match day_count_value(text, max) {
        Some(n) => Ok(n.to_string()),
        None => Err(format!(
            "{:?} is not a number of days: write a whole number from 1 to {max}",
            clip(text)
        )),
    }
}

fn integer(text: &str, min: Option<i64>, max: Option<i64>) -> Result<Out<'_>, Problem> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let n = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().ok()
    } else {
        None
    };
    let bounds = match (min, max) {
        (Some(lo), Some(hi)) => format!("from {lo} to {hi}"),
        (Some(lo), None) => format!("of at least {lo}"),
        (None, Some(hi)) => format!("of at most {hi}"),
        (None, None) => String::new(),
    };
    let Some(n) = n else {
        return Err(Problem::new(
            codes::INTEGER_INVALID,
            format!(
                "{:?} is not a whole number: write digits only{}{bounds}",
                clip(text),
                if bounds.is_empty() { "" } else { ", a number " }
            ),
        ));
    };
    if min.is_some_and(|lo| n < lo) || max.is_some_and(|hi| n > hi) {
        return Err(Problem::new(
            codes::INTEGER_OUT_OF_RANGE,
            format!("{n} is out of range: write a whole number {bounds}"),
        ));
    }
    Ok(owned_or_text(n.to_string(), text))
}

/// A card ID in `kind`'s notation, stored in decimal. `named`: the column's
/// header named the notation (so the hint says to rename it, not to set an
/// option).
fn card_id(text: &str, kind: CardIdType, named: bool) -> Result<Out<'_>, Problem> {
    match kind {
        CardIdType::Decimal => {
            if !text.is_empty()
                && text.len() <= 39
                && text.bytes().all(|b| b.is_ascii_digit())
                && let Ok(number) = text.parse::<u128>()
            {
                let trimmed = text.trim_start_matches('0');
                return Ok(match trimmed.is_empty() {
                    true => Out::Text("0"),
                    false if trimmed.len() == number.to_string().len() => Out::Text(trimmed),
                    false => Out::Owned(number.to_string()),
                });
            }
            let hex = text.bytes().all(|b| b.is_ascii_hexdigit())
                || text.starts_with("0x")
                || text.starts_with("0X");
            let hint = match (hex, named) {
                (true, true) => {
                    " (it looks hexadecimal, but the column's header says decimal: name the column Card ID (hex))"
                }
                (true, false) => {
                    " (it looks hexadecimal: import with the hexadecimal card ID notation)"
                }
                _ => "",
            };
            Err(Problem::new(
                codes::CARD_ID_INVALID,
                format!(
                    "{:?} is not a decimal card ID: write up to 39 digits 0-9{hint}",
                    clip(text)
                ),
            ))
        }
        CardIdType::Hex => {
            let digits = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            // Stored in one notation, decimal: hex 1A2B and decimal 6699
            // are the same card.
            if !digits.is_empty()
                && digits.len() <= 32
                && digits.bytes().all(|b| b.is_ascii_hexdigit())
                && let Ok(number) = u128::from_str_radix(digits, 16)
            {
                return Ok(Out::Owned(number.to_string()));
            }
            Err(Problem::new(
                codes::CARD_ID_INVALID,
                format!(
                    "{:?} is not a hexadecimal card ID: write up to 32 digits 0-9 and A-F, with or without 0x",
                    clip(text)
                ),
            ))
        }
    }
}

/// Names in a list compared one by one; past this, through a map.
const LINEAR_NAMES: usize = 16;

/// Longest accepted name in a list, in characters.
const MAX_NAME_CHARS: usize = 255;

/// Splits `A, B,-C` into a [`ListEdit`]: trimmed, empty items ignored,
/// duplicates folded (exact spelling), the clear keyword only alone.
fn list_edit<'a>(
    col: &ColumnPlan,
    text: &'a str,
    mut item: impl FnMut(&'a str) -> Result<Cow<'a, str>, Problem>,
) -> Result<Out<'a>, Problem> {
    // One part, the usual cell: one name added, or one removed.
    if !text.as_bytes().contains(&b',') {
        return Ok(match list_part(col, text)? {
            None => Out::Blank,
            Some((false, name)) => Out::Name(item(name)?),
            Some((true, name)) => Out::List(ListEdit {
                add: Vec::new(),
                remove: vec![item(name)?.into_owned()],
            }),
        });
    }
    let mut edit = ListEdit::default();
    // Past a few names, every name seen (and whether it was removed) goes in
    // a map: a hostile cell of 30,000 names must not cost 30,000² comparisons.
    let mut seen: HashMap<String, bool> = HashMap::new();
    for part in text.split(',') {
        let Some((remove, name)) = list_part(col, part)? else {
            continue;
        };
        let name = item(name)?.into_owned();
        let previous = if seen.is_empty() {
            if edit.add.contains(&name) {
                Some(false)
            } else if edit.remove.contains(&name) {
                Some(true)
            } else {
                None
            }
        } else {
            seen.get(&name).copied()
        };
        match previous {
            Some(was_removed) if was_removed == remove => continue,
            Some(_) => {
                return Err(Problem::new(
                    codes::LIST_CONFLICT,
                    format!(
                        "{} is both added and removed in {}: keep either {0} or -{0}",
                        clip(&name),
                        col.label
                    ),
                ));
            }
            None => {
                if !seen.is_empty() {
                    seen.insert(name.clone(), remove);
                } else if edit.add.len() + edit.remove.len() >= LINEAR_NAMES {
                    seen.extend(edit.add.iter().map(|n| (n.clone(), false)));
                    seen.extend(edit.remove.iter().map(|n| (n.clone(), true)));
                    seen.insert(name.clone(), remove);
                }
                if remove {
                    edit.remove.push(name);
                } else {
                    edit.add.push(name);
                }
            }
        }
    }
    if edit.add.is_empty() && edit.remove.is_empty() {
        return Ok(Out::Blank);
    }
    Ok(Out::List(edit))
}

/// One part of a list cell: `None` when empty, else whether it removes
/// (`-Name`) and the trimmed name. The clear keyword and overlong names
/// are refused.
fn list_part<'a>(col: &ColumnPlan, part: &'a str) -> Result<Option<(bool, &'a str)>, Problem> {
    let part = trim(part);
    let (remove, name) = match part.strip_prefix('-') {
        Some(rest) => (true, rest.trim()),
        None => (false, part),
    };
    if name.is_empty() {
        return Ok(None);
    }
    if let Some(keyword) = &col.clear_keyword
        && name.eq_ignore_ascii_case(keyword)
    {
        return Err(Problem::new(
            codes::LIST_INVALID,
            format!(
                "{keyword:?} clears {} and must be alone in the cell: write only {keyword}, \
                     or list the names to add and -names to remove",
                col.label
            ),
        ));
    }
    // Byte length bounds the character count from above: skip counting when short.
    if name.len() > MAX_NAME_CHARS && name.chars().count() > MAX_NAME_CHARS {
        return Err(Problem::new(
            codes::FIELD_TOO_LONG,
            format!(
                "a name in {} is longer than {MAX_NAME_CHARS} characters: shorten it",
                col.label
            ),
        ));
    }
    Ok(Some((remove, name)))
}

/// A name of a declared list (the profile's roles): its canonical spelling,
/// or `role.unknown` with the nearest declared names.
fn declared_name<'a>(names: &'a [EnumValue], name: &str) -> Result<Cow<'a, str>, Problem> {
    let found = names.iter().find(|v| {
        v.canonical.eq_ignore_ascii_case(name)
            || v.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    });
    if let Some(value) = found {
        return Ok(Cow::Borrowed(&value.canonical));
    }
    let folded = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .iter()
        .flat_map(|v| {
            std::iter::once(&v.canonical)
                .chain(&v.aliases)
                .map(move |spelling| (spelling, v.canonical.as_str()))
        })
        .map(|(spelling, canonical)| {
            (
                strsim::jaro_winkler(&folded, &spelling.to_lowercase()),
                canonical,
            )
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut nearest: Vec<&str> = Vec::new();
    for (_, canonical) in scored {
        if !nearest.contains(&canonical) && nearest.len() < 3 {
            nearest.push(canonical);
        }
    }
    let all: Vec<&str> = names.iter().map(|v| v.canonical.as_str()).collect();
    let hint = match nearest.as_slice() {
        [] => format!("use one of {}", all.join(", ")),
        [one] => format!("did you mean {one}? (the roles are {})", all.join(", ")),
        [init @ .., last] => format!(
            "did you mean {} or {last}? (the roles are {})",
            init.join(", "),
            all.join(", ")
        ),
    };
    Err(Problem::new(
        codes::ROLE_UNKNOWN,
        format!(
            "{:?} is not a management role of this profile: {hint}",
            clip(name)
        ),
    ))
}

fn name_list<'a>(col: &ColumnPlan, text: &'a str) -> Result<Out<'a>, Problem> {
    list_edit(col, text, |name| Ok(Cow::Borrowed(name)))
}

fn identity_list<'a>(
    col: &ColumnPlan,
    text: &'a str,
    sources: &[String],
) -> Result<Out<'a>, Problem> {
    list_edit(col, text, |item| {
        let Some((source, user)) = item.split_once(':') else {
            return Err(Problem::new(
                codes::IDENTITY_INVALID,
                format!(
                    "{:?} is not an identity: write source:username, for example slack:jdoe",
                    clip(item)
                ),
            ));
        };
        let (source, user) = (source.trim(), user.trim());
        if source.is_empty() || user.is_empty() {
            return Err(Problem::new(
                codes::IDENTITY_INVALID,
                format!(
                    "{:?} lacks a source or a username: write source:username, for example slack:jdoe",
                    clip(item)
                ),
            ));
        }
        match sources.iter().find(|s| s.eq_ignore_ascii_case(source)) {
            Some(known) => Ok(Cow::Owned(format!("{known}:{user}"))),
            None => {
                let enabled = if sources.is_empty() {
                    "none is enabled in this profile".to_string()
                } else {
                    format!("use one of {}", sources.join(", "))
                };
                Err(Problem::new(
                    codes::IDENTITY_UNKNOWN_SOURCE,
                    format!(
                        "source {:?} is not enabled: {enabled} (or enable it in the profile)",
                        clip(source)
                    ),
                ))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_ascii_agrees_with_the_byte_rule() {
        let naive = |b: &[u8]| b.iter().all(|b| (0x20..0x7F).contains(b));
        let base = b"abcdefghijklmnopqrstuvwx".to_vec();
        for len in 0..base.len() {
            for at in 0..len.max(1) {
                for byte in 0..=255u8 {
                    let mut text = base[..len].to_vec();
                    if len > 0 {
                        text[at] = byte;
                    }
                    assert_eq!(super::printable_ascii(&text), naive(&text), "{text:?}");
                }
            }
        }
    }

    use super::*;
    use proptest::prelude::*;

    /// What the general path says of an address: accepted or not.
    fn parser_accepts(text: &str) -> bool {
        EmailAddress::parse_with_options(text, EMAIL_OPTIONS).is_ok()
            && text
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.chars().any(char::is_alphabetic))
    }

    /// The word test says what the byte rule says, except that a control
    /// character may send a cell to the closer look, which finds nothing to
    /// undo in it (the same result, more slowly).
    #[test]
    fn ordinary_words_agree_with_the_byte_rule() {
        let by_bytes = |text: &[u8]| !text.iter().any(|&b| SPECIAL[usize::from(b)]);
        for base in [
            &b"abcdefghijklmnop"[..],
            "Jos\u{e9} M\u{fc}ller \u{65e5}\u{672c}".as_bytes(),
        ] {
            assert!(ordinary(base));
            for at in 0..base.len() {
                for byte in 0..=255u8 {
                    let mut text = base.to_vec();
                    text[at] = byte;
                    // A control may take the closer look either way.
                    if byte >= 0x20 {
                        assert_eq!(ordinary(&text), by_bytes(&text), "{text:?}");
                    } else if !by_bytes(&text) {
                        assert!(!ordinary(&text), "{text:?}");
                    }
                }
            }
        }
    }

    /// The former rule, written with splits, as a reference.
    fn plain_address_by_splits(text: &str) -> bool {
        let Some((local, domain)) = text.split_once('@') else {
            return false;
        };
        if local.is_empty() || local.len() > 64 || domain.len() > 254 {
            return false;
        }
        let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
        if !local
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(atext))
        {
            return false;
        }
        let mut labels = 0;
        let mut last_has_letter = false;
        for label in domain.split('.') {
            let bytes = label.as_bytes();
            let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
                return false;
            };
            if bytes.len() > 63
                || !first.is_ascii_alphanumeric()
                || !last.is_ascii_alphanumeric()
                || !bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            {
                return false;
            }
            labels += 1;
            last_has_letter = bytes.iter().any(u8::is_ascii_alphabetic);
        }
        labels >= 2 && last_has_letter
    }

    proptest! {
        /// The one-pass rule says what the rule written with splits says.
        #[test]
        fn one_pass_addresses_agree_with_the_splits(
            text in "[a-zA-Z0-9.+_'\\-\"@ é{}]{0,14}(@[a-z0-9.\\-@ ]{0,14})?",
            long_label in 60usize..66,
            long_local in 62usize..67,
        ) {
            prop_assert_eq!(plain_address(&text), plain_address_by_splits(&text), "{:?}", text);
            let long = format!("{}@{}.example.com", "a".repeat(long_local), "b".repeat(long_label));
            prop_assert_eq!(plain_address(&long), plain_address_by_splits(&long));
        }
    }

    proptest! {
        /// The shortcut never accepts what the parser refuses, and takes
        /// the usual addresses (so it is used at all).
        #[test]
        fn plain_addresses_are_a_subset_of_the_parser(
            text in "[a-zA-Z0-9.+_'\\-\"@ <>\\[\\]éЖ]{0,12}(@[a-z0-9.\\-\\[\\] ]{0,12})?"
        ) {
            if plain_address(&text) {
                prop_assert!(parser_accepts(&text), "{text:?}");
            }
        }

        #[test]
        fn usual_addresses_take_the_shortcut(
            text in "[a-z0-9_+\\-]{1,10}(\\.[a-z0-9_]{1,8})?@[a-z0-9]{1,10}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}"
        ) {
            prop_assert!(plain_address(&text), "{text:?}");
            prop_assert!(parser_accepts(&text), "{text:?}");
        }
    }

    fn list_column(kind: FieldKind, names: Vec<EnumValue>) -> ColumnPlan {
        ColumnPlan {
            key: "groups".into(),
            label: "Groups".into(),
            kind,
            required: false,
            clear_keyword: Some("none".into()),
            secret: false,
            is_key: false,
            field: Some(0),
            names,
            card_id_type: None,
        }
    }

    /// A list cell checked and stored into a row's cell that held `before`.
    fn stored(col: &ColumnPlan, text: &str, before: &Cell) -> Result<Cell, Problem> {
        let env = Env {
            card_id_type: CardIdType::Decimal,
            sources: &[],
            hash_floor: HashFloor::default(),
        };
        let mut cell = before.clone();
        check_cell(col, text, env)?.store(&mut cell);
        Ok(cell)
    }

    proptest! {
        /// A one-part list cell (the shortcut) gives what the general
        /// split gives for the same cell with an empty part added, stored
        /// over any earlier cell.
        #[test]
        fn one_part_lists_agree_with_the_general_split(
            text in "[ -]{0,2}[a-zA-Z -]{0,6}",
            roles in proptest::bool::ANY,
            earlier in 0..4usize,
        ) {
            let col = match roles {
                false => list_column(FieldKind::NameList, Vec::new()),
                true => list_column(FieldKind::NameList, vec![EnumValue {
                    canonical: "Admin".into(),
                    aliases: vec!["a".into()],
                }]),
            };
            let before = [
                Cell::Absent,
                Cell::Value("x".into()),
                Cell::List(ListEdit { add: vec!["p".into(), "q".into()], remove: vec!["r".into()] }),
                Cell::List(ListEdit::default()),
            ];
            let fast = stored(&col, &text, &before[earlier]);
            let general = stored(&col, &format!("{text},"), &before[earlier]);
            prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn plain_address_edges_agree_with_the_parser() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_domain = format!("a@{}com", "bcdefghij.".repeat(26));
        for text in [
            "ann@example.com",
            "Ann.Lee+tag@mail.example.co.jp",
            "o'brien@example.com",
            "a@b.c",
            "a@localhost",
            "a@10.0.0.1",
            "a@example.123",
            "a@example.1a",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example-.com",
            "a@example..com",
            "a@example.com.",
            "a@@example.com",
            "a@b@example.com",
            "@example.com",
            "a@",
            "a b@example.com",
            "\"a\"@example.com",
            "a@[10.0.0.1]",
            "Ann <ann@example.com>",
            "jöse@example.com",
            "a@exämple.com",
            "a@ex_ample.com",
            long_local.as_str(),
            long_label.as_str(),
            long_domain.as_str(),
        ] {
            if plain_address(text) {
                assert!(parser_accepts(text), "{text:?}");
            }
        }
        assert!(!plain_address(&long_local) && !parser_accepts(&long_local));
        assert!(plain_address("ann@example.com") && plain_address("o'brien@example.com"));
    }

    #[test]
    fn fast_trim_agrees_with_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "ab",
            "日本",
            " 日本 ",
            "\u{3000}x\u{3000}",
            "x\u{3000}",
            "\u{a0}",
            "a b",
            "~",
            "!x!",
            "\u{7f}",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }
}
