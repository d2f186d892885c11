//! One suite, two backends: every test here runs against a real SQLite file
//! in a temporary directory and against a real PostgreSQL server (a fresh
//! schema per test) named by `USERIMPORT_TEST_POSTGRES`. Without that
//! variable the PostgreSQL half is skipped, saying so on the terminal; in CI
//! (`CI=true`) a missing URL fails.

mod backends;

use backends::{Backend, TestStore, write_batch};

use userimport_plan::{
    Change, Directory, Field, FieldChange, ListChange, Merge, Mode, Plan, PlanOptions, Planner,
    SyncAction,
};
use userimport_schema::Profile;
use userimport_sink::{Error, Jobs, MemorySink, Outbox, Outcome, Sink, SqliteSink};

use userimport_validate::{Cell, ListEdit, Row, Secret};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdefghijklmnopqrstuvwxyzABCDE";

fn v(s: &str) -> Cell {
    Cell::Value(s.to_string())
}

fn list(add: &[&str], remove: &[&str]) -> Cell {
    Cell::List(ListEdit {
        add: add.iter().map(|s| s.to_string()).collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
    })
}

/// A row of the standard profile: `cells` set, every other column absent.
fn row(profile: &Profile, n: u64, cells: &[(&str, Cell)]) -> Row {
    let mut all = vec![Cell::Absent; profile.columns.len()];
    for (key, cell) in cells {
        let i = profile.column_index(key).expect("column");
        all[i] = cell.clone();
    }
    Row {
        line: n + 1,
        row: n,
        cells: all,
        valid: true,
    }
}

/// A new-user row with a pre-hashed password.
fn user(profile: &Profile, n: u64, login: &str, name: &str, email: &str) -> Row {
    row(
        profile,
        n,
        &[
            ("login_id", v(login)),
            ("name", v(name)),
            ("email", v(email)),
            ("password_hash", Cell::Secret(Secret::new(HASH))),
            ("groups", Cell::Blank),
            ("status", Cell::Blank),
            ("notify_announcements", Cell::Blank),
        ],
    )
}

fn plan_with(store: &impl Directory, rows: Vec<Row>, options: PlanOptions) -> Plan {
    Planner::plan_rows(&Profile::standard(), options, rows, store).expect("plan")
}

fn plan(store: &impl Directory, rows: Vec<Row>) -> Plan {
    plan_with(store, rows, PlanOptions::default())
}

fn apply(store: &mut impl Sink<Error = Error>, plan: &Plan) -> userimport_sink::ApplyOutcome {
    store.apply(plan, &mut |_| true).expect("apply")
}

fn seed(store: &mut impl Sink<Error = Error>) -> Vec<Row> {
    let p = Profile::standard();
    let rows = vec![
        user(&p, 1, "tanaka", "Hanako Tanaka", "hanako@example.com"),
        user(&p, 2, "suzuki", "Ichiro Suzuki", "ichiro@example.com"),
        user(&p, 3, "sato", "Yuki Sato", "yuki@example.com"),
    ];
    let plan = plan(store, rows.clone());
    assert!(plan.is_clean(), "{:?}", plan.issues);
    let out = apply(store, &plan);
    assert!(out.committed);
    rows
}

fn find_login(store: &impl Directory, login: &str) -> userimport_plan::StoredUser {
    store
        .find(&[userimport_plan::Lookup::login(login)])
        .expect("find")
        .into_iter()
        .next()
        .expect("user exists")
}

fn create_stores_users_with_defaults<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    assert_eq!(store.user_count().unwrap(), 3);
    assert_eq!(store.revision().unwrap(), 1);
    let u = find_login(&store, "TANAKA");
    assert_eq!(u.email.as_deref(), Some("hanako@example.com"));
    assert_eq!(u.attributes["name"], "Hanako Tanaka");
    assert_eq!(u.attributes["status"], "Valid");
    assert_eq!(u.attributes["notify_announcements"], "On");
    assert!(u.has_password);
    assert!(u.created_at.is_some());
    assert_eq!(store.hash_of(u.id).as_deref(), Some(HASH));
}

fn reapplying_the_same_rows_changes_nothing<B: Backend>(b: &B) {
    let mut store = b.open();
    let rows = seed(&mut store);
    let again = plan(&store, rows);
    let s = again.summary;
    assert_eq!((s.create, s.update, s.delete, s.unchanged), (0, 0, 0, 3));
    let out = apply(&mut store, &again);
    assert_eq!(out.unchanged, 3);
    // Nothing written: the revision does not move.
    assert_eq!(store.revision().unwrap(), 1);
}

fn edits_give_exact_field_updates<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let rows = vec![row(
        &p,
        1,
        &[
            ("login_id", v("Tanaka")),
            ("department", v("Sales")),
            ("name", v("Hanako Tanaka")),
            ("email", v("h.tanaka@example.com")),
            ("groups", list(&["Tokyo"], &[])),
        ],
    )];
    let plan = plan(&store, rows);
    assert_eq!(plan.summary.update, 1);
    assert_eq!(plan.created_groups, vec!["Tokyo".to_string()]);
    let Change::Update { diff, groups, .. } = &plan.changes[0] else {
        panic!("{:?}", plan.changes[0]);
    };
    let fields: Vec<(&str, Option<&str>, Option<&str>)> = diff
        .iter()
        .map(|c| (c.column.as_str(), c.old.as_deref(), c.new.as_deref()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("department", None, Some("Sales")),
            (
                "email",
                Some("hanako@example.com"),
                Some("h.tanaka@example.com")
            ),
        ]
    );
    assert_eq!(groups.added, vec!["Tokyo".to_string()]);
    let out = apply(&mut store, &plan);
    assert_eq!(out.updated, 1);
    let u = find_login(&store, "tanaka");
    assert_eq!(u.attributes["department"], "Sales");
    assert_eq!(u.email.as_deref(), Some("h.tanaka@example.com"));
    assert!(u.groups.contains("Tokyo"));
    assert!(store.groups().unwrap().contains("Tokyo"));
}

