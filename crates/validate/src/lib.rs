//! The rule engine of a user import: parsed records in, typed rows and issues out.
//!
//! This crate owns the per-field rules drawn from the schema, cross-field
//! rules, in-file uniqueness of keys, normalisation to canonical values, and
//! the [`Issue`] model with its stable codes. Its output is a [`Row`] per
//! record: one [`Cell`] per profile column.
#![deny(missing_docs)]

mod issue;
mod row;

pub use issue::{Issue, Severity};
pub use row::{Cell, ListEdit, Row, Secret};
