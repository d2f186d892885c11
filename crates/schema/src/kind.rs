//! Field kinds: what a column may contain, independent of its name.

use serde::{Deserialize, Serialize};

use crate::codes::CodeTable;

/// What a column may contain. The validator turns each kind into rules; the
/// kind never names a column, so a profile can put any kind under any key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FieldKind {
    /// Free text, trimmed, with length limits counted in characters.
    Text {
        /// Fewest characters when not blank.
        #[serde(default)]
        min_len: usize,
        /// Most characters (default 255).
        #[serde(default = "default_text_max")]
        max_len: usize,
    },
    /// An e-mail address checked strictly (top-level domain required, no display
    /// text, no domain literals).
    Email,
    /// A plaintext password: hashed before storage, never echoed.
    Password {
        /// Fewest characters (default 8).
        #[serde(default = "default_password_min")]
        min_len: usize,
        /// Most characters (default 128); longer is refused, never truncated.
        #[serde(default = "default_password_max")]
        max_len: usize,
    },
    /// A pre-hashed password as a PHC string (`$argon2id$…`, `$2b$…`).
    PasswordHash,
    /// One of a fixed list of values, each with case-insensitive aliases.
    Enum {
        /// The allowed values.
        values: Vec<EnumValue>,
    },
    /// `On` or `Off`; a blank cell means `default`.
    OnOff {
        /// The value a blank cell stands for (`true` = On).
        #[serde(default = "default_true")]
        default: bool,
    },
    /// `1` marks the row for deletion; blank or `0` does not.
    DeleteFlag,
    /// A value from one of the built-in code tables.
    Code {
        /// Which table.
        table: CodeTable,
    },
    /// A calendar date in one of the listed formats (chrono `strftime` syntax);
    /// the first format is the canonical one written on export.
    Date {
        /// Accepted formats, canonical first (default `%Y/%m/%d`, `%Y-%m-%d`).
        #[serde(default = "default_date_formats")]
        formats: Vec<String>,
    },
    /// A whole number of days, at least 1.
    DayCount {
        /// The largest accepted count (default 36,500).
        #[serde(default = "default_max_days")]
        max: u32,
    },
    /// A whole number within bounds.
    Integer {
        /// Smallest accepted value.
        #[serde(default)]
        min: Option<i64>,
        /// Largest accepted value.
        #[serde(default)]
        max: Option<i64>,
    },
    /// An access card number, decimal or hexadecimal per the import options.
    CardId,
    /// A list of names (groups, roles): `A,B` adds, `-A` removes, the
    /// profile's clear keyword (`none`) clears.
    NameList,
    /// A list of `source:username` identities, added to the existing ones.
    IdentityList,
    /// Shown on export, ignored on import with one warning per column.
    ReadOnly,
}

/// One allowed value of an [`FieldKind::Enum`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValue {
    /// The value written on export.
    pub canonical: String,
    /// Other spellings accepted on import (case-insensitive).
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl EnumValue {
    /// A value with its aliases.
    pub fn new(canonical: &str, aliases: &[&str]) -> Self {
        EnumValue {
            canonical: canonical.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }
}

impl FieldKind {
    /// Free text of at most `max_len` characters.
    pub fn text(max_len: usize) -> Self {
        FieldKind::Text {
            min_len: 0,
            max_len,
        }
    }

    /// The default password policy: 8 to 128 characters.
    pub fn password() -> Self {
        FieldKind::Password {
            min_len: default_password_min(),
            max_len: default_password_max(),
        }
    }

    /// An enum from `(canonical, aliases)` pairs.
    pub fn enumeration(values: &[(&str, &[&str])]) -> Self {
        FieldKind::Enum {
            values: values.iter().map(|(c, a)| EnumValue::new(c, a)).collect(),
        }
    }

    /// A date field accepting `formats` (chrono syntax), canonical first.
    pub fn date(formats: &[&str]) -> Self {
        FieldKind::Date {
            formats: formats.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// Resolves an enum cell to its canonical value, ignoring case and
    /// surrounding spaces. `None` for other kinds or an unknown value.
    pub fn resolve_enum(&self, input: &str) -> Option<&str> {
        let FieldKind::Enum { values } = self else {
            return None;
        };
        let input = input.trim();
        let matches = |v: &EnumValue| {
            v.canonical.eq_ignore_ascii_case(input)
                || v.aliases.iter().any(|a| a.eq_ignore_ascii_case(input))
        };
        // Nearly every cell spells a value as it is declared: found by
        // comparing bytes, it is the answer unless a value before it
        // matches first (spellings of other lengths are ruled out at once).
        if let Some(k) = values.iter().position(|v| v.canonical == input)
            && !values.iter().take(k).any(matches)
        {
            return values.get(k).map(|v| v.canonical.as_str());
        }
        values
            .iter()
            .find(|v| matches(v))
            .map(|v| v.canonical.as_str())
    }

    /// True for kinds whose cells are secrets that must never be echoed.
    pub fn is_secret(&self) -> bool {
        matches!(self, FieldKind::Password { .. } | FieldKind::PasswordHash)
    }
}

fn default_text_max() -> usize {
    255
}
fn default_password_min() -> usize {
    8
}
fn default_password_max() -> usize {
    128
}
fn default_true() -> bool {
    true
}
fn default_max_days() -> u32 {
    36_500
}
fn default_date_formats() -> Vec<String> {
    vec!["%Y/%m/%d".to_string(), "%Y-%m-%d".to_string()]
}

/// The user statuses of the learning platform (seed 002).
pub fn status_values() -> FieldKind {
    FieldKind::enumeration(&[
        ("Valid", &[]),
        ("Invalid", &[]),
        (
            "Suspended",
            &["Temporary suspended", "Temporarily suspended"],
        ),
    ])
}

/// The due-date types of the learning platform (seed 002).
pub fn due_date_type_values() -> FieldKind {
    FieldKind::enumeration(&[
        ("Unlimited", &[]),
        ("FromFirstLogin", &["From the first login date"]),
        ("FromCreation", &["From the creation date"]),
        (
            "ExpirationDate",
            &["effective date", "expiration date", "Validity period"],
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_resolve_aliases_case_insensitively() {
        let status = status_values();
        assert_eq!(status.resolve_enum(" valid "), Some("Valid"));
        assert_eq!(
            status.resolve_enum("TEMPORARY SUSPENDED"),
            Some("Suspended")
        );
        assert_eq!(status.resolve_enum("Gone"), None);
        let due = due_date_type_values();
        assert_eq!(due.resolve_enum("effective date"), Some("ExpirationDate"));
        assert_eq!(
            due.resolve_enum("From the creation date"),
            Some("FromCreation")
        );
        assert_eq!(due.resolve_enum("FromCreation"), Some("FromCreation"));
        // The first value that matches wins, even over an exact spelling.
        let clash = FieldKind::enumeration(&[("A", &["b"]), ("B", &[]), ("b", &[])]);
        assert_eq!(clash.resolve_enum("B"), Some("A"));
        assert_eq!(clash.resolve_enum("b"), Some("A"));
        assert_eq!(clash.resolve_enum("A"), Some("A"));
    }
}