fn delete_flag_deletes<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let plan = plan(
        &store,
        vec![row(&p, 1, &[("login_id", v("sato")), ("delete", v("1"))])],
    );
    assert_eq!(plan.summary.delete, 1);
    let out = apply(&mut store, &plan);
    assert_eq!(out.deleted, 1);
    assert_eq!(store.user_count().unwrap(), 2);
    assert!(
        store
            .find(&[userimport_plan::Lookup::login("sato")])
            .unwrap()
            .is_empty()
    );

    // Deleting someone unknown is a row error.
    let plan = plan_with(
        &store,
        vec![row(&p, 1, &[("login_id", v("nobody")), ("delete", v("1"))])],
        PlanOptions::default(),
    );
    assert_eq!(plan.issues[0].code, "key.unknown");
}

fn sync_deletes_absent_users_under_the_threshold_guard<B: Backend>(b: &B) {
    let mut store = b.open();
    let rows = seed(&mut store);
    let sync = PlanOptions {
        mode: Mode::Sync,
        ..PlanOptions::default()
    };
    // Two of three kept: deleting one (33%) is over the default 10%.
    let refused = plan_with(&store, rows[..2].to_vec(), sync.clone());
    assert!(refused.is_refused());
    let guard = refused.issues.iter().find(|i| i.is_error()).unwrap();
    assert_eq!(guard.code, "sync.threshold");
    assert_eq!(guard.row, 0);
    assert!(guard.message.contains("1 of 3 users"), "{}", guard.message);
    assert!(matches!(
        store.apply(&refused, &mut |_| true),
        Err(Error::Refused(_))
    ));
    assert_eq!(store.user_count().unwrap(), 3);

    let allowed = plan_with(
        &store,
        rows[..2].to_vec(),
        PlanOptions {
            max_delete_percent: 50.0,
            ..sync.clone()
        },
    );
    assert!(allowed.is_clean());
    assert_eq!(allowed.summary.delete, 1);
    apply(&mut store, &allowed);
    assert_eq!(store.user_count().unwrap(), 2);

    // Suspending instead of deleting.
    let suspend = plan_with(
        &store,
        rows[..1].to_vec(),
        PlanOptions {
            max_delete_percent: 50.0,
            sync_action: SyncAction::Suspend,
            ..sync
        },
    );
    assert_eq!(suspend.summary.update, 1);
    apply(&mut store, &suspend);
    assert_eq!(
        find_login(&store, "suzuki").attributes["status"],
        "Suspended"
    );
}

fn a_failing_batch_leaves_the_store_untouched<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    // Two new users with the same e-mail: the planner cannot see it (the
    // validator's in-file check would), the store's unique index does.
    let rows = vec![
        row(&p, 1, &[("login_id", v("tanaka")), ("department", v("HR"))]),
        user(&p, 2, "kato", "Kato", "same@example.com"),
        user(&p, 3, "ito", "Ito", "SAME@example.com"),
    ];
    let plan = plan(&store, rows);
    assert!(plan.is_clean());
    let out = apply(&mut store, &plan);
    assert!(!out.committed);
    assert_eq!(out.failed, 1);
    assert_eq!(out.skipped, 2);
    let failed = out
        .results
        .iter()
        .find(|r| r.outcome == Outcome::Failed)
        .unwrap();
    assert_eq!(failed.line, 4);
    assert!(failed.reason.as_deref().unwrap().contains("e-mail"));
    assert_eq!(store.user_count().unwrap(), 3);
    assert_eq!(store.revision().unwrap(), 1);
    assert!(
        !find_login(&store, "tanaka")
            .attributes
            .contains_key("department")
    );
}

fn skip_invalid_applies_the_valid_rows<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let mut bad = user(&p, 2, "mori", "", "mori@example.com");
    bad.valid = false; // the validator found an error
    let rows = vec![
        user(&p, 1, "kato", "Kato", "kato@example.com"),
        bad,
        // A planning error: a new user without a name.
        row(
            &p,
            3,
            &[
                ("login_id", v("ito")),
                ("name", Cell::Blank),
                ("password_hash", Cell::Secret(Secret::new(HASH))),
            ],
        ),
    ];
    let strict = plan(&store, rows.clone());
    assert_eq!(strict.summary.invalid, 2);
    assert_eq!(strict.issues[0].code, "field.required");
    assert!(matches!(
        store.apply(&strict, &mut |_| true),
        Err(Error::RowErrors(1))
    ));
    assert_eq!(store.user_count().unwrap(), 3);

    let lenient = plan_with(
        &store,
        rows,
        PlanOptions {
            skip_invalid: true,
            ..PlanOptions::default()
        },
    );
    let out = apply(&mut store, &lenient);
    assert!(out.committed);
    assert_eq!(out.created, 1);
    assert_eq!(store.user_count().unwrap(), 4);

    // skip-invalid also survives a row the store refuses.
    let rows = vec![
        user(&p, 1, "ueda", "Ueda", "dup@example.com"),
        user(&p, 2, "noda", "Noda", "dup@example.com"),
    ];
    let lenient = plan_with(
        &store,
        rows,
        PlanOptions {
            skip_invalid: true,
            ..PlanOptions::default()
        },
    );
    let out = apply(&mut store, &lenient);
    assert_eq!((out.created, out.failed), (1, 1));
    assert_eq!(store.user_count().unwrap(), 5);
}

fn drift_is_refused_naming_what_changed<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let plan = plan(
        &store,
        vec![row(
            &p,
            1,
            &[("login_id", v("tanaka")), ("position", v("Lead"))],
        )],
    );
    // The store moves on before the plan is applied.
    store.add_groups(&["Osaka".to_string()]).unwrap();
    let json = plan.to_json().unwrap();
    let back = Plan::from_json(&json).unwrap();
    let err = store.apply(&back, &mut |_| true).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::Drift {
                planned: 1,
                current: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("groups add Osaka"), "{msg}");
}

