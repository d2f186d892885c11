//! Options that change how cells are read, independent of the profile.

/// How card numbers ([`userimport_schema::FieldKind::CardId`]) are written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CardIdType {
    /// Decimal digits. Canonical form: the digits without leading zeros
    /// (`0012345` → `12345`; all zeros → `0`).
    #[default]
    Decimal,
    /// Hexadecimal digits, optionally prefixed `0x`. Canonical form: uppercase
    /// digits without the `0x` prefix, leading zeros kept (`0x04a1` → `04A1`),
    /// since fixed-width card UIDs are usually written with them.
    Hex,
}

impl CardIdType {
    /// Parses `decimal`/`dec` or `hex`/`hexadecimal` (as in `--card-id-type`).
    pub fn parse(name: &str) -> Option<CardIdType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "decimal" | "dec" => Some(CardIdType::Decimal),
            "hex" | "hexadecimal" => Some(CardIdType::Hex),
            _ => None,
        }
    }
}

/// Options of one validation run. `Default` gives decimal card IDs and the
/// profile's own notion of whether e-mail is required.
///
/// ```
/// use userimport_validate::{CardIdType, ValidateOptions};
/// let options = ValidateOptions {
///     card_id_type: CardIdType::Hex,
///     ..ValidateOptions::default()
/// };
/// assert_eq!(options.email_optional_override, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Notation of card IDs (`--card-id-type decimal|hex`).
    pub card_id_type: CardIdType,
    /// Overrides whether the e-mail column (purpose `Email`) is optional:
    /// `Some(true)` makes it optional (so its clear keyword `delete` clears
    /// the stored address), `Some(false)` makes it required (so `delete` is an
    /// error), `None` keeps the profile's `required` flag.
    pub email_optional_override: Option<bool>,
}
