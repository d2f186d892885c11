//! The weakest pre-hashed password a profile accepts (migrations bring
//! `password_hash` columns; a hash cheaper than this is refused).

use serde::{Deserialize, Serialize};

/// The weakest pre-hashed password accepted: argon2id parameters each at
/// least these (default m=19456 KiB, t=2, p=1, as OWASP recommends), bcrypt
/// at least this cost (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashFloor {
    /// Least argon2id memory, in KiB.
    pub argon2_memory_kib: u32,
    /// Least argon2id iterations.
    pub argon2_iterations: u32,
    /// Least argon2id parallelism.
    pub argon2_parallelism: u32,
    /// Least bcrypt cost.
    pub bcrypt_cost: u32,
}

impl Default for HashFloor {
    fn default() -> Self {
        HashFloor {
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            bcrypt_cost: 10,
        }
    }
}
