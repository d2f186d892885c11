//! The floor for any CSV engine: raw csv-core `read_record` over a file's
//! bytes, read in 64 KiB blocks, fields copied into a caller-owned buffer and
//! nothing decoded, validated or allocated per record. `benches/compare.sh`
//! runs it next to `userimport check` on the same file.
//!
//! ```sh
//! cargo run --release -p userimport-parse --example csv_core_floor -- bench-data/users-1m.csv
//! ```
//! Prints `records=N fields=F bytes=B seconds=S`.

use std::io::Read;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: csv_core_floor FILE")?;
    let start = Instant::now();
    let mut file = std::fs::File::open(path)?;
    let mut reader = csv_core::Reader::new();
    let mut block = vec![0u8; 64 * 1024];
    let mut out = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 1024];
    let (mut records, mut fields, mut bytes) = (0u64, 0u64, 0u64);
    let (mut len, mut pos) = (0usize, 0usize);
    let (mut out_pos, mut ends_pos) = (0usize, 0usize);
    let mut eof = false;
    loop {
        if pos == len && !eof {
            len = file.read(&mut block)?;
            pos = 0;
            bytes += len as u64;
            eof = len == 0;
        }
        let (result, nin, nout, nend) =
            reader.read_record(&block[pos..len], &mut out[out_pos..], &mut ends[ends_pos..]);
        pos += nin;
        out_pos += nout;
        ends_pos += nend;
        match result {
            csv_core::ReadRecordResult::InputEmpty => {}
            csv_core::ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            csv_core::ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            csv_core::ReadRecordResult::Record => {
                records += 1;
                fields += ends_pos as u64;
                std::hint::black_box(&out[..out_pos]);
                out_pos = 0;
                ends_pos = 0;
            }
            csv_core::ReadRecordResult::End => break,
        }
    }
    println!(
        "records={records} fields={fields} bytes={bytes} seconds={:.3}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
