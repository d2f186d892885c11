//! Stores for user imports: where a plan's changes are applied.
//!
//! This crate will own the `Sink` trait and its backends (memory, SQLite as the
//! embedded default, PostgreSQL), transactional batched apply, jobs and their
//! journal, password hashing and the invitation outbox.
#![deny(missing_docs)]
