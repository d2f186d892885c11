//! An in-memory store, for tests and embedding.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use userimport_plan::{Directory, Lookup, StoredUser, fold};

use crate::engine::{
    Creates, GroupIds, Inserted, Invitation, KeyEdit, NewRow, Refusal, Updates, WriteBackend,
};
use crate::jobs::JobStep;
use crate::outbox::Invite;
use crate::sink::{ApplyOutcome, Batch, Progress, Revision, RowResult, Sink, now};
use crate::{Error, Result};

/// A store held in memory. Cloning it snapshots it. Applying is
/// all-or-nothing like the SQLite store: the batch is applied to a copy that
/// replaces the store only on success.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    users: BTreeMap<i64, StoredUser>,
    passwords: HashMap<i64, String>,
    by_login: HashMap<String, i64>,
    by_email: HashMap<String, i64>,
    groups: BTreeSet<String>,
    revision: u64,
    next_id: i64,
    history: Vec<Revision>,
    /// The store as it was before the held batches (see `Batch::hold`).
    held: Option<Box<MemorySink>>,
}

impl MemorySink {
    /// An empty store at revision 0.
    pub fn new() -> Self {
        MemorySink::default()
    }

    /// The stored password hash (PHC string) of a user.
    pub fn password_hash(&self, id: i64) -> Option<&str> {
        self.passwords.get(&id).map(String::as_str)
    }

    /// A user by member ID.
    pub fn user(&self, id: i64) -> Option<&StoredUser> {
        self.users.get(&id)
    }

    fn group_name(&self, name: &str) -> Option<&String> {
        let folded = fold(name);
        self.groups.iter().find(|g| fold(g) == folded)
    }

    fn bump(&mut self, outcome: &ApplyOutcome, note: &str) {
        self.revision += 1;
        self.history.push(Revision {
            revision: self.revision,
            at: now(),
            created: outcome.created,
            updated: outcome.updated,
            deleted: outcome.deleted,
            note: note.to_string(),
        });
    }
}

impl Directory for MemorySink {
    type Error = Error;

    fn revision(&self) -> Result<u64> {
        Ok(self.revision)
    }

    fn find(&self, keys: &[Lookup]) -> Result<Vec<StoredUser>> {
        let mut ids = BTreeSet::new();
        for key in keys {
            let id = match key {
                Lookup::Id(id) => self.users.contains_key(id).then_some(*id),
                Lookup::Login(l) => self.by_login.get(l).copied(),
                Lookup::Email(e) => self.by_email.get(e).copied(),
                // The memory store is small: look-alikes, identities and
                // attributes are found by a scan.
                other => {
                    ids.extend(
                        self.users
                            .values()
                            .filter(|u| other.matches(u))
                            .map(|u| u.id),
                    );
                    None
                }
            };
            ids.extend(id);
        }
        Ok(ids
            .into_iter()
            .filter_map(|id| self.users.get(&id).cloned())
            .collect())
    }

    fn groups(&self) -> Result<BTreeSet<String>> {
        Ok(self.groups.clone())
    }

    fn user_count(&self) -> Result<u64> {
        Ok(self.users.len() as u64)
    }

    fn for_each_user(&self, f: &mut dyn FnMut(&StoredUser) -> bool) -> Result<()> {
        for user in self.users.values() {
            if !f(user) {
                break;
            }
        }
        Ok(())
    }
}

impl Sink for MemorySink {
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome> {
        if batch.job.is_some() || batch.invite.is_some() {
            return Err(Error::Unsupported(
                "the memory store keeps no jobs or outbox: use SQLite or PostgreSQL".into(),
            ));
        }
        // Held batches are rolled back with this one when it fails.
        let before = self.held.take();
        let restore = |store: &mut MemorySink, before: Option<Box<MemorySink>>| {
            if let Some(before) = before {
                *store = *before;
            }
        };
        let mut work = self.clone();
        let written = crate::engine::write_batch(
            &mut MemoryWrite {
                store: &mut work,
                groups: Vec::new(),
            },
            batch,
            progress,
        );
        let mut outcome = match written {
            Ok(outcome) => outcome,
            Err(e) => {
                restore(self, before);
                return Err(e);
            }
        };
        if !outcome.committed {
            // An all-or-nothing batch with a refused change: the report.
            restore(self, before);
            return Ok(outcome);
        }
        let prior = std::mem::replace(self, work);
        if batch.hold {
            self.held = Some(before.unwrap_or_else(|| Box::new(prior)));
            outcome.committed = false;
            outcome.held = true;
        }
        Ok(outcome)
    }

    fn rollback(&mut self) -> Result<()> {
        if let Some(before) = self.held.take() {
            *self = *before;
        }
        Ok(())
    }

