//! The review before execute: the change listing of `check` and `plan`
//! (text, JSON, CSV) on a realistic edit of an export, the warnings of a
//! damaged file, reports in the administrator's words, `fields`, and
//! Japanese headers. Real binary, real SQLite files.

mod harness;

use harness::{
    RENAMED_DEPARTMENT, RESULTS_HEADER, change_row, edited_export, example, json, ok, parse_csv,
    run_in,
};

/// The store every test here uses, in its temporary folder.
const STORE: [&str; 2] = ["--db", "users.db"];

const CHECK: [&str; 3] = ["--db", "users.db", "--generate-passwords"];

#[test]
fn check_lists_who_changes_and_how_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let edited = edited_export(dir.path(), &STORE);
    let mut args = vec!["check", edited];
    args.extend(CHECK);
    let run = ok(dir.path(), &args);
    let text = &run.stdout;
    assert!(
        text.contains("changes: create 1, update 7, delete 1, groups to create 1"),
        "{text}"
    );
    // Each user as the administrator knows them, with the line, then each
    // changed field old -> new, by the file's header.
    assert!(
        text.contains(
            "update  line 2: member 1, login \"tanaka.hanako\", e-mail \"hanako.tanaka@example.com\", name \"田中 花子\"\n          Department: \"Sales\" -> \"Sales & Marketing\""
        ),
        "{text}"
    );
    assert!(
        text.contains("Name: \"María García\" -> \"Mar?a Garc?a\""),
        "{text}"
    );
    assert!(text.contains("Name: \"김민지\" -> \"???\""), "{text}");
    assert!(
        text.contains("Belong to: +\"Managers\" -\"Remote\""),
        "{text}"
    );
    assert!(
        text.contains("delete  line 11: member 10, login \"wang.fang\""),
        "{text}"
    );
    assert!(
        text.contains(
            "create  line 12: login \"sato.ken\", e-mail \"ken.sato@example.jp\", name \"佐藤 健\""
        ),
        "{text}"
    );
    assert!(text.contains("create group \"Interns\""), "{text}");
    // The lossy re-save is a warning on each damaged value, not a plain update.
    assert_eq!(text.matches("update.lossy_text").count(), 6, "{text}");
}

#[test]
fn check_json_has_the_changes_array_and_lossy_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let edited = edited_export(dir.path(), &STORE);
    let mut args = vec!["check", edited, "--format", "json"];
    args.extend(CHECK);
    let report = json(&ok(dir.path(), &args));
    assert_eq!(report["file"]["encoding"], "Shift_JIS");
    assert_eq!(report["summary"]["update"], 7);
    assert_eq!(
        report["summary"]["warnings"], 7,
        "six lossy values and the new group"
    );
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1 + 7 + 1 + 1, "{changes:#?}");
    assert_eq!(report["changes_omitted"], serde_json::json!({}));

    let by_login = |login: &str| {
        changes
            .iter()
            .find(|c| c["login_id"] == login)
            .unwrap_or_else(|| panic!("{login} not listed: {changes:#?}"))
    };
    let tanaka = by_login("tanaka.hanako");
    assert_eq!(tanaka["kind"], "update");
    assert_eq!(tanaka["line"], 2);
    assert_eq!(tanaka["member_id"], 1);
    assert_eq!(tanaka["email"], "hanako.tanaka@example.com");
    assert_eq!(
        tanaka["fields"],
        serde_json::json!([{"column": "department", "header": "Department", "old": "Sales", "new": "Sales & Marketing"}])
    );
    let smith = by_login("j.smith");
    assert_eq!(
        smith["groups"],
        serde_json::json!({"added": ["Managers"], "removed": ["Remote"]})
    );
    assert_eq!(by_login("wang.fang")["kind"], "delete");
    assert_eq!(by_login("wang.fang")["member_id"], 10);
    let sato = by_login("sato.ken");
    assert_eq!(sato["kind"], "create");
    assert_eq!(sato["name"], "佐藤 健");
    assert!(sato.get("member_id").is_none());
    assert!(
        changes
            .iter()
            .any(|c| c["kind"] == "create_group" && c["group"] == "Interns")
    );

    // Warnings name the user and the column as the file heads it.
    let lossy: Vec<_> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "update.lossy_text")
        .collect();
    assert_eq!(lossy.len(), 6);
    let kim = lossy.iter().find(|i| i["login_id"] == "kim.minji").unwrap();
    assert_eq!(kim["value"], "???");
    assert_eq!(kim["member_id"], "6");
    assert_eq!(kim["header"], "Name");
    assert_eq!(kim["severity"], "warning");
}

