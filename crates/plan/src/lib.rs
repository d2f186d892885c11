//! Planning a user import: validated rows matched against the store become
//! a reviewable list of changes.
//!
//! A [`Planner`] takes validated [`Row`](userimport_validate::Row)s chunk by
//! chunk, looks every chunk's keys up in one batched call on a [`Directory`]
//! (the read side of a store, defined here and implemented by
//! `userimport-sink`), and turns each row into a [`Change`]: create, update
//! (an exact field-level diff), delete, or unchanged. [`Planner::finish`]
//! adds sync's deletions or suspensions under the threshold guard and the
//! [`Summary`]; the result is a [`Plan`], serialisable to JSON with the store
//! revision it was made against.
//!
//! The rules are those of the design: a blank cell never clears, clearing is
//! explicit, the login ID is immutable, keep-existing only fills blanks,
//! passwords are set for new users only (unless `update_passwords`), and roles
//! and groups are only granted within the actor's authority.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeSet;
//! use userimport_plan::{Change, Directory, Lookup, PlanOptions, Planner, StoredUser};
//! use userimport_schema::Profile;
//! use userimport_validate::{Cell, Row};
//!
//! // A tiny in-memory directory with one user.
//! struct One(StoredUser);
//! impl Directory for One {
//!     type Error = std::convert::Infallible;
//!     fn revision(&self) -> Result<u64, Self::Error> { Ok(1) }
//!     fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>, Self::Error> {
//!         Ok(keys.iter().any(|k| k.matches(&self.0)).then(|| self.0.clone()).into_iter().collect())
//!     }
//!     fn groups(&self) -> Result<BTreeSet<String>, Self::Error> { Ok(BTreeSet::new()) }
//!     fn user_count(&self) -> Result<u64, Self::Error> { Ok(1) }
//!     fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), Self::Error> {
//!         f(&self.0);
//!         Ok(())
//!     }
//! }
//!
//! let profile = Profile::standard();
//! let mut stored = StoredUser { id: 7, login: Some("tanaka".into()), ..Default::default() };
//! stored.attributes.insert("name".into(), "Hanako".into());
//! let dir = One(stored);
//!
//! // A row that renames user `TANAKA` (logins compare case-insensitively).
//! let mut cells = vec![Cell::Absent; profile.columns.len()];
//! cells[profile.column_index("login_id").unwrap()] = Cell::Value("TANAKA".into());
//! cells[profile.column_index("name").unwrap()] = Cell::Value("Hanako Tanaka".into());
//! let row = Row { line: 2, row: 1, cells, valid: true };
//!
//! let plan = Planner::plan_rows(&profile, PlanOptions::default(), vec![row], &dir)?;
//! assert_eq!(plan.summary.update, 1);
//! let Change::Update { id, diff, .. } = &plan.changes[0] else { panic!() };
//! assert_eq!(*id, 7);
//! assert_eq!(diff[0].old.as_deref(), Some("Hanako"));
//! assert_eq!(diff[0].new.as_deref(), Some("Hanako Tanaka"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod attributes;
mod authority;
mod directory;
mod plan;
mod planner;
mod review;
mod types;
mod verify;

pub use attributes::Attributes;
pub use authority::{Actor, Denial, targets};
pub use directory::{Directory, EmptyDirectory, Lookup, StoredUser, fold, skeleton};
pub use plan::{
    ARGON2_ITERATIONS, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, Plan, generate_password,
    hash_password, hash_passwords, verify_password,
};
pub use planner::{Chunk, Finish, Planner, codes};
pub use review::{ChangeKind, Review, ReviewEntry, UserRef, is_lossy};
pub use types::{
    Change, Field, FieldChange, ListChange, Merge, Mode, NewUser, PasswordSource, PlanOptions,
    Summary, SyncAction,
};
pub use verify::profile_digest;

/// Errors that stop planning (row problems are [`Issue`](userimport_validate::Issue)s, not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The actor named by `--actor` is not a user of the store.
    #[error("actor {0:?} is not a user of the store")]
    UnknownActor(String),
    /// The actor's name matches two or more stored users.
    #[error(
        "actor {0:?} names more than one user of the store (member IDs {1:?}): name it by a key only one user has"
    )]
    AmbiguousActor(String, Vec<i64>),
    /// Sync suspends users but the profile has no status column.
    #[error("sync with suspend needs a status column, and profile {0:?} has none")]
    NoStatusColumn(String),
    /// A plan holds plaintext passwords and cannot be written or read as a file.
    #[error("the plan holds plaintext passwords: hash them first (Plan::hash_passwords)")]
    PlaintextPassword,
    /// A plan file is not valid JSON for a plan.
    #[error("plan file is invalid: {0}")]
    Json(String),
    /// A plan read back is refused: every reason, with its line.
    #[error("the plan is refused: {}", .0.join("; "))]
    PlanRefused(Vec<String>),
    /// Hashing a password failed.
    #[error("cannot hash a password: {0}")]
    Hash(String),
}

impl Error {
    /// Wraps a store error.
    pub fn store<E: std::error::Error + Send + Sync + 'static>(e: E) -> Self {
        Error::Store(Box::new(e))
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
