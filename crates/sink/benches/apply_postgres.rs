//! Apply N new users with pre-hashed passwords to a PostgreSQL store, and
//! compare with `psql \copy` of the same rows as CSV into a plain table.
//!
//! `USERIMPORT_BENCH_POSTGRES=postgres://… cargo bench -p userimport-sink --bench apply_postgres`
//! (falls back to `USERIMPORT_TEST_POSTGRES`; N = 200,000, set
//! `USERIMPORT_BENCH_ROWS` to change it). Each run uses a fresh schema,
//! dropped at the end. Data is generated, not committed.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use userimport_plan::{PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{PostgresSink, Sink};

mod common;

use common::*;

fn psql(url: &str, command: &str) -> Result<(), Box<dyn std::error::Error>> {
    let status = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command])
        .status()?;
    if !status.success() {
        return Err(format!("psql failed: {command}").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(base) = std::env::var("USERIMPORT_BENCH_POSTGRES")
        .or_else(|_| std::env::var("USERIMPORT_TEST_POSTGRES"))
        .ok()
    else {
        println!(
            "set USERIMPORT_BENCH_POSTGRES (or USERIMPORT_TEST_POSTGRES) to a server URL: benchmark skipped"
        );
        return Ok(());
    };
    let n: usize = std::env::var("USERIMPORT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let profile = Profile::standard();
    let schema = format!("bench_{}", std::process::id());
    psql(&base, &format!("CREATE SCHEMA {schema}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let result = run(&url, &schema, n, &dir, &profile);
    psql(&base, &format!("DROP SCHEMA {schema} CASCADE"))?;
    result
}

fn run(
    url: &str,
    schema: &str,
    n: usize,
    dir: &tempfile::TempDir,
    profile: &Profile,
) -> Result<(), Box<dyn std::error::Error>> {
    let csv_path = dir.path().join("users.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
        writeln!(out, "{}", COLUMNS.join(","))?;
        for i in 0..n {
            let fields: Vec<String> = values(i).iter().map(|v| format!("\"{v}\"")).collect();
            writeln!(out, "{}", fields.join(","))?;
        }
    }
    let columns: Vec<String> = COLUMNS.iter().map(|c| format!("{c} text")).collect();
    psql(
        url,
        &format!("CREATE TABLE {schema}.plain ({})", columns.join(", ")),
    )?;
    let t = Instant::now();
    psql(
        url,
        &format!(
            "\\copy {schema}.plain FROM '{}' WITH (FORMAT csv, HEADER true)",
            csv_path.display()
        ),
    )?;
    let copy_time = t.elapsed();
    println!(
        "psql \\copy of {n} rows into a plain table: {:.3} s wall",
        copy_time.as_secs_f64()
    );

    let indices: Vec<usize> = COLUMNS
        .iter()
        .map(|c| profile.column_index(c).ok_or("column"))
        .collect::<Result<_, _>>()?;
    let rows = make_rows(profile, &indices, n);
    let t = Instant::now();
    let mut store = PostgresSink::open(url)?;
    let plan = Planner::plan_rows(profile, PlanOptions::default(), rows, &store)?;
    let plan_time = t.elapsed();
    let (cpu1, _) = cpu_seconds();
    let t = Instant::now();
    let outcome = store.apply(&plan, &mut |_| true)?;
    let apply_time = t.elapsed();
    let (cpu2, _) = cpu_seconds();
    println!(
        "userimport plan of {n} rows against a new store: {:.3} s wall",
        plan_time.as_secs_f64()
    );
    println!(
        "userimport apply of {} created users (pre-hashed passwords): {:.3} s wall, {:.2} s client CPU",
        outcome.created,
        apply_time.as_secs_f64(),
        cpu2 - cpu1
    );
    println!(
        "wall: apply = {:.2}x psql \\copy",
        apply_time.as_secs_f64() / copy_time.as_secs_f64().max(1e-9)
    );
    let rows = make_rows(profile, &indices, n);
    let t = Instant::now();
    let again = Planner::plan_rows(profile, PlanOptions::default(), rows, &store)?;
    println!(
        "re-plan of {n} rows against the {n}-user store: {:.3} s wall ({} unchanged)",
        t.elapsed().as_secs_f64(),
        again.summary.unchanged
    );
    Ok(())
}
