//! Files the tool writes (`export -o`, `plan -o`, `check -o`, `template -o`,
//! `apply --results`): never over the store or the input, never through a
//! symlink, never half-written; a results file that cannot be written is
//! found before the import commits. Each case checks that the store and any
//! earlier output are intact afterwards.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

mod harness;

use harness::{Run, run};

const FILE: &str = "login_id,name,email,password\r\n\
                    ann,Ann Lee,ann@example.com,Ann-Secret-2026\r\n\
                    bob,Bob;=1+1,bob@example.com,Bob-Secret-2026\r\n\
                    cid,\"Cid|=HYPERLINK(\"\"x\"\")\",cid@example.com,Cid-Secret-2026\r\n";

fn userimport(dir: &Path, args: &[&str]) -> Run {
    let r = run(args, None, dir);
    assert!(
        !r.stderr.contains("internal error"),
        "{args:?}: {}",
        r.stderr
    );
    r
}

/// A store with the three users of `FILE`, and its bytes.
fn store(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("in.csv"), FILE).unwrap();
    let r = userimport(dir, &["apply", "in.csv", "--db", "r.db"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    checkpointed(dir)
}

/// The store's bytes, with the WAL folded in (a read-only open must not
/// change them).
fn checkpointed(dir: &Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(dir.join("r.db")).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    std::fs::read(dir.join("r.db")).unwrap()
}

fn users(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("r.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap()
}

/// Leftover temporary files (`.NAME.….tmp`) in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn outputs_naming_the_store_or_the_input_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let before = store(dir);
    let input = std::fs::read(dir.join("in.csv")).unwrap();
    std::fs::write(dir.join("more.csv"), FILE.replace("ann", "dan")).unwrap();
    let abs = dir.join("r.db");
    let abs = abs.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["export", "--db", "r.db", "-o", "r.db"],
        vec!["export", "--db", "r.db", "-o", "./r.db"],
        vec!["export", "--db", "r.db", "-o", abs],
        vec!["export", "--db", "r.db", "-o", "r.db-wal"],
        vec!["export", "--db", "r.db", "-o", "r.db-journal"],
        vec!["export", "--db", abs, "-o", "r.db-shm"],
        vec!["apply", "more.csv", "--db", "r.db", "--results", "r.db"],
        vec!["apply", "more.csv", "--db", "r.db", "--results", "more.csv"],
        vec![
            "apply",
            "more.csv",
            "--db",
            "r.db",
            "--skip-invalid",
            "--results",
            "r.db",
        ],
        vec!["plan", "in.csv", "--db", "r.db", "-o", "in.csv"],
        vec!["plan", "in.csv", "--db", "r.db", "-o", "r.db"],
        vec!["check", "in.csv", "--db", "r.db", "-o", "in.csv"],
        vec!["check", "in.csv", "--db", "r.db", "-o", "r.db"],
    ];
    for args in cases {
        let r = userimport(dir, &args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("write the output to another file"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(users(dir), 3, "{args:?}: the import ran");
        assert_eq!(checkpointed(dir), before, "{args:?}: the store changed");
        assert_eq!(std::fs::read(dir.join("in.csv")).unwrap(), input);
        assert_eq!(temporaries(dir), Vec::<String>::new(), "{args:?}");
    }
    // A store that does not exist yet is protected too.
    let r = userimport(
        dir,
        &["apply", "in.csv", "--db", "new.db", "--results", "new.db"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!dir.join("new.db").exists());
}

#[test]
fn outputs_do_not_follow_symlinks_nor_replace_other_kinds_of_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let before = store(dir);
    std::fs::write(dir.join("victim.txt"), "precious").unwrap();
    std::fs::set_permissions(
        dir.join("victim.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.join("victim.txt"), dir.join("link.csv")).unwrap();
    std::fs::create_dir(dir.join("folder.csv")).unwrap();
    for args in [
        vec!["export", "--db", "r.db", "-o", "link.csv"],
        vec!["template", "-o", "link.csv"],
        vec!["plan", "in.csv", "--db", "r.db", "-o", "link.csv"],
        vec!["check", "in.csv", "--db", "r.db", "-o", "link.csv"],
        vec!["apply", "in.csv", "--db", "r.db", "--results", "link.csv"],
        vec!["export", "--db", "r.db", "-o", "folder.csv"],
    ] {
        let r = userimport(dir, &args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("symbolic link") || r.stderr.contains("not a regular file"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("victim.txt")).unwrap(),
            "precious"
        );
        let mode = std::fs::metadata(dir.join("victim.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{args:?}");
        assert!(
            std::fs::symlink_metadata(dir.join("link.csv"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(checkpointed(dir), before, "{args:?}");
        assert_eq!(temporaries(dir), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn a_failed_export_leaves_the_earlier_file_and_lists_every_unencodable_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    store(dir);
    // A good Shift_JIS export first.
    let r = userimport(
        dir,
        &[
            "export",
            "--db",
            "r.db",
            "--charset",
            "shift_jis",
            "-o",
            "out.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let good = std::fs::read(dir.join("out.csv")).unwrap();
    // Two users Shift_JIS cannot hold.
    std::fs::write(
        dir.join("accents.csv"),
        "login_id,name,department,password\r\n\
         ann,José Lee,,Ann-Secret-2026\r\n\
         bob,Bob,Zoë's team,Bob-Secret-2026\r\n",
    )
    .unwrap();
    let r = userimport(dir, &["apply", "accents.csv", "--db", "r.db"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = userimport(
        dir,
        &[
            "export",
            "--db",
            "r.db",
            "--charset",
            "shift_jis",
            "-o",
            "out.csv",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    for part in [
        "2 value(s) cannot be written in Shift_JIS",
        "line 2, column 3 (\"Name\"): 'é' (U+00E9)",
        "line 3, column 5 (\"Department\"): 'ë' (U+00EB)",
        "--unencodable substitute",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    assert_eq!(std::fs::read(dir.join("out.csv")).unwrap(), good);
    assert_eq!(temporaries(dir), Vec::<String>::new());

    // Substituted: written with markers, which the import then refuses.
    let r = userimport(
        dir,
        &[
            "export",
            "--db",
            "r.db",
            "--charset",
            "shift_jis",
            "--unencodable",
            "substitute",
            "-o",
            "marked.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(dir.join("marked.csv")).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(text.contains("Jos{U+00E9} Lee"), "{text}");
    let r = userimport(
        dir,
        &["check", "marked.csv", "--db", "r.db", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let codes: Vec<(u64, &str)> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| (i["line"].as_u64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [(2, "field.substituted"), (3, "field.substituted")]);
}

#[test]
fn an_unwritable_results_file_is_found_before_the_import_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let before = store(dir);
    std::fs::write(dir.join("more.csv"), FILE.replace("ann", "dan")).unwrap();
    for results in ["missing/folder/results.csv", "/proc/results.csv"] {
        for extra in [
            &[][..],
            &["--skip-invalid"][..],
            &["--background-threshold", "0"][..],
        ] {
            let mut args = vec!["apply", "more.csv", "--db", "r.db", "--results", results];
            args.extend_from_slice(extra);
            let r = userimport(dir, &args);
            assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
            assert!(r.stderr.contains("cannot write"), "{args:?}: {}", r.stderr);
            assert_eq!(checkpointed(dir), before, "{args:?}: the import committed");
        }
    }
    // Written, it is complete and private.
    let r = userimport(
        dir,
        &["apply", "more.csv", "--db", "r.db", "--results", "res.csv"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.join("res.csv")).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    let mode = std::fs::metadata(dir.join("res.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_formula_after_another_delimiter_is_quoted_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    store(dir);
    let r = userimport(
        dir,
        &[
            "export",
            "--db",
            "r.db",
            "--charset",
            "utf-8",
            "-o",
            "x.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.join("x.csv")).unwrap();
    assert!(text.contains(",\"Bob;'=1+1\","), "{text}");
    assert!(text.contains(",\"Cid|'=HYPERLINK(\"\"x\"\")\","), "{text}");
    // Read back in a ;-locale: no cell starts like a formula.
    for line in text.lines() {
        for cell in line.split([';', '\t', '|', ',']) {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "{cell:?} in {line:?}"
            );
        }
    }
    // Export → import changes nothing: the next export is the same.
    let r = userimport(dir, &["apply", "x.csv", "--db", "r.db"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = userimport(
        dir,
        &[
            "export",
            "--db",
            "r.db",
            "--charset",
            "utf-8",
            "-o",
            "y.csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("y.csv")).unwrap(), text);
}

/// A disk that fills up (here: a file size limit, `ulimit -f`, with SIGXFSZ
/// ignored so the write fails with EFBIG as on a full disk) leaves the
/// earlier export and plan as they were, and no temporary file.
#[test]
fn a_full_disk_leaves_the_earlier_files_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut text = String::from("login_id,name,email,password\r\n");
    for i in 0..60 {
        text.push_str(&format!(
            "user{i:03},User Number {i},user{i:03}@example.com,Secret-{i:03}-Abc\r\n"
        ));
    }
    std::fs::write(dir.join("many.csv"), &text).unwrap();
    std::fs::write(dir.join("new.csv"), text.replace("user", "newcomer")).unwrap();
    let r = userimport(dir, &["apply", "many.csv", "--db", "r.db"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Another reader keeps the store's WAL index open, so the limited
    // command needs no new space for the store, only for its output.
    let reader = rusqlite::Connection::open(dir.join("r.db")).unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    for args in [
        vec!["export", "--db", "r.db", "-o", "out.csv"],
        vec!["plan", "new.csv", "--db", "r.db", "-o", "plan.json"],
    ] {
        let r = userimport(dir, &args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let target = dir.join(args[args.len() - 1]);
        let good = std::fs::read(&target).unwrap();
        assert!(good.len() > 4096, "{args:?}: {} bytes", good.len());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f 4; exec {} \"$@\"",
                harness::BIN
            ))
            .arg("sh")
            .args(&args)
            .current_dir(dir)
            .env_remove("USERIMPORT_DB")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write") || stderr.contains("too large"),
            "{args:?}: {stderr}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), good, "{args:?}");
        assert_eq!(temporaries(dir), Vec::<String>::new(), "{args:?}");
    }
}
