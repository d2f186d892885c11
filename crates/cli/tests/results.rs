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

fn every_row_is_accounted_for(rows: u64, bad: &[u64]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), file(rows, bad)).unwrap();
    let r = run(
        &[
            "apply",
            "in.csv",
            "--db",
            "s.db",
            "--skip-invalid",
            "--results",
            "r.csv",
            "--format",
            "json",
        ],
        None,
        dir.path(),
    );
    assert_eq!(r.code, 1, "rows failed, so exit 1: {r:?}");
    let report = json(&r.stdout);
    let counts = &report["results"];
    assert_eq!(counts["failed"], bad.len() as u64, "{counts}");
    assert_eq!(counts["created"], rows - bad.len() as u64, "{counts}");
    // One shape at every size: the check report plus job and results.
    assert_eq!(report["summary"]["rows"], rows);
    assert_eq!(report["job"].is_null(), rows <= 100, "{}", report["job"]);

    let results = std::fs::read_to_string(dir.path().join("r.csv")).unwrap();
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
