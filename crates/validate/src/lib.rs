//! The rule engine of a user import: parsed records in, typed rows and issues out.
//!
//! A [`Validator`] is built from a profile (the columns and their
//! [`FieldKind`](userimport_schema::FieldKind)s), where each profile column is
//! in the file, the header record and [`ValidateOptions`]. It checks chunks of
//! records in parallel (rayon), in file order, and gives one [`Row`] per
//! record, with one canonical [`Cell`] per profile column, and the [`Issue`]s
//! found: per-field rules chosen by kind (lengths, strict e-mail, password
//! policy, PHC hashes, enums, On/Off, code tables with "did you mean"
//! suggestions, strict dates, day counts, integers, card IDs, name lists,
//! identities), the profile's cross-field rules (due date, date range), and
//! any [`Rule`] a service adds. [`Uniqueness`] finds duplicate keys across
//! chunks in bounded memory. Every issue code is a documented constant in
//! [`codes`].
//!
//! Decisions worth knowing (details on [`Validator`]):
//!
//! - Blank required cells are not an error here: only the planner knows
//!   whether a row creates a user (`field.required`).
//! - A record with fewer or more fields than the header is a `row.ragged`
//!   error; missing trailing fields are read as blank so the rest of the row
//!   is still checked.
//! - On a row whose delete flag is `1`, only the key columns are checked.
//! - Passwords are taken exactly as typed; secret values never appear in an
//!   [`Issue`] (not in `value`, not in `message`), and [`Secret`] prints `***`.
//! - [`Issue::value`] carries at most 256 characters of the raw cell.
//! - For throughput, keep one row buffer across chunks with
//!   [`Validator::validate_into`]: cells are then rewritten in place.
//!
//! # Example
//!
//! ```
//! use userimport_parse::Record;
//! use userimport_schema::Profile;
//! use userimport_validate::{codes, Cell, Uniqueness, ValidateOptions, Validator};
//!
//! let profile = Profile::team();
//! let header = Record::from_fields(1, ["Primary Email", "Display Name", "Role", "Shoe size"]);
//! // Where each profile column is in the file (a column mapping gives this).
//! let fields: Vec<Option<usize>> = profile
//!     .columns
//!     .iter()
//!     .map(|c| header.iter().position(|h| c.matches_header(h)))
//!     .collect();
//! let validator = Validator::new(&profile, fields, &header, ValidateOptions::default());
//!
//! // One warning for the header cell no column claims.
//! let header_issues = validator.header_issues();
//! assert_eq!(header_issues[0].code, codes::COLUMN_UNKNOWN);
//!
//! let records = vec![
//!     Record::from_fields(2, ["ann@example.com", "Ann", "admin", "38"]),
//!     Record::from_fields(3, ["bob@example", "Bob", "User", "44"]),
//!     Record::from_fields(4, ["ANN@example.com ", "Ann again", "Boss", "39"]),
//! ];
//! let (rows, mut issues) = validator.validate(&records, 1);
//! assert_eq!(rows[0].cells[3], Cell::Value("Admin".into())); // canonical enum value
//! assert!(rows[0].valid && !rows[1].valid);
//!
//! let mut unique = Uniqueness::new(&profile);
//! unique.observe_all(&rows);
//! issues.extend(unique.finish());
//!
//! let found: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.code.as_str())).collect();
//! assert!(found.contains(&(3, codes::EMAIL_INVALID)));
//! assert!(found.contains(&(4, codes::ENUM_UNKNOWN)));
//! assert!(found.contains(&(2, codes::KEY_DUPLICATE)) && found.contains(&(4, codes::KEY_DUPLICATE)));
//! println!("{}", issues[0]); // line 3, column "primary_email": error [email.invalid] …
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod codes;
mod cross;
mod field;
mod issue;
mod key;
mod options;
mod row;
mod rule;
mod swar;
mod unique;
mod validator;

pub use issue::{Issue, RowKeys, Severity};
pub use key::{fold_key, hidden_in_key, key_skeleton};

/// Checks a pre-hashed password as the `password_hash` column does (an
/// argon2id PHC string or a bcrypt hash, costing at least `floor`); the
/// error says why it is refused, without echoing the hash.
pub fn check_password_hash(text: &str, floor: userimport_schema::HashFloor) -> Result<(), String> {
    field::check_password_hash(text, floor)
}
pub use options::{CardIdType, ValidateOptions};
pub use row::{Cell, ListEdit, Row, Secret};
pub use rule::{RowContext, Rule};
pub use unique::{Fingerprinter, KeyPrint, Uniqueness};
pub use validator::{IntoProfile, Validator, charset_issue};
