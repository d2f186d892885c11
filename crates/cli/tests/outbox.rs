//! Invitations with the real binary on both stores: `apply --invite` queues
//! one message per created user (none for updates), also when the file runs
//! as a job; `outbox deliver` sends each once to a real SMTP listener on
//! loopback started by the test, retrying a refusal later; neither the
//! store nor the messages hold a password or a usable token.

#[path = "postgres_backend.rs"]
mod backend;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use backend::TestDb;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// One message the SMTP listener accepted.
#[derive(Debug, Clone)]
struct Received {
    to: String,
    data: String,
}

/// A small SMTP server on 127.0.0.1: enough of RFC 5321 for lettre
/// (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT). RCPT for `refuse_once` is
/// answered 451 the first time.
struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    fn start(refuse_once: Option<&str>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(Mutex::new(refuse_once.map(str::to_string)));
        let store = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = Arc::clone(&store);
                let refuse = Arc::clone(&refuse);
                std::thread::spawn(move || {
                    let _ = session(stream, &store, &refuse);
                });
            }
        });
        SmtpServer { port, received }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn session(
    stream: TcpStream,
    store: &Mutex<Vec<Received>>,
    refuse: &Mutex<Option<String>>,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 localhost test SMTP\r\n")?;
    let mut to = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            out.write_all(b"250-localhost\r\n250 8BITMIME\r\n")?;
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_matches(['<', '>'])
                .to_string();
            let mut refuse = refuse.lock().unwrap();
            if refuse.as_deref() == Some(address.as_str()) {
                *refuse = None;
                out.write_all(b"451 4.3.0 try again later\r\n")?;
            } else {
                to = address;
                out.write_all(b"250 OK\r\n")?;
            }
        } else if command == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            // The body may come quoted-printable: undo the soft line
            // breaks and the escaped `=` (the tests use ASCII only).
            let data = data.replace("=\r\n", "").replace("=3D", "=");
            store.lock().unwrap().push(Received {
                to: to.clone(),
                data,
            });
            out.write_all(b"250 OK queued\r\n")?;
        } else if command == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            // RSET, NOOP and anything else.
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

fn run(args: &[&str], db: &TestDb) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db.url())
        .output()
        .expect("run userimport");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn password(i: usize) -> String {
    format!("Plain-Secret-{i:04}-Xq")
}

