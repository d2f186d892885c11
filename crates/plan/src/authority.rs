//! The one authority check: what an importing actor may do to the store.
//!
//! The actor is resolved once, to one stored user, by any key it may be
//! named by (member ID, login ID, e-mail; case-insensitive, trimmed).
//! [`Actor::judge`] then decides every change the same way wherever it comes
//! from: a row being planned, a plan file read back, a job resumed, a call
//! from an embedding service.
//!
//! The rules: an actor grants or revokes only roles and groups it holds
//! itself; it sets or takes away a privileged (role-valued) column's value
//! only when it holds that value (as a role or as its own value of the
//! column; an enumeration's first value is the free baseline); it never
//! changes, deletes or suspends a user holding more authority than itself;
//! and it never deletes, suspends or changes the status of its own account.

use std::collections::BTreeSet;

use userimport_schema::{FieldKind, Profile, Purpose};

use crate::directory::{Directory, Lookup, StoredUser, fold};
use crate::types::{Change, Field};
use crate::{Error, Result};

/// The importing actor, resolved to the one stored user it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor as it was named (`--actor`, the signed-in login …).
    pub name: String,
    /// Its stored account: its roles and groups are its authority.
    pub user: StoredUser,
}

/// One thing a change would do that its actor may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The column concerned, when there is one.
    pub column: Option<String>,
    /// What is refused and why.
    pub message: String,
}

impl Actor {
    /// Resolves `name` to the one stored user it names: by member ID (when
    /// it is a number), login ID or e-mail, compared trimmed and
    /// case-insensitively. Names that match nobody, or two different users
    /// (one's login is another's member ID, say), are refused.
    pub fn resolve<D: Directory + ?Sized>(dir: &D, name: &str) -> Result<Actor> {
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(Error::UnknownActor(name.to_string()));
        }
        let mut keys = vec![Lookup::login(trimmed), Lookup::email(trimmed)];
        if let Ok(id) = trimmed.trim_start_matches('#').parse::<i64>() {
            keys.push(Lookup::Id(id));
        }
        let found = dir.find(&keys).map_err(Error::store)?;
        let mut matching: Vec<StoredUser> = found
            .into_iter()
            .filter(|u| keys.iter().any(|k| k.matches(u)))
            .collect();
        matching.sort_by_key(|u| u.id);
        matching.dedup_by_key(|u| u.id);
        match matching.len() {
            0 => Err(Error::UnknownActor(name.to_string())),
            1 => Ok(Actor {
                name: trimmed.to_string(),
                user: matching.remove(0),
            }),
            _ => Err(Error::AmbiguousActor(
                name.to_string(),
                matching.iter().map(|u| u.id).collect(),
            )),
        }
    }

    /// True when the actor holds role `name`.
    pub fn holds_role(&self, name: &str) -> bool {
        holds(&self.user.roles, name)
    }

    /// True when the actor belongs to group `name`.
    pub fn holds_group(&self, name: &str) -> bool {
        holds(&self.user.groups, name)
    }

    /// True when `id` is the actor's own account.
    pub fn is_self(&self, id: i64) -> bool {
        self.user.id == id
    }

    /// True when the actor may set or take away `value` in privileged
    /// column `column` of `profile`.
    fn may_hold_value(&self, profile: &Profile, column: &str, value: &str) -> bool {
        let Some(c) = profile.column(column) else {
            return true;
        };
        if !c.privileged || is_baseline(&c.kind, value) {
            return true;
        }
        self.holds_role(value)
            || self
                .user
                .attributes
                .get(column)
                .is_some_and(|own| fold(own) == fold(value))
    }

    /// What `user` holds that the actor does not: roles, and privileged
    /// column values past the baseline. Empty for the actor itself.
    pub fn outranked_by(&self, profile: &Profile, user: &StoredUser) -> Vec<String> {
        if self.is_self(user.id) {
            return Vec::new();
        }
        let mut above: Vec<String> = user
            .roles
            .iter()
            .filter(|r| !self.holds_role(r))
            .map(|r| format!("role {r:?}"))
            .collect();
        for column in profile.columns.iter().filter(|c| c.privileged) {
            if let Some(value) = user.attributes.get(&column.key)
                && !value.trim().is_empty()
                && !self.may_hold_value(profile, &column.key, value)
            {
                above.push(format!("{} {value:?}", column.label));
            }
        }
        above
    }

    /// Everything `change` would do that the actor may not. `target` is the
    /// stored user the change touches (`None` for a create); a change to a
    /// user that is not found is judged as if that user outranked the actor.
    pub fn judge(
        &self,
        profile: &Profile,
        change: &Change,
        target: Option<&StoredUser>,
    ) -> Vec<Denial> {
        let mut out = Vec::new();
        match change {
            Change::Unchanged { .. } => {}
            Change::Create { user, .. } => {
                self.judge_grants(profile, user.roles.iter(), user.groups.iter(), &mut out);
                for (column, value) in &user.attributes {
                    self.judge_value(profile, column, value, &mut out);
                }
            }
            Change::Update {
                id,
                diff,
                groups,
                roles,
                ..
            } => {
                self.judge_target(profile, *id, target, "change", &mut out);
                self.judge_grants(
                    profile,
                    roles.added.iter().chain(&roles.removed),
                    groups.added.iter().chain(&groups.removed),
                    &mut out,
                );
                let status = status_key(profile);
                for d in diff {
                    if self.is_self(*id)
                        && (Some(d.column.as_str()) == status.as_deref() || d.field == Field::Login)
                    {
                        out.push(denial(
                            Some(&d.column),
                            format!("actor {:?} cannot change its own {}", self.name, d.column),
                        ));
                    }
                    for value in d.old.iter().chain(&d.new) {
                        self.judge_value(profile, &d.column, value, &mut out);
                    }
                }
            }
            Change::Delete { id, .. } => {
                self.judge_self(*id, "delete", &mut out);
                self.judge_target(profile, *id, target, "delete", &mut out);
            }
            Change::Suspend { id, .. } => {
                self.judge_self(*id, "suspend", &mut out);
                self.judge_target(profile, *id, target, "suspend", &mut out);
            }
        }
        out
    }

    fn judge_self(&self, id: i64, verb: &str, out: &mut Vec<Denial>) {
        if self.is_self(id) {
            out.push(denial(
                None,
                format!("actor {:?} cannot {verb} itself", self.name),
            ));
        }
    }

    fn judge_target(
        &self,
        profile: &Profile,
        id: i64,
        target: Option<&StoredUser>,
        verb: &str,
        out: &mut Vec<Denial>,
    ) {
        let above = match target {
            Some(user) => self.outranked_by(profile, user),
            None if self.is_self(id) => Vec::new(),
            None => vec![format!("member ID {id}, which is not in the store")],
        };
        if !above.is_empty() {
            out.push(denial(
                None,
                format!(
                    "the user on this row holds {} that actor {:?} does not hold: it cannot {verb} them",
                    above.join(", "),
                    self.name
                ),
            ));
        }
    }

    fn judge_grants<'a>(
        &self,
        profile: &Profile,
        roles: impl Iterator<Item = &'a String>,
        groups: impl Iterator<Item = &'a String>,
        out: &mut Vec<Denial>,
    ) {
        let roles_column = column_key(profile, Purpose::Roles);
        let groups_column = column_key(profile, Purpose::Groups);
        for role in roles.filter(|r| !self.holds_role(r)) {
            out.push(denial(
                roles_column.as_deref(),
                format!(
                    "actor {:?} does not hold role {role:?} and cannot grant or revoke it",
                    self.name
                ),
            ));
        }
        for group in groups.filter(|g| !self.holds_group(g)) {
            out.push(denial(
                groups_column.as_deref(),
                format!(
                    "actor {:?} does not hold group {group:?} and cannot grant or revoke it",
                    self.name
                ),
            ));
        }
    }

    fn judge_value(&self, profile: &Profile, column: &str, value: &str, out: &mut Vec<Denial>) {
        if !self.may_hold_value(profile, column, value) {
            let label = profile.column(column).map_or(column, |c| c.label.as_str());
            out.push(denial(
                Some(column),
                format!(
                    "actor {:?} does not hold {label} {value:?} and cannot grant or take it away",
                    self.name
                ),
            ));
        }
    }
}

