//! The write engine: the one place where a batch of [`Change`]s becomes
//! writes.
//!
//! [`WriteSet::build`] interprets a batch into set-based operations: users
//! to delete, login ID and e-mail edits, users to stamp, attribute edits,
//! password hashes, memberships, roles and identities to add and remove,
//! and the users to create with their memberships, roles and identities.
//! Changes that cannot be written (a user gone since the plan was made, a
//! group that does not exist) are refused there, before any write.
//! [`write_batch`] runs those operations through a store's
//! [`WriteBackend`], a narrow trait of set-based methods, in one order for
//! every store (deletes, key edits, the other edits, creates), and turns
//! what the store did into one [`RowResult`] per change.
//! No store interprets a [`Change`] itself.
//!
//! ```
//! use std::collections::HashSet;
//! use userimport_plan::{Change, NewUser};
//! use userimport_sink::engine::{GroupIds, WriteSet};
//! use userimport_sink::prepare_creates;
//!
//! let mut user = NewUser { login: Some("tanaka".into()), ..NewUser::default() };
//! user.groups.insert("Sales".into());
//! let changes = vec![
//!     Change::Create { line: 2, row: 1, user },
//!     Change::Delete { line: 3, row: 2, id: 7 },
//!     Change::Delete { line: 4, row: 3, id: 8 },
//! ];
//! let passwords = vec![None; changes.len()];
//! let prepared = prepare_creates(&changes);
//! // The store has the group "Sales" (ID 1) and user 7; user 8 is gone.
//! let groups = GroupIds::from([("sales".to_string(), 1)]);
//! let exist = HashSet::from([7]);
//!
//! let set = WriteSet::build(&changes, &passwords, &prepared, &groups, &exist);
//! assert_eq!(set.creates.users.len(), 1);
//! assert_eq!(set.creates.memberships, [(0, 1)]); // user 0 of the creates joins group 1
//! assert_eq!(set.deletes, [(1, 7)]); // change 1 deletes user 7
//! assert_eq!(set.refused, [(2, "user 8 no longer exists".to_string())]);
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use userimport_plan::{Change, Field, NewUser, PasswordSource, fold};

use crate::jobs::JobStep;
use crate::outbox::{Invite, Recipient};
use crate::sink::{ApplyOutcome, Batch, Outcome, PreparedCreate, Progress, Revision, RowResult};
use crate::{Error, Result};

/// Group name (folded) → the store's ID for the group.
pub type GroupIds = HashMap<String, i64>;

/// A change the store refused as it wrote: its place in the slice given
/// to the [`WriteBackend`] method, and why (`login ID already used by
/// another user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The refused operation's index in the slice.
    pub at: usize,
    /// Why, as shown on the row.
    pub reason: String,
}

/// A login ID or e-mail edit of one user: `Some(new)` sets the key
/// (`Some(None)` clears it), `None` leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEdit<'a> {
    /// The member ID.
    pub id: i64,
    /// The new login ID, when it changes.
    pub login: Option<Option<&'a str>>,
    /// The new e-mail address, when it changes.
    pub email: Option<Option<&'a str>>,
}

/// Attribute edits of one user: `(key, Some(value))` sets, `(key, None)`
/// removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeEdit<'a> {
    /// The member ID.
    pub id: i64,
    /// The edits, in the order of the change.
    pub values: Vec<(&'a str, Option<&'a str>)>,
}

/// Pairs of (member ID, value) added to and removed from a stored set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairEdits<T> {
    /// Pairs to add (existing ones are left).
    pub added: Vec<(i64, T)>,
    /// Pairs to remove (missing ones are ignored).
    pub removed: Vec<(i64, T)>,
}

impl<T> PairEdits<T> {
    fn retain_users(&mut self, keep: impl Fn(i64) -> bool) {
        self.added.retain(|(id, _)| keep(*id));
        self.removed.retain(|(id, _)| keep(*id));
    }
}

/// Every edit of existing users other than their keys; none of them can be
/// refused by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Updates<'a> {
    /// Users whose `updated_at` is stamped (updated and suspended ones).
    pub touched: Vec<i64>,
    /// Attribute edits (status included), one entry per user.
    pub attributes: Vec<AttributeEdit<'a>>,
    /// New password hashes (PHC strings).
    pub passwords: Vec<(i64, &'a str)>,
    /// Group memberships, by group ID.
    pub memberships: PairEdits<i64>,
    /// Roles.
    pub roles: PairEdits<&'a str>,
    /// Identities.
    pub identities: PairEdits<&'a str>,
}

