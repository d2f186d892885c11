//! The plan's data: options, changes, summary.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use userimport_schema::KeyKind;
use userimport_validate::{Issue, Secret};

use crate::Attributes;

/// How rows relate to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Create unknown users, update known ones.
    #[default]
    Upsert,
    /// Only create; a row matching an existing user is a `user.exists` error.
    Create,
    /// Only update; a row matching nobody is a `key.unknown` error.
    Update,
    /// Upsert, and users absent from the file are deleted or suspended
    /// ([`PlanOptions::sync_action`]) under the [`PlanOptions::max_delete_percent`] guard.
    Sync,
}

/// How a value in the file meets a value in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Merge {
    /// File values replace stored ones.
    #[default]
    Overwrite,
    /// File values only fill stored blanks; nothing stored is replaced or cleared.
    KeepExisting,
}

/// What sync mode does to users absent from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    /// Delete them.
    #[default]
    Delete,
    /// Set their status to the suspended value (`Suspended`, or the status
    /// column's last value, such as `Archived`).
    Suspend,
}

/// How a plan is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanOptions {
    /// The mode (default upsert).
    pub mode: Mode,
    /// The merge policy (default overwrite).
    pub merge: Merge,
    /// The key fallback order; empty = the profile's `key_order`.
    pub key_order: Vec<KeyKind>,
    /// Passwords in the file also change existing users' passwords.
    pub update_passwords: bool,
    /// New users with a blank password get a generated one.
    pub generate_passwords: bool,
    /// Sync refuses when more than this percentage of stored users would be
    /// deleted or suspended (default 10).
    pub max_delete_percent: f64,
    /// What sync does to absent users.
    pub sync_action: SyncAction,
    /// The importing actor's login ID; `None` = the operator, unrestricted.
    pub actor: Option<String>,
    /// Apply valid rows even when others have errors.
    pub skip_invalid: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            mode: Mode::Upsert,
            merge: Merge::Overwrite,
            key_order: Vec::new(),
            update_passwords: false,
            generate_passwords: false,
            max_delete_percent: 10.0,
            sync_action: SyncAction::Delete,
            actor: None,
            skip_invalid: false,
        }
    }
}

/// Where a new password comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum PasswordSource {
    /// A plaintext password from the file. Serialises as `***`: call
    /// [`crate::Plan::hash_passwords`] before writing a plan to disk.
    Plain(Secret),
    /// A PHC hash string, stored as given.
    Hash(String),
    /// A random password, generated and hashed at apply time, never shown.
    Generate,
}

/// What a field of a [`FieldChange`] is, so a store knows where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// A plain attribute (the column key is the attribute name); status too.
    #[default]
    Attribute,
    /// The login ID.
    Login,
    /// The e-mail address.
    Email,
    /// The password: `new` is only ever `"set"`.
    Password,
}

/// One field's change: `old` → `new`; `None` is no value (`new: None` clears).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The profile column key.
    pub column: String,
    /// Where the value lives.
    #[serde(default)]
    pub field: Field,
    /// The stored value.
    pub old: Option<String>,
    /// The new value (`"set"` for passwords).
    pub new: Option<String>,
}

/// Names added to and removed from a stored set (groups, roles,
/// identities), already reduced against the store: every `added` name is
/// absent and every `removed` name present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChange {
    /// Names added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Names removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl ListChange {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// A user to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// The login ID.
    pub login: Option<String>,
    /// The e-mail address.
    pub email: Option<String>,
    /// Attributes by column key (defaults applied), status included.
    pub attributes: Attributes,
    /// Groups (default group applied).
    pub groups: BTreeSet<String>,
    /// Roles.
    pub roles: BTreeSet<String>,
    /// Identities.
    pub identities: BTreeSet<String>,
    /// The password, if any.
    pub password: Option<PasswordSource>,
}

