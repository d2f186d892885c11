//! The operator's own inputs: invitation templates and base URLs, values
//! with line breaks, password columns in `preview`, and what messages tell
//! a restricted actor. Each refusal leaves the store as it was.

use std::path::Path;

mod harness;

use harness::{Run, run};

const USERS: &str = "login_id,name,email,password,groups,roles\r\n\
    lead,Lead,lead@example.com,Secret-pass-1,Sales,Editor\r\n\
    boss,Boss,boss@example.com,Secret-pass-3,Executives,Admin\r\n";

fn userimport(dir: &Path, args: &[&str]) -> Run {
    let r = run(args, None, dir);
    assert!(matches!(r.code, 0..=2), "{args:?}: {r:?}");
    assert!(!r.stderr.contains("internal error"), "{args:?}: {r:?}");
    r
}

/// A store with `USERS`; returns its export (what the store holds).
fn setup(dir: &Path) -> String {
    std::fs::write(dir.join("users.csv"), USERS).unwrap();
    let r = userimport(dir, &["apply", "users.csv", "--db", "r.db"]);
    assert_eq!(r.code, 0, "{r:?}");
    snapshot(dir)
}

fn snapshot(dir: &Path) -> String {
    let r = userimport(dir, &["export", "--db", "r.db", "--charset", "utf-8"]);
    assert_eq!(r.code, 0, "{r:?}");
    let outbox = userimport(dir, &["outbox", "--db", "r.db", "--format", "json"]);
    format!("{}{}", r.stdout, outbox.stdout)
}

const NEW: &str =
    "login_id,name,email,password\r\nnew,New User,new@example.com,New-Secret-2026\r\n";

/// `apply NEW --invite` with the template file `template` (or the default)
/// and `base`: refused (exit 2) saying `says`, the store unchanged.
fn invite_refused(dir: &Path, template: Option<&str>, base: &str, says: &str) {
    let before = snapshot(dir);
    std::fs::write(dir.join("new.csv"), NEW).unwrap();
    let mut args = vec![
        "apply",
        "new.csv",
        "--db",
        "r.db",
        "--invite",
        "--invite-base-url",
        base,
    ];
    if let Some(t) = template {
        args.extend(["--invite-template", t]);
    }
    let r = userimport(dir, &args);
    assert_eq!(r.code, 2, "{args:?}: {r:?}");
    assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    assert_eq!(snapshot(dir), before, "{args:?}: the store changed");
}

