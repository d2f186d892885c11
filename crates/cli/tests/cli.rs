//! End-to-end tests of the `userimport` binary: what an administrator sees
//! and what the store holds afterwards, with a real SQLite file.

mod harness;

use std::path::Path;

use harness::{example, json, run_in};

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn the_template_of_every_charset_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    for charset in ["utf-8-bom", "utf-8", "shift_jis"] {
        let file = format!("template-{charset}.csv");
        let run = run_in(dir.path(), &["template", "--charset", charset, "-o", &file]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let bytes = std::fs::read(dir.path().join(&file)).unwrap();
        assert_eq!(bytes.starts_with(b"\xEF\xBB\xBF"), charset == "utf-8-bom");
        // Detected, and named explicitly: both read the same header and pass.
        for read_as in [
            "auto",
            if charset == "shift_jis" {
                "shift_jis"
            } else {
                "utf-8"
            },
        ] {
            let check = run_in(
                dir.path(),
                &["check", &file, "--charset", read_as, "--format", "json"],
            );
            assert_eq!(
                check.code, 0,
                "{charset} read as {read_as}: {}",
                check.stdout
            );
            let report = json(&check);
            assert_eq!(report["summary"]["create"], 1, "{charset}");
            assert_eq!(report["summary"]["errors"], 0, "{charset}");
            // Every header matched: the only warnings list the example's
            // groups, which the standard profile creates.
            let warnings: Vec<&serde_json::Value> = report["issues"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["severity"] == "warning")
                .collect();
            assert!(
                warnings.iter().all(|i| i["code"] == "group.new"),
                "{charset}: {report:#}"
            );
        }
    }
    // check never creates a store.
    assert!(!dir.path().join("userimport.db").exists());
}

#[test]
fn check_reports_errors_with_line_column_and_code_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.csv",
        "Login ID,Name,Email address,Password,Country/Region\n\
         ok.user,Ok User,ok@example.com,Long-enough-1,Japan\n\
         bad.mail,Bad Mail,not-an-email,Long-enough-2,Japan\n\
         bad.country,Bad Country,bc@example.com,Long-enough-3,Japn\n\
         short.pw,Short Pw,sp@example.com,short,Japan\n",
    );
    let run = run_in(dir.path(), &["check", &file, "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = json(&run);
    assert_eq!(report["summary"]["rows"], 4);
    assert_eq!(report["summary"]["valid"], 1);
    assert_eq!(report["summary"]["invalid"], 3);
    assert_eq!(report["summary"]["create"], 1);
    let issues = report["issues"].as_array().unwrap();
    let find = |code: &str| {
        issues
            .iter()
            .find(|i| i["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {issues:?}"))
    };
    let email = find("email.invalid");
    assert_eq!(
        (email["line"].as_u64(), email["row"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(email["column"], "email");
    assert_eq!(email["value"], "not-an-email");
    let country = find("country.unknown");
    assert_eq!(country["line"], 4);
    assert!(
        country["message"].as_str().unwrap().contains("Japan"),
        "did you mean: {country}"
    );
    let password = find("password.too_short");
    assert_eq!(password["line"], 5);
    // Passwords never appear in a report.
    assert!(!run.stdout.contains("short,") && password["value"].is_null());
    assert!(!run.stdout.contains("Long-enough"));
}

#[test]
fn csv_error_report_is_formula_safe_and_only_errors_filters_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "f.csv",
        "Login ID,Name,Email address,Password,Shoe size\n\
         =cmd|' /C calc'!A0,Eve,=1+1,Long-enough-1,42\n",
    );
    let run = run_in(
        dir.path(),
        &["check", &file, "--format", "csv", "-o", "report.csv"],
    );
    assert_eq!(run.code, 1);
    let report = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert!(report.starts_with("\u{feff}line,row,column,severity,code,message,value"));
    for line in report.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "unsafe cell {cell:?} in {line}"
            );
        }
    }
    assert!(report.contains("column.unknown"), "{report}");
    let only = run_in(
        dir.path(),
        &["check", &file, "--format", "json", "--only-errors"],
    );
    let report = json(&only);
    assert!(
        report["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["severity"] == "error")
    );
    assert!(
        report["summary"]["warnings"].as_u64().unwrap() >= 1,
        "counts stay whole"
    );
}

