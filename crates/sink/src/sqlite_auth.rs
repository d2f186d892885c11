//! Credentials, API tokens and sessions in the SQLite store (migration 6).

use rusqlite::{OptionalExtension, params};
use userimport_plan::{Directory, Lookup};

use crate::auth::{ApiToken, AuthStore, Credential, Session, credential_of, pick};
use crate::sink::now;
use crate::{Result, SqliteSink};

/// Migration 6: API tokens and browser sessions, stored by their SHA-256.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash TEXT NOT NULL UNIQUE,
        actor TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID;
";

fn token_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        actor: r.get(1)?,
        label: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

impl AuthStore for SqliteSink {
    fn credential(&self, login_or_email: &str) -> Result<Option<Credential>> {
        let keys = [Lookup::login(login_or_email), Lookup::email(login_or_email)];
        let users = self.find(&keys)?;
        match pick(&users, login_or_email) {
            Some(user) => Ok(Some(credential_of(user, self.password_hash(user.id)?))),
            None => Ok(None),
        }
    }

    fn create_token(&mut self, actor: &str, label: &str, token_hash: &str) -> Result<i64> {
        self.check_writable()?;
        self.conn.execute(
            "INSERT INTO api_tokens (token_hash, actor, label, created_at) VALUES (?, ?, ?, ?)",
            params![token_hash, actor, label, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, actor, label, created_at, revoked_at FROM api_tokens
                 WHERE token_hash = ? AND revoked_at IS NULL",
                [token_hash],
                token_of,
            )
            .optional()?)
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, actor, label, created_at, revoked_at FROM api_tokens ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([], token_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn revoke_token(&mut self, id: i64) -> Result<bool> {
        self.check_writable()?;
        let n = self.conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            params![now(), id],
        )?;
        Ok(n > 0)
    }

    fn create_session(&mut self, token_hash: &str, session: &Session) -> Result<()> {
        self.check_writable()?;
        self.conn
            .execute("DELETE FROM web_sessions WHERE expires_at <= ?", [now()])?;
        self.conn.execute(
            "INSERT INTO web_sessions (token_hash, actor, csrf, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
            params![
                token_hash,
                session.actor,
                session.csrf,
                session.created_at,
                session.expires_at
            ],
        )?;
        Ok(())
    }

    fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        Ok(self
            .conn
            .query_row(
                "SELECT actor, csrf, created_at, expires_at FROM web_sessions
                 WHERE token_hash = ? AND expires_at > ?",
                params![token_hash, now()],
                |r| {
                    Ok(Session {
                        actor: r.get(0)?,
                        csrf: r.get(1)?,
                        created_at: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn delete_session(&mut self, token_hash: &str) -> Result<()> {
        self.check_writable()?;
        self.conn.execute(
            "DELETE FROM web_sessions WHERE token_hash = ?",
            [token_hash],
        )?;
        Ok(())
    }
}