    fn add_groups(&mut self, names: &[String]) -> Result<usize> {
        let mut added = 0;
        for name in names {
            let name = name.trim();
            if !name.is_empty() && self.group_name(name).is_none() {
                self.groups.insert(name.to_string());
                added += 1;
            }
        }
        if added > 0 {
            let note = format!("groups add {}", names.join(","));
            self.bump(&ApplyOutcome::default(), &note);
        }
        Ok(added)
    }

    fn remove_groups(&mut self, names: &[String]) -> Result<usize> {
        let mut removed = 0;
        for name in names {
            if let Some(existing) = self.group_name(name).cloned() {
                self.groups.remove(&existing);
                for user in self.users.values_mut() {
                    user.groups.remove(&existing);
                }
                removed += 1;
            }
        }
        if removed > 0 {
            let note = format!("groups remove {}", names.join(","));
            self.bump(&ApplyOutcome::default(), &note);
        }
        Ok(removed)
    }

    fn history_since(&self, revision: u64) -> Result<Vec<Revision>> {
        Ok(self
            .history
            .iter()
            .filter(|r| r.revision > revision)
            .cloned()
            .collect())
    }
}

/// The memory store's side of the write engine, over the copy being
/// written.
struct MemoryWrite<'s> {
    store: &'s mut MemorySink,
    /// Group names by the IDs given out in `ensure_groups`.
    groups: Vec<String>,
}

impl MemoryWrite<'_> {
    fn user(&mut self, id: i64) -> Result<&mut StoredUser> {
        self.store
            .users
            .get_mut(&id)
            .ok_or_else(|| Error::Corrupt(format!("user {id} is gone mid-write")))
    }

    fn group(&self, id: i64) -> Option<&String> {
        usize::try_from(id).ok().and_then(|i| self.groups.get(i))
    }

    /// The refusal, if `key` (folded) is another user's.
    fn taken(map: &HashMap<String, i64>, key: Option<&str>, id: i64, what: &str) -> Option<String> {
        let owner = map.get(&fold(key?))?;
        (*owner != id).then(|| format!("{what} already used by another user"))
    }
}

