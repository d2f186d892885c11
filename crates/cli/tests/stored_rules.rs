//! What an administrator meant, held against the store, on both stores
//! (a SQLite file and PostgreSQL): typed dates and code tables are stored
//! canonical, groups are checked, due-date rules judge the user as stored,
//! and identity is unique: look-alike login IDs, cards in either notation
//! and source identities belong to one user. Every export passes `check`.

#[path = "postgres_backend.rs"]
mod backend;

use std::path::Path;
use std::process::Command;

use backend::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

struct Run {
    code: i32,
    out: String,
}

fn run(dir: &Path, db: &TestDb, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db.url())
        .current_dir(dir)
        .output()
        .expect("run userimport");
    let code = out.status.code().unwrap_or(-1);
    assert!(matches!(code, 0..=2), "{args:?}: {out:?}");
    Run {
        code,
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).expect("write");
    name.to_string()
}

/// Exports with `profile`, then checks the export against the same store:
/// it must pass and change nothing. Returns the export.
fn export_passes_check(dir: &Path, db: &TestDb, profile: &str) -> String {
    let r = run(
        dir,
        db,
        &[
            "export",
            "--profile",
            profile,
            "--charset",
            "utf-8",
            "-o",
            "export.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.out);
    let r = run(dir, db, &["check", "export.csv", "--profile", profile]);
    assert_eq!(r.code, 0, "the export passes check: {}", r.out);
    assert!(r.out.contains("create 0, update 0"), "{}", r.out);
    std::fs::read_to_string(dir.join("export.csv")).expect("export")
}

const HEADER: &str =
    "login_id,name,password,timezone,country,language,due_date_type,valid_days_or_due_date\n";

fn typed_values_are_stored_canonical(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "in.csv",
        &format!(
            "{HEADER}ann,Ann,Secret-pass-1,Asia/Calcutta,日本,日本語,ExpirationDate,2027年3月31日\n\
             bob,Bob,Secret-pass-2,Asia/Tokyo,Japan,ja_JP,ExpirationDate,2027/3/31\n"
        ),
    );
    let r = run(dir.path(), db, &["apply", &file]);
    assert_eq!(r.code, 0, "{}", r.out);
    let export = export_passes_check(dir.path(), db, "standard");
    assert!(export.contains(",Japan,ja_JP,Asia/Kolkata,"), "{export}");
    assert_eq!(
        export.matches("ExpirationDate,2027/03/31").count(),
        2,
        "{export}"
    );
    // Unlisted zones and unknown roles are errors with a suggestion.
    let bad = write(
        dir.path(),
        "bad.csv",
        "login_id,name,password,timezone,roles\ncat,Cat,Secret-pass-3,JST,Superuser\n",
    );
    let r = run(dir.path(), db, &["apply", &bad]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(r.out.contains("did you mean Asia/Tokyo"), "{}", r.out);
    assert!(r.out.contains("role.unknown"), "{}", r.out);
}

fn due_date_rules_judge_the_stored_user(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "in.csv",
        &format!(
            "{HEADER}ann,Ann,Secret-pass-1,,,,FromCreation,365\nbob,Bob,Secret-pass-2,,,,Unlimited,\n"
        ),
    );
    assert_eq!(run(dir.path(), db, &["apply", &file]).code, 0);
    // Unlimited for Ann (her 365 days are stored): the stored value goes.
    let edit = write(
        dir.path(),
        "edit.csv",
        "login_id,due_date_type\nann,Unlimited\n",
    );
    let r = run(dir.path(), db, &["apply", &edit]);
    assert_eq!(r.code, 0, "{}", r.out);
    let export = export_passes_check(dir.path(), db, "standard");
    let ann = export.lines().find(|l| l.contains(",ann,")).expect("ann");
    assert!(ann.contains(",Unlimited,,"), "{ann}");
    // ExpirationDate for Bob, who has no stored date: an error, not a
    // user the export would fail on.
    let edit = write(
        dir.path(),
        "edit2.csv",
        "login_id,due_date_type\nbob,ExpirationDate\n",
    );
    let r = run(dir.path(), db, &["apply", &edit]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("due_date.value_missing") && r.out.contains("\"bob\""),
        "{}",
        r.out
    );
    export_passes_check(dir.path(), db, "standard");
}

fn unknown_groups_are_errors_unless_created(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), db, &["groups", "add", "Sales"]).code, 0);
    let team = "Current Status,Display Name,Primary Email,Role,Groups\nActive,Ann,ann@example.com,User,Saels\n";
    let file = write(dir.path(), "team.csv", team);
    let r = run(dir.path(), db, &["apply", &file, "--profile", "team"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("group.unknown") && r.out.contains("did you mean \"Sales\"?"),
        "{}",
        r.out
    );
    let r = run(
        dir.path(),
        db,
        &["apply", &file, "--profile", "team", "--create-groups"],
    );
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("group.similar"), "{}", r.out);
    let r = run(dir.path(), db, &["groups", "list"]);
    assert!(
        r.out.contains("Saels") && r.out.contains("Sales"),
        "{}",
        r.out
    );
}

