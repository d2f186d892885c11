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
use userimport_validate::{Cell, Row, Secret};

const COLUMNS: &[&str] = &[
    "login_id",
    "name",
    "display_name",
    "department",
    "position",
    "email",
    "password_hash",
    "notify_announcements",
    "country",
    "language",
    "timezone",
    "status",
    "groups",
];

fn values(i: usize) -> Vec<String> {
    let departments = ["Sales", "Support", "Engineering", "Finance", "HR"];
    vec![
        format!("user{i:07}"),
        format!("User Number {i}"),
        format!("U{i}"),
        departments[i % departments.len()].to_string(),
        "Staff".to_string(),
        format!("user{i:07}@example.com"),
        format!(
            "$argon2id$v=19$m=19456,t=2,p=1${:022x}${:043x}",
            i as u128 * 7919,
            i as u128 * 104_729
        ),
        "On".to_string(),
        "Japan".to_string(),
        "ja_JP".to_string(),
        "Asia/Tokyo".to_string(),
        "Valid".to_string(),
        departments[i % departments.len()].to_string(),
    ]
}

/// CPU seconds (user + system) of this process and of its waited-for
/// children, from `/proc/self/stat` (Linux; zeros elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name, which ends with ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    // utime, stime, cutime, cstime are fields 14-17 (index 11-14 here).
    (get(11) + get(12), get(13) + get(14))
}

fn make_rows(profile: &Profile, indices: &[usize], n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            for ((value, &index), &column) in values(i).into_iter().zip(indices).zip(COLUMNS) {
                cells[index] = match column {
                    "password_hash" => Cell::Secret(Secret::new(value)),
                    "groups" => Cell::List(userimport_validate::ListEdit {
                        add: vec![value],
                        remove: Vec::new(),
                    }),
                    _ => Cell::Value(value),
                };
            }
            Row {
                line: i as u64 + 2,
                row: i as u64 + 1,
                cells,
                valid: true,
            }
        })
        .collect()
}

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
