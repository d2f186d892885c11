//! Where `check` spends its time: the same file read through each stage of
//! the pipeline in turn (on one thread but for the rayon line), so each
//! line's time minus the previous line's is that stage's cost. Prints wall
//! time and the process's CPU time (user + sys, from /proc/self/stat on
//! Linux: the figure to trust on a shared machine).
//!
//! ```sh
//! cargo run --release -p userimport --example stages -- bench-data/users-1m.csv
//! ```

use std::sync::Arc;
use std::time::Instant;

use userimport::parse::{ColumnMapping, Record};
use userimport::plan::{PlanOptions, Planner};
use userimport::schema::Profile;
use userimport::sink::MemorySink;
use userimport::validate::{Uniqueness, ValidateOptions, Validator};
use userimport::{ImportOptions, Importer};

const CHUNK: usize = 1_024;

/// CPU seconds (user + sys) of this process so far; 0 where /proc is missing.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

fn stage(path: &str, level: u8) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let cpu = cpu_seconds();
    let profile = Arc::new(Profile::standard());
    let importer = Importer::builder(&profile)
        .options(ImportOptions::default())
        .build();
    let mut reader = importer.reader(std::fs::File::open(path)?)?;
    let header = reader.header().clone();
    let mapping = ColumnMapping::new(&profile, &header, &[], false)?;
    let validator = Validator::from_mapping(
        Arc::clone(&profile),
        &mapping,
        &header,
        ValidateOptions::default(),
    );
    let store = MemorySink::new();
    let options = PlanOptions {
        key_order: profile.key_order.clone(),
        ..PlanOptions::default()
    };
    let mut planner = Planner::new(&profile, options, &store)?;
    planner.counts_only(true);
    let mut unique = Uniqueness::new(&profile);
    let mut records = vec![Record::new(); CHUNK];
    let (mut rows, mut issues) = (Vec::new(), Vec::new());
    let mut first = 1;
    loop {
        let mut filled = 0;
        while filled < CHUNK && reader.read_record(&mut records[filled])? {
            filled += 1;
        }
        if filled == 0 {
            break;
        }
        if level >= 1 {
            if level == 1 {
                // Sequential: one row at a time on this thread.
                rows.clear();
                for (i, record) in records[..filled].iter().enumerate() {
                    let (row, found) = validator.validate_record(record, first + i as u64);
                    rows.push(row);
                    issues.extend(found);
                }
            } else {
                validator.validate_into(&records[..filled], first, &mut rows, &mut issues);
            }
        }
        if level >= 3 {
            unique.observe_all(&rows[..filled]);
        }
        if level >= 4 {
            std::hint::black_box(planner.plan_chunk(&rows[..filled], &store)?);
        }
        first += filled as u64;
        issues.clear();
    }
    std::hint::black_box(unique.finish());
    Ok((start.elapsed().as_secs_f64(), cpu_seconds() - cpu))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: stages FILE")?;
    for (level, what) in [
        (0, "parse (Reader, decode, records)"),
        (1, "+ validate, one thread (validate_record)"),
        (2, "+ validate, rayon (validate_into, reused rows)"),
        (3, "+ in-file uniqueness"),
        (4, "+ plan, counts only, empty store"),
    ] {
        let (wall, cpu) = stage(&path, level)?;
        println!("{wall:>7.3} s wall {cpu:>7.2} s CPU  {what}");
    }
    Ok(())
}
