//! The team tool (seed 003) end to end through the CLI with the built-in
//! `team` profile: groups created first, the import template's columns,
//! strict e-mail, additive groups and source usernames, `none`, enabled
//! sources, the 2,000-row limit, and the review counts of new and updated
//! users.

use std::path::Path;

use serde_json::Value;

mod harness;

use harness::userimport as run;

fn data(name: &str) -> String {
    harness::example_path(&format!("data/team/{name}"))
}

/// A fresh store with the account's groups, as an admin sets it up.
fn store(dir: &Path) -> String {
    let db = dir.join("team.db").display().to_string();
    let (code, stdout, stderr) = run(&[
        "groups",
        "--db",
        &db,
        "add",
        "Support",
        "Escalations",
        "Engineering",
        "Sales",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    db
}

fn check_json(db: &str, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "check",
        file,
        "--db",
        db,
        "--profile",
        "team",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {stdout}\n{stderr}"));
    (code, json)
}

fn apply(db: &str, file: &str) -> String {
    let (code, stdout, stderr) = run(&["apply", file, "--db", db, "--profile", "team"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    stdout
}

fn errors(json: &Value) -> Vec<(u64, String, String)> {
    json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["column"].as_str().unwrap_or("").to_string(),
                i["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The store as the team tool's CSV, rows keyed by primary e-mail.
fn export(db: &str) -> Vec<Vec<String>> {
    let (code, stdout, stderr) = run(&[
        "export",
        "--db",
        db,
        "--profile",
        "team",
        "--charset",
        "utf-8",
    ]);
    assert_eq!(code, 0, "{stderr}");
    harness::parse_csv(stdout.as_bytes())
}

fn row<'a>(rows: &'a [Vec<String>], email: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[2].eq_ignore_ascii_case(email))
        .unwrap_or_else(|| panic!("{email} not exported"))
}

#[test]
fn template_has_the_guide_columns() {
    let (code, stdout, _) = run(&["template", "--profile", "team", "--charset", "utf-8"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().next().unwrap(),
        "Current Status,Display Name,Primary Email,Role,Groups,Source Username(s)"
    );
}

#[test]
fn import_then_update_with_review_counts_additive_groups_and_sources() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());

    // The review screen: how many new users, how many updated.
    let (code, json) = check_json(&db, &data("users.csv"), &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["summary"]["create"], 6);
    assert_eq!(json["summary"]["update"], 0);
    let out = apply(&db, &data("users.csv"));
    assert!(out.contains("6 created"), "{out}");

    let (code, json) = check_json(&db, &data("update.csv"), &[]);
    assert_eq!(code, 0, "{json:#}");
    let s = &json["summary"];
    assert_eq!(
        (s["create"].as_u64(), s["update"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(s["unchanged"], 1, "priya: slack:priya is already hers");
    let (code, text, _) = run(&[
        "check",
        &data("update.csv"),
        "--db",
        &db,
        "--profile",
        "team",
    ]);
    assert_eq!(code, 0);
    assert!(text.contains("create 1, update 3"), "{text}");
    apply(&db, &data("update.csv"));

    let rows = export(&db);
    assert_eq!(rows.len(), 1 + 7);
    let john = row(&rows, "john.doe@example.com");
    assert_eq!(john[3], "Supervisor");
    assert_eq!(
        john[4], "Escalations,Support",
        "groups are added, not replaced"
    );
    assert_eq!(john[5], "slack:jdoe,teams:john.doe", "identities are added");
    let jane = row(&rows, "jane.doe@example.com");
    assert_eq!(jane[0], "Archived");
    assert_eq!(jane[1], "Doe, Jane");
    assert_eq!(jane[4], "", "`none` removes every group");
    assert_eq!(
        jane[5], "slack:jane.doe",
        "a blank cell keeps the identities"
    );
    let carlos = row(&rows, "carlos.mendes@example.com");
    assert_eq!(carlos[0], "Active", "matched ignoring the e-mail's case");
    assert_eq!(carlos[4], "Support");
    assert_eq!(row(&rows, "fatima.zahra@example.gov")[4], "Sales");
}

#[test]
fn the_error_report_names_each_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let (code, json) = check_json(&db, &data("errors.csv"), &[]);
    assert_eq!(code, 1);
    let expected = [
        (3, "primary_email", "email.invalid"),
        (4, "primary_email", "email.invalid"),
        (5, "primary_email", "email.invalid"),
        (6, "groups", "group.unknown"),
        (7, "source_usernames", "identity.unknown_source"),
        (8, "status", "enum.unknown"),
        (9, "role", "enum.unknown"),
        (10, "display_name", "field.required"),
    ]
    .map(|(l, c, k)| (l, c.to_string(), k.to_string()));
    assert_eq!(errors(&json), expected);
    assert_eq!(json["summary"]["valid"], 1);

    // The error report as CSV, one issue a row.
    let (code, csv, _) = run(&[
        "check",
        &data("errors.csv"),
        "--db",
        &db,
        "--profile",
        "team",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 1);
    assert_eq!(csv.lines().filter(|l| l.contains("error")).count(), 8);

    // Nothing is imported while the file has errors.
    let (code, _, stderr) = run(&[
        "apply",
        &data("errors.csv"),
        "--db",
        &db,
        "--profile",
        "team",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(export(&db).len(), 1);
}

#[test]
fn groups_must_exist_and_sources_must_be_enabled() {
    let dir = tempfile::tempdir().unwrap();
    // No `groups add` yet: every group in the file is unknown.
    let bare = dir.path().join("bare.db").display().to_string();
    let (code, json) = check_json(&bare, &data("users.csv"), &[]);
    assert_eq!(code, 1);
    let unknown: Vec<u64> = errors(&json)
        .into_iter()
        .filter(|(_, _, c)| c == "group.unknown")
        .map(|(l, _, _)| l)
        .collect();
    assert_eq!(unknown, [2, 3, 3, 4, 5, 6, 6]);

    // With the groups created, `--sources slack` leaves teams and email off.
    let db = store(dir.path());
    let (code, json) = check_json(&db, &data("users.csv"), &["--sources", "slack"]);
    assert_eq!(code, 1);
    let lines: Vec<u64> = errors(&json)
        .into_iter()
        .filter(|(_, _, c)| c == "identity.unknown_source")
        .map(|(l, _, _)| l)
        .collect();
    assert_eq!(lines, [4, 6, 7]);
    let (code, _) = check_json(&db, &data("users.csv"), &["--sources", "slack,teams,email"]);
    assert_eq!(code, 0);
}

#[test]
fn at_most_2000_rows_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(dir.path());
    let mut text =
        String::from("Current Status,Display Name,Primary Email,Role,Groups,Source Username(s)\n");
    for i in 1..=2_000 {
        text.push_str(&format!(
            "Active,User {i},user{i}@example.com,User,Support,\n"
        ));
    }
    let ok = dir.path().join("2000.csv");
    std::fs::write(&ok, &text).unwrap();
    let (code, json) = check_json(&db, ok.to_str().unwrap(), &[]);
    assert_eq!(code, 0);
    assert_eq!(json["summary"]["create"], 2_000);

    text.push_str("Active,User 2001,user2001@example.com,User,Support,\n");
    let over = dir.path().join("2001.csv");
    std::fs::write(&over, &text).unwrap();
    let (code, stdout, stderr) = run(&[
        "check",
        over.to_str().unwrap(),
        "--db",
        &db,
        "--profile",
        "team",
    ]);
    assert_eq!(code, 2, "a file-level error: {stdout}");
    assert!(stderr.contains("2000"), "{stderr}");
    let (code, _, _) = run(&[
        "apply",
        over.to_str().unwrap(),
        "--db",
        &db,
        "--profile",
        "team",
    ]);
    assert_eq!(code, 2);
    assert_eq!(export(&db).len(), 1, "nothing imported");
}
