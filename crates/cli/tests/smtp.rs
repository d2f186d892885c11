//! `outbox deliver` against a real SMTP server on loopback, started by the
//! test: STARTTLS and implicit TLS (rustls, a certificate made here and
//! trusted with `?ca=`), AUTH from the URL, a Message-ID on every message,
//! a permanent refusal (550) failed at once and never retried, and the
//! URL's password in no output and nowhere in the store.

#[path = "postgres_backend.rs"]
mod backend;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

use backend::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_userimport");
const USER: &str = "mailer@corp";
const PASS: &str = "Smtp-Pass:w0rd@9";

/// One message the server accepted.
#[derive(Debug, Clone)]
struct Received {
    to: String,
    data: String,
    tls: bool,
    authenticated: bool,
}

/// What the server does.
#[derive(Clone)]
struct Config {
    /// TLS: offered by STARTTLS, or from the first byte when `implicit`.
    tls: Option<Arc<rustls::ServerConfig>>,
    implicit: bool,
    /// Credentials AUTH PLAIN / LOGIN must give; MAIL needs them when set.
    auth: Option<(String, String)>,
    /// Recipients answered 550 (no such user).
    reject: Vec<String>,
}

struct Server {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    rcpt: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(config: Config) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rcpt = Arc::new(Mutex::new(Vec::new()));
        let (store, seen) = (Arc::clone(&received), Arc::clone(&rcpt));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, store, seen) = (config.clone(), Arc::clone(&store), Arc::clone(&seen));
                std::thread::spawn(move || {
                    let _ = serve(stream, &config, &store, &seen);
                });
            }
        });
        Server {
            port,
            received,
            rcpt,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn tls_stream(
    config: &Config,
    stream: TcpStream,
) -> std::io::Result<rustls::StreamOwned<rustls::ServerConnection, TcpStream>> {
    let tls = config.tls.clone().expect("a TLS config");
    let conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    Ok(rustls::StreamOwned::new(conn, stream))
}

fn serve(
    stream: TcpStream,
    config: &Config,
    store: &Mutex<Vec<Received>>,
    rcpt: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    if config.implicit {
        let tls = tls_stream(config, stream)?;
        session(tls, config, store, rcpt, true, true)?;
        return Ok(());
    }
    if let Some(plain) = session(stream, config, store, rcpt, false, true)? {
        let tls = tls_stream(config, plain)?;
        session(tls, config, store, rcpt, true, false)?;
    }
    Ok(())
}

fn b64(text: &str) -> Vec<u8> {
    // A small decoder: the test has no base64 crate.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.trim().bytes().filter(|&b| b != b'=') {
        let Some(v) = ALPHABET.iter().position(|&a| a == b) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// One SMTP session; returns the stream when the client asked for
/// STARTTLS (the caller wraps it and goes on).
fn session<S: Read + Write>(
    stream: S,
    config: &Config,
    store: &Mutex<Vec<Received>>,
    rcpt: &Mutex<Vec<String>>,
    tls: bool,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut reader = BufReader::new(stream);
    if greet {
        reader.get_mut().write_all(b"220 localhost test SMTP\r\n")?;
    }
    let mut authenticated = false;
    let mut to = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let command = line.trim_end().to_ascii_uppercase();
        let out = reader.get_mut();
        if command.starts_with("EHLO") || command.starts_with("HELO") {
            let mut reply = String::from("250-localhost\r\n");
            if config.tls.is_some() && !tls {
                reply.push_str("250-STARTTLS\r\n");
            }
            if config.auth.is_some() {
                reply.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            reply.push_str("250 8BITMIME\r\n");
            out.write_all(reply.as_bytes())?;
        } else if command == "STARTTLS" {
            out.write_all(b"220 go ahead\r\n")?;
            out.flush()?;
            return Ok(Some(reader.into_inner()));
        } else if command.starts_with("AUTH PLAIN") {
            let given = b64(&line.trim_end()[10..]);
            let parts: Vec<&[u8]> = given.split(|&b| b == 0).collect();
            let expected = config.auth.as_ref().unwrap();
            if parts.len() == 3
                && parts[1] == expected.0.as_bytes()
                && parts[2] == expected.1.as_bytes()
            {
                authenticated = true;
                out.write_all(b"235 2.7.0 accepted\r\n")?;
            } else {
                out.write_all(b"535 5.7.8 bad credentials\r\n")?;
            }
        } else if command.starts_with("MAIL FROM") {
            if config.auth.is_some() && !authenticated {
                out.write_all(b"530 5.7.0 authentication required\r\n")?;
            } else {
                to.clear();
                out.write_all(b"250 OK\r\n")?;
            }
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_matches(['<', '>'])
                .to_string();
            rcpt.lock().unwrap().push(address.clone());
            if config.reject.contains(&address) {
                out.write_all(b"550 5.1.1 no such user\r\n")?;
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
                    return Ok(None);
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push(Received {
                to: to.clone(),
                data,
                tls,
                authenticated,
            });
            reader.get_mut().write_all(b"250 OK queued\r\n")?;
        } else if command == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(None);
        } else {
            out.write_all(b"250 OK\r\n")?;
        }
    }
}

/// A server certificate for `localhost`, and its PEM to trust.
fn certificate() -> (Arc<rustls::ServerConfig>, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        made.key_pair.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key)
    .unwrap();
    (Arc::new(config), made.cert.pem())
}

fn run(args: &[&str], db: &TestDb) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db.url())
        .env_remove("USERIMPORT_SMTP")
        .output()
        .expect("run userimport");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(PASS),
        "{args:?} shows the SMTP password: {text}"
    );
    assert!(!text.contains("internal error"), "{args:?}: {text}");
    (out.status.code().unwrap_or(-1), text)
}

