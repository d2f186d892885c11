//! An in-memory store, for tests and embedding.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use userimport_plan::{Change, Directory, Field, Lookup, StoredUser, fold};

use crate::sink::{ApplyOutcome, Batch, Outcome, Progress, Revision, Sink, now, result_for};
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

    fn key_taken(&self, map: &HashMap<String, i64>, value: Option<&String>, id: i64) -> bool {
        value
            .map(|v| map.get(&fold(v)).is_some_and(|owner| *owner != id))
            .unwrap_or(false)
    }

    /// Applies one change; on `Err(reason)` nothing was modified.
    fn apply_change(
        &mut self,
        change: &Change,
        password: Option<&str>,
        now: &str,
    ) -> std::result::Result<(Outcome, Option<i64>), String> {
        match change {
            Change::Create { user, .. } => {
                let id = self.next_id + 1;
                if self.key_taken(&self.by_login, user.login.as_ref(), id) {
                    return Err("login ID already used by another user".to_string());
                }
                if self.key_taken(&self.by_email, user.email.as_ref(), id) {
                    return Err("e-mail already used by another user".to_string());
                }
                let mut groups = BTreeSet::new();
                for g in &user.groups {
                    match self.group_name(g) {
                        Some(name) => groups.insert(name.clone()),
                        None => return Err(format!("group {g:?} does not exist")),
                    };
                }
                self.next_id = id;
                let stored = StoredUser {
                    id,
                    login: user.login.clone(),
                    email: user.email.clone(),
                    attributes: user.attributes.clone(),
                    groups,
                    roles: user.roles.clone(),
                    identities: user.identities.clone(),
                    has_password: password.is_some(),
                    created_at: Some(now.to_string()),
                    updated_at: Some(now.to_string()),
                    first_login: None,
                    last_login: None,
                };
                if let Some(l) = &stored.login {
                    self.by_login.insert(fold(l), id);
                }
                if let Some(e) = &stored.email {
                    self.by_email.insert(fold(e), id);
                }
                if let Some(p) = password {
                    self.passwords.insert(id, p.to_string());
                }
                self.users.insert(id, stored);
                Ok((Outcome::Created, Some(id)))
            }
            Change::Update {
                id,
                diff,
                groups,
                roles,
                identities,
                ..
            } => {
                let Some(old) = self.users.get(id) else {
                    return Err(format!("user {id} no longer exists"));
                };
                let mut user = old.clone();
                for change in diff {
                    match change.field {
                        Field::Attribute => match &change.new {
                            Some(v) => {
                                user.attributes.insert(change.column.clone(), v.clone());
                            }
                            None => {
                                user.attributes.remove(&change.column);
                            }
                        },
                        Field::Login => user.login = change.new.clone(),
                        Field::Email => user.email = change.new.clone(),
                        Field::Password => {}
                    }
                }
                if self.key_taken(&self.by_login, user.login.as_ref(), *id) {
                    return Err("login ID already used by another user".to_string());
                }
                if self.key_taken(&self.by_email, user.email.as_ref(), *id) {
                    return Err("e-mail already used by another user".to_string());
                }
                for g in &groups.added {
                    match self.group_name(g) {
                        Some(name) => user.groups.insert(name.clone()),
                        None => return Err(format!("group {g:?} does not exist")),
                    };
                }
                for g in &groups.removed {
                    user.groups.retain(|x| fold(x) != fold(g));
                }
                user.roles.extend(roles.added.iter().cloned());
                for r in &roles.removed {
                    user.roles.remove(r);
                }
                user.identities.extend(identities.added.iter().cloned());
                for r in &identities.removed {
                    user.identities.remove(r);
                }
                user.updated_at = Some(now.to_string());
                if let Some(l) = &old.login {
                    self.by_login.remove(&fold(l));
                }
                if let Some(e) = &old.email {
                    self.by_email.remove(&fold(e));
                }
                if let Some(l) = &user.login {
                    self.by_login.insert(fold(l), *id);
                }
                if let Some(e) = &user.email {
                    self.by_email.insert(fold(e), *id);
                }
                if let Some(p) = password {
                    self.passwords.insert(*id, p.to_string());
                    user.has_password = true;
                }
                self.users.insert(*id, user);
                Ok((Outcome::Updated, Some(*id)))
            }
            Change::Suspend { id, status } => {
                let Some(user) = self.users.get_mut(id) else {
                    return Err(format!("user {id} no longer exists"));
                };
                if let Some(v) = &status.new {
                    user.attributes.insert(status.column.clone(), v.clone());
                }
                user.updated_at = Some(now.to_string());
                Ok((Outcome::Updated, Some(*id)))
            }
            Change::Delete { id, .. } => {
                let Some(user) = self.users.remove(id) else {
                    return Err(format!("user {id} no longer exists"));
                };
                if let Some(l) = &user.login {
                    self.by_login.remove(&fold(l));
                }
                if let Some(e) = &user.email {
                    self.by_email.remove(&fold(e));
                }
                self.passwords.remove(id);
                Ok((Outcome::Deleted, Some(*id)))
            }
            Change::Unchanged { id, .. } => Ok((Outcome::Unchanged, Some(*id))),
        }
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
        if self.revision != batch.expected_revision {
            let error = Error::Drift {
                planned: batch.expected_revision,
                current: self.revision,
                history: self.history_since(batch.expected_revision)?,
            };
            restore(self, before);
            return Err(error);
        }
        let mut work = self.clone();
        let mut outcome = ApplyOutcome::default();
        for name in batch.create_groups {
            if work.group_name(name).is_none() {
                work.groups.insert(name.clone());
                outcome.created_groups.push(name.clone());
            }
        }
        let stamp = now();
        let total = batch.changes.len() as u64;
        for (i, change) in batch.changes.iter().enumerate() {
            let password = batch.passwords.get(i).and_then(|p| p.as_deref());
            match work.apply_change(change, password, &stamp) {
                Ok((kind, id)) => outcome.push(result_for(change, kind, id)),
                Err(reason) => {
                    let mut r = result_for(change, Outcome::Failed, change.id());
                    r.reason = Some(reason);
                    outcome.push(r);
                }
            }
            if (i + 1) % 1000 == 0
                && !progress(&Progress {
                    done: i as u64 + 1,
                    total,
                })
            {
                restore(self, before);
                return Err(Error::Cancelled);
            }
        }
        progress(&Progress { done: total, total });
        if batch.all_or_nothing && outcome.failed > 0 {
            restore(self, before);
            outcome.roll_back(self.revision);
            return Ok(outcome);
        }
        if outcome.created + outcome.updated + outcome.deleted > 0
            || !outcome.created_groups.is_empty()
        {
            work.bump(&outcome, "apply");
        }
        outcome.revision = work.revision;
        let prior = std::mem::replace(self, work);
        if batch.hold {
            self.held = Some(before.unwrap_or_else(|| Box::new(prior)));
            outcome.held = true;
        } else {
            outcome.committed = true;
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