#[test]
fn apply_then_reapply_changes_nothing_and_export_round_trips_in_every_charset() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    let users = users.to_str().unwrap();
    let first = run_in(
        dir.path(),
        &["apply", users, "--format", "json", "--create-groups"],
    );
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(json(&first)["results"]["created"], 10);
    assert!(dir.path().join("userimport.db").exists());

    let again = run_in(dir.path(), &["check", users, "--format", "json"]);
    let summary = &json(&again)["summary"];
    assert_eq!(
        (summary["unchanged"].as_u64(), summary["create"].as_u64()),
        (Some(10), Some(0))
    );
    assert_eq!(summary["update"], 0);

    // Shift_JIS cannot spell "María": its export is refused with line and
    // column, so it exports the Japanese users of the Sales group instead.
    let refused = run_in(
        dir.path(),
        &["export", "--charset", "shift_jis", "-o", "x.csv"],
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("line 4, column 3"),
        "{}",
        refused.stderr
    );
    for (charset, groups, count) in [
        ("utf-8-bom", "", 10),
        ("utf-8", "", 10),
        ("shift_jis", "Sales", 2),
    ] {
        let file = format!("export-{charset}.csv");
        let mut args = vec!["export", "--charset", charset, "-o", &file];
        if !groups.is_empty() {
            args.extend(["--groups", groups]);
        }
        let export = run_in(dir.path(), &args);
        assert_eq!(export.code, 0, "{}", export.stderr);
        let check = run_in(dir.path(), &["check", &file, "--format", "json"]);
        assert_eq!(check.code, 0, "{charset}: {}", check.stdout);
        let report = json(&check);
        let want = if charset == "shift_jis" {
            "Shift_JIS"
        } else {
            "UTF-8"
        };
        assert_eq!(report["file"]["encoding"], want);
        let summary = &report["summary"];
        assert_eq!(summary["unchanged"], count, "{charset}: {summary}");
        assert_eq!(summary["update"], 0, "{charset}");
        assert_eq!(summary["create"], 0, "{charset}");
    }
}