impl Updates<'_> {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.touched.is_empty()
            && self.attributes.is_empty()
            && self.passwords.is_empty()
            && self.memberships.added.is_empty()
            && self.memberships.removed.is_empty()
            && self.roles.added.is_empty()
            && self.roles.removed.is_empty()
            && self.identities.added.is_empty()
            && self.identities.removed.is_empty()
    }

    fn retain_users(&mut self, keep: impl Fn(i64) -> bool) {
        self.touched.retain(|id| keep(*id));
        self.attributes.retain(|a| keep(a.id));
        self.passwords.retain(|(id, _)| keep(*id));
        self.memberships.retain_users(&keep);
        self.roles.retain_users(&keep);
        self.identities.retain_users(&keep);
    }
}

/// One user to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewRow<'a> {
    /// The user as planned (its login ID, e-mail and attributes; its
    /// groups, roles and identities are in [`Creates`]).
    pub user: &'a NewUser,
    /// Its attributes as JSON and its folded keys.
    pub prepared: &'a PreparedCreate,
    /// Its password hash (PHC string), if any.
    pub password: Option<&'a str>,
}

/// Users to insert, with what they belong to: each pair names a user by
/// its index in `users` (pairs are in that order).
#[derive(Debug, Clone, Default)]
pub struct Creates<'a> {
    /// The users, in plan order; the store numbers them in this order.
    pub users: Vec<NewRow<'a>>,
    /// (user index, group ID).
    pub memberships: Vec<(usize, i64)>,
    /// (user index, role).
    pub roles: Vec<(usize, &'a str)>,
    /// (user index, identity).
    pub identities: Vec<(usize, &'a str)>,
}

impl<'a> Creates<'a> {
    /// The pairs of the users `range` (their indexes stay those of `users`).
    pub fn pairs_of<T: Copy>(pairs: &[(usize, T)], range: std::ops::Range<usize>) -> &[(usize, T)] {
        let start = pairs.partition_point(|(k, _)| *k < range.start);
        let end = pairs.partition_point(|(k, _)| *k < range.end);
        &pairs[start..end]
    }
}

/// What became of one user given to [`WriteBackend::insert_users`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Inserted with this member ID.
    Id(i64),
    /// Refused by the store, with the reason shown on the row.
    Refused(String),
    /// Not written: an all-or-nothing batch stopped at another refusal.
    NotWritten,
}

/// A created user's invitation: its member ID and who to write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The created user's member ID.
    pub id: i64,
    /// The recipient.
    pub to: Recipient,
}

/// The narrow write side of a store, called by [`write_batch`] inside one
/// open transaction (the store's own: [`Sink::write`](crate::Sink::write)
/// opens, commits and rolls it back). Every method takes a set of
/// operations; stores write each set with as few statements as they can.
pub trait WriteBackend {
    /// The store's revision, locked against other writers until the
    /// transaction ends.
    fn lock_revision(&mut self) -> Result<u64>;

    /// Applied revisions after `revision`, for drift messages.
    fn history_since(&mut self, revision: u64) -> Result<Vec<Revision>>;

    /// Creates the groups `names` not there yet; returns those created
    /// (in the order given) and every group's ID by folded name.
    fn ensure_groups(&mut self, names: &[String], stamp: &str) -> Result<(Vec<String>, GroupIds)>;

    /// The member IDs among `ids` that exist.
    fn existing_users(&mut self, ids: &[i64]) -> Result<HashSet<i64>>;

    /// Deletes users with their memberships, roles and identities.
    fn delete_users(&mut self, ids: &[i64]) -> Result<()>;

