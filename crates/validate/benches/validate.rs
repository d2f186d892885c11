//! Validates N generated clean `standard` rows (default 1,000,000; set
//! `USERIMPORT_BENCH_ROWS`), in chunks of 10,000, with in-file uniqueness, and
//! reports rows/s: one plain pass each with fresh rows per chunk (`validate`)
//! and with one reused row buffer (`validate_into`), then criterion on the
//! latter. All N records are generated in memory first (about 0.4 GB for
//! 1M), a colder layout than a streaming reader's reused chunk.
//!
//! Run: `cargo bench -p userimport-validate --bench validate`
//! (quick: `USERIMPORT_BENCH_ROWS=100000 cargo bench -p userimport-validate --bench validate`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use userimport_parse::Record;
use userimport_schema::Profile;
use userimport_validate::{Uniqueness, ValidateOptions, Validator};

const CHUNK: usize = 10_000;

fn rows() -> u64 {
    std::env::var("USERIMPORT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Validates every chunk and checks uniqueness; returns the issue count.
/// `reuse`: one row buffer for every chunk (`Validator::validate_into`),
/// else fresh rows per chunk (`Validator::validate`).
fn run(validator: &Validator, profile: &Profile, records: &[Record], reuse: bool) -> usize {
    let mut unique = Uniqueness::new(profile);
    let mut issues = Vec::new();
    let mut rows = Vec::new();
    let mut count = 0;
    let mut first_row = 1;
    for chunk in records.chunks(CHUNK) {
        if reuse {
            validator.validate_into(chunk, first_row, &mut rows, &mut issues);
        } else {
            (rows, issues) = validator.validate(chunk, first_row);
        }
        count += issues.len();
        issues.clear();
        unique.observe_all(&rows);
        first_row += chunk.len() as u64;
    }
    count + unique.finish().len()
}

fn bench(c: &mut Criterion) {
    let n = rows();
    let profile = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &profile,
        common::fields(&profile, &header),
        &header,
        ValidateOptions::default(),
    );
    let records = common::clean_records(n, 42);

    // Plain timed passes outside criterion, for rows/s lines; CPU time too,
    // since a shared machine's wall time says little.
    for (name, reuse) in [("validate", false), ("validate_into", true)] {
        let cpu_before = cpu_seconds();
        let start = Instant::now();
        let issues = run(&validator, &profile, &records, reuse);
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds()
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        assert_eq!(issues, 0, "generated rows must be clean");
        println!(
            "{name}: {n} rows in {secs:.3} s = {:.0} rows/s ({} rayon threads){}",
            n as f64 / secs,
            rayon::current_num_threads(),
            match cpu {
                Some(cpu) => format!("; CPU {cpu:.3} s = {:.2} µs per row", cpu * 1e6 / n as f64),
                None => String::new(),
            }
        );
    }

    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function(format!("standard_clean_{n}_rows"), |b| {
        b.iter(|| run(&validator, &profile, &records, true))
    });
    group.finish();
}

/// User plus system CPU time of this process (Linux `/proc/self/stat`,
/// 100 ticks a second), or `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

criterion_group!(benches, bench);
criterion_main!(benches);
