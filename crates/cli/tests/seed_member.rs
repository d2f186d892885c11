//! The member site (seed 001) end to end through the CLI: member-ID keys
//! (blank = new member), the delete flag, random passwords for new members,
//! the e-mail and login-ID fallbacks, registered groups, Shift_JIS both ways,
//! export by groups, filter, random N and columns, and custom extension
//! fields declared in `examples/profiles/members.toml`.

use serde_json::Value;

mod harness;

use harness::userimport as run;

fn data(name: &str) -> String {
    harness::example_path(&format!("data/member/{name}"))
}

fn profile() -> String {
    harness::example_path("profiles/members.toml")
}

/// Runs a command with `--db DB --profile members.toml` appended.
fn cmd(db: &str, args: &[&str]) -> (i32, String, String) {
    let profile = profile();
    let mut all = args.to_vec();
    all.extend_from_slice(&["--db", db, "--profile", &profile]);
    run(&all)
}

/// `userimport check FILE … --format json`.
fn check_json(db: &str, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", file, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = cmd(db, &args);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {stdout}\n{stderr}"));
    (code, json)
}

fn summary(json: &Value) -> [u64; 4] {
    let s = &json["summary"];
    ["create", "update", "delete", "unchanged"].map(|k| s[k].as_u64().unwrap())
}

