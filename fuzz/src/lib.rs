//! What the fuzz targets share: the store every target starts from (the
//! users of `seed-store.csv`, which `seed-corpus.sh` also loads with the CLI
//! to make the plan files of the `plan_json` corpus), passwords kept away from
//! argon2, and the store's users in a form two stores can be compared in.
//!
//! Only the fuzz targets use this; a failure here is a finding, so it panics.

use std::sync::OnceLock;

use userimport::Importer;
use userimport::plan::{Directory, Plan, PlanOptions, StoredUser, fold};
use userimport::schema::Profile;
use userimport::sink::Sink;

/// The seed store's users as an import file (standard profile): `admin`
/// (role Manager, in every group the examples name) and `user`.
pub const SEED_CSV: &str = include_str!("../seed-store.csv");

/// The one actor the targets import as: `admin` of [`SEED_CSV`].
pub const ACTOR: &str = "admin";

/// One argon2id hash, made once: every password a target writes is this
/// hash, so a run measures the write path rather than argon2.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        userimport::plan::hash_password("fuzz-seed-password-1").expect("argon2 hashes")
    })
}

/// Replaces every password a plan would hash at apply time (plaintext from
/// the file, or generated) by [`password_hash`]; returns how many.
pub fn prehash(plan: &mut Plan) -> usize {
    use userimport::plan::PasswordSource;
    let mut n = 0;
    for change in &mut plan.changes {
        if let Some(source) = change.password_mut()
            && !matches!(source, PasswordSource::Hash(_))
        {
            *source = PasswordSource::Hash(password_hash().to_string());
            n += 1;
        }
    }
    n
}

/// The team profile's seed users (the built-in `team` profile keys on the
/// e-mail and only names groups that exist: [`TEAM_GROUPS`] come first).
pub const TEAM_SEED_CSV: &str = "Current Status,Display Name,Primary Email,Role,Groups\r\n\
    Active,Admin,admin@example.com,Admin,\"Sales,Support,Escalations,Engineering\"\r\n\
    Active,User,user@example.com,User,Support\r\n";

/// The groups a team store holds before its seed users.
pub const TEAM_GROUPS: [&str; 4] = ["Sales", "Support", "Escalations", "Engineering"];

/// The actor a profile's import runs as: the seed's `admin`, named by its
/// login ID, or by its e-mail where the profile has no login column.
pub fn actor(profile: &str) -> &'static str {
    match profile {
        "team" => "admin@example.com",
        _ => ACTOR,
    }
}

/// The plan that loads the seed users of `profile` (its [`TEAM_SEED_CSV`]
/// for `team`, [`SEED_CSV`] with the standard profile for any other) into
/// an empty store, made once, passwords pre-hashed.
pub fn seed_plan(profile: &str) -> &'static Plan {
    static STANDARD: OnceLock<Plan> = OnceLock::new();
    static TEAM: OnceLock<Plan> = OnceLock::new();
    let make = |profile: Profile, csv: &str, groups: &[&str], revision| {
        let options = PlanOptions {
            generate_passwords: true,
            ..PlanOptions::default()
        };
        let importer = Importer::builder(&profile).plan_options(options).build();
        let groups = groups.iter().map(|g| g.to_string()).collect();
        let empty = userimport::plan::EmptyDirectory::new(revision, groups);
        let checked = importer
            .plan(csv.as_bytes(), &empty)
            .expect("the seed file plans");
        assert!(
            checked.is_clean(),
            "the seed file checks clean: {:?}",
            checked.issues
        );
        let mut plan = checked.plan.expect("a plan");
        prehash(&mut plan);
        plan
    };
    match profile {
        "team" => TEAM.get_or_init(|| make(Profile::team(), TEAM_SEED_CSV, &TEAM_GROUPS, 1)),
        _ => STANDARD.get_or_init(|| make(Profile::standard(), SEED_CSV, &[], 0)),
    }
}

/// `store` (empty) with the seed users of `profile` applied (and for
/// `team` its groups added first).
pub fn seeded<S: Sink>(profile: &str, mut store: S) -> S
where
    S::Error: std::fmt::Debug,
{
    if profile == "team" {
        let groups: Vec<String> = TEAM_GROUPS.iter().map(|g| g.to_string()).collect();
        store.add_groups(&groups).expect("groups add");
    }
    let outcome = store
        .apply(seed_plan(profile), &mut |_| true)
        .expect("the seed plan applies");
    assert!(outcome.committed && outcome.created == 2, "{outcome:?}");
    store
}

/// A fresh in-memory SQLite store holding the seed users of `profile`.
pub fn seeded_sqlite(profile: &str) -> userimport::sink::SqliteSink {
    let store = userimport::sink::SqliteSink::open_in_memory().expect("in-memory SQLite opens");
    seeded(profile, store)
}

/// A fresh memory store holding the seed users of `profile`.
pub fn seeded_memory(profile: &str) -> userimport::sink::MemorySink {
    seeded(profile, userimport::sink::MemorySink::new())
}

/// Every user of `dir` in member ID order, without the timestamps (which
/// differ between two stores written a moment apart).
pub fn users<D: Directory>(dir: &D) -> Vec<StoredUser>
where
    D::Error: std::fmt::Debug,
{
    let mut out = Vec::new();
    dir.for_each_user(&mut |u| {
        let mut u = u.clone();
        u.created_at = None;
        u.updated_at = None;
        out.push(u);
        true
    })
    .expect("the store lists its users");
    out
}

/// Panics when two users share a login ID or an e-mail address (folded:
/// trimmed, lowercase), as no store may hold them.
pub fn assert_keys_unique(users: &[StoredUser]) {
    let mut logins = std::collections::HashMap::new();
    let mut emails = std::collections::HashMap::new();
    for u in users {
        if let Some(login) = &u.login
            && let Some(other) = logins.insert(fold(login), u.id)
        {
            panic!("users {other} and {} share the login ID {login:?}", u.id);
        }
        if let Some(email) = &u.email
            && let Some(other) = emails.insert(fold(email), u.id)
        {
            panic!("users {other} and {} share the e-mail {email:?}", u.id);
        }
    }
}

/// What `seed-corpus.sh` writes as the store ID of its plan files (in place
/// of the random ID of the store it planned them on, a copy of the seed
/// store): the `plan_json` target puts its own store's ID there, so those
/// plans reach the checks past the store's identity.
pub const SEED_STORE_ID: &str = "fuzz-seed-store";

/// A profile by the name a plan records: a built-in one, or one of the
/// example profiles (`examples/profiles/*.toml`) the seed plans are made with.
pub fn profile_named(name: &str) -> Option<Profile> {
    const EXAMPLES: [&str; 2] = [
        include_str!("../../examples/profiles/learning.toml"),
        include_str!("../../examples/profiles/members.toml"),
    ];
    Profile::builtin(name).or_else(|| {
        EXAMPLES
            .iter()
            .filter_map(|toml| Profile::from_toml(toml).ok())
            .find(|p| p.name == name)
    })
}