fn roles_and_groups_only_within_the_actors_authority<B: Backend>(b: &B) {
    let mut store = b.open();
    let p = Profile::standard();
    let admin = row(
        &p,
        1,
        &[
            ("login_id", v("admin")),
            ("name", v("Admin")),
            ("password_hash", Cell::Secret(Secret::new(HASH))),
            ("roles", list(&["UserManager"], &[])),
            ("groups", list(&["Sales"], &[])),
        ],
    );
    let setup = plan(&store, vec![admin]);
    apply(&mut store, &setup);
    let actor = PlanOptions {
        actor: Some("admin".to_string()),
        ..PlanOptions::default()
    };
    let mut granted = user(&p, 1, "kato", "Kato", "kato@example.com");
    granted.cells[p.column_index("roles").unwrap()] = list(&["UserManager"], &[]);
    granted.cells[p.column_index("groups").unwrap()] = list(&["Sales"], &[]);
    let ok = plan_with(&store, vec![granted], actor.clone());
    assert!(ok.is_clean(), "{:?}", ok.issues);

    let mut over = user(&p, 2, "ito", "Ito", "ito@example.com");
    over.cells[p.column_index("roles").unwrap()] = list(&["SystemAdmin"], &[]);
    over.cells[p.column_index("groups").unwrap()] = list(&["Board"], &[]);
    let denied = plan_with(&store, vec![over.clone()], actor);
    let codes: Vec<&str> = denied
        .issues
        .iter()
        .filter(|i| i.is_error())
        .map(|i| i.code.as_str())
        .collect();
    assert_eq!(codes, vec!["authority.denied", "authority.denied"]);
    assert_eq!(denied.summary.create, 0);

    // No actor: the operator, unrestricted.
    assert!(plan(&store, vec![over]).is_clean());
    // An unknown actor is refused outright.
    let unknown = Planner::new(
        &p,
        PlanOptions {
            actor: Some("ghost".to_string()),
            ..PlanOptions::default()
        },
        &store,
    );
    assert!(unknown.is_err());
}

fn a_blank_never_clears_and_clearing_is_explicit<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let blank = row(
        &p,
        1,
        &[
            ("login_id", v("tanaka")),
            ("name", Cell::Blank),
            ("email", Cell::Blank),
            ("groups", Cell::Blank),
            ("status", Cell::Blank),
        ],
    );
    let plan1 = plan(&store, vec![blank]);
    assert_eq!(plan1.summary.unchanged, 1);

    let clear = row(
        &p,
        1,
        &[
            ("login_id", v("tanaka")),
            ("email", Cell::Clear),
            ("groups", Cell::Clear),
        ],
    );
    let plan2 = plan(&store, vec![clear]);
    let Change::Update { diff, .. } = &plan2.changes[0] else {
        panic!()
    };
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].field, Field::Email);
    assert_eq!(diff[0].new, None);
    apply(&mut store, &plan2);
    assert_eq!(find_login(&store, "tanaka").email, None);
}

fn keep_existing_only_fills_blanks<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let rows = vec![row(
        &p,
        1,
        &[
            ("login_id", v("tanaka")),
            ("name", v("Someone Else")),
            ("department", v("Legal")),
            ("email", Cell::Clear),
        ],
    )];
    let plan = plan_with(
        &store,
        rows,
        PlanOptions {
            merge: Merge::KeepExisting,
            ..PlanOptions::default()
        },
    );
    let Change::Update { diff, .. } = &plan.changes[0] else {
        panic!("{:?}", plan.changes)
    };
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].column, "department");
    apply(&mut store, &plan);
    let u = find_login(&store, "tanaka");
    assert_eq!(u.attributes["name"], "Hanako Tanaka");
    assert_eq!(u.attributes["department"], "Legal");
    assert!(u.email.is_some());
}

fn no_plaintext_password_reaches_the_store<B: Backend>(b: &B) {
    let mut store = b.open();
    let p = Profile::standard();
    let secret = "Zebra-Quartz-9147-Plaintext";
    let rows = vec![row(
        &p,
        1,
        &[
            ("login_id", v("kato")),
            ("name", v("Kato")),
            ("password", Cell::Secret(Secret::new(secret))),
        ],
    )];
    let mut plan = plan(&store, rows);
    // The plan refuses to be written with plaintext inside, and hashes it.
    assert!(plan.to_json().is_err());
    assert_eq!(plan.hash_passwords().unwrap(), 1);
    let json = plan.to_json().unwrap();
    assert!(!json.contains(secret));
    let out = apply(&mut store, &plan);
    assert_eq!(out.created, 1);
    let id = out.results[0].id.unwrap();
    let hash = store.hash_of(id).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(userimport_plan::verify_password(secret, &hash));
    drop(store);
    let dump = b.dump();
    assert!(
        dump.windows(hash.len()).any(|w| w == hash.as_bytes()),
        "the dump holds the hash"
    );
    assert!(
        !dump.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the store holds the plaintext"
    );
}

