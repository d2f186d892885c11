//! Opening the store named by `--db` (the library does the work).

pub use userimport::Store;

use crate::Failure;

/// A store for reading only (`check`, `plan`, `export`): never created or
/// migrated; a missing one is empty.
pub fn open_read(url: &str) -> Result<Store, Failure> {
    Ok(Store::open_existing(url)?)
}

/// A store for writing (`apply`, `groups add`): created and migrated if needed.
pub fn open_write(url: &str) -> Result<Store, Failure> {
    Store::open_with(url, &crate::store_options::get())
        .map_err(|e| Failure(crate::store_options::advise(e)))
}