#[test]
fn the_changes_csv_opens_in_excel_and_lists_one_row_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let edited = edited_export(dir.path(), &STORE);
    let mut args = vec![
        "check",
        edited,
        "--format",
        "json",
        "--changes-csv",
        "changes.csv",
    ];
    args.extend(CHECK);
    ok(dir.path(), &args);
    let bytes = std::fs::read(dir.path().join("changes.csv")).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 with a BOM for Excel"
    );
    let rows = parse_csv(&bytes);
    assert_eq!(
        rows[0],
        [
            "kind",
            "line",
            "member_id",
            "login_id",
            "email",
            "name",
            "group",
            "column",
            "old",
            "new",
            "added",
            "removed"
        ]
    );
    let find = |login: &str, column: &str| change_row(&rows, login, column);
    assert_eq!(
        find("suzuki.ichiro", "Department")[..10],
        RENAMED_DEPARTMENT
    );
    // María's record: two rows, one per damaged field.
    assert_eq!(find("m.garcia", "Name")[9], "Mar?a Garc?a");
    assert_eq!(find("m.garcia", "Display name")[9], "Mar?a");
    assert_eq!(find("j.smith", "Belong to")[10..], ["Managers", "Remote"]);
    assert_eq!(find("wang.fang", "")[0], "delete");
    assert_eq!(find("sato.ken", "")[0], "create");
    assert!(
        rows.iter()
            .any(|r| r[0] == "create_group" && r[6] == "Interns")
    );
}

#[test]
fn the_listing_is_capped_per_kind_and_the_counts_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let edited = edited_export(dir.path(), &STORE);
    let mut args = vec!["check", edited, "--format", "json", "--changes", "2"];
    args.extend(CHECK);
    let report = json(&ok(dir.path(), &args));
    let changes = report["changes"].as_array().unwrap();
    let updates = changes.iter().filter(|c| c["kind"] == "update").count();
    assert_eq!(updates, 2, "{changes:#?}");
    assert_eq!(report["summary"]["update"], 7);
    assert_eq!(report["changes_omitted"], serde_json::json!({"update": 5}));
    // Every lossy value is still warned about, listed or not.
    assert_eq!(
        report["summary"]["warnings"], 7,
        "six lossy values and the new group"
    );

    // The text report says how many are left out and how to see them.
    let mut args = vec!["check", edited, "--changes", "2"];
    args.extend(CHECK);
    let text = ok(dir.path(), &args).stdout;
    assert!(text.contains("... 5 more update not listed"), "{text}");
    assert!(text.contains("--all-changes"), "{text}");
    let mut args = vec!["check", edited, "--all-changes", "--format", "json"];
    args.extend(CHECK);
    let all = json(&ok(dir.path(), &args));
    assert_eq!(all["changes"].as_array().unwrap().len(), 10);
}

#[test]
fn plan_lists_the_same_changes() {
    let dir = tempfile::tempdir().unwrap();
    let edited = edited_export(dir.path(), &STORE);
    let mut args = vec![
        "plan",
        edited,
        "-o",
        "plan.json",
        "--format",
        "json",
        "--changes-csv",
        "plan-changes.csv",
    ];
    args.extend(CHECK);
    let report = json(&ok(dir.path(), &args));
    assert_eq!(report["changes"].as_array().unwrap().len(), 10);
    let rows = parse_csv(&std::fs::read(dir.path().join("plan-changes.csv")).unwrap());
    assert!(rows.iter().any(|r| r[3] == "kim.minji" && r[9] == "???"));
}

#[test]
fn an_export_reimports_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    edited_export(dir.path(), &STORE);
    let report = json(&ok(
        dir.path(),
        &[
            "check",
            "export.csv",
            "--db",
            "users.db",
            "--format",
            "json",
        ],
    ));
    assert_eq!(report["summary"]["warnings"], 0, "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 10);
    assert_eq!(report["changes"], serde_json::json!([]));
}