fn errors(json: &Value) -> Vec<(u64, String)> {
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

/// `userimport export` in UTF-8 with extra options, parsed.
fn export(db: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["export", "--charset", "utf-8"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = cmd(db, &args);
    assert_eq!(code, 0, "export: {stderr}");
    parse_csv(stdout.as_bytes())
}

/// Registers the five members of `members_shift_jis.csv`.
fn register(db: &str) {
    let (code, stdout, stderr) = cmd(
        db,
        &[
            "apply",
            &data("members_shift_jis.csv"),
            "--charset",
            "shift_jis",
            "--generate-passwords",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("5 created"), "{stdout}");
}

#[test]
fn new_members_from_shift_jis_with_generated_passwords_and_extension_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("members.db").display().to_string();
    let file = data("members_shift_jis.csv");

    // Four of the five rows leave the password blank: an error unless the
    // "randomly generated" option is on.
    let (code, json) = check_json(&db, &file, &["--charset", "shift_jis"]);
    assert_eq!(code, 1);
    assert_eq!(json["file"]["encoding"], "Shift_JIS");
    let missing: Vec<u64> = errors(&json)
        .into_iter()
        .filter(|(_, c)| c == "password.missing")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(missing, [2, 3, 5, 6]);
    let (code, json) = check_json(
        &db,
        &file,
        &["--charset", "shift_jis", "--generate-passwords"],
    );
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(summary(&json), [5, 0, 0, 0]);

    register(&db);
    let rows = export(
        &db,
        &[
            "--columns",
            "member_id,login_id,name,groups,plan,shoe_size,birthday",
        ],
    );
    assert_eq!(
        rows[0],
        [
            "Member ID",
            "Login ID",
            "Name",
            "Belong to",
            "Membership plan",
            "Shoe size",
            "Birthday"
        ]
    );
    assert_eq!(
        rows[1..],
        [
            [
                "1",
                "sakura.kimura",
                "木村 さくら",
                "Members",
                "Premium",
                "23",
                "1992/03/15"
            ],
            [
                "2",
                "daiki.ogawa",
                "小川 大輝",
                "ランナーズ",
                "Standard",
                "27",
                "1988/11/02"
            ],
            [
                "3",
                "yuka.matsumoto",
                "松本 由香",
                "Members",
                "Free",
                "24",
                ""
            ],
            [
                "4",
                "hiroshi.endo",
                "遠藤 博",
                "VIP,ランナーズ",
                "Premium",
                "28",
                "1975/07/30"
            ],
            [
                "5",
                "aoi.fujita",
                "藤田 葵",
                "Members",
                "Standard",
                "22",
                "2001/01/09"
            ],
        ],
        "member IDs assigned in file order; blank groups = the default group; \
         `Gold` and `スタンダード` resolved; dates written canonically"
    );
    // Every new member has a password: the generated ones (and yuka's from
    // the file) are stored as argon2id hashes, never as text.
    let store = userimport::sink::SqliteSink::open_existing(&db).unwrap();
    for id in 1..=5 {
        let hash = store.password_hash(id).unwrap().expect("a password");
        assert!(hash.starts_with("$argon2id$"), "member {id}: {hash}");
    }
    drop(store);
    // No password, plain or hashed, is ever exported.
    let (_, all, _) = cmd(&db, &["export", "--charset", "utf-8"]);
    assert!(!all.contains("Yuka-Matsu-2026") && !all.contains("$argon2"));
}

#[test]
fn batch_update_by_member_id_with_delete_flag_and_kept_groups() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("members.db").display().to_string();
    register(&db);

    let file = data("update_shift_jis.csv");
    let (code, json) = check_json(
        &db,
        &file,
        &["--charset", "shift_jis", "--generate-passwords"],
    );
    assert_eq!(code, 0, "{json:#}");
    // kenta (blank ID) is new; sakura and yuka change; daiki has delete
    // flag 1; hiroshi is as stored.
    assert_eq!(summary(&json), [1, 2, 1, 1]);
    let (code, stdout, stderr) = cmd(
        &db,
        &[
            "apply",
            &file,
            "--charset",
            "shift_jis",
            "--generate-passwords",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let rows = export(&db, &["--columns", "member_id,login_id,groups,plan"]);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["1", "3", "4", "5", "6"], "member 2 deleted");
    let by_login = |login: &str| rows.iter().find(|r| r[1] == login).unwrap().clone();
    assert_eq!(by_login("sakura.kimura")[3], "Standard");
    assert_eq!(
        by_login("sakura.kimura")[2],
        "Members",
        "blank groups keep an existing member's groups"
    );
    assert_eq!(by_login("yuka.matsumoto")[2], "Members,VIP", "groups add");
    assert_eq!(
        by_login("kenta.noguchi")[2],
        "Members",
        "new: default group"
    );

    // Download in Shift_JIS, upload it again: nothing changes.
    let exported = dir.path().join("members_sjis.csv");
    let (code, _, stderr) = cmd(
        &db,
        &[
            "export",
            "--charset",
            "shift_jis",
            "-o",
            exported.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let bytes = std::fs::read(&exported).unwrap();
    // 木村 さくら in Shift_JIS (as `iconv -t CP932` writes it).
    let name = b"\x96\xd8\x91\xba \x82\xb3\x82\xad\x82\xe7";
    assert!(
        bytes.windows(name.len()).any(|w| w == name),
        "names are written in Shift_JIS"
    );
    let (code, json) = check_json(&db, exported.to_str().unwrap(), &["--charset", "shift_jis"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(summary(&json), [0, 0, 0, 5]);
}

#[test]
fn blank_member_id_falls_back_to_email_or_login_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("members.db").display().to_string();
    register(&db);

    // Member ID is the key: a blank one is a new member, so these rows
    // collide with the members who own the e-mail addresses.
    let (code, json) = check_json(&db, &data("by_email.csv"), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        errors(&json),
        [
            (2, "user.exists".to_string()),
            (3, "user.exists".to_string()),
            (4, "email.invalid".to_string())
        ]
    );

    // "Search from 'E-mail' when 'Member ID' is not available" (the e-mail
    // compares ignoring case); the invalid address is still not registered.
    let (code, json) = check_json(&db, &data("by_email.csv"), &["--key", "id,email"]);
    assert_eq!(code, 1);
    assert_eq!(errors(&json), [(4, "email.invalid".to_string())]);
    assert_eq!(summary(&json), [0, 2, 0, 0]);
    let (code, stdout, _) = cmd(
        &db,
        &[
            "apply",
            &data("by_email.csv"),
            "--key",
            "id,email",
            "--skip-invalid",
        ],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("2 updated"), "{stdout}");

    // "Search from 'Login ID' when 'Member ID' is not available"; the row with
    // neither cannot be registered.
    let (code, json) = check_json(&db, &data("by_login.csv"), &[]);
    assert_eq!(code, 1);
    assert_eq!(errors(&json)[0], (2, "user.exists".to_string()));
    let (code, json) = check_json(&db, &data("by_login.csv"), &["--key", "id,login"]);
    assert_eq!(code, 1);
    assert_eq!(summary(&json), [0, 2, 0, 0]);
    assert!(errors(&json).iter().all(|(line, _)| *line == 4), "{json:#}");
    let (code, _, _) = cmd(
        &db,
        &[
            "apply",
            &data("by_login.csv"),
            "--key",
            "id,login",
            "--skip-invalid",
        ],
    );
    assert_eq!(code, 1);

    let rows = export(
        &db,
        &[
            "--columns",
            "login_id,plan,shoe_size",
            "--where",
            "plan=premium",
        ],
    );
    assert_eq!(
        rows[1..],
        [
            ["sakura.kimura", "Premium", "24"],
            ["aoi.fujita", "Premium", "22"],
        ],
        "by e-mail: plan and shoe size updated, blank shoe size kept"
    );
    let rows = export(&db, &["--columns", "login_id,email,plan,shoe_size"]);
    assert_eq!(rows.len(), 1 + 5, "matched, not duplicated");
    let yuka = rows.iter().find(|r| r[0] == "yuka.matsumoto").unwrap();
    assert_eq!(yuka[1..], ["yuka.m@example.net", "Standard", "24"]);
    let hiroshi = rows.iter().find(|r| r[0] == "hiroshi.endo").unwrap();
    assert_eq!(hiroshi[1..], ["hiroshi.endo@example.jp", "Free", "29"]);
}

#[test]
fn download_by_groups_filter_random_n_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("members.db").display().to_string();
    register(&db);

    let names =
        |rows: &[Vec<String>]| -> Vec<String> { rows[1..].iter().map(|r| r[0].clone()).collect() };
    let runners = export(&db, &["--groups", "ランナーズ", "--columns", "login_id"]);
    assert_eq!(names(&runners), ["daiki.ogawa", "hiroshi.endo"]);
    let two_groups = export(&db, &["--groups", "VIP,Members", "--columns", "login_id"]);
    assert_eq!(
        names(&two_groups),
        [
            "sakura.kimura",
            "yuka.matsumoto",
            "hiroshi.endo",
            "aoi.fujita"
        ]
    );
    let standard = export(&db, &["--where", "plan=Standard", "--columns", "login_id"]);
    assert_eq!(names(&standard), ["daiki.ogawa", "aoi.fujita"]);
    let both = export(
        &db,
        &[
            "--where",
            "plan=Standard",
            "--groups",
            "Members",
            "--columns",
            "login_id",
        ],
    );
    assert_eq!(names(&both), ["aoi.fujita"]);

    let all: Vec<String> = names(&export(&db, &["--columns", "login_id"]));
    for _ in 0..5 {
        let sample = names(&export(&db, &["--random", "3", "--columns", "login_id"]));
        assert_eq!(sample.len(), 3);
        assert!(sample.iter().all(|n| all.contains(n)), "{sample:?}");
        let mut unique = sample.clone();
        unique.dedup();
        assert_eq!(unique.len(), 3, "no member twice: {sample:?}");
    }
    let everyone = export(&db, &["--random", "50", "--columns", "login_id"]);
    assert_eq!(everyone.len(), 1 + 5, "N above the count = everyone");

    // A password column is never an output column.
    let (code, _, stderr) = cmd(&db, &["export", "--columns", "login_id,password"]);
    assert_eq!(code, 2, "{stderr}");
}
