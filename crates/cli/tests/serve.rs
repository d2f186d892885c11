//! `userimport serve`: API tokens made, listed and revoked by the CLI
//! (the token the last word of the last line, stored only as a hash), and
//! the server started on a free port answering `/healthz`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run userimport");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn store_with_admin(dir: &std::path::Path) -> String {
    let file = dir.join("admin.csv");
    std::fs::write(
        &file,
        "Login ID,Name,Email address,Password,Management roles\nadmin,Admin,admin@example.com,Long-Admin-Pass-2026,admin\n",
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let (code, _, err) = run(&["apply", file.to_str().unwrap(), "--db", &db]);
    assert_eq!(code, 0, "{err}");
    db
}

#[test]
fn token_create_prints_the_token_last_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = store_with_admin(dir.path());
    let (code, out, err) = run(&["serve", "token", "create", "--actor", "admin", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let token = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 64, "{out}");
    let bytes = std::fs::read(dir.path().join("store.db")).unwrap();
    let wal = std::fs::read(dir.path().join("store.db-wal")).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(
            !file.windows(64).any(|w| w == token.as_bytes()),
            "the token itself is not stored"
        );
    }
    let (code, list, _) = run(&["serve", "token", "list", "--db", &db]);
    assert_eq!(code, 0);
    assert!(
        list.contains("admin") && list.contains("active") && !list.contains(&token),
        "{list}"
    );
    assert_eq!(run(&["serve", "token", "revoke", "1", "--db", &db]).0, 0);
    let (_, list, _) = run(&["serve", "token", "list", "--db", &db]);
    assert!(list.contains("revoked"), "{list}");
    let (code, _, err) = run(&["serve", "token", "revoke", "1", "--db", &db]);
    assert_eq!(code, 2, "revoking twice is refused: {err}");
    let (code, _, err) = run(&["serve", "token", "create", "--actor", "nobody", "--db", &db]);
    assert_eq!(code, 2);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn serve_listens_where_it_says_and_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let db = store_with_admin(dir.path());
    let uploads = dir.path().join("uploads");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
            "--allow-role",
            "admin",
        ])
        .arg("--upload-dir")
        .arg(&uploads)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("userimport serve: listening on http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-frame-options: DENY"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&uploads).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the upload directory is private");
    }
}

#[test]
fn serve_refuses_an_invitation_template_that_breaks_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let template = dir.path().join("welcome.txt");
    std::fs::write(&template, "Hello, no subject and no link\n").unwrap();
    let uploads = dir.path().join("uploads");
    let (code, out, err) = run(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "127.0.0.1:0",
        "--upload-dir",
        uploads.to_str().unwrap(),
        "--invite-template",
        template.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--invite-template") && err.contains("welcome.txt") && err.contains("Subject"),
        "{err}"
    );
}
