//! The learning platform (seeds 000 and 002) end to end through the CLI:
//! register users from the example files (UTF-8 and a Shift_JIS file with
//! Japanese headers), update them from an edited file, and read back what an
//! administrator would check on the user list.

use std::path::Path;

use serde_json::Value;

mod harness;

use harness::userimport as run;

/// The repository's `examples/` folder.
fn data(name: &str) -> String {
    harness::example_path(&format!("data/learning/{name}"))
}

fn profile() -> String {
    harness::example_path("profiles/learning.toml")
}

/// `userimport check … --format json` as JSON, with the exit code.
fn check_json(file: &str, db: &str) -> (i32, Value) {
    let (code, stdout, stderr) = run(&[
        "check",
        file,
        "--db",
        db,
        "--profile",
        &profile(),
        "--format",
        "json",
    ]);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {stdout}\n{stderr}"));
    (code, json)
}

fn apply(file: &str, db: &str) -> String {
    let (code, stdout, stderr) = run(&["apply", file, "--db", db, "--profile", &profile()]);
    assert_eq!(code, 0, "apply {file}: {stdout}\n{stderr}");
    stdout
}

/// The store as CSV rows (header first), via `userimport export`.
fn export(db: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let profile = profile();
    let mut args = vec![
        "export",
        "--db",
        db,
        "--profile",
        &profile,
        "--charset",
        "utf-8",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "export: {stderr}");
    parse_csv(stdout.as_bytes())
}

/// Reads CSV with the project's own parser: header first, then the records.
fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = userimport::parse::ReaderBuilder::new()
        .build(bytes)
        .expect("the export parses");
    let mut rows = vec![reader.header().iter().map(str::to_string).collect()];
    let mut record = userimport::parse::Record::new();
    while reader.read_record(&mut record).expect("the export parses") {
        rows.push(record.iter().map(str::to_string).collect());
    }
    rows
}

/// The exported row of one login ID, as (header, value) lookups.
fn user<'a>(rows: &'a [Vec<String>], login: &str) -> impl Fn(&str) -> &'a str {
    let header = &rows[0];
    let login_col = header.iter().position(|h| h == "Login ID").unwrap();
    let row = rows
        .iter()
        .find(|r| r[login_col] == login)
        .unwrap_or_else(|| panic!("{login} is not in the export"));
    move |label: &str| {
        let i = header
            .iter()
            .position(|h| h == label)
            .unwrap_or_else(|| panic!("no column {label:?}"));
        row[i].as_str()
    }
}

