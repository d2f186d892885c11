//! `examples/README.md` is true: every `userimport` command in its shell
//! blocks runs as written (each section on a store of its own, from a
//! directory where `examples/` is the repository's), and none is refused as
//! a usage error. `outbox deliver` talks to a plain SMTP listener the test
//! starts, on the port the README names replaced by the listener's.
//! `--help` of the tool, of `check` and of `apply` gives the exit codes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_userimport");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `userimport` commands of each `## ` section's shell blocks, with
/// `\` continuations joined and trailing `# comments` removed.
fn sections(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = vec![("top".into(), Vec::new())];
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            sections.push((title.to_string(), Vec::new()));
            continue;
        }
        if line.starts_with("```") {
            in_block = line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let line = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        if let Some(part) = line.trim_end().strip_suffix('\\') {
            pending.push_str(part);
            continue;
        }
        pending.push_str(line);
        let command = std::mem::take(&mut pending).trim().to_string();
        if command.starts_with("userimport ") {
            sections.last_mut().unwrap().1.push(command);
        }
    }
    sections.retain(|(_, commands)| !commands.is_empty());
    sections
}

/// A plain SMTP server on loopback that accepts every message; its port.
fn smtp_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let _ = out.write_all(b"220 localhost ready\r\n");
                let mut line = String::new();
                while lines.read_line(&mut line).unwrap_or(0) > 0 {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250 localhost\r\n",
                        "DATA" => {
                            let _ = out.write_all(b"354 go on\r\n");
                            let mut data = String::new();
                            while lines.read_line(&mut data).unwrap_or(0) > 0 {
                                if data.ends_with("\r\n.\r\n") || data == ".\r\n" {
                                    break;
                                }
                            }
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = out.write_all(b"221 bye\r\n");
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = out.write_all(reply);
                    line.clear();
                }
            });
        }
    });
    port
}

/// Commands the README shows failing on purpose: (command prefix, exit
/// code, what stderr says).
const EXPECTED_FAILURES: [(&str, i32, &str); 2] = [
    // Shown as the way to finish or stop a job; the section's files are
    // small, so there is no job 1.
    ("userimport jobs resume 1", 2, "no job 1"),
    ("userimport jobs cancel 1", 2, "no job 1"),
];

#[test]
fn every_command_in_the_examples_readme_runs_as_written() {
    let readme = std::fs::read_to_string(repo().join("examples/README.md")).unwrap();
    let sections = sections(&readme);
    let count: usize = sections.iter().map(|(_, c)| c.len()).sum();
    assert!(count >= 25, "{count} commands found: {sections:#?}");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let port = smtp_listener();
    let examples = std::fs::canonicalize(repo().join("examples")).unwrap();
    for (title, commands) in &sections {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&examples, dir.path().join("examples")).unwrap();
        for command in commands {
            let command = command.replace("localhost:2525", &format!("127.0.0.1:{port}"));
            let out = Command::new("sh")
                .args(["-c", &command])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env_remove("USERIMPORT_DB")
                .env_remove("USERIMPORT_SMTP")
                .env_remove("USERIMPORT_INVITE_BASE_URL")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said = format!("[{title}] `{command}` exited {code}:\n{stderr}");
            match EXPECTED_FAILURES
                .iter()
                .find(|(prefix, _, _)| command.starts_with(prefix))
            {
                Some((_, expected, what)) => {
                    assert_eq!(code, *expected, "{said}");
                    assert!(stderr.contains(what), "{said}");
                }
                // 1 is a file with row errors, shown on purpose (errors.csv,
                // rows skipped with --skip-invalid); never a usage error.
                None => assert!(code == 0 || code == 1, "{said}"),
            }
        }
    }
}

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_gives_the_exit_codes() {
    let top = help(&["--help"]);
    assert!(top.contains("Exit codes:\n  0  success"), "{top}");
    assert!(top.contains("userimport fields [--profile P]"), "{top}");
    assert!(top.contains("resume, cancel"), "{top}");
    let check = help(&["check", "--help"]);
    assert!(
        check.contains("Exit codes:\n  0  no row has an error (warnings allowed)\n  1  rows have errors\n  2  usage"),
        "{check}"
    );
    let apply = help(&["apply", "--help"]);
    for expected in [
        "Exit codes:\n  0  applied, and no row has an error or failed",
        "  1  rows have errors (nothing is applied unless --skip-invalid",
        "a job stopped or cancelled part-way (`userimport jobs resume ID` finishes it)",
        "The report lists who changes and how, as `check` does",
        "--results <FILE>",
        "member ID, reason, login ID, e-mail",
        "--changes-csv <FILE>",
    ] {
        assert!(apply.contains(expected), "{expected:?} not in:\n{apply}");
    }
}
