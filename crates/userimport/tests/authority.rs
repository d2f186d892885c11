//! The one authority check, on every path and both stores.
//!
//! Every privileged change (grant a role or a group, change, delete or
//! suspend a user above the actor, act on oneself, sync deletions) × every
//! way to name the actor (member ID, login, e-mail, differently cased) ×
//! every write path (apply, `skip_invalid`, detach then resume, a job
//! resumed, a plan file, a plain library `Sink::apply`) × SQLite and
//! PostgreSQL: refused, with the store exactly as it was. Forged plan files
//! are refused too.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use userimport::plan::{Directory, Lookup, Plan, hash_password};
use userimport::sink::{JobSpec, Sink};
use userimport::{ApplyOptions, ImportSettings, Input, Store};

const POSTGRES_VAR: &str = "USERIMPORT_TEST_POSTGRES";

/// A store to test on: an SQLite file, or a fresh PostgreSQL schema.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres { base: String, schema: String },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Option<Db> {
        let Ok(base) = std::env::var(POSTGRES_VAR) else {
            assert!(
                std::env::var("CI").is_err(),
                "{POSTGRES_VAR} must be set in CI"
            );
            eprintln!("NOTE: PostgreSQL authority tests SKIPPED: {POSTGRES_VAR} is not set");
            return None;
        };
        let schema = format!(
            "a{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        Some(Db::Postgres { base, schema })
    }

    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.path().join("store.db").display()),
            Db::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}")
            }
        }
    }

    fn dir(&self) -> std::path::PathBuf {
        match self {
            Db::Sqlite(dir) => dir.path().to_path_buf(),
            Db::Postgres { .. } => std::env::temp_dir(),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { base, schema } = self
            && let Ok(mut client) = postgres::Client::connect(base, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("Secret-pass-1").unwrap())
}

/// `lead` (the actor: role Editor, group Sales), `bob` (group Tokyo),
/// `boss` (role Admin, group Executives), made by the operator.
fn seeded(db: &Db) -> Store {
    let h = hash();
    let users = format!(
        "login_id,name,email,password_hash,groups,roles\n\
         lead,Lead,lead@example.com,\"{h}\",Sales,Editor\n\
         bob,Bob,bob@example.com,\"{h}\",Tokyo,\n\
         boss,Boss,boss@example.com,\"{h}\",Executives,Admin\n"
    );
    let applied = userimport::apply(
        &db.url(),
        Input::Reader(Box::new(std::io::Cursor::new(users.into_bytes()))),
        &ImportSettings::default(),
        &ApplyOptions::default(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(applied.results.created, 3, "{:?}", applied.issues);
    Store::open(&db.url()).unwrap()
}

/// Everything the store holds that an import can change.
fn snapshot(store: &Store) -> String {
    let mut users = Vec::new();
    store
        .for_each_user(&mut |u| {
            users.push(format!(
                "{} {:?} {:?} {:?} {:?} {:?} {}",
                u.id, u.login, u.email, u.attributes, u.groups, u.roles, u.has_password
            ));
            true
        })
        .unwrap();
    format!("{users:#?}\n{:?}", store.groups().unwrap())
}

fn lead_id(store: &Store) -> i64 {
    store.find(&[Lookup::login("lead")]).unwrap()[0].id
}

/// The privileged changes: (name, file, mode).
fn changes() -> Vec<(&'static str, String, &'static str)> {
    let h = hash();
    vec![
        (
            "grant a role",
            format!(
                "login_id,name,email,password_hash,roles\nnewbie,New,new@example.com,\"{h}\",Admin\n"
            ),
            "upsert",
        ),
        (
            "grant a group",
            "login_id,groups\nbob,Executives\n".into(),
            "upsert",
        ),
        (
            "change a user above",
            "login_id,email\nboss,evil@example.com\n".into(),
            "upsert",
        ),
        (
            "delete a user above",
            "login_id,delete\nboss,1\n".into(),
            "upsert",
        ),
        (
            "suspend a user above",
            "login_id,status\nboss,Suspended\n".into(),
            "upsert",
        ),
        (
            "grant oneself a role",
            "login_id,roles\nlead,Admin\n".into(),
            "upsert",
        ),
        (
            "change one's own status",
            "login_id,status\nlead,Invalid\n".into(),
            "upsert",
        ),
        (
            "delete oneself",
            "login_id,delete\nlead,1\n".into(),
            "upsert",
        ),
        (
            "sync deletes a user above",
            "login_id\nlead\nbob\n".into(),
            "sync",
        ),
    ]
}

/// Every way to name the actor.
fn names(id: i64) -> Vec<String> {
    vec![
        id.to_string(),
        "lead".into(),
        "lead@example.com".into(),
        " LEAD@Example.COM ".into(),
        "Lead".into(),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Path {
    Apply,
    SkipInvalid,
    DetachThenResume,
    ResumeJob,
    PlanFile,
    SinkApply,
}

fn settings(mode: &str, actor: Option<&str>) -> ImportSettings {
    let mut s = ImportSettings::default();
    s.mode = mode.into();
    s.max_delete = 100.0;
    s.actor = actor.map(str::to_string);
    s
}

/// Runs `file` on `path` as `actor`; `true` when it was refused or failed
/// (the caller checks that nothing was written).
fn attempt(db: &Db, path: Path, file: &str, mode: &str, actor: &str) -> bool {
    let url = db.url();
    let on_disk = db.dir().join(format!(
        "in-{}-{}.csv",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::File::create(&on_disk)
        .unwrap()
        .write_all(file.as_bytes())
        .unwrap();
    let mut how = ApplyOptions::default();
    how.background_threshold = 0;
    let refused = |r: Result<userimport::Applied, userimport::Error>| match r {
        Err(_) => true,
        Ok(a) => a.refused || a.results.failed > 0 || !a.committed,
    };
    let outcome = match path {
        Path::Apply => {
            let s = settings(mode, Some(actor));
            refused(userimport::apply(
                &url,
                Input::Path(on_disk.clone()),
                &s,
                &how,
                &mut |_| true,
            ))
        }
        Path::SkipInvalid => {
            let mut s = settings(mode, Some(actor));
            s.skip_invalid = true;
            refused(userimport::apply(
                &url,
                Input::Path(on_disk.clone()),
                &s,
                &how,
                &mut |_| true,
            ))
        }
        Path::DetachThenResume => {
            let s = settings(mode, Some(actor));
            how.detach = true;
            match userimport::apply(&url, Input::Path(on_disk.clone()), &s, &how, &mut |_| true) {
                Err(_) => true,
                Ok(a) => match a.job {
                    None => a.refused,
                    Some(job) => {
                        let mut store = Store::open(&url).unwrap();
                        userimport::jobs::resume(&mut store, job.job.id, 1000, &mut |_| true)
                            .map_or(true, |j| j.failed > 0)
                    }
                },
            }
        }
        Path::ResumeJob => {
            // A job recorded for this file and actor (as another frontend
            // might have), then resumed.
            let mut store = Store::open(&url).unwrap();
            let sha = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(file.as_bytes()))
            };
            let id = store
                .create_job(&JobSpec {
                    file: on_disk.display().to_string(),
                    file_sha256: sha,
                    options: settings(mode, Some(actor)).to_json(),
                    rows_total: file.lines().count() as u64 - 1,
                })
                .unwrap();
            userimport::jobs::resume(&mut store, id, 1000, &mut |_| true).is_err()
        }
        Path::PlanFile => {
            // Planned by the operator, applied by the actor.
            let mut store = Store::open(&url).unwrap();
            let s = settings(mode, None);
            let checked = s.importer().unwrap().plan(file.as_bytes(), &store).unwrap();
            let mut plan = checked.plan.unwrap();
            plan.hash_passwords().unwrap();
            let plan = Plan::from_json(&plan.to_json().unwrap()).unwrap();
            let profile = s.load_profile().unwrap();
            userimport::apply_plan(&mut store, &plan, &profile, Some(actor), None).is_err()
        }
        Path::SinkApply => {
            // A plan made in-process, handed to the store with an actor.
            let mut store = Store::open(&url).unwrap();
            let s = settings(mode, None);
            let checked = s.importer().unwrap().plan(file.as_bytes(), &store).unwrap();
            let mut plan = checked.plan.unwrap();
            plan.options.actor = Some(actor.to_string());
            store.apply(&plan, &mut |_| true).is_err()
        }
    };
    let _ = std::fs::remove_file(&on_disk);
    outcome
}

fn every_privileged_change_is_refused_on(path: Path, db: fn() -> Option<Db>) {
    for (what, file, mode) in changes() {
        // One store per change: each refusal must leave it as it was, so
        // the next naming meets the same store.
        let Some(fresh) = db() else { return };
        let store = seeded(&fresh);
        let before = snapshot(&store);
        let id = lead_id(&store);
        drop(store);
        for name in names(id) {
            assert!(
                attempt(&fresh, path, &file, mode, &name),
                "{path:?}: {what} as {name:?} was not refused"
            );
            let after = snapshot(&Store::open(&fresh.url()).unwrap());
            assert_eq!(
                before, after,
                "{path:?}: {what} as {name:?} changed the store"
            );
        }
    }
}

fn sqlite() -> Option<Db> {
    Some(Db::sqlite())
}

macro_rules! matrix {
    ($($name:ident: $path:expr, $db:expr;)*) => {$(
        #[test]
        fn $name() {
            every_privileged_change_is_refused_on($path, $db);
        }
    )*};
}

matrix! {
    sqlite_apply: Path::Apply, sqlite;
    sqlite_skip_invalid: Path::SkipInvalid, sqlite;
    sqlite_detach_then_resume: Path::DetachThenResume, sqlite;
    sqlite_resume_job: Path::ResumeJob, sqlite;
    sqlite_plan_file: Path::PlanFile, sqlite;
    sqlite_sink_apply: Path::SinkApply, sqlite;
    postgres_apply: Path::Apply, Db::postgres;
    postgres_skip_invalid: Path::SkipInvalid, Db::postgres;
    postgres_detach_then_resume: Path::DetachThenResume, Db::postgres;
    postgres_resume_job: Path::ResumeJob, Db::postgres;
    postgres_plan_file: Path::PlanFile, Db::postgres;
    postgres_sink_apply: Path::SinkApply, Db::postgres;
}

/// What the actor may do still goes through on every naming: the
/// refusals above are about authority, not about naming.
#[test]
fn the_actor_named_any_way_may_do_what_it_holds() {
    let db = Db::sqlite();
    let id = lead_id(&seeded(&db));
    for (i, name) in names(id).into_iter().enumerate() {
        let file = format!("login_id,name,groups\nbob,Bob {i},Sales\n");
        let applied = userimport::apply(
            &db.url(),
            Input::Reader(Box::new(std::io::Cursor::new(file.into_bytes()))),
            &settings("upsert", Some(&name)),
            &ApplyOptions::default(),
            &mut |_| true,
        )
        .unwrap();
        assert!(
            applied.committed && !applied.refused,
            "{name:?}: {:?}",
            applied.issues
        );
    }
}

#[test]
fn an_actor_that_names_nobody_is_refused_with_a_true_message() {
    let db = Db::sqlite();
    seeded(&db);
    let err = userimport::apply(
        &db.url(),
        Input::Reader(Box::new(std::io::Cursor::new(
            b"login_id,name\nbob,B\n".to_vec(),
        ))),
        &settings("upsert", Some("nobody@example.com")),
        &ApplyOptions::default(),
        &mut |_| true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"nobody@example.com\" is not a user of the store"),
        "{err}"
    );
}

// ---- forged plan files ----

/// A plan the actor may apply (renaming bob), made on `db`, as JSON.
fn honest_plan(store: &Store) -> (serde_json::Value, userimport::schema::Profile) {
    let s = settings("upsert", Some("lead"));
    let checked = s
        .importer()
        .unwrap()
        .plan(&b"login_id,name\nbob,Robert\n"[..], store)
        .unwrap();
    assert!(checked.is_clean(), "{:?}", checked.issues);
    let plan = checked.plan.unwrap();
    (
        serde_json::from_str(&plan.to_json().unwrap()).unwrap(),
        s.load_profile().unwrap(),
    )
}

fn apply_json(
    store: &mut Store,
    json: &serde_json::Value,
    profile: &userimport::schema::Profile,
) -> Result<userimport::Applied, String> {
    let plan = Plan::from_json(&json.to_string()).map_err(|e| e.to_string())?;
    userimport::apply_plan(store, &plan, profile, Some("lead"), None).map_err(|e| e.to_string())
}

fn forged_is_refused(edit: impl Fn(&mut serde_json::Value), says: &str) {
    let db = Db::sqlite();
    let mut store = seeded(&db);
    let (mut json, profile) = honest_plan(&store);
    edit(&mut json);
    let before = snapshot(&store);
    let err = apply_json(&mut store, &json, &profile).expect_err("a forged plan was applied");
    assert!(err.contains(says), "{err}");
    assert_eq!(snapshot(&store), before);
}

fn update(json: &mut serde_json::Value) -> &mut serde_json::Value {
    &mut json["changes"][0]
}

#[test]
fn the_honest_plan_applies() {
    let db = Db::sqlite();
    let mut store = seeded(&db);
    let (json, profile) = honest_plan(&store);
    let applied = apply_json(&mut store, &json, &profile).unwrap();
    assert_eq!(applied.results.updated, 1);
}

#[test]
fn a_plan_granting_a_role_past_the_actor_is_refused_whatever_its_profile_is_called() {
    for name in ["standard", "Team", "team-custom"] {
        forged_is_refused(
            |j| {
                j["profile"] = name.into();
                update(j)["roles"] = serde_json::json!({"added": ["Admin"]});
            },
            "does not hold role \"Admin\"",
        );
    }
}

#[test]
fn a_plan_made_with_another_profile_is_refused() {
    let db = Db::sqlite();
    let mut store = seeded(&db);
    let (json, _) = honest_plan(&store);
    let toml = userimport::schema::Profile::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/profiles/learning.toml"
    ))
    .unwrap();
    let err = apply_json(&mut store, &json, &toml).unwrap_err();
    assert!(err.contains("another profile"), "{err}");
}

#[test]
fn a_plan_changing_a_login_id_is_refused() {
    forged_is_refused(
        |j| {
            update(j)["diff"] = serde_json::json!([
                {"column": "login_id", "field": "login", "old": "bob", "new": "boss2"}
            ]);
        },
        "never changes once created",
    );
}

#[test]
fn a_plan_setting_a_password_without_update_passwords_is_refused() {
    let h = hash().to_string();
    forged_is_refused(
        move |j| {
            update(j)["password"] = serde_json::json!({"kind": "hash", "value": h});
        },
        "without update_passwords",
    );
}

#[test]
fn a_plan_with_a_forged_hash_is_refused() {
    forged_is_refused(
        |j| {
            j["options"]["update_passwords"] = true.into();
            update(j)["password"] = serde_json::json!({"kind": "hash", "value": "not-a-hash"});
        },
        "not a supported password hash",
    );
}

#[test]
fn a_plan_creating_a_user_with_no_name_is_refused() {
    forged_is_refused(
        |j| {
            j["changes"][0] = serde_json::json!({
                "op": "create", "line": 2, "row": 1,
                "user": {"login": "ghost", "email": null, "attributes": {"status": "Valid"},
                         "groups": [], "roles": [], "identities": [], "password": null}
            });
        },
        "Name is required",
    );
}

#[test]
fn a_plan_made_on_another_store_is_refused_at_the_same_revision() {
    let a = Db::sqlite();
    let b = Db::sqlite();
    let store_a = seeded(&a);
    let mut store_b = seeded(&b);
    assert_eq!(store_a.revision().unwrap(), store_b.revision().unwrap());
    let (json, profile) = honest_plan(&store_a);
    let before = snapshot(&store_b);
    let err = apply_json(&mut store_b, &json, &profile).unwrap_err();
    assert!(err.contains("another store"), "{err}");
    assert_eq!(snapshot(&store_b), before);
}

#[test]
fn a_plan_whose_change_names_a_missing_user_is_refused() {
    forged_is_refused(
        |j| {
            update(j)["id"] = 999.into();
        },
        "not in the store",
    );
}
