//! The access-control portal (seed 004) end to end through the CLI with the
//! built-in `access` profile: UTF-8 only, 5 MB, header row position, column
//! mapping (with `none`), hexadecimal and decimal card IDs, card validity
//! dates, preview, the overwrite / keep-existing policy, and the results
//! file with success and failure counts and reasons.

use serde_json::Value;

mod harness;

use harness::userimport as run;
use harness::{RESULTS_HEADER, parse_csv};

fn data(name: &str) -> String {
    harness::example_path(&format!("data/access/{name}"))
}

/// Runs a command with `--db DB --profile access` appended.
fn access(db: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--db", db, "--profile", "access"]);
    run(&all)
}

fn check_json(db: &str, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", file, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = access(db, &args);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {stdout}\n{stderr}"));
    (code, json)
}

fn export(db: &str) -> Vec<Vec<String>> {
    let (code, stdout, stderr) = access(db, &["export", "--charset", "utf-8"]);
    assert_eq!(code, 0, "{stderr}");
    parse_csv(stdout.as_bytes())
}

fn user<'a>(rows: &'a [Vec<String>], id: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[0] == id)
        .unwrap_or_else(|| panic!("{id} not exported"))
}

const EMPLOYEES: [&str; 4] = ["--header-row", "3", "--card-id-type", "hex"];

#[test]
fn preview_shows_the_header_row_and_records_as_parsed() {
    let (code, stdout, stderr) = run(&[
        "preview",
        &data("employees.csv"),
        "--header-row",
        "3",
        "--rows",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["encoding"], "UTF-8");
    assert_eq!(json["header_line"], 3);
    assert_eq!(json["header"][4], "Card number");
    let records = json["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["line"], 4);
    assert_eq!(records[1]["fields"][1], "Tomás Herrera");
    assert_eq!(records[1]["fields"][4], "0x04FFEE0011", "no validation");

    // Without --header-row the title line is taken for the header, and the
    // profile's columns are missing: a file-level error.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db").display().to_string();
    let (code, _, stderr) = access(&db, &["check", &data("employees.csv")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("User ID"),
        "names the missing column: {stderr}"
    );
}

#[test]
fn import_with_header_row_and_hex_cards_writes_a_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("access.db").display().to_string();
    let file = data("employees.csv");

    let (code, json) = check_json(&db, &file, &EMPLOYEES);
    assert_eq!(code, 1);
    let errors: Vec<(u64, &str)> = json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| (i["line"].as_u64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [(7, "date_range.reversed"), (8, "card_id.invalid")],
        "lines as the spreadsheet shows them, title lines counted"
    );
    assert_eq!(json["summary"]["valid"], 4);

    // Execute: the valid rows are imported, the results file lists every
    // row with its outcome, and the failures with their reasons.
    let results = dir.path().join("results.csv");
    let mut apply = vec![
        "apply",
        file.as_str(),
        "--skip-invalid",
        "--results",
        results.to_str().unwrap(),
    ];
    apply.extend_from_slice(&EMPLOYEES);
    let (code, stdout, stderr) = access(&db, &apply);
    assert_eq!(code, 1, "row errors exit 1 even when skipped: {stderr}");
    assert!(stdout.contains("4 created"), "{stdout}");
    assert!(stdout.contains("2 failed"), "{stdout}");
    let rows = parse_csv(&std::fs::read(&results).unwrap());
    assert_eq!(rows[0], RESULTS_HEADER);
    let outcomes: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[2].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("4", "created"),
            ("5", "created"),
            ("6", "created"),
            ("7", "failed"),
            ("8", "failed"),
            ("9", "created"),
        ]
    );
    assert!(rows[4][4].contains("date_range.reversed"), "{:?}", rows[4]);
    assert!(rows[5][4].contains("card_id.invalid"), "{:?}", rows[5]);

    let users = export(&db);
    assert_eq!(users.len(), 1 + 4);
    // Card IDs are stored in one notation, decimal (hex 04FFEE0011, with or
    // without 0x, is 21473656849), and exported so.
    assert_eq!(user(&users, "E1002")[4], "21473656849");
    assert_eq!(
        user(&users, "E1003")[4],
        u128::from_str_radix("04C0FFEE12", 16).unwrap().to_string()
    );
    // Both date spellings are accepted and written as YYYY-MM-DD.
    assert_eq!(user(&users, "E1002")[5..], ["2026-02-01", "2027-01-31"]);
    assert_eq!(user(&users, "E1003")[6], "", "no end date: open-ended card");
}