fn generated_passwords_are_hashed_and_a_missing_one_is_an_error<B: Backend>(b: &B) {
    let mut store = b.open();
    let p = Profile::standard();
    let rows = vec![row(&p, 1, &[("login_id", v("kato")), ("name", v("Kato"))])];
    let missing = plan(&store, rows.clone());
    assert_eq!(missing.issues[0].code, "password.missing");
    let generated = plan_with(
        &store,
        rows,
        PlanOptions {
            generate_passwords: true,
            ..PlanOptions::default()
        },
    );
    let out = apply(&mut store, &generated);
    let hash = store.hash_of(out.results[0].id.unwrap()).unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

fn row_errors_of_matching<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let tanaka = find_login(&store, "tanaka").id;
    let rows = vec![
        // login of one user, e-mail of another
        row(
            &p,
            1,
            &[
                ("login_id", v("tanaka")),
                ("email", v("ichiro@example.com")),
            ],
        ),
        // login ID changed through the member ID
        row(
            &p,
            2,
            &[
                ("member_id", v(&tanaka.to_string())),
                ("login_id", v("hanako")),
            ],
        ),
        // a member ID that does not exist
        row(&p, 3, &[("member_id", v("999")), ("name", v("X"))]),
        // a new user cannot start suspended
        row(
            &p,
            4,
            &[
                ("login_id", v("new")),
                ("name", v("New")),
                ("status", v("Suspended")),
                ("password_hash", Cell::Secret(Secret::new(HASH))),
            ],
        ),
        // the same stored user twice
        row(&p, 5, &[("login_id", v("sato")), ("department", v("A"))]),
        row(
            &p,
            6,
            &[("email", v("YUKI@example.com")), ("department", v("B"))],
        ),
    ];
    let plan = plan(&store, rows);
    let codes: Vec<(u64, &str)> = plan
        .issues
        .iter()
        .map(|i| (i.row, i.code.as_str()))
        .collect();
    assert!(codes.contains(&(1, "key.ambiguous")), "{codes:?}");
    assert!(codes.contains(&(2, "login.immutable")), "{codes:?}");
    assert!(codes.contains(&(3, "key.unknown")), "{codes:?}");
    assert!(codes.contains(&(4, "status.suspended_new")), "{codes:?}");
    assert!(codes.contains(&(5, "key.duplicate")), "{codes:?}");
    assert!(codes.contains(&(6, "key.duplicate")), "{codes:?}");
    assert!(plan.issues[0].message.contains("tanaka") && plan.issues[0].message.contains("suzuki"));
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.summary.invalid, 6);
    let errors = plan.issues.iter().filter(|i| i.is_error()).count() as u64;
    assert_eq!(plan.summary.errors, errors);

    // Create mode refuses existing users; update mode unknown ones.
    let p2 = plan_with(
        &store,
        vec![user(&p, 1, "tanaka", "Hanako Tanaka", "hanako@example.com")],
        PlanOptions {
            mode: Mode::Create,
            ..PlanOptions::default()
        },
    );
    assert_eq!(p2.issues[0].code, "user.exists");
    let p3 = plan_with(
        &store,
        vec![user(&p, 1, "newbie", "N", "n@example.com")],
        PlanOptions {
            mode: Mode::Update,
            ..PlanOptions::default()
        },
    );
    assert_eq!(p3.issues[0].code, "key.unknown");
}

fn team_profile_refuses_unknown_groups<B: Backend>(b: &B) {
    let mut store = b.open();
    let p = Profile::team();
    store.add_groups(&["Group 1".to_string()]).unwrap();
    let mut cells = vec![Cell::Absent; p.columns.len()];
    cells[p.column_index("display_name").unwrap()] = v("John");
    cells[p.column_index("primary_email").unwrap()] = v("john@example.com");
    cells[p.column_index("groups").unwrap()] = list(&["group 1", "Group 9"], &[]);
    let r = Row {
        line: 2,
        row: 1,
        cells,
        valid: true,
    };
    let plan = Planner::plan_rows(&p, PlanOptions::default(), vec![r.clone()], &store).unwrap();
    assert_eq!(plan.issues.len(), 1);
    assert_eq!(plan.issues[0].code, "group.unknown");
    let mut ok = r;
    ok.cells[p.column_index("groups").unwrap()] = list(&["group 1"], &[]);
    let plan = Planner::plan_rows(&p, PlanOptions::default(), vec![ok], &store).unwrap();
    assert!(plan.is_clean(), "{:?}", plan.issues);
    apply(&mut store, &plan);
    let users = store
        .find(&[userimport_plan::Lookup::email("JOHN@example.com")])
        .unwrap();
    assert!(users[0].groups.contains("Group 1"));
}

#[test]
fn open_existing_never_creates_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let store = SqliteSink::open_existing(&path).unwrap();
    assert_eq!(store.user_count().unwrap(), 0);
    assert!(!path.exists());
    drop(store);

    let mut rw = SqliteSink::open(&path).unwrap();
    seed(&mut rw);
    drop(rw);
    let ro = SqliteSink::open_existing(&path).unwrap();
    assert_eq!(ro.user_count().unwrap(), 3);
    assert_eq!(
        ro.schema_version().unwrap(),
        userimport_sink::SCHEMA_VERSION
    );
}

fn memory_and_store_agree<B: Backend>(b: &B) {
    let p = Profile::standard();
    let rows = vec![
        user(&p, 1, "tanaka", "Hanako Tanaka", "hanako@example.com"),
        user(&p, 2, "suzuki", "Ichiro Suzuki", "ichiro@example.com"),
    ];
    let mut sql = b.open();
    let mut mem = MemorySink::new();
    let a = Planner::plan_rows(&p, PlanOptions::default(), rows.clone(), &sql).unwrap();
    let b = Planner::plan_rows(&p, PlanOptions::default(), rows.clone(), &mem).unwrap();
    assert_eq!(a.changes, b.changes);
    sql.apply(&a, &mut |_| true).unwrap();
    mem.apply(&b, &mut |_| true).unwrap();
    let edit = vec![row(
        &p,
        1,
        &[("login_id", v("suzuki")), ("groups", list(&["X"], &[]))],
    )];
    let a = Planner::plan_rows(&p, PlanOptions::default(), edit.clone(), &sql).unwrap();
    let b = Planner::plan_rows(&p, PlanOptions::default(), edit, &mem).unwrap();
    assert_eq!(a.changes, b.changes);
    let mut all_sql = Vec::new();
    sql.for_each_user(&mut |u| {
        all_sql.push((u.login.clone(), u.attributes.clone(), u.groups.clone()));
        true
    })
    .unwrap();
    let mut all_mem = Vec::new();
    mem.for_each_user(&mut |u| {
        all_mem.push((u.login.clone(), u.attributes.clone(), u.groups.clone()));
        true
    })
    .unwrap();
    assert_eq!(all_sql, all_mem);
}

