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
    /// The SHA-256 of the profile it was made with ([`crate::profile_digest`]).
    #[serde(default)]
    pub profile_digest: String,
    /// The identity of the store it was made on ([`crate::Directory::store_id`]).
    #[serde(default)]
    pub store_id: Option<String>,
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
    /// Data rows whose change is withdrawn (in-file duplicates found at the
    /// end of a plan written as it was planned): [`Plan::from_json`] drops
    /// their changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn_rows: Vec<u64>,
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
        hash_passwords(&mut self.changes)
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
        let mut plan: Plan = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
        if plan.has_plaintext_passwords() {
            return Err(Error::PlaintextPassword);
        }
        if !plan.withdrawn_rows.is_empty() {
            let withdrawn: BTreeSet<u64> = std::mem::take(&mut plan.withdrawn_rows)
                .into_iter()
                .collect();
            plan.changes
                .retain(|c| c.row() == 0 || !withdrawn.contains(&c.row()));
        }
        Ok(plan)
    }

    /// Checks the plan against its actor's authority in `dir` again, as a
    /// store does before writing it, with [`crate::Actor::judge`] (the one
    /// check every path shares). With no actor (the operator) nothing is
    /// checked. A store does not know the profile: it judges with the
    /// built-in profile of the plan's name when the plan's digest is that
    /// profile's, and otherwise roles, groups and outranking only;
    /// [`Plan::verify`] (given the profile) judges everything. Returns what
    /// the actor may not do (empty when the plan is within its authority).
    pub fn authority_violations<D: crate::Directory + ?Sized>(
        &self,
        dir: &D,
    ) -> Result<Vec<String>> {
        use userimport_schema::Profile;
        let Some(name) = &self.options.actor else {
            return Ok(Vec::new());
        };
        let actor = match crate::Actor::resolve(dir, name) {
            Ok(actor) => actor,
            Err(e @ (Error::UnknownActor(_) | Error::AmbiguousActor(..))) => {
                return Ok(vec![e.to_string()]);
            }
            Err(e) => return Err(e),
        };
        let profile = Profile::builtin(&self.profile)
            .filter(|p| crate::profile_digest(p) == self.profile_digest)
            .unwrap_or_else(|| {
                let mut bare = Profile::standard();
                bare.columns.clear();
                bare
            });
        let stored = crate::targets(dir, &self.changes)?;
        let mut out = Vec::new();
        for change in &self.changes {
            let target = change.id().and_then(|id| stored.get(&id));
            for denial in actor.judge(&profile, change, target) {
                out.push(match change.line() {
                    0 => denial.message,
                    line => format!("line {line}: {}", denial.message),
                });
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

/// Replaces every plaintext password of `changes` by its argon2id hash
/// (OWASP parameters), hashing in parallel; returns how many were hashed.
pub fn hash_passwords(changes: &mut [Change]) -> Result<usize> {
    let hashed: Vec<Result<bool>> = changes
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
            profile_digest: String::new(),
            store_id: None,
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
            withdrawn_rows: Vec::new(),
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
