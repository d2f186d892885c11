//! The PostgreSQL store's bulk load: a first import into an empty store
//! leaves out the indexes of the tables it fills and builds them once, from
//! the loaded rows, just before it commits.
//!
//! The secondary indexes (the look-alike skeletons, the card ID, folded
//! identities) refuse no row. The unique constraints of `users` (member ID,
//! folded login ID, folded e-mail) do: kept row by row, each created user
//! costs an insert into each of them at a random place (and its WAL
//! record), which made up half the server's time of a load; one build
//! sorts them all. Nothing is weaker for it: the rows of one write are
//! checked against each other before they are copied, the loaded store was
//! empty, and the constraints are added again before the commit, so a key
//! held twice still refuses the load, with everything in it
//! ([`build_indexes`] names the key). The card-ID index holds only users
//! whose stored attributes name a card ID: it is kept while the load's users
//! have none (each row costs it only its condition, where a build would read
//! the whole table again) and dropped before the first write that copies a
//! user with one. The indexes are dropped inside the load's transaction: a
//! load that fails, is rolled back or loses its connection takes the drop
//! back with its rows.
//!
//! The price is concurrency, as for the SQLite store's bulk load: the load
//! holds `users` and `identities` exclusively until it commits, so other
//! connections wait to read them. It is therefore taken only when nobody
//! else holds a lock on them (asked without waiting) and the store has no
//! users, so the planner needs no look-ups. A unique constraint another
//! table's foreign key relies on is kept.

use postgres::Client;

use crate::{Error, Result};

/// The tables whose secondary indexes a bulk load builds after its rows.
const DEFERRED_TABLES: &str = "ARRAY['users'::regclass, 'identities'::regclass]";

/// The card-ID index (migration 9), which holds only the users whose stored
/// attributes contain [`CARD_MARK`].
const CARD_INDEX: &str = "users_card_id";

/// What the card-ID index's condition looks for in a user's stored JSON
/// (`strpos(data, '"card_id"') > 0`, migration 9).
const CARD_MARK: &str = "\"card_id\"";

/// A bulk load under way: what it left out, built again before it commits.
pub(crate) struct BulkLoad {
    /// The statements that add the constraints and indexes again, in order.
    deferred: Vec<String>,
    /// The card-ID index while it is kept: its `DROP` and `CREATE`.
    card_index: Option<(String, String)>,
}

impl BulkLoad {
    /// Called before users with the stored attributes `attributes` are
    /// copied (outside any savepoint, so that a rolled-back one does not take
    /// the drop back): the first time one meets the card-ID index's
    /// condition, drops that index, to be built after the rows. Kept, the
    /// index stays right whatever is written; this only spares it the rows.
    pub(crate) fn before_copy<'a>(
        &mut self,
        client: &mut Client,
        mut attributes: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        if self.card_index.is_none() || !attributes.any(|a| a.contains(CARD_MARK)) {
            return Ok(());
        }
        if let Some((drop, create)) = self.card_index.take() {
            client.batch_execute(&drop)?;
            self.deferred.push(create);
        }
        Ok(())
    }
}

/// Opens the load's transaction on `client` (outside any transaction):
/// takes the writers' revision lock and the two tables, checks that the
/// store holds no users and drops the unique constraints of `users` and
/// the tables' secondary indexes (the card-ID index waits for
/// [`BulkLoad::before_copy`]). Returns what to build again, for
/// [`build_indexes`], or `None` (with the transaction rolled back) when
/// another connection holds a lock the load needs or the store has users.
pub(crate) fn begin(client: &mut Client) -> Result<Option<BulkLoad>> {
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
fn take_empty_store(client: &mut Client) -> Result<Option<BulkLoad>> {
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
            "SELECT format('DROP INDEX %I.%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid),
                    i.indrelid = 'users'::regclass AND c.relname = '{CARD_INDEX}'
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.indrelid = ANY ({DEFERRED_TABLES})
               AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
             ORDER BY c.relname"
        ),
        &[],
    )?;
    // The unique constraints first: they are added again first, so that a
    // key held twice refuses the load before the other indexes are built.
    let mut deferred = defer_user_keys(client)?;
    let mut card_index = None;
    for row in indexes {
        let (drop, create, card): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if card {
            card_index = Some((drop, create));
        } else {
            client.batch_execute(&drop)?;
            deferred.push(create);
        }
    }
    Ok(Some(BulkLoad {
        deferred,
        card_index,
    }))
}

/// Drops the unique constraints of `users` (primary key and unique keys)
/// unless another table's foreign key relies on one of them; returns the
/// `ALTER TABLE … ADD CONSTRAINT` statements that add them again under
/// their own names, in column order (member ID, login ID, e-mail: the
/// order in which a write names a taken key).
fn defer_user_keys(client: &mut Client) -> Result<Vec<String>> {
    let keys = client.query(
        "SELECT format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, t.relname, c.conname),
                format('ALTER TABLE %I.%I ADD CONSTRAINT %I ', n.nspname, t.relname, c.conname)
                    || pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE c.conrelid = 'users'::regclass AND c.contype IN ('p', 'u')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = 'users'::regclass)
         ORDER BY c.conkey",
        &[],
    )?;
    let mut deferred = Vec::with_capacity(keys.len());
    for row in keys {
        let (drop, add): (String, String) = (row.get(0), row.get(1));
        client.batch_execute(&drop)?;
        deferred.push(add);
    }
    Ok(deferred)
}

/// Adds the constraints and builds the indexes [`begin`] dropped, inside
/// the load's transaction. A key two loaded users hold refuses the load
/// (the caller rolls it back), naming the key.
pub(crate) fn build_indexes(client: &mut Client, load: BulkLoad) -> Result<()> {
    for create in load.deferred {
        client.batch_execute(&create).map_err(refused_key)?;
    }
    Ok(())
}

/// A unique constraint that could not be added again: two loaded users
/// hold the same key. Said as the store's write would say it; any other
/// failure is passed on.
fn refused_key(e: postgres::Error) -> Error {
    let Some(db) = e.as_db_error() else {
        return Error::Postgres(e);
    };
    if db.code() != &postgres::error::SqlState::UNIQUE_VIOLATION {
        return Error::Postgres(e);
    }
    // "Key (login_key)=(e01500) is duplicated."
    let detail = db.detail().unwrap_or_default();
    let Some((column, value)) = detail
        .strip_prefix("Key (")
        .and_then(|rest| rest.strip_suffix(") is duplicated."))
        .and_then(|rest| rest.split_once(")=("))
    else {
        return Error::Postgres(e);
    };
    let what = match column {
        "login_key" => "login ID",
        "email_key" => "e-mail",
        "id" => "member ID",
        _ => column,
    };
    Error::Refused(format!(
        "two of the loaded users have the {what} {value:?} (compared as the store folds it): the load is rolled back, nothing was written"
    ))
}

/// True when a `NOWAIT` lock was refused: another connection holds it.
fn is_lock_unavailable(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE)
}
