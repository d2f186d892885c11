//! What a store failure means, said so an operator knows what to do:
//! "the password was refused", "another application's `users` table",
//! "locked by another connection", never a bare "db error".

#[cfg(feature = "postgres")]
use std::error::Error as _;

#[cfg(feature = "postgres")]
use postgres::error::SqlState;
#[cfg(feature = "sqlite")]
use rusqlite::ErrorCode;

/// How long an SQLite statement waits for another connection's lock.
#[cfg(feature = "sqlite")]
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// True when SQLite gave up waiting for another connection's lock.
#[cfg(feature = "sqlite")]
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(err.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// An SQLite failure in words.
#[cfg(feature = "sqlite")]
pub(crate) fn describe_sqlite(e: &rusqlite::Error) -> String {
    if let rusqlite::Error::SqliteFailure(err, _) = e {
        match err.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return "the store is locked by another connection (an apply or a job writing, \
                        or a first import loading in bulk); try again once it is done"
                    .to_string();
            }
            ErrorCode::NotADatabase => {
                return "the file is not an SQLite database (or is encrypted or damaged)"
                    .to_string();
            }
            ErrorCode::ReadOnly => {
                return format!(
                    "the store cannot be written here ({e}): check the file's and the folder's permissions"
                );
            }
            ErrorCode::CannotOpen => {
                return format!("{e}: check that the folder exists and may be read");
            }
            ErrorCode::DiskFull => return "the disk is full: nothing was written".to_string(),
            _ => {}
        }
    }
    let message = match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => Some(message),
        rusqlite::Error::SqlInputError { msg, .. } => Some(msg),
        _ => None,
    };
    if let Some(message) = message
        && message.starts_with("table ")
        && let Some(at) = message.find(" already exists")
    {
        return format!(
            "{} already exists, not made by userimport: use another file for the store",
            &message[..at]
        );
    }
    e.to_string()
}

/// A PostgreSQL failure in words, with the server's own message.
#[cfg(feature = "postgres")]
pub(crate) fn describe_postgres(e: &postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        // Connection-level: the cause holds the useful part.
        return match e.source() {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        };
    };
    let code = db.code();
    let what = if *code == SqlState::INVALID_PASSWORD {
        "the server refused the password: check the user and password in the URL"
    } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
        "the server refused the connection for this user: check the user in the URL and the server's pg_hba.conf"
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        "the database in the URL does not exist"
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        "the user lacks a privilege the store needs (create tables in the schema, or read and write them)"
    } else if *code == SqlState::DUPLICATE_TABLE {
        "a table of the store's name already exists, not made by userimport: put the store in a schema of its own (schema=NAME in the URL)"
    } else if *code == SqlState::LOCK_NOT_AVAILABLE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        "the store is locked by another connection; try again once it is done"
    } else if *code == SqlState::INVALID_SCHEMA_NAME {
        "the schema in the URL does not exist"
    } else {
        ""
    };
    if what.is_empty() {
        format!("{} {}: {}", db.severity(), code.code(), db.message())
    } else {
        format!("{what} ({}: {})", code.code(), db.message())
    }
}
