//! Every issue code, in one place.
//!
//! Codes are stable, dotted and lowercase: reports, tests and services match
//! on them, so a code is never renamed, only added. Messages may change; codes
//! do not. Codes are named after what is wrong (the kind of field or rule),
//! never after one profile's column name, except where a rule is about one
//! purpose (the login ID, the status).
//!
//! | code | severity | raised by | meaning |
//! |---|---|---|---|
//! | `column.read_only` | warning | validator (header) | a read-only column (first/last login, created/updated) is in the file; its values are ignored |
//! | `column.unknown` | warning | validator (header) | a header cell names no column of the profile; its values are ignored |
//! | `row.ragged` | error | validator | the record has fewer or more fields than the header |
//! | `field.too_long` | error | validator | text longer than the column allows (in characters) |
//! | `field.too_short` | error | validator | text shorter than the column's minimum |
//! | `field.control_character` | error | validator | a control or invisible formatting character (NUL, escape, C1 controls, a byte-order mark, a zero-width or bidirectional-override character) in a value, or a tab or line break (every field is one line) |
//! | `field.substituted` | error | validator | the value holds a marker (`{U+00E9}`) an export wrote in place of a character its charset could not encode |
//! | `field.clear_required` | error | validator | the clear keyword (`delete`, `none`) in a column the profile requires |
//! | `field.required` | error | planner | a new user needs a value in this column |
//! | `email.invalid` | error | validator | not a valid e-mail address (strict: top-level domain, no display text, no domain literal) |
//! | `password.too_short` | error | validator | the password is shorter than the policy allows |
//! | `password.too_long` | error | validator | the password is longer than the policy allows (never truncated) |
//! | `password.missing` | error | planner | a new user has no password and passwords are not generated |
//! | `password_hash.invalid` | error | validator | not a PHC string of a supported algorithm (argon2id, bcrypt) |
//! | `password_hash.weak` | error | validator | a supported hash cheaper than the profile's floor (default argon2id m=19456 KiB, t=2, p=1; bcrypt cost 10) |
//! | `enum.unknown` | error | validator | not one of the column's allowed values or aliases |
//! | `onoff.invalid` | error | validator | neither `On` nor `Off` |
//! | `delete_flag.invalid` | error | validator | the delete flag is neither `1`, `0` nor blank |
//! | `country.unknown` | error | validator | not in the country/region code table (with suggestions) |
//! | `language.unknown` | error | validator | not in the language code table (with suggestions) |
//! | `timezone.unknown` | error | validator | not an IANA time zone or a listed display name (with suggestions) |
//! | `date_format.unknown` | error | validator | not one of the date display formats |
//! | `time_format.unknown` | error | validator | not one of the time display formats |
//! | `date.invalid` | error | validator | not a real date in one of the column's formats, written exactly |
//! | `day_count.invalid` | error | validator | not a whole number of days between 1 and the column's maximum |
//! | `integer.invalid` | error | validator | not a whole number |
//! | `integer.out_of_range` | error | validator | a whole number outside the column's bounds |
//! | `card_id.invalid` | error | validator | not a card number in the configured notation (decimal or hex) |
//! | `list.invalid` | error | validator | a name list misuses the clear keyword (it must stand alone) |
//! | `list.conflict` | error | validator | a name is both added and removed in the same cell |
//! | `identity.invalid` | error | validator | an identity is not written `source:username` |
//! | `identity.unknown_source` | error | validator | an identity names a source that is not enabled |
//! | `due_date.type_missing` | error | validator (cross) | a valid-days/due-date value without a due-date type |
//! | `due_date.value_not_allowed` | error | validator (cross) | a value with due-date type `Unlimited` |
//! | `due_date.value_missing` | error | validator (cross) | a `From…` or `ExpirationDate` type without its value |
//! | `due_date.days_invalid` | error | validator (cross) | the value of a `From…` type is not a valid day count |
//! | `due_date.date_invalid` | error | validator (cross) | the value of `ExpirationDate` is not a `YYYY/MM/DD` date |
//! | `date_range.reversed` | error | validator (cross) | the end date is before the start date |
//! | `key.duplicate` | error | [`crate::Uniqueness`], planner | the same key (member ID, login ID, e-mail; ignoring case) is on several rows, or two rows match the same stored user |
//! | `key.ambiguous` | error | planner | the row's keys match two different stored users |
//! | `key.unknown` | error | planner | update (or delete) of a user that does not exist |
//! | `user.exists` | error | planner | create mode, but the user already exists (or a new user's key is taken) |
//! | `login.immutable` | error | planner | the row would change an existing user's login ID |
//! | `status.suspended_new` | error | planner | status `Suspended` for a user that does not exist yet |
//! | `group.unknown` | error | planner | a group that does not exist where the profile does not create groups |
//! | `authority.denied` | error | planner | a group or role outside the importing actor's authority |
//! | `password.ignored` | warning | planner | a password for an existing user is ignored (without `--update-passwords`) |
//! | `sync.threshold` | error | planner (file) | sync would remove more users than the guard allows |
//! | `sync.incomplete` | warning | planner (file) | sync removes nobody because some rows are invalid |
//!
//! The planner (`userimport_plan::codes`) defines the same strings for the
//! codes it raises; they are listed here so that every code is documented in
//! one table.