fn many(p: &Profile, n: u64, dup_at: Option<u64>) -> Vec<Row> {
    (1..=n)
        .map(|i| {
            let email = if Some(i) == dup_at {
                "user1@example.com".to_string()
            } else {
                format!("user{i}@example.com")
            };
            user(p, i, &format!("user{i}"), &format!("User {i}"), &email)
        })
        .collect()
}

fn bulk_writes_find_the_refused_row<B: Backend>(b: &B) {
    let p = Profile::standard();
    let rows = many(&p, 300, Some(150));

    let mut store = b.open();
    let strict = plan(&store, rows.clone());
    let out = apply(&mut store, &strict);
    assert!(!out.committed);
    let failed: Vec<u64> = out
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .map(|r| r.row)
        .collect();
    assert_eq!(failed, vec![150]);
    assert_eq!(store.user_count().unwrap(), 0);
    assert_eq!(store.revision().unwrap(), 0);

    let lenient = plan_with(
        &store,
        rows,
        PlanOptions {
            skip_invalid: true,
            ..PlanOptions::default()
        },
    );
    let out = apply(&mut store, &lenient);
    assert!(out.committed);
    assert_eq!((out.created, out.failed), (299, 1));
    assert_eq!(store.user_count().unwrap(), 299);
    // Results carry the member IDs the store assigned.
    let r = out.results.iter().find(|r| r.row == 300).unwrap();
    let u = find_login(&store, "user300");
    assert_eq!(r.id, Some(u.id));
    assert_eq!(u.attributes["name"], "User 300");
    assert!(u.groups.is_empty());
}

fn member_ids_are_never_reused<B: Backend>(b: &B) {
    let p = Profile::standard();
    let mut store = b.open();
    let first = plan(&store, many(&p, 70, None));
    apply(&mut store, &first);
    let last = find_login(&store, "user70").id;
    let del = plan(
        &store,
        vec![row(&p, 1, &[("login_id", v("user70")), ("delete", v("1"))])],
    );
    apply(&mut store, &del);
    let again = plan(
        &store,
        vec![user(&p, 1, "fresh", "Fresh", "fresh@example.com")],
    );
    apply(&mut store, &again);
    assert!(find_login(&store, "fresh").id > last);
}

fn sync_removes_nobody_while_rows_are_invalid<B: Backend>(b: &B) {
    let mut store = b.open();
    let rows = seed(&mut store);
    let p = Profile::standard();
    let mut broken = row(&p, 3, &[("email", v("not-an-email"))]);
    broken.valid = false;
    let plan = plan_with(
        &store,
        vec![rows[0].clone(), rows[1].clone(), broken],
        PlanOptions {
            mode: Mode::Sync,
            max_delete_percent: 100.0,
            skip_invalid: true,
            ..PlanOptions::default()
        },
    );
    assert_eq!(plan.summary.delete, 0);
    assert!(plan.issues.iter().any(|i| i.code == "sync.incomplete"));
    apply(&mut store, &plan);
    assert_eq!(store.user_count().unwrap(), 3);
}

fn cancelling_writes_nothing<B: Backend>(b: &B) {
    let p = Profile::standard();
    let mut store = b.open();
    let plan = plan(&store, many(&p, 2500, None));
    let mut calls = 0;
    let err = store
        .apply(&plan, &mut |progress| {
            calls += 1;
            assert!(progress.done <= progress.total);
            false
        })
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled));
    assert_eq!(calls, 1);
    assert_eq!(store.user_count().unwrap(), 0);
    assert_eq!(store.revision().unwrap(), 0);
}

/// The SQLite store checks no foreign keys while it writes (the checks cost
/// every bulk statement a journal of its pages): it keeps its references
/// itself. After creates with groups, deletes and a group's removal, SQLite's
/// own check finds no row pointing nowhere.
#[test]
fn the_sqlite_store_keeps_its_references_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let mut store = SqliteSink::open(&path).unwrap();
    seed(&mut store);
    let p = Profile::standard();
    let plan = plan(
        &store,
        vec![
            row(
                &p,
                1,
                &[
                    ("login_id", v("tanaka")),
                    ("groups", list(&["Sales", "Tokyo"], &[])),
                ],
            ),
            row(&p, 2, &[("login_id", v("sato")), ("delete", v("1"))]),
        ],
    );
    assert!(plan.is_clean(), "{:?}", plan.issues);
    assert!(apply(&mut store, &plan).committed);
    assert_eq!(store.remove_groups(&["Tokyo".to_string()]).unwrap(), 1);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let on: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(on, 1, "checked with foreign keys on");
    let mut check = conn.prepare("PRAGMA foreign_key_check").unwrap();
    let dangling: Vec<String> = check
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(dangling.is_empty(), "rows pointing nowhere in {dangling:?}");
    let memberships: i64 = conn
        .query_row("SELECT COUNT(*) FROM memberships", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        memberships, 1,
        "tanaka in Sales; Tokyo and sato's rows gone"
    );
}

#[test]
fn memory_sink_is_all_or_nothing_too() {
    let p = Profile::standard();
    let mut mem = MemorySink::new();
    let rows = many(&p, 10, Some(7));
    let strict = Planner::plan_rows(&p, PlanOptions::default(), rows.clone(), &mem).unwrap();
    let out = mem.apply(&strict, &mut |_| true).unwrap();
    assert!(!out.committed);
    assert_eq!(out.failed, 1);
    assert_eq!(mem.user_count().unwrap(), 0);
    let lenient = Planner::plan_rows(
        &p,
        PlanOptions {
            skip_invalid: true,
            ..PlanOptions::default()
        },
        rows,
        &mem,
    )
    .unwrap();
    let out = mem.apply(&lenient, &mut |_| true).unwrap();
    assert_eq!((out.created, out.failed), (9, 1));
    assert_eq!(mem.revision().unwrap(), 1);
}