#[test]
fn keep_existing_fills_blanks_only_and_overwrite_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("access.db").display().to_string();
    let file = data("employees.csv");
    let mut apply = vec!["apply", file.as_str(), "--skip-invalid"];
    apply.extend_from_slice(&EMPLOYEES);
    access(&db, &apply);

    let update = data("update.csv");
    let (code, json) = check_json(
        &db,
        &update,
        &["--card-id-type", "hex", "--merge", "keep-existing"],
    );
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        json["summary"]["update"], 1,
        "only E1003 has blanks to fill"
    );
    assert_eq!(json["summary"]["unchanged"], 2);
    let (code, _, stderr) = access(
        &db,
        &[
            "apply",
            &update,
            "--card-id-type",
            "hex",
            "--merge",
            "keep-existing",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let users = export(&db);
    let jane = user(&users, "E1001");
    assert_eq!(jane[2..4], ["jane.park@example.com", "Security"], "kept");
    assert_eq!(jane[6], "2026-12-31", "kept");
    let aiko = user(&users, "E1003");
    assert_eq!(aiko[2], "aiko.sato@example.com", "blank filled");
    assert_eq!(aiko[3], "Warehouse", "kept");
    assert_eq!(aiko[6], "2026-12-31", "blank filled");

    // Overwrite with CSV: the file wins.
    let (code, _, stderr) = access(
        &db,
        &[
            "apply",
            &update,
            "--card-id-type",
            "hex",
            "--merge",
            "overwrite",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let users = export(&db);
    let jane = user(&users, "E1001");
    assert_eq!(jane[2..4], ["jane.p@example.net", "Security Operations"]);
    assert_eq!(jane[6], "2027-06-30");
    assert_eq!(user(&users, "E1003")[3], "Logistics");
}

#[test]
fn column_mapping_with_none_and_decimal_cards() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("access.db").display().to_string();
    let file = data("staff_other_system.csv");
    // Headers from another system: nothing matches until mapped.
    let (code, _, stderr) = access(&db, &["check", &file]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("User ID"),
        "names the missing column: {stderr}"
    );

    let maps = [
        "--map",
        "user_id=Staff No",
        "--map",
        "name=Full name",
        "--map",
        "email=Mail",
        "--map",
        "department=none",
        "--map",
        "card_id=Badge no.",
        "--map",
        "start_date=Valid from",
        "--map",
        "end_date=Valid until",
    ];
    let mut args = vec!["apply", file.as_str()];
    args.extend_from_slice(&maps);
    let (code, stdout, stderr) = access(&db, &args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("3 created"), "{stdout}");
    let users = export(&db);
    let omar = user(&users, "E2001");
    assert_eq!(omar[1..3], ["Omar Said", "omar.said@example.com"]);
    assert_eq!(
        omar[3], "",
        "department=none: the Team column is not imported"
    );
    assert_eq!(omar[4], "305419896", "decimal card ID");
    assert_eq!(user(&users, "E2003")[4], "123456789012");

    // Decimal is the default notation: a hexadecimal card ID is refused.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "User ID,Name,Card ID\nE9,Hex In Decimal,04ABCDEF01\n").unwrap();
    let (code, json) = check_json(&db, bad.to_str().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(json["issues"][0]["code"], "card_id.invalid");
    assert_eq!(json["issues"][0]["line"], 2);
}

#[test]
fn only_utf8_and_at_most_5_mb() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("access.db").display().to_string();
    for (file, name) in [
        ("employees_shift_jis.csv", "Shift_JIS"),
        ("employees_windows1252.csv", "windows-1252"),
    ] {
        let (code, stdout, stderr) = access(&db, &["check", &data(file)]);
        assert_eq!(code, 2, "{file}: a file-level error: {stdout}");
        assert!(
            stderr.contains(name),
            "{file}: names the encoding: {stderr}"
        );
        assert!(stderr.contains("UTF-8"), "{stderr}");
    }
    // An explicit charset does not get around the policy either.
    let (code, _, _) = access(
        &db,
        &[
            "check",
            &data("employees_shift_jis.csv"),
            "--charset",
            "shift_jis",
        ],
    );
    assert_eq!(code, 2);

    // 5 MB is the limit: a file just above it is refused before any row is
    // imported.
    let mut text = String::from("User ID,Name,Email,Department,Card ID,Start date,End date\n");
    let mut i = 0;
    while text.len() <= 5 * 1024 * 1024 {
        i += 1;
        text.push_str(&format!(
            "U{i:07},Person {i},person{i}@example.com,Operations,{},2026-01-01,2026-12-31\n",
            1_000_000_000u64 + i
        ));
    }
    let big = dir.path().join("big.csv");
    std::fs::write(&big, &text).unwrap();
    let (code, _, stderr) = access(&db, &["apply", big.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("limit"), "{stderr}");
    assert_eq!(export(&db).len(), 1, "nothing imported");
}