/// A read-only column is in the file; its values are ignored (one warning per column).
pub const COLUMN_READ_ONLY: &str = "column.read_only";
/// A header cell names no column of the profile; its values are ignored.
pub const COLUMN_UNKNOWN: &str = "column.unknown";
/// The record has fewer or more fields than the header.
pub const ROW_RAGGED: &str = "row.ragged";
/// Text longer than the column allows, counted in characters.
pub const FIELD_TOO_LONG: &str = "field.too_long";
/// Text shorter than the column's minimum, counted in characters.
pub const FIELD_TOO_SHORT: &str = "field.too_short";
/// A control or invisible formatting character in a value (NUL, escape, C1
/// controls, U+FEFF, zero-width and bidirectional-override characters):
/// such a value could hide a different name behind a familiar one, or
/// reach a terminal or a C program. Tabs and line breaks too: every field
/// is one line (a line break in a name garbles an e-mail's subject).
pub const FIELD_CONTROL_CHARACTER: &str = "field.control_character";
/// A marker an export substituted for a character its charset lacks.
pub const FIELD_SUBSTITUTED: &str = "field.substituted";
/// The clear keyword in a column the profile requires.
pub const FIELD_CLEAR_REQUIRED: &str = "field.clear_required";
/// A new user needs a value in this column (raised by the planner).
pub const FIELD_REQUIRED: &str = "field.required";
/// Not a valid e-mail address.
pub const EMAIL_INVALID: &str = "email.invalid";
/// The password is shorter than the policy allows.
pub const PASSWORD_TOO_SHORT: &str = "password.too_short";
/// The password is longer than the policy allows; it is never truncated.
pub const PASSWORD_TOO_LONG: &str = "password.too_long";
/// A new user has no password and passwords are not generated (raised by the planner).
pub const PASSWORD_MISSING: &str = "password.missing";
/// Not a PHC string of a supported algorithm (argon2id, bcrypt).
pub const PASSWORD_HASH_INVALID: &str = "password_hash.invalid";
/// A supported hash cheaper than the profile's floor.
pub const PASSWORD_HASH_WEAK: &str = "password_hash.weak";
/// Not one of the column's allowed values or aliases.
pub const ENUM_UNKNOWN: &str = "enum.unknown";
/// Neither `On` nor `Off`.
pub const ONOFF_INVALID: &str = "onoff.invalid";
/// The delete flag is neither `1`, `0` nor blank.
pub const DELETE_FLAG_INVALID: &str = "delete_flag.invalid";
/// Not in the country/region code table.
pub const COUNTRY_UNKNOWN: &str = "country.unknown";
/// Not in the language code table.
pub const LANGUAGE_UNKNOWN: &str = "language.unknown";
/// Not a known time zone.
pub const TIMEZONE_UNKNOWN: &str = "timezone.unknown";
/// Not one of the date display formats.
pub const DATE_FORMAT_UNKNOWN: &str = "date_format.unknown";
/// Not one of the time display formats.
pub const TIME_FORMAT_UNKNOWN: &str = "time_format.unknown";
/// Not a real date written exactly in one of the column's formats.
pub const DATE_INVALID: &str = "date.invalid";
/// Not a whole number of days between 1 and the column's maximum.
pub const DAY_COUNT_INVALID: &str = "day_count.invalid";
/// Not a whole number.
pub const INTEGER_INVALID: &str = "integer.invalid";
/// A whole number outside the column's bounds.
pub const INTEGER_OUT_OF_RANGE: &str = "integer.out_of_range";
/// Not a card number in the configured notation.
pub const CARD_ID_INVALID: &str = "card_id.invalid";
/// A name list misuses the clear keyword.
pub const LIST_INVALID: &str = "list.invalid";
/// A name is both added and removed in the same cell.
pub const LIST_CONFLICT: &str = "list.conflict";
/// An identity is not written `source:username`.
pub const IDENTITY_INVALID: &str = "identity.invalid";
/// An identity names a source the profile does not enable.
pub const IDENTITY_UNKNOWN_SOURCE: &str = "identity.unknown_source";
/// A valid-days/due-date value without a due-date type.
pub const DUE_DATE_TYPE_MISSING: &str = "due_date.type_missing";
/// A value with due-date type `Unlimited`.
pub const DUE_DATE_VALUE_NOT_ALLOWED: &str = "due_date.value_not_allowed";
/// A `From…` or `ExpirationDate` type without its value.
pub const DUE_DATE_VALUE_MISSING: &str = "due_date.value_missing";
/// The value of a `From…` type is not a valid day count.
pub const DUE_DATE_DAYS_INVALID: &str = "due_date.days_invalid";
/// The value of `ExpirationDate` is not a `YYYY/MM/DD` date.
pub const DUE_DATE_DATE_INVALID: &str = "due_date.date_invalid";
/// The end date is before the start date.
pub const DATE_RANGE_REVERSED: &str = "date_range.reversed";
/// The same key is on several rows of the file (every row involved gets one).
pub const KEY_DUPLICATE: &str = "key.duplicate";
/// The row's keys match two different stored users (planner).
pub const KEY_AMBIGUOUS: &str = "key.ambiguous";
/// Update or delete of a user that does not exist (planner).
pub const KEY_UNKNOWN: &str = "key.unknown";
/// Create mode, but the user already exists, or a new user's key is taken (planner).
pub const USER_EXISTS: &str = "user.exists";
/// The row would change an existing user's login ID (planner).
pub const LOGIN_IMMUTABLE: &str = "login.immutable";
/// Status `Suspended` for a user that does not exist yet (planner).
pub const STATUS_SUSPENDED_NEW: &str = "status.suspended_new";
/// A group that does not exist where the profile does not create groups (planner).
pub const GROUP_UNKNOWN: &str = "group.unknown";
/// A group or role outside the importing actor's authority (planner).
pub const AUTHORITY_DENIED: &str = "authority.denied";
/// A password for an existing user is ignored (planner, warning).
pub const PASSWORD_IGNORED: &str = "password.ignored";
/// Sync would remove more users than the guard allows (planner, file-level).
pub const SYNC_THRESHOLD: &str = "sync.threshold";
/// Sync removes nobody because some rows are invalid (planner, file-level warning).
pub const SYNC_INCOMPLETE: &str = "sync.incomplete";