fn update_passwords_replaces_the_hash<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdG5ld3NhbHQ$ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
    let rows = vec![row(
        &p,
        1,
        &[
            ("login_id", v("tanaka")),
            ("password_hash", Cell::Secret(Secret::new(new_hash))),
        ],
    )];
    let kept = plan(&store, rows.clone());
    assert_eq!(kept.summary.unchanged, 1);
    assert!(
        kept.issues
            .iter()
            .any(|i| i.code == "password.ignored" && !i.is_error())
    );
    let changed = plan_with(
        &store,
        rows,
        PlanOptions {
            update_passwords: true,
            ..PlanOptions::default()
        },
    );
    let Change::Update { diff, .. } = &changed.changes[0] else {
        panic!()
    };
    assert_eq!(diff[0].field, Field::Password);
    assert_eq!(diff[0].new.as_deref(), Some("set"));
    apply(&mut store, &changed);
    let id = find_login(&store, "tanaka").id;
    assert_eq!(store.hash_of(id).as_deref(), Some(new_hash));
}

fn attributes_are_set_and_cleared_in_place_whatever_their_key<B: Backend>(b: &B) {
    use userimport_schema::{Column, FieldKind};
    let mut p = Profile::standard();
    p.columns.push(Column::new(
        "ライセンス.種別",
        "License",
        FieldKind::text(20),
    ));
    p.columns
        .push(Column::new("odd\"key\\", "Odd", FieldKind::text(20)));
    let mut store = b.open();
    let create = vec![row(
        &p,
        1,
        &[
            ("login_id", v("kato")),
            ("name", v("Kato")),
            ("department", v("HR")),
            ("ライセンス.種別", v("A")),
            ("odd\"key\\", v("x")),
            ("password_hash", Cell::Secret(Secret::new(HASH))),
        ],
    )];
    let plan = Planner::plan_rows(&p, PlanOptions::default(), create, &store).unwrap();
    apply(&mut store, &plan);
    let edit = vec![row(
        &p,
        1,
        &[
            ("login_id", v("kato")),
            ("department", Cell::Clear),
            ("ライセンス.種別", v("B")),
            ("position", v("Lead")),
        ],
    )];
    // JSON paths in SQL for quotable keys ...
    let plan = Planner::plan_rows(&p, PlanOptions::default(), edit, &store).unwrap();
    assert_eq!(plan.summary.update, 1, "{:?}", plan.changes);
    apply(&mut store, &plan);
    // ... read-modify-write for the others.
    let edit = vec![row(
        &p,
        1,
        &[("login_id", v("kato")), ("odd\"key\\", v("y"))],
    )];
    let plan = Planner::plan_rows(&p, PlanOptions::default(), edit, &store).unwrap();
    assert_eq!(plan.summary.update, 1, "{:?}", plan.changes);
    apply(&mut store, &plan);
    let u = find_login(&store, "kato");
    assert!(
        !u.attributes.contains_key("department"),
        "{:?}",
        u.attributes
    );
    assert_eq!(u.attributes["ライセンス.種別"], "B");
    assert_eq!(u.attributes["odd\"key\\"], "y");
    assert_eq!(u.attributes["position"], "Lead");
    assert_eq!(u.attributes["name"], "Kato");
}

fn jobs_commit_batches_with_their_progress_and_resume<B: Backend>(b: &B) {
    use userimport_sink::{CancelToken, JobSpec, JobStatus, run_job};
    let p = Profile::standard();
    let mut store = b.open();
    let rows = many(&p, 250, None);
    let spec = JobSpec {
        file: "users.csv".into(),
        file_sha256: "00".into(),
        options: "{}".into(),
        rows_total: 250,
    };
    let id = store.create_job(&spec).unwrap();
    let first = plan(&store, rows.clone());
    // Stop after the second batch of 40: 80 rows are committed with the job.
    let mut calls = 0;
    let err = run_job(
        &mut store,
        id,
        &first,
        None,
        40,
        &CancelToken::new(),
        &mut |p| {
            calls += 1;
            assert_eq!(p.rows_total, 250);
            calls < 2
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    let job = store.job(id).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.rows_done, 80);
    assert_eq!(job.created, 80);
    assert_eq!(store.user_count().unwrap(), 80);
    // Resume: the file planned again against the store as it is now; rows
    // already done are skipped, every user is written exactly once.
    // Through `&mut S`, as an embedding service that lends its store would.
    let again = plan(&store, rows);
    let done = run_job(
        &mut &mut store,
        id,
        &again,
        None,
        40,
        &CancelToken::new(),
        &mut |_| true,
    )
    .unwrap();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!((done.rows_done, done.created), (250, 250));
    assert_eq!(store.user_count().unwrap(), 250);
    let results = store.job_results(id).unwrap();
    assert_eq!(results.len(), 250);
    assert!(results.iter().all(|r| r.outcome == Outcome::Created));
    let mut rows_seen: Vec<u64> = results.iter().map(|r| r.row).collect();
    rows_seen.dedup();
    assert_eq!(rows_seen, (1..=250).collect::<Vec<_>>());
    // Stored as runs, read back one per row: each with its own line and
    // the member ID its user got.
    let mut ids: Vec<i64> = results.iter().filter_map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 250, "a distinct member ID per row");
    assert!(results.iter().all(|r| r.line == r.row + 1));
    for row in [1, 80, 81, 250] {
        let result = &results[row - 1];
        assert_eq!(
            Some(find_login(&store, &format!("user{row}")).id),
            result.id
        );
    }
    assert_eq!(store.jobs().unwrap().len(), 1);
}