fn codes_by_line(json: &Value) -> Vec<(u64, String)> {
    json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn register_every_column_of_seed_002_then_update_from_an_edited_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("learning.db").display().to_string();

    // Upload and check: 9 new users, the four read-only columns each warned
    // about once (not once per row), no errors.
    let (code, json) = check_json(&data("users.csv"), &db);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["create"], 9);
    assert_eq!(json["summary"]["errors"], 0);
    let read_only: Vec<&str> = json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "column.read_only")
        .map(|i| i["column"].as_str().unwrap())
        .collect();
    assert_eq!(
        read_only.len(),
        4,
        "one warning per read-only column: {read_only:?}"
    );
    assert!(!db_exists(&db), "check never creates the store");

    let out = apply(&data("users.csv"), &db);
    assert!(out.contains("9 created"), "{out}");

    let rows = export(&db, &[]);
    assert_eq!(rows.len(), 1 + 9);
    // Code tables: the seed's typos and odd spellings in, clean values out.
    let somchai = user(&rows, "somchai.k");
    assert_eq!(somchai("Country/Region"), "Thailand");
    assert_eq!(somchai("Language"), "th_TH", "TH_TH in the file");
    assert_eq!(
        somchai("Date format"),
        "DD/MM/YYYY",
        "DD/MM/YYYYYY in the file"
    );
    assert_eq!(somchai("Time format"), "hh:mm:ss a");
    assert_eq!(somchai("Announcement e-mails"), "Off");
    assert_eq!(somchai("Due date type"), "ExpirationDate", "effective date");
    assert_eq!(somchai("Valid days/due date"), "2027/03/31");
    let amina = user(&rows, "amina.d");
    assert_eq!(amina("Country/Region"), "Djibouti", "Djibouti. in the file");
    assert_eq!(amina("Date format"), "YYYY year M month D day");
    assert_eq!(amina("Time format"), "H hour mm minute ss second");
    assert_eq!(amina("Status"), "Invalid");
    assert_eq!(amina("Due date type"), "Unlimited");
    assert_eq!(user(&rows, "omar.haddad")("Country/Region"), "Jordan");
    assert_eq!(user(&rows, "giulia.rossi")("Country/Region"), "SanMarino");
    let hanako = user(&rows, "tanaka.hanako");
    assert_eq!(
        hanako("Date format"),
        "YYYY-MM-DD",
        "YYYYY-MM-DD in the file"
    );
    // Blank notification = On, blank status = Valid for a new user.
    assert_eq!(hanako("Announcement e-mails"), "On");
    assert_eq!(hanako("Status"), "Valid");
    assert_eq!(hanako("Due date type"), "FromCreation");
    assert_eq!(hanako("Valid days/due date"), "365");
    assert_eq!(hanako("Belong to"), "Sales,Tokyo");
    // The role as the platform's screen spells it is stored canonical.
    assert_eq!(hanako("Management roles"), "GroupManager");
    // The read-only columns of the file were ignored: the store filled them.
    assert_eq!(
        hanako("First login"),
        "",
        "2025/04/01 in the file is ignored"
    );
    assert_ne!(hanako("Registered date"), "2025/03/28 10:00:00");
    assert_eq!(
        user(&rows, "giulia.rossi")("Management roles"),
        "GroupManager,UserManager"
    );
    // Blank "Belong to" = the importer's default group (the profile's).
    assert_eq!(amina("Belong to"), "Head Office");
    assert_eq!(user(&rows, "kiosk01")("Belong to"), "Head Office");
    assert_eq!(user(&rows, "kiosk01")("Email address"), "");

    // Re-uploading the same file changes nothing.
    let (code, json) = check_json(&data("users.csv"), &db);
    assert_eq!(code, 0);
    assert_eq!(json["summary"]["unchanged"], 9, "{json:#}");

    // The edited file: e-mail `delete`, Temporary suspended, a group removed,
    // roles cleared with `none`, one row untouched, one new user.
    let (code, json) = check_json(&data("update.csv"), &db);
    assert_eq!(code, 0, "{json:#}");
    let s = &json["summary"];
    assert_eq!(
        (
            s["create"].as_u64(),
            s["update"].as_u64(),
            s["unchanged"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{s}"
    );
    apply(&data("update.csv"), &db);
    let rows = export(&db, &[]);
    let somchai = user(&rows, "somchai.k");
    assert_eq!(somchai("Email address"), "", "`delete` cleared the e-mail");
    assert_eq!(somchai("Status"), "Suspended", "Temporary suspended");
    assert_eq!(
        somchai("Belong to"),
        "Training",
        "-Bangkok removed one group"
    );
    let hanako = user(&rows, "tanaka.hanako");
    assert_eq!(hanako("Department"), "Sales Planning");
    assert_eq!(hanako("Announcement e-mails"), "Off");
    assert_eq!(hanako("Belong to"), "Sales");
    assert_eq!(hanako("Management roles"), "", "`none` cleared the roles");
    assert_eq!(user(&rows, "sato.kenji")("Belong to"), "Head Office");

    // Export → import changes nothing (the download–edit–upload cycle).
    let exported = dir.path().join("export.csv");
    let (code, _, stderr) = run(&[
        "export",
        "--db",
        &db,
        "--profile",
        &profile(),
        "-o",
        exported.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, json) = check_json(exported.to_str().unwrap(), &db);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["unchanged"], 10, "{json:#}");
}

fn db_exists(db: &str) -> bool {
    Path::new(db).exists()
}

#[test]
fn shift_jis_file_with_japanese_headers_registers_japanese_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("learning.db").display().to_string();
    let (code, json) = check_json(&data("users_shift_jis.csv"), &db);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["file"]["encoding"], "Shift_JIS");
    assert_eq!(json["summary"]["create"], 3);
    // Every Japanese header is known: the only warnings list the groups
    // the learning profile creates.
    let warnings: Vec<&str> = json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "warning")
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(warnings.iter().all(|c| *c == "group.new"), "{json:#}");

    let out = apply(&data("users_shift_jis.csv"), &db);
    assert!(out.contains("3 created"), "{out}");
    let rows = export(&db, &[]);
    let yamada = user(&rows, "yamada.taro");
    assert_eq!(yamada("Name"), "山田 太郎");
    assert_eq!(yamada("Department"), "営業部");
    assert_eq!(yamada("Belong to"), "営業部,東京本社");
    assert_eq!(yamada("Date format"), "YYYY year M month D day");
    assert_eq!(user(&rows, "suzuki.hanako")("Name"), "鈴木 花子");
    assert_eq!(user(&rows, "takahashi.ken")("Belong to"), "Head Office");

    // The Shift_JIS export re-imports unchanged.
    let exported = dir.path().join("export_sjis.csv");
    let (code, _, stderr) = run(&[
        "export",
        "--db",
        &db,
        "--profile",
        &profile(),
        "--charset",
        "shift_jis",
        "-o",
        exported.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, json) = check_json(exported.to_str().unwrap(), &db);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["file"]["encoding"], "Shift_JIS");
    assert_eq!(json["summary"]["unchanged"], 3, "{json:#}");
}

