//! Shared by the hostile, secrets and authority tests: runs the real
//! `userimport` binary, streams generated input to it, and measures its
//! peak RSS.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes a generated input file to the child's standard input.
pub type Input = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

pub const BIN: &str = env!("CARGO_BIN_EXE_userimport");

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Raw stdout and stderr together, for byte-level checks.
    pub raw: Vec<u8>,
    /// The child's peak resident set, in KiB.
    pub max_rss_kib: i64,
}

/// `struct rusage` on Linux (x86_64 and aarch64): two timevals, then 14 longs.
#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

/// Runs the binary with `args`, streaming `input` (if any) to its stdin,
/// and measures its peak RSS with `wait4`.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its rusage
pub fn run(args: &[&str], input: Option<Input>, cwd: &Path) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("USERIMPORT_DB")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let writer = input.map(|make| {
        let stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let mut out = io::BufWriter::with_capacity(1 << 16, stdin);
            // The child may stop reading early (a limit, an error): a broken
            // pipe is expected then.
            let _ = make(&mut out).and_then(|()| out.flush());
        })
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).unwrap();
        buf
    });
    let mut err_buf = Vec::new();
    stderr.read_to_end(&mut err_buf).unwrap();
    let out_buf = out_thread.join().unwrap();
    let mut status = 0i32;
    let mut usage = Rusage::default();
    // SAFETY: `status` and `usage` are valid for writes; the pid is our child,
    // not yet waited for (std's `Child::wait` is never called on it).
    let pid = unsafe { wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    let signal = status & 0x7f;
    assert_eq!(signal, 0, "{args:?}: killed by signal {signal}");
    let code = (status >> 8) & 0xff;
    let mut raw = out_buf.clone();
    raw.extend_from_slice(&err_buf);
    Run {
        code,
        stdout: String::from_utf8_lossy(&out_buf).into_owned(),
        stderr: String::from_utf8_lossy(&err_buf).into_owned(),
        raw,
        max_rss_kib: usage.maxrss,
    }
}

/// Runs the binary in the current directory with no input:
/// (exit code, stdout, stderr). The seed-system tests' runner.
pub fn userimport(args: &[&str]) -> (i32, String, String) {
    let r = run(args, None, Path::new("."));
    (r.code, r.stdout, r.stderr)
}

/// The path of a file under the repository's `examples/` folder.
pub fn example_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(relative)
        .display()
        .to_string()
}
