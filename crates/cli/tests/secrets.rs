//! Passwords never leave the tool in plaintext, and what it writes is
//! private.
//!
//! Every command runs on files holding passwords (valid ones, a too-short
//! one, a too-long one, one on a ragged row, one for an existing user, one
//! in a row with other errors), in every report format; then everything the
//! tool wrote is searched for the plaintext: its stdout and stderr, the
//! reports, results, plan files, exports, templates, and the bytes of the
//! SQLite store (with its WAL and SHM files). Files the tool writes must be
//! mode 0600.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

mod harness;

use harness::{Run, run};

/// The plaintext passwords of the files below: each unique enough that
/// finding it anywhere is a leak.
const SECRETS: &[&str] = &[
    "Initial-Secret-Kq82",
    "Created-Secret-Wz41",
    "Updated-Secret-Jx07",
    "Ignored-Secret-Pd63",
    "Ragged-Secret-Lm55",
    "BadRow-Secret-Hv29",
    "Sh0rt",
    "TooLong-Secret-Yb18-",
    "Plan-Secret-Rc90",
];

const HEADER: &str = "login_id,name,email,password,groups\r\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Runs one command in `dir`, keeps its output for the search, and checks
/// its exit code.
fn step(dir: &Path, outputs: &mut Vec<(String, Vec<u8>)>, args: &[&str], codes: &[i32]) -> Run {
    let r = run(args, None, dir);
    assert!(
        codes.contains(&r.code),
        "{args:?}: exit {} (expected {codes:?})\n{}{}",
        r.code,
        r.stdout,
        r.stderr
    );
    assert!(
        !r.stderr.contains("internal error"),
        "{args:?}: {}",
        r.stderr
    );
    outputs.push((format!("{args:?}"), r.raw.clone()));
    r
}

