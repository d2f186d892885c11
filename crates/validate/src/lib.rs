//! The rule engine of a user import: parsed records in, typed rows and issues out.
//!
//! This crate will own the per-field rules drawn from the schema, cross-field
//! rules, in-file uniqueness of keys, normalisation to canonical values, and
//! the `Issue` model with its stable codes.
#![deny(missing_docs)]
