//! Validated rows: one typed, canonical cell per profile column.

use serde::{Deserialize, Serialize};

/// One validated data row: a [`Cell`] for every column of the profile, in
/// profile order, whether or not the file has that column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1-based physical line where the record starts.
    pub line: u64,
    /// 1-based data row.
    pub row: u64,
    /// One cell per profile column, in profile order.
    pub cells: Vec<Cell>,
    /// True when no error issue was raised for this row by per-row rules
    /// (in-file duplicates are found later and reported separately).
    pub valid: bool,
}

impl Row {
    /// The cell of the profile column at `index` (`Absent` when out of range).
    pub fn cell(&self, index: usize) -> &Cell {
        self.cells.get(index).unwrap_or(&Cell::Absent)
    }

    /// The canonical text of a [`Cell::Value`] at `index`.
    pub fn value(&self, index: usize) -> Option<&str> {
        match self.cell(index) {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// What one cell of a row says, after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Cell {
    /// The file has no such column (or it is mapped to `none`): change nothing.
    Absent,
    /// The cell is empty: change nothing (a blank never clears).
    Blank,
    /// A canonical value: trimmed text, the canonical code or enum value, a
    /// date in the column's first format, a card ID in canonical form, `On`/`Off`,
    /// `1` for the delete flag.
    Value(String),
    /// The column's clear keyword (`delete` in an optional e-mail, `none`).
    Clear,
    /// A list edit for names (groups, roles) or identities.
    List(ListEdit),
    /// A plaintext password (or a PHC hash), never printed.
    Secret(Secret),
}

/// A list cell: names to add and remove (`A,B,-C`); `none` is [`Cell::Clear`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListEdit {
    /// Names to add, in file order, without duplicates.
    pub add: Vec<String>,
    /// Names to remove (written `-Name`).
    pub remove: Vec<String>,
}

/// A secret cell value. `Debug` and `Display` print `***`; serialising writes
/// `***` too, so a secret never leaks through a report or a plan file.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for hashing. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces the secret, reusing its buffer.
    pub(crate) fn set(&mut self, value: &str) {
        self.0.clear();
        self.0.push_str(value);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_or_serialise() {
        let cell = Cell::Secret(Secret::new("hunter2hunter2"));
        assert!(!format!("{cell:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&cell).unwrap().contains("hunter2"));
    }
}
