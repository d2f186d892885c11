//! `userimport jobs`: background jobs — list, show, resume — and the job
//! path of `apply` for files above `--background-threshold`.
//!
//! A job is written in committed batches, each in the same transaction as
//! the job's progress, once its whole file is known to be clean (no row
//! errors, unless `--skip-invalid`): the streamed apply holds its writes
//! until then, `--skip-invalid` and `--detach` check the whole file first
//! (keeping only the rows it refuses), then plan it again as it is written. A
//! job that stops half-way leaves the rows before it written (consistently),
//! and `jobs resume ID` (or running the same apply again) writes the rest,
//! each user exactly once. The plan is made again from the file, whose
//! SHA-256 the job records, against the store as it is then.

use std::io::Write;

use userimport::JobReport;
use userimport::sink::{Job, JobStatus, Jobs};

use crate::Failure;
use crate::common::StoreArgs;
use crate::store;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Show this job (with its per-row results) instead of the list.
    id: Option<i64>,
    #[command(flatten)]
    store: StoreArgs,
    /// Output format: text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Finish an interrupted, failed or cancelled job.
    Resume {
        /// The job ID.
        id: i64,
        /// Changes written per committed batch.
        #[arg(long, default_value_t = 1000, hide = true)]
        job_batch: usize,
    },
    /// Stop a running job at its next batch boundary (resume it later).
    Cancel {
        /// The job ID.
        id: i64,
    },
    /// Runs a job detached from the terminal (started by `apply --detach`).
    #[command(hide = true)]
    Worker {
        /// The job ID.
        id: i64,
        /// Changes written per committed batch.
        #[arg(long, default_value_t = 1000)]
        job_batch: usize,
    },
}

pub fn run(args: Args) -> Result<u8, Failure> {
    // `--db` may come before the subcommand, so the parent's arguments do
    // not conflict with subcommands in clap; a job ID before one is refused here.
    if let (Some(id), Some(_)) = (args.id, &args.action) {
        return Err(Failure(format!(
            "give a job ID to show ({id}) or a subcommand (`jobs resume ID`), not both"
        )));
    }
    match args.action {
        Some(Action::Resume { id, job_batch }) => {
            let job = resume(&args.store.db, id, job_batch, Some(true))?;
            print_job_line(&job);
            Ok(exit_of(&job))
        }
        Some(Action::Cancel { id }) => {
            let mut sink = store::open_write(&args.store.db)?;
            let job = userimport::jobs::cancel(&mut sink, id)?;
            print_job_line(&job);
            if job.status == JobStatus::Running && job.cancel_requested {
                println!(
                    "job {id}: cancel requested: its worker stops at the next batch boundary (`userimport jobs resume {id}` finishes it later)"
                );
            }
            Ok(0)
        }
        Some(Action::Worker { id, job_batch }) => {
            // A cancel that came before this worker took the job wins.
            let job = resume(&args.store.db, id, job_batch, None)?;
            Ok(exit_of(&job))
        }
        None => show(&args.store, args.id, &args.format),
    }
}

fn exit_of(job: &Job) -> u8 {
    match job.status {
        JobStatus::Done if job.failed == 0 => 0,
        JobStatus::Done => 1,
        _ => 2,
    }
}

