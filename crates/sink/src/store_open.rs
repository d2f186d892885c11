//! What opening a store may do: refuse to add the store's tables to a
//! database that holds another application's, and put a PostgreSQL store
//! in a schema of its own (`?schema=NAME` in the URL).

use crate::Error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::Result;

/// Options for opening a store to write ([`SqliteSink::open_with`],
/// [`PostgresSink::open_with`]).
///
/// [`SqliteSink::open_with`]: crate::SqliteSink::open_with
/// [`PostgresSink::open_with`]: crate::PostgresSink::open_with
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Create the store's tables in a database (or PostgreSQL schema) that
    /// already holds tables of another application. Off by default: a
    /// mistyped `--db` must not spread 13 tables into an unrelated database.
    pub init_foreign: bool,
}

impl StoreOptions {
    /// Options that allow (`true`) creating the store beside other tables.
    pub fn init_foreign(init_foreign: bool) -> StoreOptions {
        StoreOptions { init_foreign }
    }
}

/// The refusal for a database with `tables` of another application.
pub(crate) fn foreign(place: &str, tables: &[String]) -> Error {
    let mut shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    if tables.len() > 5 {
        shown.push("…");
    }
    Error::Foreign(format!(
        "{place} holds {} table(s) of another application ({}) and no userimport store: the store's tables are created beside them only when asked to",
        tables.len(),
        shown.join(", ")
    ))
}

/// Splits `schema=NAME` off a PostgreSQL URL: the URL to connect with and
/// the schema, checked to be a plain identifier.
#[cfg(feature = "postgres")]
pub(crate) fn split_schema(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", value)) => schema = Some(value.to_string()),
            _ => rest.push(pair),
        }
    }
    if let Some(name) = &schema {
        let plain = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(Error::Refused(format!(
                "schema={name:?}: a schema name is letters, digits and _ (at most 63), starting with a letter or _"
            )));
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, schema))
}

/// True when SQLite could not write what a reader needs (the WAL index
/// beside the file in a read-only folder, say).
#[cfg(feature = "sqlite")]
fn is_permission(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if matches!(err.code, ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied)
    )
}

/// Opens an existing SQLite store for reading only (`check`, `plan`,
/// `export`) without leaving anything behind:
///
/// - a file this user may write is opened read-write with `query_only`
///   on, so the last connection to close removes the `-wal` and `-shm`
///   files as a writer's would (a read-only connection leaves them);
/// - a file this user may not write, with no pending `-wal`, is read as
///   immutable: no `-shm` is created (a read-only folder works, and no
///   file owned by this user is left beside another user's store);
/// - otherwise a plain read-only connection, which needs the `-shm`.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_reader(
    path: &std::path::Path,
    busy: std::time::Duration,
) -> Result<rusqlite::Connection> {
    use rusqlite::{Connection, MAIN_DB, OpenFlags};
    let ready = |conn: Connection| -> rusqlite::Result<Connection> {
        conn.busy_timeout(busy)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))?;
        Ok(conn)
    };
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    if !conn.is_readonly(MAIN_DB)? {
        return Ok(ready(conn)?);
    }
    drop(conn);
    if !wal_pending {
        return Ok(ready(Connection::open_with_flags(
            immutable_uri(path),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?)?);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    ready(conn).map_err(|e| {
        if is_permission(&e) {
            Error::Refused(format!(
                "the store {} has writes not yet merged into it (its -wal file) and this user cannot open them here: open it once as its owner, or read it where its folder may be written",
                path.display()
            ))
        } else {
            e.into()
        }
    })
}

/// `file:PATH?immutable=1`, the path percent-encoded where a URI needs it.
#[cfg(feature = "sqlite")]
fn immutable_uri(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    let mut uri = String::from("file:");
    for c in text.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Refuses an SQLite database without our schema but with other tables,
/// unless `options` allow it.
#[cfg(feature = "sqlite")]
pub(crate) fn refuse_foreign_sqlite(
    conn: &rusqlite::Connection,
    options: &StoreOptions,
) -> Result<()> {
    if options.init_foreign {
        return Ok(());
    }
    // One statement, one snapshot: another connection may be creating the
    // store's tables right now, and its tables come with its version.
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND (SELECT user_version FROM pragma_user_version) = 0 ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(foreign("the database", &tables))
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn the_schema_comes_off_the_url() {
        let (url, schema) =
            split_schema("postgres://u:p@h/db?schema=hr_users&sslmode=disable").unwrap();
        assert_eq!(url, "postgres://u:p@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("hr_users"));
        let (url, schema) = split_schema("postgres://h/db").unwrap();
        assert_eq!((url.as_str(), schema), ("postgres://h/db", None));
        for bad in ["a;drop", "1x", "a\"b", ""] {
            assert!(
                split_schema(&format!("postgres://h/db?schema={bad}")).is_err(),
                "{bad}"
            );
        }
    }
}