fn invitations_are_queued_with_their_users_and_sent_once<B: Backend>(b: &B) {
    use userimport_sink::{DEFAULT_TEMPLATE, Invite, MessageStatus, deliver, token_hash};
    let p = Profile::standard();
    let mut store = b.open();
    seed(&mut store);
    let invite = Invite::new(
        DEFAULT_TEMPLATE.to_string(),
        "https://example.com/set-password".into(),
        None,
    )
    .unwrap();
    let rows = vec![
        user(&p, 1, "tanaka", "Hanako Tanaka", "hanako@example.com"),
        user(&p, 2, "kato", "Ken Kato", "ken@example.com"),
        user(&p, 3, "ito", "Aya Ito", "aya@example.com"),
    ];
    let plan = plan(&store, rows);
    let out = store
        .apply_inviting(&plan, Some(&invite), &mut |_| true)
        .unwrap();
    assert_eq!((out.created, out.unchanged), (2, 1));
    // One message per created user, none for the existing one.
    let queued = store.outbox().unwrap();
    let to: Vec<&str> = queued.iter().map(|m| m.recipient.email.as_str()).collect();
    assert_eq!(to, ["ken@example.com", "aya@example.com"]);
    assert!(queued.iter().all(|m| m.status == MessageStatus::Queued));
    // A refused row rolls back its invitation with it.
    let bad = plan_with(
        &store,
        vec![user(&p, 1, "mori", "Mori", "mori@example.com")],
        PlanOptions::default(),
    );
    let mut failing = bad.clone();
    if let Change::Create { user, .. } = &mut failing.changes[0] {
        user.groups.insert("NoSuchGroup".into());
    }
    let out = store
        .apply_inviting(&failing, Some(&invite), &mut |_| true)
        .unwrap();
    assert!(!out.committed);
    assert_eq!(store.outbox().unwrap().len(), 2);

    // Delivery: the first attempt for ken fails and is retried later; each
    // message reaches the server once.
    let mut sent: Vec<(String, String)> = Vec::new();
    let mut refused_once = false;
    let report = deliver(&mut store, "admin@example.com", &mut |_, to, m| {
        if to == "ken@example.com" && !refused_once {
            refused_once = true;
            return Err("451 try again later".into());
        }
        sent.push((to.to_string(), m.body.clone()));
        Ok(())
    })
    .unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (1, 1, 0));
    let again = deliver(&mut store, "admin@example.com", &mut |_, to, m| {
        sent.push((to.to_string(), m.body.clone()));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        again.sent, 0,
        "the retry waits for its backoff; sent ones never go again"
    );
    assert_eq!(sent.len(), 1);
    let (to, body) = &sent[0];
    assert_eq!(to, "aya@example.com");
    assert!(body.contains("Aya Ito") && body.contains("ito"), "{body}");
    let token = body
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a link with a token")
        .to_string();
    let messages = store.outbox().unwrap();
    assert_eq!(messages[1].status, MessageStatus::Sent);
    assert_eq!(messages[0].status, MessageStatus::Queued);
    assert_eq!(messages[0].attempts, 1);
    drop(store);
    // Only the token's hash is stored.
    let dump = b.dump();
    let hash = token_hash(&token);
    assert!(dump.windows(hash.len()).any(|w| w == hash.as_bytes()));
    assert!(!dump.windows(token.len()).any(|w| w == token.as_bytes()));
}

fn a_job_handle_runs_on_its_own_thread<B: Backend>(b: &B)
where
    B::Store: Send + 'static,
{
    use userimport_sink::{JobHandle, JobSpec, JobStatus};
    let p = Profile::standard();
    let mut store = b.open();
    let rows = many(&p, 120, None);
    let id = store
        .create_job(&JobSpec {
            file: "users.csv".into(),
            file_sha256: "00".into(),
            options: "{}".into(),
            rows_total: 120,
        })
        .unwrap();
    let plan = plan(&store, rows);
    // A service keeps its stores as trait objects: a boxed one runs a job.
    let boxed: Box<dyn Jobs<Error = Error> + Send> = Box::new(store);
    let handle = JobHandle::spawn(boxed, id, plan, None, 25);
    let (store, job) = handle.join();
    let job = job.unwrap();
    assert_eq!(
        (job.status, job.rows_done, job.created),
        (JobStatus::Done, 120, 120)
    );
    assert_eq!(store.user_count().unwrap(), 120);
}

#[test]
fn postgres_open_existing_never_creates_tables() {
    let Some(b) = backends::Postgres::fresh() else {
        return;
    };
    let ro = b.open_read_only();
    assert_eq!(ro.user_count().unwrap(), 0);
    assert_eq!(ro.schema_version().unwrap(), 0);
    drop(ro);
    assert!(!b.has_tables(), "a read-only open created tables");
    let mut rw = b.open();
    seed(&mut rw);
    drop(rw);
    let ro = b.open_read_only();
    assert_eq!(ro.user_count().unwrap(), 3);
    assert_eq!(
        ro.schema_version().unwrap(),
        userimport_sink::PG_SCHEMA_VERSION
    );
    let mut ro = ro;
    let p = Profile::standard();
    let more = plan(&ro, vec![user(&p, 1, "new", "New", "new@example.com")]);
    assert!(matches!(
        ro.apply(&more, &mut |_| true),
        Err(Error::ReadOnly)
    ));
}

fn held_batches_are_invisible_until_committed_and_roll_back_together<B: Backend>(b: &B) {
    let mut store = b.open();
    seed(&mut store);
    let p = Profile::standard();
    // Held: written in the open transaction, unseen by another connection.
    let first = plan(
        &store,
        vec![user(&p, 1, "kato", "Kato", "kato@example.com")],
    );
    let held = write_batch(&mut store, &first, 1, true);
    assert!(held.held && !held.committed, "{held:?}");
    assert_eq!(held.created, 1);
    assert_eq!(
        b.open().user_count().unwrap(),
        3,
        "a held batch is not visible"
    );
    // A group edit (its own transaction) waits for the held one to end.
    let refused = store.add_groups(&["Sales".to_string()]).unwrap_err();
    assert!(refused.to_string().contains("held"), "{refused}");
    // Rolled back: gone, and the revision is the one before.
    store.rollback().expect("rollback");
    assert_eq!(store.user_count().unwrap(), 3);
    assert_eq!(store.revision().unwrap(), 1);

    // Held, then a failing all-or-nothing batch: both are rolled back.
    // (Planned first: the writing connection sees its own held rows.)
    let clash = plan(&store, vec![user(&p, 1, "ito", "Ito", "KATO@example.com")]);
    assert_eq!(clash.summary.create, 1, "{:?}", clash.issues);
    let held = write_batch(&mut store, &first, 1, true);
    assert!(held.held);
    let failed = write_batch(&mut store, &clash, held.revision, false);
    assert!(!failed.committed && !failed.held);
    assert_eq!(failed.failed, 1);
    assert_eq!(
        store.user_count().unwrap(),
        3,
        "the held batch went with it"
    );
    assert_eq!(store.revision().unwrap(), 1);

    // Held, then committed with the next batch: both are there.
    let second = plan(&store, vec![user(&p, 1, "ito", "Ito", "ito@example.com")]);
    let held = write_batch(&mut store, &first, 1, true);
    let done = write_batch(&mut store, &second, held.revision, false);
    assert!(done.committed && !done.held, "{done:?}");
    let other = b.open();
    assert_eq!(other.user_count().unwrap(), 5);
    assert_eq!(
        find_login(&other, "kato").email.as_deref(),
        Some("kato@example.com")
    );
    assert_eq!(other.revision().unwrap(), done.revision);
}

