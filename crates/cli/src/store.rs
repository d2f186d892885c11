//! Opening the store named by `--db`.

use userimport::StoreUrl;
use userimport::sink::SqliteSink;

use crate::Failure;

/// A store for reading only (`check`, `plan`, `export`): never created or
/// migrated; a missing one is empty.
pub fn open_read(url: &str) -> Result<SqliteSink, Failure> {
    match url.parse::<StoreUrl>().map_err(Failure)? {
        StoreUrl::Sqlite(path) => Ok(SqliteSink::open_existing(&path)
            .map_err(|e| Failure(format!("cannot open store {}: {e}", path.display())))?),
        other => Err(unsupported(&other)),
    }
}

/// A store for writing (`apply`, `groups add`): created and migrated if needed.
pub fn open_write(url: &str) -> Result<SqliteSink, Failure> {
    match url.parse::<StoreUrl>().map_err(Failure)? {
        StoreUrl::Sqlite(path) => Ok(SqliteSink::open(&path)
            .map_err(|e| Failure(format!("cannot open store {}: {e}", path.display())))?),
        other => Err(unsupported(&other)),
    }
}

fn unsupported(url: &StoreUrl) -> Failure {
    Failure(format!(
        "store {url}: this build supports SQLite stores only"
    ))
}