    /// Changes login IDs and e-mail addresses (with their folded forms);
    /// returns the edits refused (a key another user holds), which are not
    /// written. When `guarded` is false nothing will be kept after a
    /// refusal, and the store may stop at the first.
    fn set_keys(&mut self, edits: &[KeyEdit<'_>], guarded: bool) -> Result<Vec<Refusal>>;

    /// Writes every other edit of existing users.
    fn update_users(&mut self, updates: &Updates<'_>, stamp: &str) -> Result<()>;

    /// Inserts users, numbering them in order; returns what became of
    /// each, in order. When `guarded` is false the store may stop at the
    /// first refusal (the list may then be shorter: the rest are
    /// [`Inserted::NotWritten`]). `progress`
    /// gets the users written so far now and then; `false` cancels
    /// ([`Error::Cancelled`]).
    fn insert_users(
        &mut self,
        creates: &Creates<'_>,
        guarded: bool,
        stamp: &str,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Vec<Inserted>>;

    /// Moves the revision on by one, recording `outcome`; returns it.
    fn bump_revision(&mut self, outcome: &ApplyOutcome) -> Result<u64>;

    /// Records a job's step with the batch's results.
    fn record_job_step(&mut self, step: JobStep, results: &[RowResult]) -> Result<()>;

    /// Queues one invitation message per entry.
    fn queue_invitations(&mut self, invite: &Invite, invitations: &[Invitation]) -> Result<()>;
}

/// What happened to one change while the batch was written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Pending,
    Done(Outcome, Option<i64>),
    Failed(String),
}

/// The set-based operations of one batch of changes.
#[derive(Debug, Default)]
pub struct WriteSet<'a> {
    /// Changes refused before any write: (change index, reason).
    pub refused: Vec<(usize, String)>,
    /// Rows that change nothing: (change index, member ID).
    pub unchanged: Vec<(usize, i64)>,
    /// Users to delete: (change index, member ID).
    pub deletes: Vec<(usize, i64)>,
    /// Key edits, with the index of the change each comes from.
    pub keys: Vec<KeyEdit<'a>>,
    /// The change index of each entry of `keys`.
    pub key_changes: Vec<usize>,
    /// Updated and suspended users: (change index, member ID).
    pub updated: Vec<(usize, i64)>,
    /// The other edits of updated and suspended users.
    pub updates: Updates<'a>,
    /// Users to create.
    pub creates: Creates<'a>,
    /// The change index of each user of `creates`.
    pub create_changes: Vec<usize>,
}

/// The password hash `change` sets: the prepared one, or else the PHC
/// string a pre-hashed change carries itself (left out of
/// [`Batch::passwords`] when nothing needed hashing). A plaintext or
/// generated password is never taken from the change: it must be hashed.
fn password_of<'a>(
    change: &'a Change,
    prepared: Option<&'a Option<Cow<'a, str>>>,
) -> Option<&'a str> {
    match (prepared, change.password()) {
        (Some(Some(hash)), _) => Some(hash),
        (_, Some(PasswordSource::Hash(hash))) => Some(hash.as_str()),
        _ => None,
    }
}

