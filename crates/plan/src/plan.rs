//! The reviewable, serialisable plan and password hashing.

use std::collections::BTreeSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use userimport_validate::Issue;

use crate::types::{Change, PasswordSource, PlanOptions, Summary};
use crate::{Error, Result};

/// A whole plan: every change a file makes, against one store revision.
///
/// Write it with [`Plan::to_json`] (after [`Plan::hash_passwords`]: a plan
/// holding plaintext passwords refuses to serialise through `to_json`), read it
/// back with [`Plan::from_json`]. A store applies it only at the revision it
/// was made against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The store revision the plan was made against.
    pub revision: u64,
    /// The profile's name.
    pub profile: String,
    /// The options it was made with.
    pub options: PlanOptions,
    /// The changes, in file order, sync changes last.
    pub changes: Vec<Change>,
    /// The counts.
    pub summary: Summary,
    /// Groups the plan creates (unknown groups named in the file).
    pub created_groups: Vec<String>,
    /// Issues found while planning (not the validator's).
    #[serde(default)]
    pub issues: Vec<Issue>,
}

impl Plan {
    /// True when the plan carries no error issue.
    pub fn is_clean(&self) -> bool {
        self.summary.errors == 0 && !self.issues.iter().any(Issue::is_error)
    }

    /// True when a file-level error (row 0, such as `sync.threshold`) refuses
    /// the whole plan, even with `skip_invalid`.
    pub fn is_refused(&self) -> bool {
        self.issues.iter().any(|i| i.is_error() && i.row == 0)
    }

    /// True when some password is still plaintext.
    pub fn has_plaintext_passwords(&self) -> bool {
        self.changes
            .iter()
            .any(|c| matches!(c.password(), Some(PasswordSource::Plain(_))))
    }