fn show(store: &StoreArgs, id: Option<i64>, format: &str) -> Result<u8, Failure> {
    let json = match format {
        "json" => true,
        "text" => false,
        other => {
            return Err(Failure(format!(
                "unknown format {other:?}: use text or json"
            )));
        }
    };
    let sink = store::open_read(&store.db)?;
    let mut out = std::io::stdout().lock();
    match id {
        None => {
            let jobs = userimport::jobs::list(&sink)?;
            if json {
                let jobs: Vec<JobReport> = jobs.into_iter().map(JobReport::from).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&jobs)?)?;
            } else if jobs.is_empty() {
                writeln!(out, "no jobs")?;
            } else {
                for job in &jobs {
                    writeln!(out, "{}", job_line(job))?;
                }
            }
        }
        Some(id) => {
            let job = userimport::jobs::get(&sink, id)?;
            let results = sink.job_results(id)?;
            if json {
                let mut value = serde_json::to_value(JobReport::from(job))?;
                value["results"] = serde_json::to_value(&results)?;
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                writeln!(out, "{}", job_line(&job))?;
                writeln!(
                    out,
                    "file: {} (sha256 {})",
                    job.spec.file, job.spec.file_sha256
                )?;
                writeln!(out, "options: {}", job.spec.options)?;
                writeln!(
                    out,
                    "started {}, last progress {}{}",
                    job.started_at,
                    job.updated_at,
                    job.finished_at
                        .as_deref()
                        .map(|f| format!(", finished {f}"))
                        .unwrap_or_default()
                )?;
                if let Some(error) = &job.error {
                    writeln!(out, "error: {error}")?;
                }
                for r in &results {
                    writeln!(
                        out,
                        "line {}: {:?}{}{}",
                        r.line,
                        r.outcome,
                        r.id.map(|id| format!(" (member {id})")).unwrap_or_default(),
                        r.reason
                            .as_deref()
                            .map(|x| format!(": {x}"))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(0)
}

fn job_line(job: &Job) -> String {
    format!(
        "job {}: {} {}/{} rows; {} created, {} updated, {} deleted, {} unchanged, {} failed",
        job.id,
        job.status.as_str(),
        job.rows_done,
        job.spec.rows_total,
        job.created,
        job.updated,
        job.deleted,
        job.unchanged,
        job.failed
    )
}

fn print_job_line(job: &Job) {
    println!("{}", job_line(job));
    if let Some(error) = &job.error {
        eprintln!("job {}: {error}", job.id);
    }
}

/// Resumes job `id` through the library, with a progress bar on a
/// terminal (progress lines otherwise), when `show` is `Some(true)`; `None`
/// runs it as the worker `apply --detach` started (quiet).
fn resume(db: &str, id: i64, batch: usize, show: Option<bool>) -> Result<Job, Failure> {
    let mut sink = store::open_write(db)?;
    let planning = store::open_read(db)?;
    let mut shown = StreamDisplay::new(show == Some(true));
    let mut update = |p: &userimport::StreamProgress| shown.update(p);
    let job = match show {
        Some(_) => userimport::jobs::resume_with(&mut sink, planning, id, batch, &mut update),
        None => userimport::jobs::work(&mut sink, planning, id, batch, &mut update),
    };
    shown.finish();
    job.map_err(|e| match e {
        // Its live worker finishes it: nothing to advise.
        userimport::Error::Sink(userimport::sink::Error::JobRunning(_)) => Failure(e.to_string()),
        e => Failure(format!("{e}: finish with `userimport jobs resume {id}`")),
    })
}

pub use crate::progress::StreamDisplay;

/// Starts a detached worker for job `id`: this binary again, with the
/// hidden `jobs worker` subcommand, stdin and stdout detached, in its own
/// process group, the store URL passed in the environment (not argv).
/// Returns once the worker has taken the job (or ended), so that the job
/// reads running, not interrupted, from the moment its ID is printed.
pub fn spawn_worker(db: &str, id: i64, batch: usize) -> Result<(), Failure> {
    let exe = std::env::current_exe()?;
    let mut command = std::process::Command::new(exe);
    command
        .args(["jobs", "worker", &id.to_string()])
        .arg(format!("--job-batch={batch}"))
        .env("USERIMPORT_DB", db)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let mut worker = command
        .spawn()
        .map_err(|e| Failure(format!("cannot start the job worker: {e}")))?;
    wait_taken(db, id, &mut worker);
    Ok(())
}

/// Waits (a minute at most) until job `id` no longer reads interrupted:
/// its `worker` took it, or ended.
fn wait_taken(db: &str, id: i64, worker: &mut std::process::Child) {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(60) {
        if !matches!(worker.try_wait(), Ok(None)) {
            return;
        }
        let taken = store::open_read(db)
            .ok()
            .and_then(|s| userimport::jobs::get(&s, id).ok())
            .is_some_and(|job| job.status != JobStatus::Interrupted);
        if taken {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