impl<'a> WriteSet<'a> {
    /// Interprets `changes` (with one password hash or `None` and one
    /// [`PreparedCreate`] or `None` per change, aligned; a change that
    /// carries its PHC hash itself may have `None`, see
    /// [`Batch::passwords`]) against the
    /// store's `groups` and the member IDs that `exist`: an update,
    /// suspension or deletion of a user not in `exist`, or a group not in
    /// `groups`, is refused. A create without a prepared entry is refused
    /// too (prepare them with [`prepare_creates`](crate::prepare_creates)).
    pub fn build(
        changes: &'a [Change],
        passwords: &'a [Option<Cow<'a, str>>],
        prepared: &'a [Option<PreparedCreate>],
        groups: &GroupIds,
        exist: &HashSet<i64>,
    ) -> WriteSet<'a> {
        let mut set = WriteSet::default();
        for (i, change) in changes.iter().enumerate() {
            let password = password_of(change, passwords.get(i));
            match change {
                Change::Unchanged { id, .. } => set.unchanged.push((i, *id)),
                Change::Create { user, .. } => set.create(
                    i,
                    user,
                    prepared.get(i).and_then(Option::as_ref),
                    password,
                    groups,
                ),
                Change::Update { id, .. }
                | Change::Suspend { id, .. }
                | Change::Delete { id, .. }
                    if !exist.contains(id) =>
                {
                    set.refused.push((i, format!("user {id} no longer exists")));
                }
                Change::Delete { id, .. } => set.deletes.push((i, *id)),
                Change::Suspend { id, status } => {
                    set.updated.push((i, *id));
                    set.updates.touched.push(*id);
                    set.updates.attributes.push(AttributeEdit {
                        id: *id,
                        values: vec![(status.column.as_str(), status.new.as_deref())],
                    });
                }
                Change::Update { .. } => set.update(i, change, password, groups),
            }
        }
        set
    }

    fn create(
        &mut self,
        i: usize,
        user: &'a NewUser,
        prepared: Option<&'a PreparedCreate>,
        password: Option<&'a str>,
        groups: &GroupIds,
    ) {
        let Some(prepared) = prepared else {
            self.refused
                .push((i, "internal: the created user was not prepared".to_string()));
            return;
        };
        let k = self.creates.users.len();
        let mark = self.creates.memberships.len();
        for g in &user.groups {
            match groups.get(&fold(g)) {
                Some(gid) => self.creates.memberships.push((k, *gid)),
                None => {
                    self.creates.memberships.truncate(mark);
                    self.refused
                        .push((i, format!("group {g:?} does not exist")));
                    return;
                }
            }
        }
        self.creates
            .roles
            .extend(user.roles.iter().map(|r| (k, r.as_str())));
        self.creates
            .identities
            .extend(user.identities.iter().map(|r| (k, r.as_str())));
        self.creates.users.push(NewRow {
            user,
            prepared,
            password,
        });
        self.create_changes.push(i);
    }

    fn update(
        &mut self,
        i: usize,
        change: &'a Change,
        password: Option<&'a str>,
        groups: &GroupIds,
    ) {
        let Change::Update {
            id,
            diff,
            groups: group_edit,
            roles,
            identities,
            ..
        } = change
        else {
            return;
        };
        let id = *id;
        if let Some(g) = group_edit
            .added
            .iter()
            .find(|g| !groups.contains_key(&fold(g)))
        {
            self.refused
                .push((i, format!("group {g:?} does not exist")));
            return;
        }
        let mut keys = KeyEdit {
            id,
            login: None,
            email: None,
        };
        let mut values = Vec::new();
        for fc in diff {
            match fc.field {
                Field::Login => keys.login = Some(fc.new.as_deref()),
                Field::Email => keys.email = Some(fc.new.as_deref()),
                Field::Password => {}
                Field::Attribute => values.push((fc.column.as_str(), fc.new.as_deref())),
            }
        }
        if keys.login.is_some() || keys.email.is_some() {
            self.keys.push(keys);
            self.key_changes.push(i);
        }
        let updates = &mut self.updates;
        updates.touched.push(id);
        if !values.is_empty() {
            updates.attributes.push(AttributeEdit { id, values });
        }
        if let Some(hash) = password {
            updates.passwords.push((id, hash));
        }
        let group_id = |g: &String| groups.get(&fold(g)).copied();
        updates.memberships.added.extend(
            group_edit
                .added
                .iter()
                .filter_map(group_id)
                .map(|g| (id, g)),
        );
        updates.memberships.removed.extend(
            group_edit
                .removed
                .iter()
                .filter_map(group_id)
                .map(|g| (id, g)),
        );
        for (edits, list) in [
            (&mut updates.roles, roles),
            (&mut updates.identities, identities),
        ] {
            edits
                .added
                .extend(list.added.iter().map(|n| (id, n.as_str())));
            edits
                .removed
                .extend(list.removed.iter().map(|n| (id, n.as_str())));
        }
        self.updated.push((i, id));
    }
}

/// Writes `batch` through `store`, inside the transaction the store has
/// open: checks the revision, creates the batch's groups, then deletes,
/// edits keys, writes the other edits and creates users, each as one set.
/// The outcome is `committed` when every change was written (the revision
/// moved on, the job's step and the invitations recorded with it), or a
/// rolled-back report when an all-or-nothing batch had a refused change;
/// the caller commits or rolls back. `progress` returning `false` before
/// the last change is written cancels ([`Error::Cancelled`]).
pub fn write_batch<B: WriteBackend + ?Sized>(
    store: &mut B,
    batch: &Batch<'_>,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<ApplyOutcome> {
    let current = store.lock_revision()?;
    if current != batch.expected_revision {
        return Err(Error::Drift {
            planned: batch.expected_revision,
            current,
            history: store.history_since(batch.expected_revision)?,
        });
    }
    let stamp = crate::sink::now();
    let (created_groups, groups) = store.ensure_groups(batch.create_groups, &stamp)?;
    let referenced: Vec<i64> = batch
        .changes
        .iter()
        .filter(|c| !matches!(c, Change::Create { .. } | Change::Unchanged { .. }))
        .filter_map(Change::id)
        .collect();
    let exist = if referenced.is_empty() {
        HashSet::new()
    } else {
        store.existing_users(&referenced)?
    };
    let made;
    let complete = batch.creates.len() == batch.changes.len()
        && (batch.changes.iter().zip(batch.creates))
            .all(|(c, p)| p.is_some() || !matches!(c, Change::Create { .. }));
    let prepared = if complete {
        batch.creates
    } else {
        made = crate::sink::prepare_creates(batch.changes);
        &made[..]
    };
    let set = WriteSet::build(batch.changes, batch.passwords, prepared, &groups, &exist);
    let mut slots = vec![Slot::Pending; batch.changes.len()];
    write_set(
        store,
        set,
        batch.all_or_nothing,
        &stamp,
        &mut slots,
        progress,
    )?;
    let mut outcome = ApplyOutcome {
        created_groups,
        ..ApplyOutcome::default()
    };
    for (change, slot) in batch.changes.iter().zip(slots) {
        let (outcome_kind, id, reason) = match slot {
            Slot::Done(kind, id) => (kind, id, None),
            Slot::Failed(reason) => (Outcome::Failed, change.id(), Some(reason)),
            Slot::Pending => (Outcome::Skipped, change.id(), None),
        };
        outcome.push(RowResult {
            line: change.line(),
            row: change.row(),
            outcome: outcome_kind,
            id,
            reason,
        });
    }
    if batch.all_or_nothing && outcome.failed > 0 {
        outcome.roll_back(current);
        return Ok(outcome);
    }
    finish(store, batch, current, outcome)
}