#[test]
fn one_field_changed_on_most_rows_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("Login ID,Name,Email address,Department\n");
    for i in 0..30 {
        file.push_str(&format!("user{i},User {i},user{i}@example.com,Sales\n"));
    }
    std::fs::write(dir.path().join("users.csv"), &file).unwrap();
    ok(
        dir.path(),
        &["apply", "users.csv", "--db", "u.db", "--generate-passwords"],
    );
    // Sorted or filled down by mistake: every row's department changes.
    let edited = file.replace(",Sales\n", ",Finance\n");
    std::fs::write(dir.path().join("edited.csv"), edited).unwrap();
    let report = json(&ok(
        dir.path(),
        &["check", "edited.csv", "--db", "u.db", "--format", "json"],
    ));
    let issues = report["issues"].as_array().unwrap();
    let mass: Vec<_> = issues
        .iter()
        .filter(|i| i["code"] == "update.mass_change")
        .collect();
    assert_eq!(mass.len(), 1, "{issues:#?}");
    assert_eq!(mass[0]["header"], "Department");
    assert!(
        mass[0]["message"]
            .as_str()
            .unwrap()
            .contains("30 of the 30 rows"),
        "{mass:?}"
    );
    // A few edits are not a mass change.
    let few = file.replacen(",Sales\n", ",Finance\n", 3);
    std::fs::write(dir.path().join("few.csv"), few).unwrap();
    let report = json(&ok(
        dir.path(),
        &["check", "few.csv", "--db", "u.db", "--format", "json"],
    ));
    assert_eq!(report["summary"]["warnings"], 0, "{report:#}");
}