/// Every code above, for tests and documentation generators.
pub const ALL: &[&str] = &[
    COLUMN_READ_ONLY,
    COLUMN_UNKNOWN,
    ROW_RAGGED,
    FIELD_TOO_LONG,
    FIELD_TOO_SHORT,
    FIELD_CONTROL_CHARACTER,
    FIELD_SUBSTITUTED,
    FIELD_CLEAR_REQUIRED,
    FIELD_REQUIRED,
    EMAIL_INVALID,
    PASSWORD_TOO_SHORT,
    PASSWORD_TOO_LONG,
    PASSWORD_MISSING,
    PASSWORD_HASH_INVALID,
    PASSWORD_HASH_WEAK,
    ENUM_UNKNOWN,
    ONOFF_INVALID,
    DELETE_FLAG_INVALID,
    COUNTRY_UNKNOWN,
    LANGUAGE_UNKNOWN,
    TIMEZONE_UNKNOWN,
    DATE_FORMAT_UNKNOWN,
    TIME_FORMAT_UNKNOWN,
    DATE_INVALID,
    DAY_COUNT_INVALID,
    INTEGER_INVALID,
    INTEGER_OUT_OF_RANGE,
    CARD_ID_INVALID,
    LIST_INVALID,
    LIST_CONFLICT,
    IDENTITY_INVALID,
    IDENTITY_UNKNOWN_SOURCE,
    DUE_DATE_TYPE_MISSING,
    DUE_DATE_VALUE_NOT_ALLOWED,
    DUE_DATE_VALUE_MISSING,
    DUE_DATE_DAYS_INVALID,
    DUE_DATE_DATE_INVALID,
    DATE_RANGE_REVERSED,
    KEY_DUPLICATE,
    KEY_AMBIGUOUS,
    KEY_UNKNOWN,
    USER_EXISTS,
    LOGIN_IMMUTABLE,
    STATUS_SUSPENDED_NEW,
    GROUP_UNKNOWN,
    AUTHORITY_DENIED,
    PASSWORD_IGNORED,
    SYNC_THRESHOLD,
    SYNC_INCOMPLETE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_dotted_and_documented_in_the_table() {
        let table = include_str!("codes.rs");
        for (i, code) in ALL.iter().enumerate() {
            assert!(!ALL[..i].contains(code), "{code} twice");
            assert!(code.contains('.') && *code == code.to_lowercase(), "{code}");
            assert!(
                table.contains(&format!("//! | `{code}` |")),
                "{code} not in the table"
            );
        }
    }
}