#[test]
fn no_command_writes_a_plaintext_password_and_every_file_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = "sqlite://store.db";
    let long = format!("{}{}", "TooLong-Secret-Yb18-", "x".repeat(200));

    write(
        dir,
        "initial.csv",
        &format!(
            "{HEADER}existing,Existing User,existing@example.com,Initial-Secret-Kq82,Sales\r\n"
        ),
    );
    // Valid rows: a new user, and an existing one whose password is ignored.
    write(
        dir,
        "good.csv",
        &format!(
            "{HEADER}created,Created User,created@example.com,Created-Secret-Wz41,Sales\r\n\
             existing,Existing User,existing@example.com,Ignored-Secret-Pd63,Sales\r\n"
        ),
    );
    write(
        dir,
        "update.csv",
        &format!(
            "{HEADER}existing,Existing User,existing@example.com,Updated-Secret-Jx07,Sales\r\n"
        ),
    );
    write(
        dir,
        "plan.csv",
        &format!("{HEADER}planned,Planned User,planned@example.com,Plan-Secret-Rc90,Sales\r\n"),
    );
    // Rows with errors around passwords.
    write(
        dir,
        "bad.csv",
        &format!(
            "{HEADER}short,Short,short@example.com,Sh0rt,Sales\r\n\
             long,Long,long@example.com,{long},Sales\r\n\
             ragged,Ragged,ragged@example.com,Ragged-Secret-Lm55\r\n\
             badrow,Bad Row,not-an-email,BadRow-Secret-Hv29,Sales\r\n\
             fine,Fine,fine@example.com,Fine-Secret-Ok-0001,Sales\r\n"
        ),
    );

    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let o = &mut outputs;
    step(dir, o, &["template", "-o", "template.csv"], &[0]);
    step(dir, o, &["template"], &[0]);
    step(
        dir,
        o,
        &[
            "apply",
            "initial.csv",
            "--db",
            db,
            "--results",
            "results-initial.csv",
        ],
        &[0],
    );
    for file in ["good.csv", "bad.csv"] {
        for format in ["text", "json", "csv"] {
            step(
                dir,
                o,
                &[
                    "preview",
                    file,
                    "--format",
                    if format == "csv" { "text" } else { format },
                ],
                &[0],
            );
            step(
                dir,
                o,
                &["check", file, "--db", db, "--format", format],
                &[0, 1],
            );
            let report = format!("report-{file}.{format}");
            step(
                dir,
                o,
                &["check", file, "--db", db, "--format", format, "-o", &report],
                &[0, 1],
            );
            step(
                dir,
                o,
                &[
                    "check",
                    file,
                    "--db",
                    db,
                    "--format",
                    format,
                    "--only-errors",
                ],
                &[0, 1],
            );
        }
        step(dir, o, &["apply", "-", "--db", db], &[0, 1, 2]);
    }
    step(
        dir,
        o,
        &[
            "plan",
            "plan.csv",
            "--db",
            db,
            "-o",
            "plan.json",
            "--format",
            "json",
        ],
        &[0],
    );
    step(
        dir,
        o,
        &["plan", "bad.csv", "--db", db, "-o", "plan-bad.json"],
        &[1],
    );
    step(
        dir,
        o,
        &[
            "apply",
            "bad.csv",
            "--db",
            db,
            "--results",
            "results-bad.csv",
        ],
        &[1],
    );
    step(
        dir,
        o,
        &[
            "apply",
            "bad.csv",
            "--db",
            db,
            "--skip-invalid",
            "--format",
            "json",
            "--results",
            "results-skip.csv",
        ],
        &[1],
    );
    step(dir, o, &["apply", "plan-bad.json", "--db", db], &[1, 2]);
    step(
        dir,
        o,
        &[
            "apply",
            "good.csv",
            "--db",
            db,
            "--format",
            "json",
            "--results",
            "results-good.csv",
        ],
        &[0, 1, 2],
    );
    step(
        dir,
        o,
        &[
            "apply",
            "update.csv",
            "--db",
            db,
            "--update-passwords",
            "--results",
            "results-update.csv",
        ],
        &[0],
    );
    // The store moved since plan.json was made: refused, and re-planned.
    step(dir, o, &["apply", "plan.json", "--db", db], &[1, 2]);
    step(
        dir,
        o,
        &["plan", "plan.csv", "--db", db, "-o", "plan.json"],
        &[0],
    );
    step(
        dir,
        o,
        &[
            "apply",
            "plan.json",
            "--db",
            db,
            "--results",
            "results-plan.csv",
        ],
        &[0],
    );
    step(dir, o, &["export", "--db", db, "-o", "export.csv"], &[0]);
    step(
        dir,
        o,
        &["export", "--db", db, "--columns", "login_id,name"],
        &[0],
    );
    step(
        dir,
        o,
        &["export", "--db", db, "--columns", "login_id,password"],
        &[2],
    );
    step(dir, o, &["export", "--db", db], &[0]);
    step(dir, o, &["groups", "--db", db], &[0]);

    // Everything written to the directory, the store's bytes included.
    let inputs = [
        "initial.csv",
        "good.csv",
        "update.csv",
        "plan.csv",
        "bad.csv",
    ];
    let mut written = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if inputs.contains(&name.as_str()) {
            continue;
        }
        outputs.push((name.clone(), std::fs::read(entry.path()).unwrap()));
        written.push((name, entry.metadata().unwrap().permissions().mode() & 0o777));
    }
    written.sort();
    let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "export.csv",
        "plan.json",
        "plan-bad.json",
        "report-bad.csv.csv",
        "report-good.csv.json",
        "results-initial.csv",
        "results-plan.csv",
        "results-update.csv",
        "store.db",
        "template.csv",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} was not written: {names:?}"
        );
    }

    let mut leaks = Vec::new();
    for (what, bytes) in &outputs {
        for secret in SECRETS {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                leaks.push(format!("{secret:?} in {what}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "plaintext passwords written:\n{}",
        leaks.join("\n")
    );

    // Hashes are stored (the passwords were set), so the search above was
    // looking at a store that holds them.
    let store = std::fs::read(dir.join("store.db")).unwrap();
    assert!(
        store.windows(10).any(|w| w == b"$argon2id$"),
        "no argon2id hash in the store"
    );
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(
        plan.contains("$argon2id$"),
        "the plan carries hashes: {plan}"
    );

    let loose: Vec<String> = written
        .iter()
        .filter(|(_, mode)| mode & 0o077 != 0)
        .map(|(name, mode)| format!("{name}: {mode:o}"))
        .collect();
    assert!(loose.is_empty(), "files readable by others: {loose:?}");
}

/// An existing file keeps no looser mode: the tool tightens it to 0600.
#[test]
fn an_existing_output_file_is_made_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let target = dir.join("out.csv");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(&["template", "-o", "out.csv"], None, dir);
    assert_eq!(r.code, 0, "{r:?}");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("Login ID")
    );
}
