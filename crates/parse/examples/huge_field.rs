//! Feeds a file whose second record is one 64 MiB field (generated on the
//! fly, never held in memory) and prints the error and the peak memory.
//!
//! `cargo run -p userimport-parse --example huge_field` (or under
//! `/usr/bin/time -v` for the peak resident set size).

use std::io::Read;

use userimport_parse::{ReaderBuilder, Record};

/// `login_id,name\nu1,` then 64 MiB of `x`.
struct HugeField {
    pos: u64,
}

const HEAD: &[u8] = b"login_id,name\nu1,";
const FIELD: u64 = 64 << 20;

impl Read for HugeField {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let total = HEAD.len() as u64 + FIELD;
        let n = buf.len().min((total - self.pos) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let p = self.pos as usize + i;
            *b = HEAD.get(p).copied().unwrap_or(b'x');
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM: unknown".to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reader = ReaderBuilder::new().build(HugeField { pos: 0 })?;
    let mut record = Record::new();
    let result = loop {
        match reader.read_record(&mut record) {
            Ok(true) => continue,
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    println!("input: {} MiB field; result: {result:?}", FIELD >> 20);
    if let Err(e) = &result {
        println!("message: {e}");
    }
    println!("raw bytes decoded before stopping: {}", reader.bytes_read());
    println!("peak memory: {}", peak_rss());
    Ok(())
}
