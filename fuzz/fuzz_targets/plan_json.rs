//! A plan file (JSON bytes, as `userimport plan -o` writes it and as anyone
//! may edit it before `userimport apply PLAN.json`) → `Plan::from_json` →
//! `userimport::apply_plan` (the write path's one check, `Plan::verify`:
//! profile, store, every change as a row of a file, the actor's authority)
//! → an in-memory SQLite store holding the seed users (`seed-store.csv`).
//!
//! - a plan that loads saves and loads back unchanged;
//! - a refused plan leaves the store as it was;
//! - an applied plan leaves login IDs and e-mails unique, every stored
//!   password a PHC hash, and bumps the revision exactly once (not at all
//!   when it wrote nothing); for the standard profiles, the store's export
//!   then checks without an error.
//!
//! The profile is the one the plan names (built-in, or an example profile);
//! the store ID `fuzz-seed-store` (what `seed-corpus.sh` writes into its plan
//! files in place of its seed store's random ID) stands for this store's.
//! A file of odd length is applied by actor `admin`, of even length by the
//! operator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::plan::{Directory, PasswordSource, Plan};
use userimport::schema::Profile;
use userimport::sink::SqliteSink;
use userimport::{ExportOptions, Importer, OutputCharset};
use userimport_fuzz::{
    ACTOR, SEED_STORE_ID, assert_keys_unique, prehash, profile_named, seeded_sqlite, users,
};

/// Plans larger than this are left alone: they test the fuzzer's patience,
/// not the write path.
const MAX_CHANGES: usize = 2_000;

/// Every stored password is a PHC string (argon2 or bcrypt), never the
/// text a plan file put there.
fn assert_hashes(store: &SqliteSink) {
    for user in users(store).iter().filter(|u| u.has_password) {
        let hash = store
            .password_hash(user.id)
            .expect("hash")
            .unwrap_or_default();
        assert!(
            hash.starts_with("$argon2") || hash.starts_with("$2"),
            "user {} has a stored password that is not a PHC hash",
            user.id
        );
    }
}

/// The store's export, checked with `profile`, has no error.
fn assert_export_checks(profile: &Profile, store: &SqliteSink) {
    let mut file = Vec::new();
    userimport::export(
        profile,
        store,
        &ExportOptions::default(),
        OutputCharset::UTF8,
        &mut file,
    )
    .expect("the store exports");
    let checked = Importer::builder(profile)
        .build()
        .check(&file[..], store)
        .expect("the export checks");
    let errors: Vec<_> = checked.errors().collect();
    assert!(
        errors.is_empty(),
        "an accepted plan left users whose export does not check: {errors:?}\n{}",
        String::from_utf8_lossy(&file)
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut plan) = Plan::from_json(text) else {
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
    if plan.changes.len() > MAX_CHANGES {
        return;
    }
    if generated > 1 {
        prehash(&mut plan);
    }
    let profile = profile_named(&plan.profile).unwrap_or_else(Profile::standard);
    let actor = (data.len() % 2 == 1).then_some(ACTOR);

    let mut store = seeded_sqlite("standard");
    if plan.store_id.as_deref() == Some(SEED_STORE_ID) {
        plan.store_id = store.store_id().expect("store ID");
    }
    let before = users(&store);
    let revision = store.revision().expect("revision");
    let applied = userimport::apply_plan(&mut store, &plan, &profile, actor, None);
    let now = store.revision().expect("revision");
    let after = users(&store);
    let Ok(applied) = applied else {
        assert_eq!(now, revision, "a refused plan moved the revision");
        assert_eq!(after, before, "a refused plan changed users");
        return;
    };
    assert_eq!(applied.revision, now, "{applied:?}");
    let r = &applied.results;
    let wrote = r.created + r.updated + r.deleted > 0 || !applied.created_groups.is_empty();
    if applied.committed && wrote {
        assert_eq!(now, revision + 1, "one apply, one revision: {applied:?}");
    } else {
        assert_eq!(
            now, revision,
            "nothing written, yet the revision moved: {applied:?}"
        );
    }
    if !applied.committed {
        assert_eq!(after, before, "a rolled-back apply changed users");
    }
    assert_keys_unique(&after);
    assert_hashes(&store);
    if matches!(plan.profile.as_str(), "standard" | "learning") {
        assert_export_checks(&profile, &store);
    }
    let _ = applied.write_results(&store, std::io::sink());
});
