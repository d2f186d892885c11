//! `--init-foreign-db`: the one store option given before any store opens.

use std::sync::atomic::{AtomicBool, Ordering};

use userimport::sink::{Error as SinkError, StoreOptions};

static INIT_FOREIGN: AtomicBool = AtomicBool::new(false);

/// Records `--init-foreign-db` (called once, from `main`).
pub fn set_init_foreign(on: bool) {
    INIT_FOREIGN.store(on, Ordering::Relaxed);
}

/// The options stores are opened for writing with.
pub fn get() -> StoreOptions {
    StoreOptions::init_foreign(INIT_FOREIGN.load(Ordering::Relaxed))
}

/// The store's error, with the flag that lifts a refusal of a foreign
/// database.
pub fn advise(e: userimport::Error) -> String {
    match e {
        userimport::Error::Open {
            url,
            source: SinkError::Foreign(text),
        } => format!(
            "cannot open store {url}: {text}: check --db, or pass --init-foreign-db to create them there"
        ),
        other => other.to_string(),
    }
}