/// `n` users with plaintext passwords (hashed on import), from `first`.
fn write_file(path: &Path, first: usize, n: usize) {
    let mut text = String::from("login_id,name,email,password\n");
    for i in first..first + n {
        text.push_str(&format!(
            "user{i:04},User {i},user{i:04}@example.com,{}\n",
            password(i)
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn outbox(db: &TestDb) -> Vec<serde_json::Value> {
    let (code, stdout, stderr) = run(&["outbox", "--format", "json"], db);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn invitations_are_queued_and_delivered_once(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("invite.txt");
    std::fs::write(
        &template,
        "Subject: Welcome {{ name }}\n\nHi {{ name }} ({{ login }}, {{ email }}): {{ link }}\n",
    )
    .unwrap();
    let base = ["--invite-base-url", "https://app.example.com/set-password"];

    // Three users exist already (no invitation: created without --invite).
    let seed = dir.path().join("seed.csv");
    write_file(&seed, 0, 3);
    let (code, out, err) = run(&["apply", seed.to_str().unwrap()], db);
    assert_eq!(code, 0, "{out}{err}");

    // A small file: two new users, one existing (updated: no invitation).
    let small = dir.path().join("small.csv");
    std::fs::write(
        &small,
        format!(
            "login_id,name,email,password\nuser0000,User Zero Renamed,user0000@example.com,\nuser0100,User 100,user0100@example.com,{}\nuser0101,User 101,user0101@example.com,{}\n",
            password(100),
            password(101)
        ),
    )
    .unwrap();
    let mut args = vec![
        "apply",
        small.to_str().unwrap(),
        "--invite",
        "--invite-template",
    ];
    args.push(template.to_str().unwrap());
    args.extend(base);
    let (code, out, err) = run(&args, db);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 created, 1 updated"), "{out}");

    // A file above the threshold runs as a job and queues too.
    let big = dir.path().join("big.csv");
    write_file(&big, 200, 120);
    let mut args = vec!["apply", big.to_str().unwrap(), "--invite"];
    args.extend(base);
    let (code, out, err) = run(&args, db);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("job 1: done: 120 created"), "{out}");

    let queued = outbox(db);
    let mut expected: Vec<String> =
        vec!["user0100@example.com".into(), "user0101@example.com".into()];
    expected.extend((200..320).map(|i| format!("user{i:04}@example.com")));
    let to: Vec<String> = queued
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        to, expected,
        "one message per created user, none for updates"
    );
    assert!(queued.iter().all(|m| m["status"] == "queued"));

    // Deliver: the server refuses one recipient once.
    let server = SmtpServer::start(Some("user0101@example.com"));
    let (code, out, err) = run(
        &[
            "outbox",
            "deliver",
            "--smtp",
            &server.url(),
            "--from",
            "admin@example.com",
        ],
        db,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("121 sent, 1 to retry later, 0 failed"),
        "{out}"
    );
    let (code, out, err) = run(&["outbox", "deliver", "--smtp", &server.url()], db);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("0 sent"),
        "nothing sent twice, the retry waits: {out}"
    );
    let received = server.received();
    assert_eq!(received.len(), 121);
    let mut to: Vec<&str> = received.iter().map(|r| r.to.as_str()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 121, "each message once");
    let list = outbox(db);
    let refused = list
        .iter()
        .find(|m| m["email"] == "user0101@example.com")
        .unwrap();
    assert_eq!(refused["status"], "queued");
    assert_eq!(refused["attempts"], 1);
    assert!(
        refused["last_error"].as_str().unwrap().contains("451"),
        "{refused}"
    );
    assert_eq!(list.iter().filter(|m| m["status"] == "sent").count(), 121);

    // The custom template, with the per-user variables and a link.
    let first = received
        .iter()
        .find(|r| r.to == "user0100@example.com")
        .unwrap();
    assert!(
        first.data.contains("Subject: Welcome User 100"),
        "{}",
        first.data
    );
    assert!(
        first
            .data
            .contains("Hi User 100 (user0100, user0100@example.com)"),
        "{}",
        first.data
    );
    let token = first
        .data
        .split("token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("a set-password link")
        .to_string();
    assert_eq!(token.len(), 64, "{token}");

    // No password (plaintext) anywhere: not in the store, not in any message;
    // the token only as its SHA-256.
    let dump = db.dump();
    let has = |needle: &str| dump.windows(needle.len()).any(|w| w == needle.as_bytes());
    for i in (0..3).chain(100..102).chain(200..320) {
        assert!(
            !has(&password(i)),
            "the store holds password {i} in plain text"
        );
        assert!(received.iter().all(|r| !r.data.contains(&password(i))));
    }
    assert!(!has(&token), "the token is stored in plain text");
    assert!(has(&hex::encode(Sha256::digest(token.as_bytes()))));
}

fn generated_passwords_are_never_queued(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        "login_id,name,email\nnopass,No Pass,nopass@example.com\n",
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "apply",
            file.to_str().unwrap(),
            "--generate-passwords",
            "--invite",
            "--invite-base-url",
            "https://app.example.com/set",
        ],
        db,
    );
    assert_eq!(code, 0, "{out}{err}");
    let server = SmtpServer::start(None);
    let (code, out, _) = run(&["outbox", "deliver", "--smtp", &server.url()], db);
    assert_eq!(code, 0, "{out}");
    let received = server.received();
    assert_eq!(received.len(), 1);
    let body = &received[0].data;
    assert!(!body.to_lowercase().contains("password:"), "{body}");
    assert!(
        body.contains("https://app.example.com/set?token="),
        "{body}"
    );
}

both_backends!(
    invitations_are_queued_and_delivered_once,
    generated_passwords_are_never_queued,
);
