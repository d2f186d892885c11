//! Embedding the engine in a service: open a store from a URL, apply a file
//! as a background job with a progress callback, stop it half-way (as a
//! crash or a shutdown would), and finish it later by its ID, through the
//! library alone.
//!
//! `cargo run --example resumable_job [STORE-URL]` (default: a new SQLite
//! file in a temporary folder; `postgres://…` works the same).

use std::io::Write;

use userimport::{ApplyOptions, ImportSettings, Input, Store, jobs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::temp_dir().join(format!("userimport-example-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", folder.join("store.db").display()));

    // 2,000 new users with pre-hashed passwords (no hashing cost here).
    let hash = userimport::plan::hash_password("Example-pass-2026")?;
    let path = folder.join("users.csv");
    let mut file = std::fs::File::create(&path)?;
    writeln!(file, "login_id,name,email,password_hash")?;
    for i in 1..=2_000 {
        writeln!(file, "user{i},User {i},user{i}@example.com,\"{hash}\"")?;
    }
    drop(file);

    let settings = ImportSettings::default();
    let mut how = ApplyOptions::default();
    how.job_batch = 250;

    // Apply; the callback stops the job once 500 rows are committed.
    let stopped = userimport::apply(&url, Input::Path(path.clone()), &settings, &how, &mut |p| {
        println!(
            "written {}/{} (job {:?})",
            p.rows_written, p.rows_read, p.job
        );
        p.rows_written < 500
    });
    if let Err(e) = stopped {
        println!("{e}");
    }

    // Later (another process, another frontend): find the job and finish it.
    let mut store = Store::open(&url)?;
    let job = jobs::list(&store)?
        .into_iter()
        .find(|job| job.status != userimport::sink::JobStatus::Done)
        .ok_or("no unfinished job")?;
    println!(
        "resuming job {} at row {}/{}",
        job.id, job.rows_done, job.spec.rows_total
    );
    let done = jobs::resume(&mut store, job.id, 250, &mut |p| {
        println!("written {}/{}", p.rows_written, p.rows_read);
        true
    })?;
    println!(
        "job {}: {}: {} created, {} failed",
        done.id,
        done.status.as_str(),
        done.created,
        done.failed
    );
    assert_eq!(done.created, 2_000, "every user written exactly once");
    std::fs::remove_dir_all(&folder)?;
    Ok(())
}
