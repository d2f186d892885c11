//! The read side of a store: what the planner needs to know about it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Folds a login ID or e-mail for comparison: trimmed and lowercase.
pub fn fold(key: &str) -> String {
    key.trim().to_lowercase()
}

/// One key to look a user up by. Logins and e-mails are folded
/// ([`fold`]) by the constructors; build them with [`Lookup::login`] and
/// [`Lookup::email`] so that stores can compare folded values directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Lookup {
    /// A member ID.
    Id(i64),
    /// A folded login ID.
    Login(String),
    /// A folded e-mail address.
    Email(String),
}

impl Lookup {
    /// A login look-up, folded.
    pub fn login(login: &str) -> Self {
        Lookup::Login(fold(login))
    }

    /// An e-mail look-up, folded.
    pub fn email(email: &str) -> Self {
        Lookup::Email(fold(email))
    }

    /// True when `user` is the one this key names.
    pub fn matches(&self, user: &StoredUser) -> bool {
        match self {
            Lookup::Id(id) => user.id == *id,
            Lookup::Login(login) => user.login.as_deref().map(fold).as_deref() == Some(login),
            Lookup::Email(email) => user.email.as_deref().map(fold).as_deref() == Some(email),
        }
    }
}

/// A user as the store holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    /// The store-assigned member ID.
    pub id: i64,
    /// The login ID as written (compare with [`fold`]).
    pub login: Option<String>,
    /// The e-mail address as written (compare with [`fold`]).
    pub email: Option<String>,
    /// Canonical values by column key, for every plain column, status included.
    pub attributes: BTreeMap<String, String>,
    /// Group names.
    pub groups: BTreeSet<String>,
    /// Role names.
    pub roles: BTreeSet<String>,
    /// `source:username` identities.
    pub identities: BTreeSet<String>,
    /// True when a password (hash) is stored.
    pub has_password: bool,
    /// When the user was created (RFC 3339).
    pub created_at: Option<String>,
    /// When the user was last changed (RFC 3339).
    pub updated_at: Option<String>,
    /// First login (RFC 3339), filled by the host application.
    pub first_login: Option<String>,
    /// Last login (RFC 3339), filled by the host application.
    pub last_login: Option<String>,
}

/// The read side of a user store, defined here so that the planner never
/// depends on a backend. `userimport-sink` implements it for its stores.
///
/// Look-ups are batched: the planner calls [`Directory::find`] once per chunk
/// of rows, never once per row.
pub trait Directory {
    /// The store's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The store revision: bumped once by every applied plan or group edit.
    fn revision(&self) -> Result<u64, Self::Error>;

    /// All users matching any of `keys`, each once, in any order.
    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>, Self::Error>;

    /// The names of all groups.
    fn groups(&self) -> Result<BTreeSet<String>, Self::Error>;

    /// How many users the store holds.
    fn user_count(&self) -> Result<u64, Self::Error>;

    /// Streams every user in member ID order; `f` returns `false` to stop.
    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), Self::Error>;

    /// The store's identity: a random ID drawn when the store was made,
    /// which a plan records so that it is never applied to another store.
    /// `None` for stores that have none (an empty or in-memory one).
    fn store_id(&self) -> Result<Option<String>, Self::Error> {
        Ok(None)
    }
}

impl<D: Directory + ?Sized> Directory for &D {
    type Error = D::Error;
    fn revision(&self) -> Result<u64, Self::Error> {
        (**self).revision()
    }
    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>, Self::Error> {
        (**self).find(keys)
    }
    fn groups(&self) -> Result<BTreeSet<String>, Self::Error> {
        (**self).groups()
    }
    fn user_count(&self) -> Result<u64, Self::Error> {
        (**self).user_count()
    }
    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), Self::Error> {
        (**self).for_each_user(f)
    }
    fn store_id(&self) -> Result<Option<String>, Self::Error> {
        (**self).store_id()
    }
}

/// A store known to hold no users, as read once: its revision and groups.
/// Planning against it needs no look-ups, so the store itself can be
/// locked for a bulk load while the file is planned (see the streamed
/// apply of `userimport`). Build it from the store under the same lock the
/// writes take, or the plan may be stale (its revision then says so).
///
/// ```
/// use userimport_plan::{Directory, EmptyDirectory, Lookup};
///
/// let empty = EmptyDirectory::new(7, ["staff".to_string()].into());
/// assert_eq!(empty.revision(), Ok(7));
/// assert_eq!(empty.find(&[Lookup::login("tanaka")]), Ok(vec![]));
/// assert!(empty.groups().unwrap().contains("staff"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmptyDirectory {
    revision: u64,
    groups: BTreeSet<String>,
}

impl EmptyDirectory {
    /// An empty store at `revision` with these groups.
    pub fn new(revision: u64, groups: BTreeSet<String>) -> Self {
        EmptyDirectory { revision, groups }
    }
}

impl Directory for EmptyDirectory {
    type Error = std::convert::Infallible;

    fn revision(&self) -> Result<u64, Self::Error> {
        Ok(self.revision)
    }

    fn find(&self, _keys: &[Lookup]) -> Result<Vec<StoredUser>, Self::Error> {
        Ok(Vec::new())
    }

    fn groups(&self) -> Result<BTreeSet<String>, Self::Error> {
        Ok(self.groups.clone())
    }

    fn user_count(&self) -> Result<u64, Self::Error> {
        Ok(0)
    }

    fn for_each_user(&self, _f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<(), Self::Error> {
        Ok(())
    }
}