#[test]
fn reports_and_results_speak_the_administrators_words() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    ok(
        dir.path(),
        &["apply", users.to_str().unwrap(), "--db", "users.db"],
    );
    // Japanese headers, a bad e-mail on an existing user, a bad due date
    // typed with the seed's wording, and a good new user.
    let file = "ログインID,氏名,メールアドレス,有効期限タイプ,有効日数/有効期限\n\
                tanaka.hanako,田中 花子,hanako@@example.com,,\n\
                suzuki.ichiro,鈴木 一郎,ichiro.suzuki@example.com,effective date,next week\n\
                new.user,新 規,new.user@example.jp,,\n";
    std::fs::write(dir.path().join("ja.csv"), file).unwrap();
    let run = run_in(
        dir.path(),
        &[
            "check",
            "ja.csv",
            "--db",
            "users.db",
            "--format",
            "csv",
            "--generate-passwords",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let rows = parse_csv(run.stdout.as_bytes());
    assert_eq!(
        rows[0],
        [
            "line",
            "row",
            "column",
            "severity",
            "code",
            "message",
            "value",
            "member_id",
            "login_id",
            "email"
        ]
    );
    let email = rows.iter().find(|r| r[4] == "email.invalid").unwrap();
    assert_eq!(email[2], "メールアドレス");
    assert_eq!(email[6], "hanako@@example.com");
    // The row has no member ID column: the ID is that of the user it matched.
    assert_eq!(email[7..], ["1", "tanaka.hanako", "hanako@@example.com"]);
    let due = rows.iter().find(|r| r[2] == "有効日数/有効期限").unwrap();
    assert_eq!(due[6], "next week", "the value as typed");
    assert!(
        due[5].starts_with("有効期限タイプ \"effective date\" needs a date in 有効日数/有効期限"),
        "{due:?}"
    );
    assert_eq!(due[8], "suzuki.ichiro");

    // The text report names the column by the file's header too.
    let text = run_in(
        dir.path(),
        &[
            "check",
            "ja.csv",
            "--db",
            "users.db",
            "--generate-passwords",
        ],
    )
    .stdout;
    assert!(text.contains("メールアドレス"), "{text}");

    // The results file: every row with its member ID, login ID and e-mail;
    // a failed row carries the member ID of the user it matched.
    let run = run_in(
        dir.path(),
        &[
            "apply",
            "ja.csv",
            "--db",
            "users.db",
            "--skip-invalid",
            "--generate-passwords",
            "--results",
            "results.csv",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let rows = parse_csv(&std::fs::read(dir.path().join("results.csv")).unwrap());
    assert_eq!(rows[0], RESULTS_HEADER);
    let tanaka = rows.iter().find(|r| r[5] == "tanaka.hanako").unwrap();
    assert_eq!(tanaka[2], "failed");
    assert_eq!(tanaka[3], "1", "the matched user's member ID: {rows:?}");
    assert_eq!(tanaka[6], "hanako@@example.com");
    let created = rows.iter().find(|r| r[5] == "new.user").unwrap();
    assert_eq!(created[2], "created");
    assert_eq!(created[3], "11");
    assert_eq!(created[6], "new.user@example.jp");
}

#[test]
fn fields_lists_every_column_with_its_headers_values_and_keywords() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(dir.path(), &["fields"]).stdout;
    assert!(
        text.contains("key order: member_id, login_id, email"),
        "{text}"
    );
    for expected in [
        "\"Email address\"",
        "\"メールアドレス\"",
        "\"ログインID\"",
        "\"delete\" clears the stored value",
        "\"none\" clears the stored value",
        "-A removes it from A",
        "1 deletes the user",
        "Suspended [Temporary suspended",
        "ExpirationDate",
        "\"有効日数/有効期限\"",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    let team = json(&ok(
        dir.path(),
        &["fields", "--profile", "team", "--format", "json"],
    ));
    assert_eq!(team["key_order"], serde_json::json!(["primary_email"]));
    let role = team["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "role")
        .unwrap();
    assert_eq!(
        role["values"],
        serde_json::json!(["User", "Admin", "Supervisor"])
    );
    let help = ok(dir.path(), &["--help"]).stdout;
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  usage, I/O or file-level error"), "{help}");
    assert!(help.contains("fields"), "{help}");
}

#[test]
fn japanese_template_and_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &[
            "template",
            "--lang",
            "ja",
            "--charset",
            "shift_jis",
            "-o",
            "template.csv",
        ],
    );
    let template = parse_csv(&std::fs::read(dir.path().join("template.csv")).unwrap());
    assert_eq!(template[0][..3], ["ログインID", "氏名", "表示名"]);
    assert!(template[0].contains(&"メールアドレス".to_string()));
    // The Japanese template imports as it is.
    ok(
        dir.path(),
        &[
            "apply",
            "template.csv",
            "--db",
            "ja.db",
            "--charset",
            "shift_jis",
        ],
    );
    let users = example("users.csv");
    ok(
        dir.path(),
        &["apply", users.to_str().unwrap(), "--db", "ja.db"],
    );
    ok(
        dir.path(),
        &[
            "export",
            "--db",
            "ja.db",
            "--lang",
            "ja",
            "-o",
            "export-ja.csv",
        ],
    );
    let export = parse_csv(&std::fs::read(dir.path().join("export-ja.csv")).unwrap());
    assert_eq!(export[0][..2], ["メンバーID", "ログインID"]);
    assert!(export[0].contains(&"登録日時".to_string()));
    // Re-imported: nothing changes and nothing is warned about.
    let report = json(&ok(
        dir.path(),
        &[
            "check",
            "export-ja.csv",
            "--db",
            "ja.db",
            "--format",
            "json",
        ],
    ));
    // (The template's example user is one of the example users.)
    assert_eq!(report["summary"]["unchanged"], 10, "{report:#}");
    assert_eq!(report["summary"]["warnings"], 0, "{report:#}");
    let run = run_in(dir.path(), &["template", "--lang", "fr"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("use en or ja"), "{}", run.stderr);
}

#[test]
fn sync_lists_the_users_absent_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    ok(
        dir.path(),
        &["apply", users.to_str().unwrap(), "--db", "users.db"],
    );
    // The file without Amélie Dubois: sync deletes her, or suspends her.
    let text = std::fs::read_to_string(&users).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("a.dubois,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("sync.csv"), without).unwrap();
    let base = [
        "check",
        "sync.csv",
        "--db",
        "users.db",
        "--mode",
        "sync",
        "--max-delete",
        "20",
    ];
    let report = json(&ok(
        dir.path(),
        &[&base[..], &["--format", "json"]].concat(),
    ));
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["kind"], "delete");
    assert_eq!(changes[0]["line"], 0);
    assert_eq!(changes[0]["login_id"], "a.dubois");
    assert_eq!(changes[0]["name"], "Amélie Dubois");
    let text = ok(dir.path(), &base).stdout;
    assert!(
        text.contains("delete  absent from the file: member 7, login \"a.dubois\""),
        "{text}"
    );
    let suspend = json(&ok(
        dir.path(),
        &[&base[..], &["--format", "json", "--sync-action", "suspend"]].concat(),
    ));
    let changes = suspend["changes"].as_array().unwrap();
    assert_eq!(changes[0]["kind"], "suspend", "{changes:#?}");
    assert_eq!(changes[0]["member_id"], 7);
    assert_eq!(changes[0]["fields"][0]["old"], "Valid");
    assert_eq!(changes[0]["fields"][0]["new"], "Suspended");
}