    /// Replaces every plaintext password by its argon2id hash (OWASP
    /// parameters), hashing in parallel. Call it before writing the plan to
    /// disk. Returns how many passwords were hashed.
    pub fn hash_passwords(&mut self) -> Result<usize> {
        let hashed: Vec<Result<bool>> = self
            .changes
            .par_iter_mut()
            .map(|change| match change.password_mut() {
                Some(source @ PasswordSource::Plain(_)) => {
                    let PasswordSource::Plain(secret) = &*source else {
                        return Ok(false); // ok: matched just above
                    };
                    let hash = hash_password(secret.expose())?;
                    *source = PasswordSource::Hash(hash);
                    Ok(true)
                }
                _ => Ok(false),
            })
            .collect();
        let mut count = 0;
        for h in hashed {
            if h? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// The plan as pretty JSON. Refuses while plaintext passwords remain
    /// (they would be written as `***`).
    pub fn to_json(&self) -> Result<String> {
        if self.has_plaintext_passwords() {
            return Err(Error::PlaintextPassword);
        }
        serde_json::to_string_pretty(self).map_err(|e| Error::Json(e.to_string()))
    }

    /// Reads a plan written by [`Plan::to_json`]. Refuses plaintext passwords
    /// (a plan file must carry hashes).
    pub fn from_json(text: &str) -> Result<Plan> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
        if plan.has_plaintext_passwords() {
            return Err(Error::PlaintextPassword);
        }
        Ok(plan)
    }

    /// Checks the plan against its actor's authority in `dir` again, as a
    /// store does before applying it: a plan file may have been edited since
    /// it was made. With no actor (the operator) nothing is checked.
    /// Returns what the actor may not do (empty when the plan is within its
    /// authority): grant or revoke a role or group it does not hold, set or
    /// take away a role-valued column's value it does not hold (for the
    /// built-in profiles, whose columns the plan names), delete, suspend or
    /// change the status of its own account.
    pub fn authority_violations<D: crate::Directory + ?Sized>(
        &self,
        dir: &D,
    ) -> Result<Vec<String>> {
        use crate::directory::{Lookup, fold};
        use userimport_schema::{FieldKind, Profile, Purpose};

        let Some(actor) = &self.options.actor else {
            return Ok(Vec::new());
        };
        let key = Lookup::login(actor);
        let Some(me) = dir
            .find(std::slice::from_ref(&key))
            .map_err(Error::store)?
            .into_iter()
            .find(|u| key.matches(u))
        else {
            return Ok(vec![format!("actor {actor:?} is not a user of the store")]);
        };
        let holds = |set: &BTreeSet<String>, name: &str| set.iter().any(|h| fold(h) == fold(name));
        let profile = Profile::builtin(&self.profile);
        let status_key = profile
            .as_ref()
            .and_then(|p| p.column_for(Purpose::Status))
            .map_or("status".to_string(), |c| c.key.clone());
        let privileged = |column: &str, value: &str| -> bool {
            let Some(c) = profile.as_ref().and_then(|p| p.column(column)) else {
                return false;
            };
            if !c.privileged {
                return false;
            }
            if let FieldKind::Enum { values } = &c.kind
                && values
                    .first()
                    .is_some_and(|v| v.canonical.eq_ignore_ascii_case(value.trim()))
            {
                return false;
            }
            !holds(&me.roles, value)
                && me
                    .attributes
                    .get(column)
                    .is_none_or(|own| fold(own) != fold(value))
        };
        // Users the plan changes, deletes or suspends must not hold more
        // authority than the actor (one batched look-up).
        let targets: Vec<Lookup> = self
            .changes
            .iter()
            .filter(|c| !matches!(c, Change::Create { .. } | Change::Unchanged { .. }))
            .filter_map(Change::id)
            .filter(|id| *id != me.id)
            .collect::<BTreeSet<i64>>()
            .into_iter()
            .map(Lookup::Id)
            .collect();
        let found = if targets.is_empty() {
            Vec::new()
        } else {
            dir.find(&targets).map_err(Error::store)?
        };
        let above: std::collections::HashMap<i64, Vec<String>> = found
            .iter()
            .map(|u| {
                let mut above: Vec<String> = u
                    .roles
                    .iter()
                    .filter(|r| !holds(&me.roles, r))
                    .map(|r| format!("role {r:?}"))
                    .collect();
                for (column, value) in &u.attributes {
                    if privileged(column, value) {
                        above.push(format!("{column} {value:?}"));
                    }
                }
                (u.id, above)
            })
            .filter(|(_, above)| !above.is_empty())
            .collect();
        let mut out = Vec::new();
        for change in &self.changes {
            if let Some(id) = change.id()
                && !matches!(change, Change::Unchanged { .. })
                && let Some(what) = above.get(&id)
            {
                let line = change.line();
                let what = format!(
                    "user {id} holds {} that actor {actor:?} does not hold",
                    what.join(", ")
                );
                out.push(if line == 0 {
                    what
                } else {
                    format!("line {line}: {what}")
                });
            }
        }
        let mut at = |line: u64, what: String| {
            out.push(if line == 0 {
                what
            } else {
                format!("line {line}: {what}")
            })
        };
        for change in &self.changes {
            match change {
                Change::Create { line, user, .. } => {
                    for role in user.roles.iter().filter(|r| !holds(&me.roles, r)) {
                        at(
                            *line,
                            format!("actor {actor:?} does not hold role {role:?}"),
                        );
                    }
                    for group in user.groups.iter().filter(|g| !holds(&me.groups, g)) {
                        at(
                            *line,
                            format!("actor {actor:?} does not hold group {group:?}"),
                        );
                    }
                    for (column, value) in &user.attributes {
                        if privileged(column, value) {
                            at(
                                *line,
                                format!("actor {actor:?} does not hold {column} {value:?}"),
                            );
                        }
                    }
                }
                Change::Update {
                    line,
                    id,
                    diff,
                    groups,
                    roles,
                    ..
                } => {
                    for role in roles.added.iter().chain(&roles.removed) {
                        if !holds(&me.roles, role) {
                            at(
                                *line,
                                format!("actor {actor:?} does not hold role {role:?}"),
                            );
                        }
                    }
                    for group in groups.added.iter().chain(&groups.removed) {
                        if !holds(&me.groups, group) {
                            at(
                                *line,
                                format!("actor {actor:?} does not hold group {group:?}"),
                            );
                        }
                    }
                    for d in diff {
                        if *id == me.id && d.column == status_key {
                            at(
                                *line,
                                format!("actor {actor:?} cannot change its own status"),
                            );
                        }
                        for value in d.old.iter().chain(&d.new) {
                            if privileged(&d.column, value) {
                                at(
                                    *line,
                                    format!("actor {actor:?} does not hold {} {value:?}", d.column),
                                );
                            }
                        }
                    }
                }
                Change::Delete { line, id, .. } if *id == me.id => {
                    at(*line, format!("actor {actor:?} cannot delete itself"));
                }
                Change::Suspend { id, .. } if *id == me.id => {
                    at(0, format!("actor {actor:?} cannot suspend itself"));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Member IDs the plan touches (updates, deletes, suspensions).
    pub fn touched_ids(&self) -> BTreeSet<i64> {
        self.changes
            .iter()
            .filter(|c| !matches!(c, Change::Unchanged { .. }))
            .filter_map(Change::id)
            .collect()
    }
}

/// The OWASP argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Argon2id passes (OWASP).
pub const ARGON2_ITERATIONS: u32 = 2;
/// Argon2id lanes (OWASP).
pub const ARGON2_PARALLELISM: u32 = 1;

/// Hashes one password with argon2id (OWASP parameters) and a random salt
/// from the OS CSPRNG; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    use rand::TryRngCore;

    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        None,
    )
    .map_err(|e| Error::Hash(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| Error::Hash(format!("no OS randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

/// Checks `password` against a PHC string made by [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(hash) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random password of 20 letters and digits from the OS CSPRNG.
pub fn generate_password() -> Result<String> {
    use rand::TryRngCore;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(20);
    let mut buf = [0u8; 64];
    while out.len() < 20 {
        rand::rngs::OsRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| Error::Hash(format!("no OS randomness: {e}")))?;
        // Rejection sampling keeps every character equally likely.
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        for &b in &buf {
            if b < limit && out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Field, FieldChange, ListChange, NewUser};
    use userimport_validate::Secret;

    fn plan(password: PasswordSource) -> Plan {
        Plan {
            revision: 3,
            profile: "standard".to_string(),
            options: PlanOptions::default(),
            changes: vec![
                Change::Create {
                    line: 2,
                    row: 1,
                    user: NewUser {
                        login: Some("tanaka".to_string()),
                        password: Some(password),
                        ..NewUser::default()
                    },
                },
                Change::Update {
                    line: 3,
                    row: 2,
                    id: 7,
                    diff: vec![FieldChange {
                        column: "department".to_string(),
                        field: Field::Attribute,
                        old: None,
                        new: Some("Sales".to_string()),
                    }],
                    groups: ListChange {
                        added: vec!["Tokyo".to_string()],
                        removed: Vec::new(),
                    },
                    roles: ListChange::default(),
                    identities: ListChange::default(),
                    password: None,
                },
                Change::Delete {
                    line: 0,
                    row: 0,
                    id: 9,
                },
            ],
            summary: Summary::default(),
            created_groups: vec!["Tokyo".to_string()],
            issues: Vec::new(),
        }
    }

    #[test]
    fn plan_files_carry_hashes_never_plaintext() {
        let mut p = plan(PasswordSource::Plain(Secret::new("Plaintext-Secret-1")));
        assert!(matches!(p.to_json(), Err(Error::PlaintextPassword)));
        assert_eq!(p.hash_passwords().unwrap(), 1);
        let json = p.to_json().unwrap();
        assert!(!json.contains("Plaintext-Secret-1"));
        let back = Plan::from_json(&json).unwrap();
        assert_eq!(back, p);
        let Some(PasswordSource::Hash(phc)) = back.changes[0].password() else {
            panic!("{:?}", back.changes[0]);
        };
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("Plaintext-Secret-1", phc));
        assert!(!verify_password("something else", phc));
    }

    #[test]
    fn the_plan_file_shape_is_stable() {
        let p = plan(PasswordSource::Generate);
        let value: serde_json::Value = serde_json::from_str(&p.to_json().unwrap()).unwrap();
        assert_eq!(value["revision"], 3);
        assert_eq!(value["changes"][0]["op"], "create");
        assert_eq!(value["changes"][0]["user"]["password"]["kind"], "generate");
        assert_eq!(value["changes"][1]["op"], "update");
        assert_eq!(value["changes"][1]["diff"][0]["column"], "department");
        assert_eq!(value["changes"][1]["groups"]["added"][0], "Tokyo");
        assert_eq!(value["changes"][2]["op"], "delete");
        assert_eq!(value["options"]["mode"], "upsert");
        assert_eq!(value["options"]["max_delete_percent"], 10.0);
        assert_eq!(value["summary"]["create"], 0);
    }

    #[test]
    fn a_tampered_plan_with_masked_plaintext_is_refused() {
        let json = plan(PasswordSource::Generate).to_json().unwrap().replace(
            r#""kind": "generate""#,
            r#""kind": "plain", "value": "***""#,
        );
        assert!(matches!(
            Plan::from_json(&json),
            Err(Error::PlaintextPassword)
        ));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