/// The stored users `changes` touch, by member ID (one batched look-up), for
/// [`Actor::judge`].
pub fn targets<D: Directory + ?Sized>(
    dir: &D,
    changes: &[Change],
) -> Result<std::collections::HashMap<i64, StoredUser>> {
    let ids: BTreeSet<i64> = changes
        .iter()
        .filter(|c| !matches!(c, Change::Create { .. } | Change::Unchanged { .. }))
        .filter_map(Change::id)
        .collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let keys: Vec<Lookup> = ids.into_iter().map(Lookup::Id).collect();
    Ok(dir
        .find(&keys)
        .map_err(Error::store)?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

fn holds(set: &BTreeSet<String>, name: &str) -> bool {
    let name = fold(name);
    set.iter().any(|h| fold(h) == name)
}

fn is_baseline(kind: &FieldKind, value: &str) -> bool {
    match kind {
        FieldKind::Enum { values } => values
            .first()
            .is_some_and(|v| v.canonical.eq_ignore_ascii_case(value.trim())),
        _ => value.trim().is_empty(),
    }
}

fn status_key(profile: &Profile) -> Option<String> {
    column_key(profile, Purpose::Status)
}

fn column_key(profile: &Profile, purpose: Purpose) -> Option<String> {
    profile.column_for(purpose).map(|c| c.key.clone())
}

fn denial(column: Option<&str>, message: String) -> Denial {
    Denial {
        column: column.map(str::to_string),
        message,
    }
}
