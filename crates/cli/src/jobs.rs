//! `userimport jobs`: background jobs — list, show, resume — and the job
//! path of `apply` for files above `--background-threshold`.
//!
//! A job is written in committed batches, each in the same transaction as
//! the job's progress, once its whole file is known to be clean (no row
//! errors, unless `--skip-invalid`): the streamed apply holds its writes
//! until then, `--skip-invalid` and `--detach` plan the whole file first. A
//! job that stops half-way leaves the rows before it written (consistently),
//! and `jobs resume ID` (or running the same apply again) writes the rest,
//! each user exactly once. The plan is made again from the file, whose
//! SHA-256 the job records, against the store as it is then.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use userimport::StreamProgress;
use userimport::plan::Plan;
use userimport::sink::{CancelToken, Invite, Job, JobProgress, JobSpec, JobStatus, Sink, run_job};

use crate::Failure;
use crate::common::{PlanArgs, ReadArgs, StoreArgs, importer};
use crate::store::{self, Store};

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
            let mut sink = store::open_write(&args.store.db)?;
            let job = resume(&mut sink, id, job_batch, true)?;
            print_job_line(&job);
            Ok(exit_of(&job))
        }
        Some(Action::Worker { id, job_batch }) => {
            let mut sink = store::open_write(&args.store.db)?;
            let job = resume(&mut sink, id, job_batch, false)?;
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
            let jobs = sink.jobs()?;
            if json {
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
            let job = sink
                .job(id)?
                .ok_or_else(|| Failure(format!("no job {id}")))?;
            let results = sink.job_results(id)?;
            if json {
                let mut value = serde_json::to_value(&job)?;
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

/// The SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, Failure> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| Failure(format!("cannot open {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The options a job's plan is made with, as recorded (no secrets).
pub fn options_json(read: &ReadArgs, plan: &PlanArgs, invite: Option<&Invite>) -> String {
    json!({
        "profile": read.profile,
        "charset": read.charset,
        "delimiter": read.delimiter,
        "header_row": read.header_row,
        "sheet": read.sheet,
        "maps": read.maps,
        "card_id_type": read.card_id_type,
        "sources": read.sources,
        "default_group": read.default_group,
        "mode": plan.mode,
        "key": plan.key,
        "merge": plan.merge,
        "update_passwords": plan.update_passwords,
        "generate_passwords": plan.generate_passwords,
        "skip_invalid": plan.skip_invalid,
        "max_delete": plan.max_delete,
        "sync_action": plan.sync_action,
        "actor": plan.actor,
        "invite": invite,
    })
    .to_string()
}

type JobOptions = (ReadArgs, PlanArgs, Option<Invite>);

fn options_from_json(text: &str) -> Result<JobOptions, Failure> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Failure(format!("the job's options are unreadable: {e}")))?;
    let s = |k: &str, d: &str| v[k].as_str().unwrap_or(d).to_string();
    let o = |k: &str| v[k].as_str().map(str::to_string);
    let b = |k: &str| v[k].as_bool().unwrap_or(false);
    let read = ReadArgs {
        profile: s("profile", "standard"),
        charset: s("charset", "auto"),
        delimiter: s("delimiter", "auto"),
        header_row: v["header_row"].as_u64(),
        sheet: o("sheet"),
        maps: v["maps"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        card_id_type: s("card_id_type", "decimal"),
        sources: o("sources"),
        default_group: o("default_group"),
    };
    let plan = PlanArgs {
        mode: s("mode", "upsert"),
        key: o("key"),
        merge: s("merge", "overwrite"),
        update_passwords: b("update_passwords"),
        generate_passwords: b("generate_passwords"),
        skip_invalid: b("skip_invalid"),
        max_delete: v["max_delete"].as_f64().unwrap_or(10.0),
        sync_action: s("sync_action", "delete"),
        actor: o("actor"),
    };
    let invite = match &v["invite"] {
        Value::Null => None,
        other => Some(
            serde_json::from_value::<Invite>(other.clone())
                .map_err(|e| Failure(format!("the job's invitation is unreadable: {e}")))?,
        ),
    };
    Ok((read, plan, invite))
}

/// The unfinished job for this file and options, if any: running the same
/// apply again resumes it.
pub fn unfinished(sink: &Store, sha256: &str, options: &str) -> Result<Option<i64>, Failure> {
    Ok(sink
        .jobs()?
        .into_iter()
        .find(|job| {
            job.status != JobStatus::Done
                && job.spec.file_sha256 == sha256
                && job.spec.options == options
        })
        .map(|job| job.id))
}

/// True when some unfinished job was run with these options.
pub fn unfinished_with(sink: &Store, options: &str) -> Result<bool, Failure> {
    Ok(sink
        .jobs()?
        .iter()
        .any(|job| job.status != JobStatus::Done && job.spec.options == options))
}

/// The spec of a new job for `file` (recorded by its canonical path).
pub fn spec(file: &Path, sha256: &str, options: &str, rows_total: u64) -> JobSpec {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    JobSpec {
        file: file.display().to_string(),
        file_sha256: sha256.to_string(),
        options: options.to_string(),
        rows_total,
    }
}

/// Finds the unfinished job for this file and options (re-running the same
/// apply resumes it), or records a new one.
pub fn find_or_create(
    sink: &mut Store,
    file: &Path,
    sha256: &str,
    options: &str,
    rows_total: u64,
) -> Result<(i64, bool), Failure> {
    if let Some(id) = unfinished(sink, sha256, options)? {
        return Ok((id, true));
    }
    let id = sink.create_job(&spec(file, sha256, options, rows_total))?;
    Ok((id, false))
}

/// Plans the job's file again against the store as it is now (refusing a
/// file whose SHA-256 changed) and writes what is left.
pub fn resume(sink: &mut Store, id: i64, batch: usize, show: bool) -> Result<Job, Failure> {
    let job = sink
        .job(id)?
        .ok_or_else(|| Failure(format!("no job {id}")))?;
    if job.status == JobStatus::Done {
        return Ok(job);
    }
    let path = PathBuf::from(&job.spec.file);
    let bytes = std::fs::read(&path)
        .map_err(|e| Failure(format!("job {id}: cannot read {}: {e}", path.display())))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != job.spec.file_sha256 {
        let reason = format!(
            "{} changed since job {id} started (SHA-256 {sha}, recorded {}): the job cannot be resumed",
            path.display(),
            job.spec.file_sha256
        );
        sink.finish_job(id, JobStatus::Failed, Some(&reason))?;
        return Err(Failure(reason));
    }
    let (read, plan_args, invite) = options_from_json(&job.spec.options)?;
    let importer = importer(&read, &plan_args)?;
    let checked = importer.plan(&bytes[..], &*sink)?;
    let plan = checked
        .plan
        .ok_or_else(|| Failure("internal: the planner returned no plan".into()))?;
    run_plan(sink, id, &plan, invite.as_ref(), batch, show)
}

/// Runs job `id` over `plan` with a progress bar on a terminal (progress
/// lines otherwise, when `show`).
pub fn run_plan(
    sink: &mut Store,
    id: i64,
    plan: &Plan,
    invite: Option<&Invite>,
    batch: usize,
    show: bool,
) -> Result<Job, Failure> {
    let cancel = CancelToken::new();
    let terminal = show && std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(plan.summary.rows);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "job {msg} [{bar:40}] {pos}/{len} rows ({eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(id.to_string());
        bar
    });
    let mut last_line = Instant::now();
    let mut on_progress = |p: &JobProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.rows_total);
            bar.set_position(p.rows_done);
        } else if show
            && (last_line.elapsed() >= Duration::from_secs(1) || p.rows_done == p.rows_total)
        {
            last_line = Instant::now();
            eprintln!("job {}: {}/{} rows", p.id, p.rows_done, p.rows_total);
        }
        true
    };
    let result = run_job(sink, id, plan, invite, batch, &cancel, &mut on_progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(job) => Ok(job),
        Err(e) => Err(Failure(format!(
            "job {id} stopped: {e}; the rows before it are written: finish with `userimport jobs resume {id}`"
        ))),
    }
}

