//! The PostgreSQL store's bulk load: a first import into an empty store
//! leaves out the secondary indexes of the tables it fills and builds them
//! once, from the loaded rows, just before it commits.
//!
//! Those indexes (the look-alike skeletons, the card ID, folded identities)
//! refuse no row, so nothing changes about what the load writes or
//! refuses; the unique indexes stay. Each kept row by row would cost an
//! index insert (and its WAL record) per created user, where one build
//! sorts them all. The indexes are dropped inside the load's transaction:
//! a load that fails, is rolled back or loses its connection takes the
//! drop back with its rows.
//!
//! The price is concurrency, as for the SQLite store's bulk load: the load
//! holds `users` and `identities` exclusively until it commits, so other
//! connections wait to read them. It is therefore taken only when nobody
//! else holds a lock on them (asked without waiting) and the store has no
//! users, so the planner needs no look-ups.

use postgres::Client;

use crate::{Error, Result};

/// The tables whose secondary indexes a bulk load builds after its rows.
const DEFERRED_TABLES: &str = "ARRAY['users'::regclass, 'identities'::regclass]";

/// Opens the load's transaction on `client` (outside any transaction):
/// takes the writers' revision lock and the two tables, checks that the
/// store holds no users and drops the tables' secondary indexes. Returns
/// their `CREATE INDEX` statements for [`build_indexes`], or `None` (with
/// the transaction rolled back) when another connection holds a lock the
/// load needs or the store has users.
pub(crate) fn begin(client: &mut Client) -> Result<Option<Vec<String>>> {
    client.batch_execute("BEGIN")?;
    match take_empty_store(client) {
        Ok(Some(deferred)) => Ok(Some(deferred)),
        Ok(None) => {
            client.batch_execute("ROLLBACK")?;
            Ok(None)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            match e {
                Error::Postgres(e) if is_lock_unavailable(&e) => Ok(None),
                e => Err(e),
            }
        }
    }
}

/// The body of [`begin`], inside its transaction.
fn take_empty_store(client: &mut Client) -> Result<Option<Vec<String>>> {
    client.batch_execute(
        "SELECT value FROM meta WHERE key = 'revision' FOR UPDATE NOWAIT;
         LOCK TABLE users, identities IN ACCESS EXCLUSIVE MODE NOWAIT",
    )?;
    let has_users: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])?
        .get(0);
    if has_users {
        return Ok(None);
    }
    let indexes = client.query(
        &format!(
            "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.indrelid = ANY ({DEFERRED_TABLES})
               AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
             ORDER BY c.relname"
        ),
        &[],
    )?;
    let mut deferred = Vec::with_capacity(indexes.len());
    for row in indexes {
        let (drop, create): (String, String) = (row.get(0), row.get(1));
        client.batch_execute(&drop)?;
        deferred.push(create);
    }
    Ok(Some(deferred))
}

/// Builds the indexes [`begin`] dropped, inside the load's transaction.
pub(crate) fn build_indexes(client: &mut Client, deferred: Vec<String>) -> Result<()> {
    for create in deferred {
        client.batch_execute(&create)?;
    }
    Ok(())
}

/// True when a `NOWAIT` lock was refused: another connection holds it.
fn is_lock_unavailable(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE)
}
