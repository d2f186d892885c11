//! Planning a user import: validated rows matched against the store become
//! a reviewable list of changes.
//!
//! This crate will own key matching, modes and merge policy, the field-level
//! diff, group/role/identity semantics, the summary and thresholds, and the
//! read-side `Directory` trait that stores implement.
#![deny(missing_docs)]
