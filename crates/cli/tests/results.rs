//! `apply --skip-invalid` accounts for every row at every size: the rows
//! refused by the check are failed results (with their reasons) in the
//! apply's JSON, in `--results`, and in the job (`jobs ID`) when the file
//! is large enough to be one.

mod harness;

use harness::run;

/// A file of `rows` new users (pre-hashed passwords, so no hashing cost)
/// with an invalid e-mail on each line of `bad`.
fn file(rows: u64, bad: &[u64]) -> String {
    let hash = userimport::plan::hash_password("Secret-pass-1").unwrap();
    let mut text = String::from("login_id,name,email,password_hash\n");
    for row in 1..=rows {
        let line = row + 1;
        let email = if bad.contains(&line) {
            format!("user{row}-at-example.com")
        } else {
            format!("user{row}@example.com")
        };
        text.push_str(&format!("user{row},User {row},{email},\"{hash}\"\n"));
    }
    text
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `apply in.csv --skip-invalid --results r.csv --format json` in `dir`,
/// which fails some rows (exit 1): its standard output and results file.
fn apply_skipping_invalid(dir: &std::path::Path) -> (String, String) {
    let args = ["apply", "in.csv", "--db", "s.db", "--skip-invalid"];
    let r = run(
        &[&args[..], &["--results", "r.csv", "--format", "json"]].concat(),
        None,
        dir,
    );
    assert_eq!(r.code, 1, "rows failed, so exit 1: {r:?}");
    let results = std::fs::read_to_string(dir.join("r.csv")).unwrap();
    (r.stdout, results)
}

fn every_row_is_accounted_for(rows: u64, bad: &[u64]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), file(rows, bad)).unwrap();
    let (stdout, results) = apply_skipping_invalid(dir.path());
    let report = json(&stdout);
    let counts = &report["results"];
    assert_eq!(counts["failed"], bad.len() as u64, "{counts}");
    assert_eq!(counts["created"], rows - bad.len() as u64, "{counts}");
    // One shape at every size: the check report plus job and results.
    assert_eq!(report["summary"]["rows"], rows);
    assert_eq!(report["job"].is_null(), rows <= 100, "{}", report["job"]);

    let failed: Vec<&str> = results.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), bad.len(), "{results}");
    for (line, text) in bad.iter().zip(&failed) {
        assert!(text.starts_with(&format!("{line},")), "{text}");
        assert!(text.contains("email.invalid"), "{text}");
    }
    assert_eq!(
        results.lines().count() as u64,
        rows + 1,
        "one result per row"
    );

    if let Some(id) = report["job"]["id"].as_i64() {
        let shown = run(
            &["jobs", &id.to_string(), "--db", "s.db", "--format", "json"],
            None,
            dir.path(),
        );
        let job = json(&shown.stdout);
        assert_eq!(job["failed"], bad.len() as u64, "{job}");
        assert!(
            job["options"].is_object(),
            "the job's options are JSON: {job}"
        );
        let lines: Vec<u64> = job["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == "failed")
            .map(|r| r["line"].as_u64().unwrap())
            .collect();
        assert_eq!(lines, bad);
    }
}

#[test]
fn skip_invalid_results_are_complete_below_the_threshold() {
    every_row_is_accounted_for(50, &[10, 40]);
}

#[test]
fn skip_invalid_results_are_complete_at_300_rows() {
    every_row_is_accounted_for(300, &[10, 150]);
}

#[test]
fn skip_invalid_results_are_complete_at_5000_rows() {
    every_row_is_accounted_for(5_000, &[10, 150, 4_000]);
}

/// Rows refused as in-file duplicates (found only once the whole file is
/// read) carry their login ID and e-mail in `--results` and their value in
/// the check's error report, as every other refused row does.
fn duplicates_are_named_by_their_keys(rows: u64, copies: &[u64]) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = file(rows, &[]);
    for line in copies {
        let row = line - 1;
        text = text.replace(
            &format!("user{row},User {row},user{row}@example.com,"),
            &format!("user{row},User {row},USER1@Example.com,"),
        );
    }
    std::fs::write(dir.path().join("in.csv"), text).unwrap();
    let args = ["in.csv", "--db", "s.db", "--format", "csv"];
    let checked = run(&[&["check"][..], &args].concat(), None, dir.path());
    let duplicates: Vec<&str> = checked
        .stdout
        .lines()
        .filter(|l| l.contains(",key.duplicate,"))
        .collect();
    assert_eq!(duplicates.len(), copies.len() + 1, "{}", checked.stdout);
    assert!(
        duplicates[0].starts_with("2,1,email,")
            && duplicates[0].ends_with(",user1@example.com,,user1,user1@example.com"),
        "{}",
        duplicates[0]
    );
    for (line, text) in copies.iter().zip(&duplicates[1..]) {
        let row = line - 1;
        assert!(
            text.ends_with(&format!(",USER1@Example.com,,user{row},USER1@Example.com")),
            "{text}"
        );
    }

    let (_, results) = apply_skipping_invalid(dir.path());
    let failed: Vec<&str> = results.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), copies.len() + 1, "{results}");
    assert!(
        failed[0].ends_with(",user1,user1@example.com"),
        "{}",
        failed[0]
    );
    for (line, text) in copies.iter().zip(&failed[1..]) {
        assert!(
            text.ends_with(&format!(",user{},USER1@Example.com", line - 1)),
            "{text}"
        );
    }
}

#[test]
fn duplicates_are_named_by_their_keys_below_the_threshold() {
    duplicates_are_named_by_their_keys(50, &[10, 40]);
}

#[test]
fn duplicates_are_named_by_their_keys_at_5000_rows() {
    duplicates_are_named_by_their_keys(5_000, &[150, 4_000]);
}
