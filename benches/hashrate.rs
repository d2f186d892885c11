//! Password hashing throughput: the single-hash time on one thread, and the
//! rate of the engine's parallel hashing (`userimport::sink::prepare_passwords`)
//! over a batch, as a share of cores × single-hash rate. Run by
//! `benches/compare.sh`; prints `key=value` lines.
//!
//! ```sh
//! cargo run --release -p userimport --example hashrate
//! ```

use std::time::Instant;

// The CLI's allocator: argon2 takes 19 MiB per hash, and the system
// allocator maps and unmaps it every time (page faults the CLI does not pay).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use userimport::plan::{Change, NewUser, PasswordSource};
use userimport::sink::prepare_passwords;
use userimport::validate::Secret;

fn change(i: u64) -> Change {
    Change::Create {
        line: i + 1,
        row: i,
        user: NewUser {
            password: Some(PasswordSource::Plain(Secret::new(format!("Pw-{i:016x}")))),
            ..NewUser::default()
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let single_n = 8u64;
    let batch_n = (cores as u64) * 12;
    // Warm up (page in the argon2 code, start the rayon pool).
    prepare_passwords(&[change(0)])?;

    let start = Instant::now();
    for i in 0..single_n {
        // One change per call: hashed on one thread.
        prepare_passwords(&[change(i)])?;
    }
    let single = start.elapsed().as_secs_f64() / single_n as f64;

    let changes: Vec<Change> = (0..batch_n).map(change).collect();
    let start = Instant::now();
    let hashes = prepare_passwords(&changes)?;
    let batch = start.elapsed().as_secs_f64();
    assert_eq!(hashes.iter().flatten().count(), changes.len());
    let rate = batch_n as f64 / batch;
    let ideal = cores as f64 / single;
    println!("cores={cores}");
    println!("single_ms={:.1}", single * 1000.0);
    println!("batch={batch_n} batch_s={batch:.3} rate_per_s={rate:.1} ideal_per_s={ideal:.1}");
    println!("parallel_efficiency={:.0}", 100.0 * rate / ideal);
    Ok(())
}