/// Queues invitations for `logins`.
fn queue(db: &TestDb, dir: &std::path::Path, logins: &[&str]) {
    let mut text = String::from("login_id,name,email,password\n");
    for login in logins {
        text.push_str(&format!(
            "{login},User {login},{login}@example.com,Secret-{login}-2026\n"
        ));
    }
    let file = dir.join(format!("{}.csv", logins[0]));
    std::fs::write(&file, text).unwrap();
    let (code, out) = run(
        &[
            "apply",
            file.to_str().unwrap(),
            "--invite",
            "--invite-base-url",
            "https://app.example.com/set",
        ],
        db,
    );
    assert_eq!(code, 0, "{out}");
}

fn outbox(db: &TestDb) -> Vec<serde_json::Value> {
    let (code, out) = run(&["outbox", "--format", "json"], db);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn status_of<'a>(list: &'a [serde_json::Value], login: &str) -> &'a serde_json::Value {
    list.iter()
        .find(|m| m["login"] == login)
        .unwrap_or_else(|| panic!("{login} not in the outbox"))
}

fn a_permanent_refusal_is_not_retried_and_every_message_has_an_id(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    queue(db, dir.path(), &["ann", "gone", "cid"]);
    let server = Server::start(Config {
        tls: None,
        implicit: false,
        auth: None,
        reject: vec!["gone@example.com".to_string()],
    });
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("2 sent, 0 to retry later, 1 failed"), "{out}");
    let list = outbox(db);
    let gone = status_of(&list, "gone");
    assert_eq!(gone["status"], "failed", "{gone}");
    assert_eq!(gone["attempts"], 1);
    assert!(
        gone["last_error"].as_str().unwrap().contains("550"),
        "{gone}"
    );
    // Delivering again sends nothing and never asks for `gone` again.
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert!(out.contains("0 sent"), "{out}");
    assert_eq!(code, 0, "{out}");
    let asked: Vec<String> = server.rcpt.lock().unwrap().clone();
    assert_eq!(asked.iter().filter(|a| *a == "gone@example.com").count(), 1);
    let received = server.received();
    assert_eq!(received.len(), 2);
    let mut ids = Vec::new();
    for r in &received {
        let id = r
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or_else(|| panic!("no Message-ID:\n{}", r.data));
        assert!(
            id.starts_with('<') && id.ends_with('>') && id.contains('@'),
            "{id}"
        );
        ids.push(id.to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 2, "Message-IDs are unique");
}

fn starttls_and_implicit_tls_authenticate_from_the_url(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (tls, pem) = certificate();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let ca = ca.to_str().unwrap().to_string();
    let encoded_user = "mailer%40corp";
    let encoded_pass = "Smtp-Pass%3Aw0rd%409";
    let auth = Some((USER.to_string(), PASS.to_string()));

    // STARTTLS.
    queue(db, dir.path(), &["tom"]);
    let server = Server::start(Config {
        tls: Some(Arc::clone(&tls)),
        implicit: false,
        auth: auth.clone(),
        reject: Vec::new(),
    });
    let url = format!(
        "smtp://{encoded_user}:{encoded_pass}@localhost:{}?tls=starttls&ca={ca}",
        server.port
    );
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 sent"), "{out}");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls && got[0].authenticated, "{got:?}");
    assert_eq!(got[0].to, "tom@example.com");

    // TLS from the first byte.
    queue(db, dir.path(), &["una"]);
    let server = Server::start(Config {
        tls: Some(Arc::clone(&tls)),
        implicit: true,
        auth: auth.clone(),
        reject: Vec::new(),
    });
    let url = format!(
        "smtps://{encoded_user}:{encoded_pass}@localhost:{}?ca={ca}",
        server.port
    );
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert_eq!(code, 0, "{out}");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls && got[0].authenticated, "{got:?}");

    // A wrong password: refused for good (535), the password shown nowhere.
    queue(db, dir.path(), &["vic"]);
    let server = Server::start(Config {
        tls: Some(Arc::clone(&tls)),
        implicit: false,
        auth: Some((USER.to_string(), "another".to_string())),
        reject: Vec::new(),
    });
    let url = format!(
        "smtp://{encoded_user}:{encoded_pass}@localhost:{}?tls=starttls&ca={ca}",
        server.port
    );
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert_eq!(code, 1, "{out}");
    assert!(server.received().is_empty());
    let list = outbox(db);
    let vic = status_of(&list, "vic");
    assert!(vic["last_error"].as_str().unwrap().contains("535"), "{vic}");
    let dump = db.dump();
    for secret in [PASS.as_bytes(), encoded_pass.as_bytes()] {
        assert!(
            !dump.windows(secret.len()).any(|w| w == secret),
            "the store holds the SMTP password"
        );
    }

    // Without the CA the server's certificate is not trusted: nothing sent.
    queue(db, dir.path(), &["wes"]);
    let server = Server::start(Config {
        tls: Some(tls),
        implicit: false,
        auth,
        reject: Vec::new(),
    });
    let url = format!(
        "smtp://{encoded_user}:{encoded_pass}@localhost:{}?tls=starttls",
        server.port
    );
    let (code, out) = run(&["outbox", "deliver", "--smtp", &url], db);
    assert_eq!(code, 1, "{out}");
    assert!(server.received().is_empty());

    // Credentials to a remote host without TLS are refused before connecting.
    let (code, out) = run(
        &[
            "outbox",
            "deliver",
            "--smtp",
            &format!("smtp://{encoded_user}:{encoded_pass}@mail.example.com:2525"),
        ],
        db,
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("mailer@corp:***@mail.example.com"), "{out}");
}

both_backends!(
    a_permanent_refusal_is_not_retried_and_every_message_has_an_id,
    starttls_and_implicit_tls_authenticate_from_the_url,
);