impl WriteBackend for MemoryWrite<'_> {
    fn lock_revision(&mut self) -> Result<u64> {
        Ok(self.store.revision)
    }

    fn history_since(&mut self, revision: u64) -> Result<Vec<Revision>> {
        Sink::history_since(&*self.store, revision)
    }

    fn ensure_groups(&mut self, names: &[String], _stamp: &str) -> Result<(Vec<String>, GroupIds)> {
        let mut created = Vec::new();
        for name in names {
            if self.store.group_name(name).is_none() {
                self.store.groups.insert(name.clone());
                created.push(name.clone());
            }
        }
        self.groups = self.store.groups.iter().cloned().collect();
        let ids = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, name)| (fold(name), i as i64))
            .collect();
        Ok((created, ids))
    }

    fn existing_users(&mut self, ids: &[i64]) -> Result<HashSet<i64>> {
        Ok(ids
            .iter()
            .copied()
            .filter(|id| self.store.users.contains_key(id))
            .collect())
    }

    fn delete_users(&mut self, ids: &[i64]) -> Result<()> {
        for id in ids {
            let Some(user) = self.store.users.remove(id) else {
                continue;
            };
            if let Some(l) = &user.login {
                self.store.by_login.remove(&fold(l));
            }
            if let Some(e) = &user.email {
                self.store.by_email.remove(&fold(e));
            }
            self.store.passwords.remove(id);
        }
        Ok(())
    }

    fn set_keys(&mut self, edits: &[KeyEdit<'_>], _guarded: bool) -> Result<Vec<Refusal>> {
        let mut refused = Vec::new();
        for (at, edit) in edits.iter().enumerate() {
            let store = &*self.store;
            let reason = edit
                .login
                .and_then(|l| Self::taken(&store.by_login, l, edit.id, "login ID"))
                .or_else(|| {
                    edit.email
                        .and_then(|e| Self::taken(&store.by_email, e, edit.id, "e-mail"))
                });
            if let Some(reason) = reason {
                refused.push(Refusal { at, reason });
                continue;
            }
            let user = self.user(edit.id)?;
            let old = [user.login.clone(), user.email.clone()];
            if let Some(login) = edit.login {
                user.login = login.map(str::to_string);
            }
            if let Some(email) = edit.email {
                user.email = email.map(str::to_string);
            }
            let new = [user.login.clone(), user.email.clone()];
            let maps = [&mut self.store.by_login, &mut self.store.by_email];
            for ((map, old), new) in maps.into_iter().zip(old).zip(new) {
                if let Some(old) = old {
                    map.remove(&fold(&old));
                }
                if let Some(new) = new {
                    map.insert(fold(&new), edit.id);
                }
            }
        }
        Ok(refused)
    }

    fn update_users(&mut self, updates: &Updates<'_>, stamp: &str) -> Result<()> {
        for id in &updates.touched {
            self.user(*id)?.updated_at = Some(stamp.to_string());
        }
        for edit in &updates.attributes {
            let user = self.user(edit.id)?;
            for (key, value) in &edit.values {
                match value {
                    Some(v) => user.attributes.insert(key.to_string(), v.to_string()),
                    None => user.attributes.remove(*key),
                };
            }
        }
        for (id, hash) in &updates.passwords {
            self.user(*id)?.has_password = true;
            self.store.passwords.insert(*id, hash.to_string());
        }
        for (id, group) in &updates.memberships.added {
            if let Some(name) = self.group(*group).cloned() {
                self.user(*id)?.groups.insert(name);
            }
        }
        for (id, group) in &updates.memberships.removed {
            if let Some(name) = self.group(*group).cloned() {
                let folded = fold(&name);
                self.user(*id)?.groups.retain(|g| fold(g) != folded);
            }
        }
        for (id, role) in &updates.roles.added {
            self.user(*id)?.roles.insert(role.to_string());
        }
        for (id, role) in &updates.roles.removed {
            self.user(*id)?.roles.remove(*role);
        }
        for (id, identity) in &updates.identities.added {
            self.user(*id)?.identities.insert(identity.to_string());
        }
        for (id, identity) in &updates.identities.removed {
            self.user(*id)?.identities.remove(*identity);
        }
        Ok(())
    }

    fn insert_users(
        &mut self,
        creates: &Creates<'_>,
        _guarded: bool,
        stamp: &str,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Vec<Inserted>> {
        let mut out = Vec::with_capacity(creates.users.len());
        for (k, row) in creates.users.iter().enumerate() {
            out.push(match self.insert_one(creates, k, row, stamp) {
                Ok(id) => Inserted::Id(id),
                Err(reason) => Inserted::Refused(reason),
            });
            if (k + 1) % 1000 == 0 && !progress(k + 1) {
                return Err(Error::Cancelled);
            }
        }
        Ok(out)
    }

    fn bump_revision(&mut self, outcome: &ApplyOutcome) -> Result<u64> {
        self.store.bump(outcome, "apply");
        Ok(self.store.revision)
    }

    fn record_job_step(&mut self, _step: JobStep, _results: &[RowResult]) -> Result<()> {
        Err(no_jobs())
    }

    fn queue_invitations(&mut self, _invite: &Invite, _invitations: &[Invitation]) -> Result<()> {
        Err(no_jobs())
    }
}

impl MemoryWrite<'_> {
    /// Inserts user `k` of `creates`, or says why not (nothing changed).
    fn insert_one(
        &mut self,
        creates: &Creates<'_>,
        k: usize,
        row: &NewRow<'_>,
        stamp: &str,
    ) -> std::result::Result<i64, String> {
        let store = &mut *self.store;
        let id = store.next_id + 1;
        let user = row.user;
        if let Some(reason) = Self::taken(&store.by_login, user.login.as_deref(), id, "login ID")
            .or_else(|| Self::taken(&store.by_email, user.email.as_deref(), id, "e-mail"))
        {
            return Err(reason);
        }
        store.next_id = id;
        let pairs = |list| Creates::pairs_of(list, k..k + 1);
        let groups = pairs(&creates.memberships)
            .iter()
            .filter_map(|(_, g)| usize::try_from(*g).ok().and_then(|g| self.groups.get(g)))
            .cloned()
            .collect();
        let stored = StoredUser {
            id,
            login: user.login.clone(),
            email: user.email.clone(),
            attributes: (&user.attributes).into(),
            groups,
            roles: Creates::pairs_of(&creates.roles, k..k + 1)
                .iter()
                .map(|(_, r)| r.to_string())
                .collect(),
            identities: Creates::pairs_of(&creates.identities, k..k + 1)
                .iter()
                .map(|(_, r)| r.to_string())
                .collect(),
            has_password: row.password.is_some(),
            created_at: Some(stamp.to_string()),
            updated_at: Some(stamp.to_string()),
            first_login: None,
            last_login: None,
        };
        if let Some(l) = &stored.login {
            store.by_login.insert(fold(l), id);
        }
        if let Some(e) = &stored.email {
            store.by_email.insert(fold(e), id);
        }
        if let Some(p) = row.password {
            store.passwords.insert(id, p.to_string());
        }
        store.users.insert(id, stored);
        Ok(id)
    }
}

fn no_jobs() -> Error {
    Error::Unsupported("the memory store keeps no jobs or outbox: use SQLite or PostgreSQL".into())
}