fn look_alike_logins_are_refused_naming_both(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let boss = write(
        dir.path(),
        "boss.csv",
        "login_id,name,password,roles\nboss,Boss,Secret-pass-1,SystemAdmin\n",
    );
    assert_eq!(run(dir.path(), db, &["apply", &boss]).code, 0);
    for (login, code) in [
        ("bоss", "key.confusable"),                  // Cyrillic о
        ("bo\u{ad}ss", "key.invisible_character"),   // soft hyphen
        ("\u{3164}boss", "key.invisible_character"), // Hangul filler
        ("bo\u{34f}ss", "key.invisible_character"),
    ] {
        let file = write(
            dir.path(),
            "fake.csv",
            &format!("login_id,name,password\n{login},Fake,Secret-pass-2\n"),
        );
        let r = run(dir.path(), db, &["apply", &file]);
        assert_eq!(r.code, 1, "{login:?}: {}", r.out);
        assert!(r.out.contains(code), "{login:?}: {}", r.out);
        if code == "key.confusable" {
            assert!(
                r.out.contains("\"boss\"") && r.out.contains(login),
                "{}",
                r.out
            );
        }
    }
    // Full-width letters are the same login ID: the row updates boss.
    let file = write(dir.path(), "wide.csv", "login_id,name\nＢＯＳＳ,The Boss\n");
    let r = run(dir.path(), db, &["apply", &file]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("1 updated"), "{}", r.out);
    let export = export_passes_check(dir.path(), db, "standard");
    assert_eq!(export.lines().count(), 2, "{export}");
}

fn cards_and_identities_belong_to_one_user(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cards.csv",
        "User ID,Name,Card ID\nE1,Ann,1A2B\n",
    );
    let r = run(
        dir.path(),
        db,
        &[
            "apply",
            &file,
            "--profile",
            "access",
            "--card-id-type",
            "hex",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.out);
    let file = write(
        dir.path(),
        "cards2.csv",
        "User ID,Name,Card ID\nE2,Bob,6699\n",
    );
    let r = run(dir.path(), db, &["apply", &file, "--profile", "access"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("card_id.duplicate") && r.out.contains("\"E1\""),
        "{}",
        r.out
    );
    // The export names its notation and is read back without options.
    let export = export_passes_check(dir.path(), db, "access");
    assert!(
        export.contains("Card ID (decimal)") && export.contains(",6699,"),
        "{export}"
    );

    let team = "Current Status,Display Name,Primary Email,Role,Source Username(s)\n";
    let file = write(
        dir.path(),
        "ann.csv",
        &format!("{team}Active,Ann,ann@example.com,User,slack:ann\n"),
    );
    let r = run(dir.path(), db, &["apply", &file, "--profile", "team"]);
    assert_eq!(r.code, 0, "{}", r.out);
    let file = write(
        dir.path(),
        "bob.csv",
        &format!("{team}Active,Bob,bob@example.com,User,Slack:ANN\n"),
    );
    let r = run(dir.path(), db, &["apply", &file, "--profile", "team"]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("identity.taken") && r.out.contains("ann@example.com"),
        "{}",
        r.out
    );
}

both_backends!(
    typed_values_are_stored_canonical,
    due_date_rules_judge_the_stored_user,
    unknown_groups_are_errors_unless_created,
    look_alike_logins_are_refused_naming_both,
    cards_and_identities_belong_to_one_user,
    a_store_from_before_is_migrated_to_skeletons_and_nfkc_keys,
);

/// Runs SQL on the test's store (sqlite3 on the file; psql in its schema).
fn sql(db: &TestDb, statements: &str) {
    let status = match db {
        TestDb::Sqlite { dir } => Command::new("sqlite3")
            .arg(dir.path().join("users.db"))
            .arg(statements)
            .status(),
        TestDb::Postgres { base, schema } => Command::new("psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", base, "-c"])
            .arg(format!("SET search_path = {schema}; {statements}"))
            .status(),
    };
    assert!(status.expect("run sql").success(), "{statements}");
}

/// A store written before skeletons and NFKC keys: the migration folds its
/// keys again and stores their skeletons, so its users are found as they
/// are meant.
fn a_store_from_before_is_migrated_to_skeletons_and_nfkc_keys(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "in.csv",
        "login_id,name,password\nboss,Boss,Secret-pass-1\nＡＮＮ,Ann,Secret-pass-2\n",
    );
    assert_eq!(run(dir.path(), db, &["apply", &file]).code, 0);
    // Back to the layout and folding of the version before.
    match db {
        TestDb::Sqlite { .. } => sql(
            db,
            "DROP INDEX users_login_skeleton; DROP INDEX users_email_skeleton;
             DROP INDEX identities_folded; DROP INDEX users_card_id;
             ALTER TABLE users DROP COLUMN login_skeleton; ALTER TABLE users DROP COLUMN email_skeleton;
             UPDATE users SET login_key = 'ａｎｎ' WHERE login = 'ＡＮＮ';
             ALTER TABLE job_results DROP COLUMN run;
             PRAGMA user_version = 7;",
        ),
        TestDb::Postgres { .. } => sql(
            db,
            "DROP INDEX identities_folded; DROP INDEX users_card_id;
             ALTER TABLE users DROP COLUMN login_skeleton, DROP COLUMN email_skeleton;
             UPDATE users SET login_key = lower(login);
             ALTER TABLE job_results DROP COLUMN run;
             DELETE FROM userimport_schema WHERE version >= 7;",
        ),
    }
    let fake = write(
        dir.path(),
        "fake.csv",
        "login_id,name,password\nbоss,Fake,Secret-pass-3\n",
    );
    let r = run(dir.path(), db, &["apply", &fake]);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("key.confusable") && r.out.contains("\"boss\""),
        "{}",
        r.out
    );
    let ann = write(dir.path(), "ann.csv", "login_id,name\nann,Ann Again\n");
    let r = run(dir.path(), db, &["apply", &ann]);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(
        r.out.contains("1 updated"),
        "the re-folded key matches: {}",
        r.out
    );
}