#[test]
fn errors_are_reported_on_their_lines_and_nothing_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("learning.db").display().to_string();
    let (code, json) = check_json(&data("errors.csv"), &db);
    assert_eq!(code, 1, "row errors exit 1");
    let expected: Vec<(u64, String)> = [
        (3, "status.suspended_new"),
        (4, "email.invalid"),
        (5, "country.unknown"),
        (6, "due_date.date_invalid"),
        (7, "due_date.value_not_allowed"),
        (8, "onoff.invalid"),
        (9, "language.unknown"),
        (10, "key.duplicate"),
        (11, "key.duplicate"),
    ]
    .iter()
    .map(|(l, c)| (*l, c.to_string()))
    .collect();
    assert_eq!(codes_by_line(&json), expected);
    assert_eq!(json["summary"]["valid"], 1);

    // Default apply is all-or-nothing: one bad row and nothing is written.
    let (code, stdout, stderr) = run(&[
        "apply",
        &data("errors.csv"),
        "--db",
        &db,
        "--profile",
        &profile(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("nothing applied"), "{stderr}");
    assert_eq!(export(&db, &[]).len(), 1, "only the header: no user stored");

    // --skip-invalid applies the one valid row (line 2).
    let (code, stdout, _) = run(&[
        "apply",
        &data("errors.csv"),
        "--db",
        &db,
        "--profile",
        &profile(),
        "--skip-invalid",
    ]);
    assert_eq!(code, 1, "row errors still exit 1");
    assert!(stdout.contains("1 created"), "{stdout}");
    let rows = export(&db, &[]);
    assert_eq!(rows.len(), 2);
    assert_eq!(user(&rows, "ito.yui")("Name"), "Yui Ito");
}

#[test]
fn suspended_is_accepted_for_an_existing_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("learning.db").display().to_string();
    apply(&data("users.csv"), &db);
    // The same file, but now mori.ken (line 3, Temporary suspended) is new
    // while tanaka.hanako, existing, may be suspended.
    let file = dir.path().join("suspend.csv");
    std::fs::write(
        &file,
        "Login ID,Name,Status\n\
         tanaka.hanako,Hanako Tanaka,Temporary suspended\n\
         mori.ken,Ken Mori,Temporary suspended\n",
    )
    .unwrap();
    let (code, json) = check_json(file.to_str().unwrap(), &db);
    assert_eq!(code, 1);
    let errors = codes_by_line(&json);
    assert!(
        errors.contains(&(3, "status.suspended_new".to_string())),
        "{errors:?}"
    );
    assert!(!errors.iter().any(|(line, _)| *line == 2), "{errors:?}");
}

#[test]
fn delete_clears_an_email_only_where_the_email_is_optional() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("learning.db").display().to_string();
    apply(&data("users.csv"), &db);
    // The same platform with "Required: On" for the e-mail field.
    let required = dir.path().join("email_required.toml");
    std::fs::write(
        &required,
        r#"
name = "learning-email-required"
extends = "standard"
[[columns]]
key = "email"
label = "Email address"
purpose = "email"
required = true
clear_keyword = "delete"
kind = { type = "email" }
"#,
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[
        "check",
        &data("update.csv"),
        "--db",
        &db,
        "--profile",
        required.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        codes_by_line(&json),
        [(2, "field.clear_required".to_string())],
        "somchai.k's `delete` is refused when the e-mail is required"
    );
}

/// Seed 000: up to 100 registrations run at once; 101 and more run in the
/// background as a job; invitations go to newly registered users only, at the
/// chosen time.
#[test]
fn large_registrations_run_as_a_job_and_invite_only_new_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lms.db").display().to_string();
    let file = |name: &str, from: usize, to: usize| {
        let mut text = String::from("Login ID,Name,Email address,Password\n");
        for i in from..to {
            text.push_str(&format!(
                "u{i:03},User {i},u{i}@example.com,Long-enough-{i:03}\n"
            ));
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let invite = [
        "--invite",
        "--send-at",
        "2030-01-01T09:00:00Z",
        "--invite-base-url",
        "https://lms.example.com/set-password",
    ];
    let jobs = |db: &str| -> Vec<Value> {
        let (code, stdout, stderr) = run(&["jobs", "--db", db, "--format", "json"]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };

    // 100 rows: executed immediately, no job.
    let small = file("small.csv", 0, 100);
    let mut args = vec!["apply", small.as_str(), "--db", db.as_str()];
    args.extend(invite);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(jobs(&db).is_empty(), "100 rows must not become a job");

    // 150 rows, 100 of them already registered: a background job; only the
    // 50 new users are invited.
    let big = file("big.csv", 0, 150);
    let mut args = vec!["apply", big.as_str(), "--db", db.as_str()];
    args.extend(invite);
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let list = jobs(&db);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "done");
    assert_eq!(
        (list[0]["created"].as_u64(), list[0]["unchanged"].as_u64()),
        (Some(50), Some(100))
    );

    let (code, stdout, _) = run(&["outbox", "--db", &db, "--format", "json"]);
    assert_eq!(code, 0);
    let outbox: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        outbox.len(),
        150,
        "100 from the first file, 50 from the job"
    );
    assert!(
        outbox
            .iter()
            .all(|m| m["send_at"] == "2030-01-01T09:00:00Z" && m["status"] == "queued")
    );
    let mut logins: Vec<&str> = outbox
        .iter()
        .map(|m| m["login"].as_str().unwrap())
        .collect();
    logins.sort();
    logins.dedup();
    assert_eq!(logins.len(), 150, "one invitation per created user");
    assert!(!stdout.contains("Long-enough"), "no password in the outbox");
}
