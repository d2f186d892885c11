//! Signing in to a frontend: the stored users' credentials, API tokens and
//! browser sessions.
//!
//! A frontend (the web page, an embedding service) signs a stored user in
//! with [`AuthStore::credential`] and [`Credential::verify`] (argon2id
//! against the stored PHC hash), then keeps a session
//! ([`AuthStore::create_session`]) or accepts a bearer token made by the
//! operator ([`AuthStore::create_token`]). Session and API tokens are
//! random (32 bytes from the OS CSPRNG, [`new_secret`]); the store keeps
//! only their SHA-256 ([`token_hash`](crate::token_hash)), so a copy of the
//! store lets nobody in.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::Result;

/// What signing in needs to know of a stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credential {
    /// The member ID.
    pub id: i64,
    /// The login ID as written.
    pub login: Option<String>,
    /// The e-mail address as written.
    pub email: Option<String>,
    /// The stored password hash (PHC string), if any.
    pub password_hash: Option<String>,
    /// The user's roles.
    pub roles: BTreeSet<String>,
    /// The user's status (`Valid`, `Suspended`, `Active`, `Archived` …), if recorded.
    pub status: Option<String>,
}

/// Statuses whose users may not sign in.
const BLOCKED_STATUSES: &[&str] = &["invalid", "suspended", "archived"];

impl Credential {
    /// True when `password` matches the stored argon2id hash (false when
    /// the user has no password, or its hash is of another kind).
    pub fn verify(&self, password: &str) -> bool {
        self.password_hash
            .as_deref()
            .is_some_and(|phc| userimport_plan::verify_password(password, phc))
    }

    /// True unless the user's status keeps it out (`Invalid`, `Suspended`,
    /// `Archived`).
    pub fn is_active(&self) -> bool {
        self.status.as_deref().is_none_or(|s| {
            !BLOCKED_STATUSES
                .iter()
                .any(|blocked| s.trim().eq_ignore_ascii_case(blocked))
        })
    }

    /// True when the user holds one of `roles` (compared case-insensitively).
    pub fn holds_any(&self, roles: &[String]) -> bool {
        self.roles
            .iter()
            .any(|held| roles.iter().any(|r| r.trim().eq_ignore_ascii_case(held)))
    }

    /// The name the user acts under: its login ID, else its e-mail.
    pub fn actor(&self) -> String {
        self.login
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| self.id.to_string())
    }
}

/// An API token as stored (its hash only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApiToken {
    /// The token's ID (to revoke it).
    pub id: i64,
    /// The login ID of the user it acts as.
    pub actor: String,
    /// What the operator called it.
    pub label: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

/// A signed-in browser session as stored (keyed by its token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The login ID of the signed-in user.
    pub actor: String,
    /// The session's anti-forgery token, sent back with every
    /// state-changing request.
    pub csrf: String,
    /// When it began (RFC 3339, UTC).
    pub created_at: String,
    /// When it ends (RFC 3339, UTC).
    pub expires_at: String,
}

impl Session {
    /// A session for `actor` from now until `expires_at`.
    pub fn new(actor: &str, csrf: &str, expires_at: &str) -> Self {
        Session {
            actor: actor.to_string(),
            csrf: csrf.to_string(),
            created_at: crate::sink::now(),
            expires_at: expires_at.to_string(),
        }
    }
}

/// Where credentials, API tokens and sessions live: implemented by
/// [`SqliteSink`](crate::SqliteSink) and [`PostgresSink`](crate::PostgresSink).
pub trait AuthStore {
    /// The user whose login ID or e-mail address is `login_or_email`
    /// (compared case-insensitively; a login ID match wins).
    fn credential(&self, login_or_email: &str) -> Result<Option<Credential>>;

    /// Records an API token (by its hash) acting as `actor`; returns its ID.
    fn create_token(&mut self, actor: &str, label: &str, token_hash: &str) -> Result<i64>;

    /// The unrevoked token with this hash.
    fn token(&self, token_hash: &str) -> Result<Option<ApiToken>>;

    /// Every token, revoked ones too, newest first.
    fn tokens(&self) -> Result<Vec<ApiToken>>;

    /// Revokes token `id`; false when there is no such unrevoked token.
    fn revoke_token(&mut self, id: i64) -> Result<bool>;

    /// Records a session under its token's hash, and forgets expired ones.
    fn create_session(&mut self, token_hash: &str, session: &Session) -> Result<()>;

    /// The unexpired session with this token hash.
    fn session(&self, token_hash: &str) -> Result<Option<Session>>;

    /// Ends the session with this token hash.
    fn delete_session(&mut self, token_hash: &str) -> Result<()>;
}

/// A new secret for a session or an API token, with the hash to store:
/// 32 bytes from the OS CSPRNG, hex, and their SHA-256.
pub fn new_secret() -> Result<(String, String)> {
    let token = crate::outbox::new_token()?;
    let hash = crate::outbox::token_hash(&token);
    Ok((token, hash))
}

/// Picks the login ID match over an e-mail match among users found for one
/// sign-in name.
pub(crate) fn pick<'a>(
    users: &'a [userimport_plan::StoredUser],
    login_or_email: &str,
) -> Option<&'a userimport_plan::StoredUser> {
    let folded = userimport_plan::fold(login_or_email);
    let by = |f: fn(&userimport_plan::StoredUser) -> Option<&String>| {
        users
            .iter()
            .find(|u| f(u).is_some_and(|v| userimport_plan::fold(v) == folded))
    };
    by(|u| u.login.as_ref()).or_else(|| by(|u| u.email.as_ref()))
}

/// Builds the credential of `user` with its stored hash.
pub(crate) fn credential_of(
    user: &userimport_plan::StoredUser,
    password_hash: Option<String>,
) -> Credential {
    Credential {
        id: user.id,
        login: user.login.clone(),
        email: user.email.clone(),
        password_hash,
        roles: user.roles.clone(),
        status: user.attributes.get("status").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(status: Option<&str>, roles: &[&str]) -> Credential {
        Credential {
            id: 1,
            login: Some("admin".into()),
            email: None,
            password_hash: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            status: status.map(str::to_string),
        }
    }

    #[test]
    fn suspended_and_archived_users_are_kept_out() {
        assert!(cred(None, &[]).is_active());
        assert!(cred(Some("Valid"), &[]).is_active());
        assert!(cred(Some("Active"), &[]).is_active());
        assert!(!cred(Some("Suspended"), &[]).is_active());
        assert!(!cred(Some("archived"), &[]).is_active());
        assert!(!cred(Some("Invalid"), &[]).is_active());
    }

    #[test]
    fn roles_compare_case_insensitively_and_no_password_never_verifies() {
        let c = cred(None, &["Admin"]);
        assert!(c.holds_any(&["admin".into()]));
        assert!(!c.holds_any(&["operator".into()]));
        assert!(!c.verify(""));
    }
}