#[test]
fn exports_hold_no_passwords_and_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    assert_eq!(
        run_in(
            dir.path(),
            &["apply", users.to_str().unwrap(), "--create-groups"]
        )
        .code,
        0
    );
    let run = run_in(dir.path(), &["export", "-o", "out.csv"]);
    assert_eq!(run.code, 0);
    let text = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(!text.contains("Sakura-2026-spring") && !text.contains("Password"));
    assert!(text.contains("tanaka.hanako") && text.contains("田中 花子"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("out.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn edits_give_exact_updates_and_all_or_nothing_leaves_the_store_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    assert_eq!(
        run_in(
            dir.path(),
            &["apply", users.to_str().unwrap(), "--create-groups"]
        )
        .code,
        0
    );
    let edit = write(
        dir.path(),
        "edit.csv",
        "Login ID,Department,Position\n\
         tanaka.hanako,Board,Director\n\
         suzuki.ichiro,Sales,\n",
    );
    let check = run_in(dir.path(), &["check", &edit, "--format", "json"]);
    let summary = &json(&check)["summary"];
    assert_eq!(
        (summary["update"].as_u64(), summary["unchanged"].as_u64()),
        (Some(1), Some(1))
    );

    // One bad row: nothing is written, exit 1.
    let bad = write(
        dir.path(),
        "bad.csv",
        "Login ID,Department,Email address\n\
         tanaka.hanako,Board,\n\
         suzuki.ichiro,Sales,broken@\n",
    );
    let run = run_in(dir.path(), &["apply", &bad]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let export = run_in(
        dir.path(),
        &[
            "export",
            "--columns",
            "login_id,department",
            "--charset",
            "utf-8",
        ],
    );
    assert!(
        export.stdout.contains("tanaka.hanako,Sales"),
        "{}",
        export.stdout
    );

    // --skip-invalid applies the valid row and still exits 1.
    let run = run_in(
        dir.path(),
        &["apply", &bad, "--skip-invalid", "--results", "results.csv"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = run_in(
        dir.path(),
        &[
            "export",
            "--columns",
            "login_id,department",
            "--charset",
            "utf-8",
        ],
    );
    assert!(
        export.stdout.contains("tanaka.hanako,Board"),
        "{}",
        export.stdout
    );
    let results = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert!(results.contains(",updated,"), "{results}");

    // The edit now updates nobody's department twice: re-applying changes nothing.
    assert_eq!(run_in(dir.path(), &["apply", &edit]).code, 0);
    let again = run_in(dir.path(), &["check", &edit, "--format", "json"]);
    assert_eq!(json(&again)["summary"]["unchanged"], 2);
}

#[test]
fn a_plan_applies_exactly_and_is_refused_after_drift() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    let run = run_in(
        dir.path(),
        &[
            "plan",
            users.to_str().unwrap(),
            "-o",
            "plan.json",
            "--create-groups",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    assert!(
        !plan.contains("Sakura-2026-spring"),
        "plaintext password in the plan"
    );
    assert!(plan.contains("$argon2id$"));

    // The store moves (a group is added): the plan is refused, exit 2.
    assert_eq!(run_in(dir.path(), &["groups", "add", "Auditors"]).code, 0);
    let refused = run_in(dir.path(), &["apply", "plan.json"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("revision"), "{}", refused.stderr);

    // A fresh plan applies exactly its changes.
    assert_eq!(
        run_in(
            dir.path(),
            &[
                "plan",
                users.to_str().unwrap(),
                "-o",
                "plan2.json",
                "--create-groups"
            ]
        )
        .code,
        0
    );
    let applied = run_in(dir.path(), &["apply", "plan2.json", "--format", "json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(json(&applied)["results"]["created"], 10);
    let groups = run_in(dir.path(), &["groups"]);
    assert!(groups.stdout.lines().any(|l| l == "Auditors"));
    assert!(groups.stdout.lines().any(|l| l == "Tokyo"));
}

#[test]
fn duplicate_keys_are_errors_on_every_row_involved() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "dup.csv",
        "Login ID,Name,Email address,Password\n\
         a.one,A One,same@example.com,Long-enough-1\n\
         b.two,B Two,other@example.com,Long-enough-2\n\
         c.three,C Three,SAME@example.com ,Long-enough-3\n",
    );
    let run = run_in(dir.path(), &["check", &file, "--format", "json"]);
    assert_eq!(run.code, 1);
    let report = json(&run);
    let lines: Vec<u64> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "key.duplicate")
        .map(|i| i["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(report["summary"]["create"], 1);
    assert_eq!(report["summary"]["invalid"], 2);
}

#[test]
fn sync_deletes_absent_users_only_under_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let users = example("users.csv");
    assert_eq!(
        run_in(
            dir.path(),
            &["apply", users.to_str().unwrap(), "--create-groups"]
        )
        .code,
        0
    );
    let keep_one = write(dir.path(), "one.csv", "Login ID\ntanaka.hanako\n");
    let refused = run_in(dir.path(), &["apply", &keep_one, "--mode", "sync"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    // The guard is about the file as a whole: its line shows as "-".
    let guard = refused
        .stdout
        .lines()
        .find(|l| l.contains("sync.threshold"))
        .unwrap_or_else(|| panic!("no sync.threshold in {}", refused.stdout));
    assert!(guard.trim_start().starts_with("-  "), "{guard}");
    let allowed = run_in(
        dir.path(),
        &[
            "apply",
            &keep_one,
            "--mode",
            "sync",
            "--max-delete",
            "100",
            "--format",
            "json",
        ],
    );
    assert_eq!(allowed.code, 0, "{}{}", allowed.stdout, allowed.stderr);
    assert_eq!(json(&allowed)["results"]["deleted"], 9);
}

#[test]
fn file_level_problems_exit_2_with_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    // Creating users needs every required column.
    let missing = write(dir.path(), "m.csv", "Name,Email address\nA,a@example.com\n");
    let run = run_in(dir.path(), &["check", &missing, "--mode", "create"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("login_id") || run.stderr.contains("Login ID"),
        "{}",
        run.stderr
    );
    // In upsert mode the same file is checked row by row: a new user needs a login ID.
    let run = run_in(dir.path(), &["check", &missing, "--format", "json"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("field.required"), "{}", run.stdout);
    // No key column at all: nothing can be matched.
    let nokey = write(dir.path(), "k.csv", "Name,Department\nA,Sales\n");
    let run = run_in(dir.path(), &["check", &nokey]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no key column"), "{}", run.stderr);

    std::fs::write(
        dir.path().join("sjis.csv"),
        b"Login ID,Name\nx,\x93\x63\x92\x86\n",
    )
    .unwrap();
    let run = run_in(dir.path(), &["check", "sjis.csv", "--charset", "utf-8"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);

    let run = run_in(dir.path(), &["check", "nope.csv"]);
    assert_eq!(run.code, 2);
    let run = run_in(dir.path(), &["check", "m.csv", "--mode", "sideways"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sideways"));
}

#[test]
fn preview_json_has_the_design_shape() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.csv"),
        b"sep=;\r\nLogin ID;Name\r\nx;\"two\r\nlines\"\r\ny;Y\r\n",
    )
    .unwrap();
    let run = run_in(dir.path(), &["preview", "p.csv", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["encoding"], "UTF-8");
    assert_eq!(v["delimiter"], ";");
    assert_eq!(v["header_line"], 2);
    assert_eq!(v["header"], serde_json::json!(["Login ID", "Name"]));
    assert_eq!(v["records"][0]["line"], 3);
    assert_eq!(v["records"][0]["fields"][1], "two\r\nlines");
    assert_eq!(v["records"][1]["line"], 5);
}

#[test]
fn the_store_option_goes_before_or_after_a_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    // `--db` after the subcommand names the store that subcommand uses...
    let added = run_in(dir.path(), &["groups", "add", "Auditors", "--db", "a.db"]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(
        added.stdout.contains("1 group(s) added"),
        "{}",
        added.stdout
    );
    // ...and before it the same; the default store was never touched.
    let listed = run_in(dir.path(), &["groups", "--db", "a.db", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.trim(), "Auditors");
    assert!(!dir.path().join("userimport.db").exists());
    let listed = run_in(dir.path(), &["groups", "list", "--db", "sqlite://a.db"]);
    assert_eq!(listed.stdout.trim(), "Auditors", "{}", listed.stderr);

    for args in [
        ["jobs", "resume", "7", "--db", "a.db"],
        ["jobs", "--db", "a.db", "resume", "7"],
    ] {
        let jobs = run_in(dir.path(), &args);
        assert_eq!(jobs.code, 2, "{args:?}: {}", jobs.stderr);
        assert!(
            jobs.stderr.contains("no job 7"),
            "{args:?}: {}",
            jobs.stderr
        );
    }
    // A job ID to show and a subcommand at once is refused, not guessed at.
    let both = run_in(dir.path(), &["jobs", "5", "resume", "7", "--db", "a.db"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(both.stderr.contains("not both"), "{}", both.stderr);
    let outbox = run_in(dir.path(), &["outbox", "--db", "a.db"]);
    assert_eq!(outbox.code, 0, "{}", outbox.stderr);
    assert!(
        outbox.stdout.contains("the outbox is empty"),
        "{}",
        outbox.stdout
    );
    // Nothing is queued in a.db, so nothing is sent (port 9 is never asked).
    let deliver = run_in(
        dir.path(),
        &[
            "outbox",
            "--db",
            "a.db",
            "deliver",
            "--smtp",
            "smtp://127.0.0.1:9",
        ],
    );
    assert_eq!(deliver.code, 0, "{}", deliver.stderr);
    assert!(deliver.stdout.contains("0 sent"), "{}", deliver.stdout);
    assert!(!dir.path().join("userimport.db").exists());
}
