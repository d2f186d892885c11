//! Apply N new users with pre-hashed passwords into a new SQLite file, and
//! compare with `sqlite3 .import` of the same rows as CSV into a plain table.
//!
//! `cargo bench -p userimport-sink --bench apply` (N = 200,000; set
//! `USERIMPORT_BENCH_ROWS` to change it). Data is generated, not committed.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use userimport_plan::{PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{Sink, SqliteSink};
use userimport_validate::Cell;

mod common;

use common::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("USERIMPORT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let profile = Profile::standard();

    // The same rows as CSV for sqlite3.
    let csv_path = dir.path().join("users.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
        writeln!(out, "{}", COLUMNS.join(","))?;
        for i in 0..n {
            // Every field quoted: PHC strings hold commas.
            let fields: Vec<String> = values(i).iter().map(|v| format!("\"{v}\"")).collect();
            writeln!(out, "{}", fields.join(","))?;
        }
    }
    let import_db = dir.path().join("import.db");
    let (_, child_before) = cpu_seconds();
    let t = Instant::now();
    let status = if std::env::var_os("USERIMPORT_BENCH_NO_SQLITE3").is_some() {
        Err(std::io::Error::other("skipped"))
    } else {
        Command::new("sqlite3")
            .arg(&import_db)
            .arg(format!(".import --csv {} users", csv_path.display()))
            .status()
    };
    let import_time = t.elapsed();
    let (_, child_after) = cpu_seconds();
    let import_cpu = child_after - child_before;
    match status {
        Ok(s) if s.success() => println!(
            "sqlite3 .import of {n} rows into a plain table: {:.3} s wall, {import_cpu:.2} s CPU",
            import_time.as_secs_f64()
        ),
        _ => println!("sqlite3 not available: apt-get install -y sqlite3"),
    }

    let indices: Vec<usize> = COLUMNS
        .iter()
        .map(|c| profile.column_index(c).ok_or("column"))
        .collect::<Result<_, _>>()?;
    let rows = make_rows(&profile, &indices, n);
    let db = dir.path().join("userimport.db");
    let (cpu0, _) = cpu_seconds();
    let t = Instant::now();
    let mut store = SqliteSink::open(&db)?;
    let plan = Planner::plan_rows(&profile, PlanOptions::default(), rows, &store)?;
    let plan_time = t.elapsed();
    let (cpu1, _) = cpu_seconds();
    let t = Instant::now();
    // A first import into an empty store: a bulk load through the rollback
    // journal, as `userimport apply` does it.
    let bulk = store.begin_bulk_load()?;
    let outcome = store.apply(&plan, &mut |_| true)?;
    // Closing checkpoints the WAL into the file: part of the cost.
    drop(store);
    let apply_time = t.elapsed();
    let (cpu2, _) = cpu_seconds();
    println!(
        "userimport plan of {n} rows against a new store: {:.3} s wall, {:.2} s CPU",
        plan_time.as_secs_f64(),
        cpu1 - cpu0
    );
    println!(
        "userimport apply of {} created users (pre-hashed passwords, {}, close included): {:.3} s wall, {:.2} s CPU",
        outcome.created,
        if bulk { "bulk load" } else { "through the WAL" },
        apply_time.as_secs_f64(),
        cpu2 - cpu1
    );
    // Planning the same file again against the filled store: one batched
    // look-up per 1,000 rows, every row unchanged.
    let rows = make_rows(&profile, &indices, n);
    let store = SqliteSink::open_existing(&db)?;
    let (cpu3, _) = cpu_seconds();
    let t = Instant::now();
    let again = Planner::plan_rows(&profile, PlanOptions::default(), rows, &store)?;
    let (cpu4, _) = cpu_seconds();
    println!(
        "re-plan of {n} rows against the {n}-user store: {:.3} s wall, {:.2} s CPU ({} unchanged)",
        t.elapsed().as_secs_f64(),
        cpu4 - cpu3,
        again.summary.unchanged
    );
    drop(store);

    // An edit cycle: every user moves department (and so group).
    let department = profile.column_index("department").ok_or("column")?;
    let groups = profile.column_index("groups").ok_or("column")?;
    let mut rows = make_rows(&profile, &indices, n);
    for row in &mut rows {
        row.cells[department] = Cell::Value("Legal".to_string());
        row.cells[groups] = Cell::List(userimport_validate::ListEdit {
            add: vec!["Legal".to_string()],
            remove: vec!["Sales".to_string(), "Support".to_string()],
        });
    }
    let mut store = SqliteSink::open(&db)?;
    let (cpu5, _) = cpu_seconds();
    let t = Instant::now();
    let edit = Planner::plan_rows(&profile, PlanOptions::default(), rows, &store)?;
    let outcome = store.apply(&edit, &mut |_| true)?;
    drop(store);
    let (cpu6, _) = cpu_seconds();
    println!(
        "edit of {n} users (plan + apply, {} updated): {:.3} s wall, {:.2} s CPU",
        outcome.updated,
        t.elapsed().as_secs_f64(),
        cpu6 - cpu5
    );

    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "file sizes: sqlite3 .import {} MB, userimport {} MB (+ WAL {} MB)",
        size(&import_db) / 1_000_000,
        size(&db) / 1_000_000,
        size(&dir.path().join("userimport.db-wal")) / 1_000_000
    );
    if import_cpu > 0.0 {
        println!(
            "CPU: plan + apply = {:.2}x, apply alone = {:.2}x sqlite3 .import",
            (cpu2 - cpu0) / import_cpu.max(1e-9),
            (cpu2 - cpu1) / import_cpu.max(1e-9)
        );
        println!(
            "wall: plan + apply: {:.3} s = {:.2}x sqlite3 .import",
            (plan_time + apply_time).as_secs_f64(),
            (plan_time + apply_time).as_secs_f64() / import_time.as_secs_f64().max(1e-9)
        );
        println!(
            "wall: apply alone: {:.2}x sqlite3 .import",
            apply_time.as_secs_f64() / import_time.as_secs_f64().max(1e-9)
        );
    }
    Ok(())
}