/// Writes `changes` as one batch of their own (no plan), as the writer
/// loop hands a store its batches.
fn write_changes(
    store: &mut impl Sink<Error = Error>,
    changes: &[Change],
    all_or_nothing: bool,
) -> userimport_sink::ApplyOutcome {
    let passwords = userimport_sink::prepare_passwords(changes).expect("passwords");
    let batch = userimport_sink::Batch {
        expected_revision: store.revision().expect("revision"),
        changes,
        passwords: &passwords,
        create_groups: &[],
        all_or_nothing,
        job: None,
        invite: None,
        creates: &[],
        hold: false,
    };
    store.write(&batch, &mut |_| true).expect("write")
}

/// A login ID another user holds refuses the whole change that asks for
/// it: none of its other edits (an attribute, a group) is written, although
/// the engine writes key edits, attributes and memberships as separate
/// sets. All or nothing, the batch writes nothing; with `skip_invalid` the
/// batch's other changes are kept.
fn a_refused_key_edit_writes_none_of_its_change(store: &mut impl Sink<Error = Error>) {
    seed(store);
    store.add_groups(&["Sales".to_string()]).expect("add group");
    let tanaka = find_login(store, "tanaka");
    let sato = find_login(store, "sato");
    let field = |column: &str, field: Field, old: &str, new: &str| FieldChange {
        column: column.to_string(),
        field,
        old: Some(old.to_string()),
        new: Some(new.to_string()),
    };
    let changes = vec![
        Change::Update {
            line: 2,
            row: 1,
            id: tanaka.id,
            diff: vec![
                field("login_id", Field::Login, "tanaka", "Suzuki"),
                field("name", Field::Attribute, "Hanako Tanaka", "Hanako T."),
            ],
            groups: ListChange {
                added: vec!["Sales".to_string()],
                removed: Vec::new(),
            },
            roles: ListChange::default(),
            identities: ListChange::default(),
            password: None,
        },
        Change::Update {
            line: 3,
            row: 2,
            id: sato.id,
            diff: vec![field("name", Field::Attribute, "Yuki Sato", "Yuki S.")],
            groups: ListChange::default(),
            roles: ListChange::default(),
            identities: ListChange::default(),
            password: None,
        },
    ];
    let revision = store.revision().unwrap();
    let out = write_changes(store, &changes, true);
    assert!(!out.committed);
    let outcomes: Vec<Outcome> = out.results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Skipped]);
    assert_eq!(
        out.results[0].reason.as_deref(),
        Some("login ID already used by another user")
    );
    assert_eq!(store.revision().unwrap(), revision);
    assert_eq!(find_login(store, "sato").attributes["name"], "Yuki Sato");

    let out = write_changes(store, &changes, false);
    assert!(out.committed);
    let outcomes: Vec<Outcome> = out.results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Failed, Outcome::Updated]);
    let tanaka = find_login(store, "tanaka");
    assert_eq!(tanaka.attributes["name"], "Hanako Tanaka");
    assert!(tanaka.groups.is_empty(), "{:?}", tanaka.groups);
    assert_eq!(find_login(store, "suzuki").login.as_deref(), Some("suzuki"));
    assert_eq!(find_login(store, "sato").attributes["name"], "Yuki S.");
}

fn a_refused_key_edit_writes_nothing_else<B: Backend>(b: &B) {
    a_refused_key_edit_writes_none_of_its_change(&mut b.open());
}

#[test]
fn a_refused_key_edit_writes_nothing_else_in_memory() {
    a_refused_key_edit_writes_none_of_its_change(&mut MemorySink::new());
}

backends::both_backends!(
    a_refused_key_edit_writes_nothing_else,
    held_batches_are_invisible_until_committed_and_roll_back_together,
    a_job_handle_runs_on_its_own_thread,
    invitations_are_queued_with_their_users_and_sent_once,
    jobs_commit_batches_with_their_progress_and_resume,
    create_stores_users_with_defaults,
    reapplying_the_same_rows_changes_nothing,
    edits_give_exact_field_updates,
    delete_flag_deletes,
    sync_deletes_absent_users_under_the_threshold_guard,
    a_failing_batch_leaves_the_store_untouched,
    skip_invalid_applies_the_valid_rows,
    drift_is_refused_naming_what_changed,
    roles_and_groups_only_within_the_actors_authority,
    a_blank_never_clears_and_clearing_is_explicit,
    keep_existing_only_fills_blanks,
    no_plaintext_password_reaches_the_store,
    generated_passwords_are_hashed_and_a_missing_one_is_an_error,
    row_errors_of_matching,
    team_profile_refuses_unknown_groups,
    memory_and_store_agree,
    bulk_writes_find_the_refused_row,
    member_ids_are_never_reused,
    sync_removes_nobody_while_rows_are_invalid,
    cancelling_writes_nothing,
    update_passwords_replaces_the_hash,
    attributes_are_set_and_cleared_in_place_whatever_their_key,
);
