//! A plan file (JSON bytes, as `userimport plan -o` writes it and as anyone
//! may edit it before `userimport apply PLAN.json`) → `Plan::from_json` →
//! the write path's authority and validation check → an in-memory SQLite
//! store holding the seed users (`seed-store.csv`).
//!
//! - a plan that loads saves and loads back unchanged;
//! - an applied plan leaves login IDs and e-mails unique and bumps the
//!   revision exactly once (not at all when it wrote nothing);
//! - a refused plan leaves the store as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::plan::{Directory, PasswordSource, Plan};
use userimport::sink::Sink;
use userimport_fuzz::{assert_keys_unique, seeded_sqlite, users};

/// Plans larger than this are left alone: they test the fuzzer's patience,
/// not the write path.
const MAX_CHANGES: usize = 2_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(plan) = Plan::from_json(text) else {
        return;
    };
    let saved = plan.to_json().expect("a loaded plan saves");
    let again = Plan::from_json(&saved).expect("a saved plan loads");
    assert_eq!(plan, again, "save → load changed the plan");
    // A generated password costs one argon2id hash (19 MiB) at apply time.
    let generated = plan
        .changes
        .iter()
        .filter(|c| matches!(c.password(), Some(PasswordSource::Generate)))
        .count();
    if plan.changes.len() > MAX_CHANGES || generated > 1 {
        return;
    }

    let mut store = seeded_sqlite("standard");
    let before = users(&store);
    let revision = store.revision().expect("revision");
    let applied = store.apply(&plan, &mut |_| true);
    let now = store.revision().expect("revision");
    let after = users(&store);
    match applied {
        Err(_) => {
            assert_eq!(now, revision, "a refused plan moved the revision");
            assert_eq!(after, before, "a refused plan changed users");
        }
        Ok(outcome) => {
            assert_eq!(outcome.revision, now, "{outcome:?}");
            let wrote = outcome.created + outcome.updated + outcome.deleted > 0
                || !outcome.created_groups.is_empty();
            if outcome.committed && wrote {
                assert_eq!(now, revision + 1, "one apply, one revision: {outcome:?}");
            } else if !outcome.committed {
                assert_eq!(now, revision, "a rolled-back apply moved the revision");
                assert_eq!(after, before, "a rolled-back apply changed users");
            } else {
                assert_eq!(now, revision, "nothing written, yet the revision moved");
            }
            assert_keys_unique(&after);
            let _ = userimport::write_results_csv(&outcome.results, std::io::sink());
        }
    }
});