/// The progress of a streamed apply on stderr: a bar on a terminal, else a
/// line a second once the apply is a job (small files stay quiet).
pub struct StreamDisplay {
    bar: Option<indicatif::ProgressBar>,
    show: bool,
    last_line: Instant,
    announced: bool,
}

impl StreamDisplay {
    pub fn new(show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows written")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message("apply");
            bar
        });
        StreamDisplay {
            bar,
            show,
            last_line: Instant::now(),
            announced: false,
        }
    }

    /// Shows `p`; always goes on.
    pub fn update(&mut self, p: &StreamProgress) -> bool {
        if let Some(bar) = &self.bar {
            if let Some(id) = p.job {
                bar.set_message(format!("job {id}"));
            }
            bar.set_length(p.rows_read);
            bar.set_position(p.rows_written);
            return true;
        }
        let Some(id) = p.job.filter(|_| self.show) else {
            return true;
        };
        if !self.announced {
            self.announced = true;
            eprintln!(
                "job {id}: written as the file is checked; committed in batches once it is clean"
            );
        }
        if self.last_line.elapsed() >= Duration::from_secs(1) {
            self.last_line = Instant::now();
            eprintln!(
                "job {id}: {}/{} rows{}",
                p.rows_written,
                p.rows_read,
                if p.checked { "" } else { " (checking)" }
            );
        }
        true
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Starts a detached worker for job `id`: this binary again, with the
/// hidden `jobs worker` subcommand, stdin and stdout detached, in its own
/// process group, the store URL passed in the environment (not argv).
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
    command
        .spawn()
        .map_err(|e| Failure(format!("cannot start the job worker: {e}")))?;
    Ok(())
}
