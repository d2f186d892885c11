//! The outbox in the SQLite store (tables from migration 3).

use rusqlite::{Connection, params};

use crate::Result;
use crate::engine::Invitation;
use crate::outbox::{Invite, Message, MessageStatus, Recipient};
use crate::sink::now;

/// Migration 3: the outbox and set-password token hashes.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        name TEXT,
        login TEXT,
        template TEXT NOT NULL,
        base_url TEXT NOT NULL,
        send_at TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (status, send_at);
    CREATE TABLE password_tokens (
        message_id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        used_at TEXT
    );
";

const COLUMNS: &str = "id, user_id, recipient, name, login, status, send_at, attempts, next_attempt_at, last_error, sent_at, created_at, template, base_url";

fn message_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        user_id: r.get(1)?,
        recipient: Recipient {
            email: r.get(2)?,
            name: r.get(3)?,
            login: r.get(4)?,
        },
        status: MessageStatus::parse(&r.get::<_, String>(5)?),
        send_at: r.get(6)?,
        attempts: r.get::<_, i64>(7)?.max(0) as u32,
        next_attempt_at: r.get(8)?,
        last_error: r.get(9)?,
        sent_at: r.get(10)?,
        created_at: r.get(11)?,
        template: r.get(12)?,
        base_url: r.get(13)?,
    })
}

/// Queues the invitations of a batch's created users, inside its transaction.
pub(crate) fn queue(conn: &Connection, invite: &Invite, invitations: &[Invitation]) -> Result<()> {
    let stamp = now();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO outbox (user_id, recipient, name, login, template, base_url, send_at, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
    )?;
    for Invitation { id, to } in invitations {
        stmt.execute(params![
            id,
            to.email,
            to.name,
            to.login,
            invite.template,
            invite.base_url,
            invite.send_at,
            invite.send_at,
            stamp
        ])?;
    }
    Ok(())
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id"))?;
    let rows = stmt.query_map([], message_of)?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

pub(crate) fn claim(conn: &mut Connection, now: &str, limit: usize) -> Result<Vec<Message>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let messages: Vec<Message> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'queued' AND send_at <= ?1 AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now, limit as i64], message_of)?;
        rows.collect::<std::result::Result<_, _>>()?
    };
    {
        let mut stmt = tx.prepare("UPDATE outbox SET status = 'sending' WHERE id = ?")?;
        for m in &messages {
            stmt.execute([m.id])?;
        }
    }
    tx.commit()?;
    Ok(messages)
}

pub(crate) fn store_token(conn: &Connection, message: i64, user: i64, hash: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO password_tokens (message_id, user_id, token_hash, created_at) VALUES (?, ?, ?, ?)",
        params![message, user, hash, now()],
    )?;
    Ok(())
}

pub(crate) fn mark_sent(conn: &Connection, message: i64) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?",
        params![now(), message],
    )?;
    Ok(())
}

pub(crate) fn mark_failed(
    conn: &Connection,
    message: i64,
    error: &str,
    retry_at: Option<&str>,
) -> Result<()> {
    match retry_at {
        Some(at) => conn.execute(
            "UPDATE outbox SET status = 'queued', attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
            params![error, at, message],
        )?,
        None => conn.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
            params![error, message],
        )?,
    };
    Ok(())
}