/// One change to the store, from one row (or, for sync, from the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Create a user.
    Create {
        /// Physical line of the row.
        line: u64,
        /// Data row.
        row: u64,
        /// The user.
        user: NewUser,
    },
    /// Update a user: exactly these fields and list edits.
    Update {
        /// Physical line of the row.
        line: u64,
        /// Data row.
        row: u64,
        /// The member ID.
        id: i64,
        /// Field changes (a password change shows as `"set"`).
        diff: Vec<FieldChange>,
        /// Group edits.
        #[serde(default, skip_serializing_if = "ListChange::is_empty")]
        groups: ListChange,
        /// Role edits.
        #[serde(default, skip_serializing_if = "ListChange::is_empty")]
        roles: ListChange,
        /// Identity edits.
        #[serde(default, skip_serializing_if = "ListChange::is_empty")]
        identities: ListChange,
        /// The new password (only with `update_passwords`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<PasswordSource>,
    },
    /// Delete a user (delete flag, or sync).
    Delete {
        /// Physical line of the row (0 for sync).
        line: u64,
        /// Data row (0 for sync).
        row: u64,
        /// The member ID.
        id: i64,
    },
    /// Suspend a user absent from a sync file.
    Suspend {
        /// The member ID.
        id: i64,
        /// The status change.
        status: FieldChange,
    },
    /// The row matches a user and changes nothing.
    Unchanged {
        /// Physical line of the row.
        line: u64,
        /// Data row.
        row: u64,
        /// The member ID.
        id: i64,
    },
}

impl Change {
    /// The physical line of the row behind this change (0 for sync changes).
    pub fn line(&self) -> u64 {
        match self {
            Change::Create { line, .. }
            | Change::Update { line, .. }
            | Change::Delete { line, .. }
            | Change::Unchanged { line, .. } => *line,
            Change::Suspend { .. } => 0,
        }
    }

    /// The data row behind this change (0 for sync changes).
    pub fn row(&self) -> u64 {
        match self {
            Change::Create { row, .. }
            | Change::Update { row, .. }
            | Change::Delete { row, .. }
            | Change::Unchanged { row, .. } => *row,
            Change::Suspend { .. } => 0,
        }
    }

    /// The member ID it touches (`None` for a create).
    pub fn id(&self) -> Option<i64> {
        match self {
            Change::Create { .. } => None,
            Change::Update { id, .. }
            | Change::Delete { id, .. }
            | Change::Suspend { id, .. }
            | Change::Unchanged { id, .. } => Some(*id),
        }
    }

    /// The password it sets, if any.
    pub fn password(&self) -> Option<&PasswordSource> {
        match self {
            Change::Create { user, .. } => user.password.as_ref(),
            Change::Update { password, .. } => password.as_ref(),
            _ => None,
        }
    }

    /// Mutable access to the password it sets, if any.
    pub fn password_mut(&mut self) -> Option<&mut PasswordSource> {
        match self {
            Change::Create { user, .. } => user.password.as_mut(),
            Change::Update { password, .. } => password.as_mut(),
            _ => None,
        }
    }
}

/// The counts shown on the review screen; the keys of the JSON report's
/// `summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Data rows seen.
    pub rows: u64,
    /// Rows without errors.
    pub valid: u64,
    /// Rows with at least one error (from validation or planning).
    pub invalid: u64,
    /// Users to create.
    pub create: u64,
    /// Users to update (sync suspensions included).
    pub update: u64,
    /// Users to delete (delete flag and sync).
    pub delete: u64,
    /// Rows that match a user and change nothing.
    pub unchanged: u64,
    /// Rows that produce no change because they are invalid.
    pub skipped: u64,
    /// Error issues.
    pub errors: u64,
    /// Warning issues.
    pub warnings: u64,
}

impl Summary {
    /// Adds issues (for instance the validator's) to the error and warning counts.
    pub fn count_issues<'a>(&mut self, issues: impl IntoIterator<Item = &'a Issue>) {
        for issue in issues {
            if issue.is_error() {
                self.errors += 1;
            } else {
                self.warnings += 1;
            }
        }
    }
}
