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
