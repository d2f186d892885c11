//! The store having moved since a file was checked: the guard behind
//! [`crate::ApplyOptions::expected_revision`] and [`Error::StoreMoved`].

use userimport_plan::Directory;
use userimport_sink::{Revision, Sink};

use crate::{Error, Store};

/// Refuses with [`Error::StoreMoved`] when the store is no longer at
/// `expected`: `seen` is the revision a plan or check was made against
/// (read now when `None`).
pub(crate) fn guard(store: &Store, expected: Option<u64>, seen: Option<u64>) -> Result<(), Error> {
    let Some(checked) = expected else {
        return Ok(());
    };
    let now = match seen {
        Some(revision) => revision,
        None => store.revision()?,
    };
    if now == checked {
        return Ok(());
    }
    let history = store.history_since(checked).unwrap_or_default();
    Err(Error::StoreMoved {
        checked,
        now,
        history,
    })
}

/// A write refused because the store moved after planning is, to a caller
/// who gave the revision it checked at, the store having moved.
pub(crate) fn moved_if_drift(error: Error, expected: Option<u64>) -> Error {
    match (error, expected) {
        (
            Error::Sink(userimport_sink::Error::Drift {
                current, history, ..
            }),
            Some(checked),
        ) => Error::StoreMoved {
            checked,
            now: current,
            history,
        },
        (error, _) => error,
    }
}

/// What moved the store, for [`Error::StoreMoved`]'s message.
pub(crate) fn history_text(history: &[Revision]) -> String {
    if history.is_empty() {
        return String::new();
    }
    let what: Vec<String> = history.iter().map(ToString::to_string).collect();
    format!(": {}", what.join("; "))
}