#[test]
fn invitation_templates_are_small_regular_files_that_render_strictly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let base = "https://app.example.com/set";
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap();
        dir.join(name).to_str().unwrap().to_string()
    };
    let typo = write("typo.txt", "Subject: Hi {{ nmae }}\n\nHello, {{ link }}\n");
    let nolink = write("nolink.txt", "Subject: Hi {{ name }}\n\nHello\n");
    let nosubject = write("nosubject.txt", "Hello {{ name }}: {{ link }}\n");
    let broken = write("broken.txt", "Subject: Hi {{ name \n\n{{ link }}\n");
    let big = write(
        "big.txt",
        &format!("Subject: Hi\n\n{{{{ link }}}}\n{}", "x".repeat(1024 * 1024)),
    );
    let secret = write(
        "shadow",
        "root:$6$abc:19000:0:99999:7:::\nuser:*:19000::::::\n",
    );
    std::fs::create_dir(dir.join("folder")).unwrap();
    for (template, says) in [
        (typo.as_str(), "undefined"),
        (nolink.as_str(), "must contain the set-password link"),
        (nosubject.as_str(), "\"Subject: …\" line"),
        (broken.as_str(), "invitation template"),
        (big.as_str(), "larger than 1048576 bytes"),
        (secret.as_str(), "\"Subject: …\" line"),
        ("/dev/zero", "not a regular file"),
        ("folder", "not a regular file"),
        ("missing.txt", "invitation template missing.txt"),
    ] {
        invite_refused(dir, Some(template), base, says);
    }
    // A good template passes, and its unknown-variable-free text renders.
    let good = write("good.txt", "Subject: Welcome {{ name }}\n\n{{ link }}\n");
    std::fs::write(dir.join("new.csv"), NEW).unwrap();
    let r = userimport(
        dir,
        &[
            "apply",
            "new.csv",
            "--db",
            "r.db",
            "--invite",
            "--invite-template",
            &good,
            "--invite-base-url",
            base,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn invitation_links_are_https_or_on_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    for base in [
        "http://app.example.com/set",
        "ftp://app.example.com/set",
        "app.example.com/set",
        "https:///set",
        "https://app.example.com/set password",
        "http://127.0.0.1.evil.example/set",
        "",
    ] {
        invite_refused(dir, None, base, "invitation base URL");
    }
    for (i, base) in [
        "https://app.example.com/set",
        "http://127.0.0.1:8080/set",
        "http://localhost/set",
        "http://[::1]:8080/set",
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(
            dir.join("new.csv"),
            format!(
                "login_id,name,email,password\r\nu{i},U {i},u{i}@example.com,New-Secret-2026\r\n"
            ),
        )
        .unwrap();
        let r = userimport(
            dir,
            &[
                "apply",
                "new.csv",
                "--db",
                "r.db",
                "--invite",
                "--invite-base-url",
                base,
            ],
        );
        assert_eq!(r.code, 0, "{base}: {r:?}");
    }
}

#[test]
fn line_breaks_in_a_name_are_refused_and_nothing_is_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let before = setup(dir);
    std::fs::write(
        dir.join("crlf.csv"),
        "login_id,name,email,password\r\n\
         eve,\"Eve\r\nBcc: victim@example.com\",eve@example.com,Eve-Secret-2026\r\n\
         tab,\"Tab\tUser\",tab@example.com,Tab-Secret-2026\r\n\
         quo,Quoted,\"\"\"victim@evil.example,\"\"@example.com\",Quo-Secret-2026\r\n",
    )
    .unwrap();
    let r = userimport(
        dir,
        &[
            "apply",
            "crlf.csv",
            "--db",
            "r.db",
            "--format",
            "json",
            "--invite",
            "--invite-base-url",
            "https://app.example.com/set",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let codes: Vec<(u64, &str, &str)> = report["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["line"].as_u64().unwrap(),
                i["column"].as_str().unwrap_or(""),
                i["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (2, "name", "field.control_character"),
            (4, "name", "field.control_character"),
            (5, "email", "email.invalid"),
        ]
    );
    assert_eq!(snapshot(dir), before);
}

#[test]
fn preview_masks_mapped_password_columns_and_under_a_wrong_delimiter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("de.csv"),
        "Login;Name;Passwort\r\nann;Ann;Geheim-Ann-2026\r\nbob;Bob;Geheim-Bob-2026\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("semi.csv"),
        "login_id;name;password\r\nann;Ann;Plain-Ann-2026\r\nbob;Bob;\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("comma.csv"),
        "login_id,name,password\r\nann,Ann,Plain-Ann-2026\r\n",
    )
    .unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["preview", "de.csv", "--map", "password=Passwort"],
        vec![
            "preview",
            "de.csv",
            "--map",
            "password=passwort",
            "--format",
            "json",
        ],
        vec![
            "preview",
            "de.csv",
            "--map",
            "password=Passwort",
            "--delimiter",
            ",",
        ],
        vec!["preview", "semi.csv", "--delimiter", ","],
        vec![
            "preview",
            "semi.csv",
            "--delimiter",
            "tab",
            "--format",
            "json",
        ],
        vec!["preview", "comma.csv", "--delimiter", ";"],
    ];
    for args in cases {
        let r = userimport(dir, &args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        for secret in ["Geheim", "Plain-Ann"] {
            assert!(!r.stdout.contains(secret), "{args:?}: {}", r.stdout);
        }
        assert!(r.stdout.contains("***"), "{args:?}: {}", r.stdout);
        // The rest stays visible.
        assert!(r.stdout.contains("ann"), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn a_restricted_actor_learns_nothing_about_other_users_from_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let before = setup(dir);
    // A new user whose e-mail (or login) is boss's.
    std::fs::write(
        dir.join("probe.csv"),
        "login_id,name,email,password,groups\r\n\
         probe,Probe,boss@example.com,Probe-Secret-2026,Sales\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("probe2.csv"),
        "member_id,login_id,name,email,groups\r\n\
         ,lead,Lead,boss@example.com,Sales\r\n",
    )
    .unwrap();
    for file in ["probe.csv", "probe2.csv"] {
        for command in ["check", "apply"] {
            for format in ["text", "json", "csv"] {
                let r = userimport(
                    dir,
                    &[
                        command, file, "--db", "r.db", "--actor", "lead", "--format", format,
                    ],
                );
                assert_eq!(r.code, 1, "{file} {command} {format}: {r:?}");
                let text = format!("{}{}", r.stdout, r.stderr);
                assert!(text.contains("another user"), "{file} {command}: {text}");
                assert!(
                    !text.contains("\"boss\"") && !text.contains("user 2"),
                    "{file} {command} {format}: {text}"
                );
            }
        }
    }
    // The operator (no actor) is told who it is.
    let r = userimport(dir, &["check", "probe.csv", "--db", "r.db"]);
    assert!(r.stdout.contains("user 2 (login \"boss\")"), "{r:?}");
    assert_eq!(snapshot(dir), before);
}