/// Runs the operations of `set`, recording each change's fate in `slots`.
fn write_set<B: WriteBackend + ?Sized>(
    store: &mut B,
    set: WriteSet<'_>,
    all_or_nothing: bool,
    stamp: &str,
    slots: &mut [Slot],
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<()> {
    let total = slots.len() as u64;
    let guarded = !all_or_nothing;
    let WriteSet {
        refused,
        unchanged,
        deletes,
        keys,
        key_changes,
        updated,
        mut updates,
        creates,
        create_changes,
    } = set;
    for (i, reason) in refused {
        slots[i] = Slot::Failed(reason);
    }
    for (i, id) in unchanged {
        slots[i] = Slot::Done(Outcome::Unchanged, Some(id));
    }
    let stop =
        |slots: &[Slot]| all_or_nothing && slots.iter().any(|s| matches!(s, Slot::Failed(_)));
    if stop(slots) {
        return Ok(());
    }
    if !deletes.is_empty() {
        let ids: Vec<i64> = deletes.iter().map(|(_, id)| *id).collect();
        store.delete_users(&ids)?;
        for (i, id) in deletes {
            slots[i] = Slot::Done(Outcome::Deleted, Some(id));
        }
    }
    let refusals = if keys.is_empty() {
        Vec::new()
    } else {
        store.set_keys(&keys, guarded)?
    };
    if !refusals.is_empty() {
        let mut gone = HashSet::new();
        for Refusal { at, reason } in refusals {
            if let (Some(&i), Some(edit)) = (key_changes.get(at), keys.get(at)) {
                slots[i] = Slot::Failed(reason);
                gone.insert(edit.id);
            }
        }
        if all_or_nothing {
            return Ok(());
        }
        updates.retain_users(|id| !gone.contains(&id));
    }
    if !updates.is_empty() {
        store.update_users(&updates, stamp)?;
    }
    for (i, id) in updated {
        if slots[i] == Slot::Pending {
            slots[i] = Slot::Done(Outcome::Updated, Some(id));
        }
    }
    let before = slots.iter().filter(|s| **s != Slot::Pending).count() as u64;
    if !progress(&Progress {
        done: before,
        total,
    }) {
        return Err(Error::Cancelled);
    }
    if !creates.users.is_empty() {
        let mut report = |n: usize| {
            progress(&Progress {
                done: (before + n as u64).min(total),
                total,
            })
        };
        let inserted = store.insert_users(&creates, guarded, stamp, &mut report)?;
        for (&i, result) in create_changes.iter().zip(inserted) {
            slots[i] = match result {
                Inserted::Id(id) => Slot::Done(Outcome::Created, Some(id)),
                Inserted::Refused(reason) => Slot::Failed(reason),
                Inserted::NotWritten => Slot::Pending,
            };
        }
    }
    progress(&Progress { done: total, total });
    Ok(())
}

/// A written batch: the revision moves on (when anything changed), the
/// job's step and the invitations are recorded in the same transaction.
fn finish<B: WriteBackend + ?Sized>(
    store: &mut B,
    batch: &Batch<'_>,
    current: u64,
    mut outcome: ApplyOutcome,
) -> Result<ApplyOutcome> {
    outcome.committed = true;
    outcome.revision = current;
    if outcome.created + outcome.updated + outcome.deleted > 0 || !outcome.created_groups.is_empty()
    {
        outcome.revision = store.bump_revision(&outcome)?;
    }
    if let Some(step) = batch.job {
        store.record_job_step(step, &outcome.results)?;
    }
    if let Some(invite) = batch.invite {
        let invitations = invitations(batch.changes, &outcome.results);
        if !invitations.is_empty() {
            store.queue_invitations(invite, &invitations)?;
        }
    }
    Ok(outcome)
}

/// One invitation per created user with an e-mail address.
fn invitations(changes: &[Change], results: &[RowResult]) -> Vec<Invitation> {
    changes
        .iter()
        .zip(results)
        .filter_map(
            |(change, result)| match (change, result.outcome, result.id) {
                (Change::Create { user, .. }, Outcome::Created, Some(id)) => {
                    Recipient::of(user).map(|to| Invitation { id, to })
                }
                _ => None,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use userimport_plan::{FieldChange, ListChange};

    fn list(added: &[&str], removed: &[&str]) -> ListChange {
        ListChange {
            added: added.iter().map(|s| s.to_string()).collect(),
            removed: removed.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// An update becomes one entry in each set it touches, a suspension an
    /// attribute edit, and a change naming an unknown group or a user no
    /// longer there is refused before anything is written.
    #[test]
    fn updates_become_sets_and_impossible_changes_are_refused() {
        let change = |column: &str, field, new: Option<&str>| FieldChange {
            column: column.to_string(),
            field,
            old: Some("old".to_string()),
            new: new.map(str::to_string),
        };
        let changes = vec![
            Change::Update {
                line: 2,
                row: 1,
                id: 1,
                diff: vec![
                    change("email", Field::Email, Some("a@example.com")),
                    change("name", Field::Attribute, Some("A")),
                    change("position", Field::Attribute, None),
                    change("password", Field::Password, Some("set")),
                ],
                groups: list(&["SALES"], &["Tokyo", "Gone"]),
                roles: list(&["Admin"], &[]),
                identities: list(&[], &["card:1"]),
                password: None,
            },
            Change::Suspend {
                id: 2,
                status: change("status", Field::Attribute, Some("Suspended")),
            },
            Change::Update {
                line: 4,
                row: 3,
                id: 1,
                diff: Vec::new(),
                groups: list(&["Nowhere"], &[]),
                roles: ListChange::default(),
                identities: ListChange::default(),
                password: None,
            },
            Change::Unchanged {
                line: 5,
                row: 4,
                id: 9,
            },
            Change::Suspend {
                id: 3,
                status: change("status", Field::Attribute, Some("Suspended")),
            },
        ];
        let passwords = vec![
            Some(Cow::Borrowed("$argon2id$hash")),
            None,
            None,
            None,
            None,
        ];
        let groups = GroupIds::from([("sales".to_string(), 10), ("tokyo".to_string(), 11)]);
        let exist = HashSet::from([1, 2]);
        let set = WriteSet::build(&changes, &passwords, &[], &groups, &exist);

        assert_eq!(
            set.keys,
            [KeyEdit {
                id: 1,
                login: None,
                email: Some(Some("a@example.com")),
            }]
        );
        assert_eq!(set.key_changes, [0]);
        assert_eq!(set.updated, [(0, 1), (1, 2)]);
        let updates = &set.updates;
        assert_eq!(updates.touched, [1, 2]);
        assert_eq!(
            updates.attributes,
            [
                AttributeEdit {
                    id: 1,
                    values: vec![("name", Some("A")), ("position", None)],
                },
                AttributeEdit {
                    id: 2,
                    values: vec![("status", Some("Suspended"))],
                },
            ]
        );
        assert_eq!(updates.passwords, [(1, "$argon2id$hash")]);
        assert_eq!(updates.memberships.added, [(1, 10)]);
        assert_eq!(updates.memberships.removed, [(1, 11)]);
        assert_eq!(updates.roles.added, [(1, "Admin")]);
        assert_eq!(updates.identities.removed, [(1, "card:1")]);
        assert_eq!(set.unchanged, [(3, 9)]);
        assert_eq!(
            set.refused,
            [
                (2, "group \"Nowhere\" does not exist".to_string()),
                (4, "user 3 no longer exists".to_string()),
            ]
        );
        assert!(set.creates.users.is_empty() && set.deletes.is_empty());
    }
}
