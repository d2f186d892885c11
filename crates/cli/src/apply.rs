//! `userimport apply`: apply a CSV file or a reviewed plan file to the store.

use std::io::Write;
use std::path::PathBuf;

use userimport::plan::Plan;
use userimport::sink::{DEFAULT_TEMPLATE, Invite};
use userimport::{Applied, ApplyOptions, Format, Input, write_changes_csv, write_report};

use crate::changes::ChangeArgs;
use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, load_profile, settings};
use crate::output::{self, open_output};
use crate::{Failure, jobs, store};

/// `apply --help`'s closing words: what the report shows, and the exit codes.
const AFTER_HELP: &str = "The report lists who changes and how, as `check` does (the first 20 of each kind; --changes N, --all-changes, --changes-csv FILE), then the outcome.

Exit codes:
  0  applied, and no row has an error or failed
  1  rows have errors (nothing is applied unless --skip-invalid, which applies the valid rows), or a row failed
  2  usage, I/O or file-level error, or a job stopped or cancelled part-way (`userimport jobs resume ID` finishes it)";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// A CSV file, or a plan written by `userimport plan` (a .json file).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    changes: ChangeArgs,
    /// Write one row per line of the file to FILE as CSV: line, row,
    /// outcome, member ID, reason, login ID, e-mail (UTF-8 with BOM,
    /// formula-safe).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// Files with more data rows than this run as a job recorded in the
    /// store: written as they are checked, held until the whole file is
    /// known to be clean, then committed at once; with `--skip-invalid` or
    /// `--detach`, committed in batches with the job's progress (resumable
    /// with `userimport jobs resume ID`).
    #[arg(long, value_name = "N", default_value_t = 100)]
    background_threshold: u64,
    /// Run the job in a detached worker: print its ID and return at once.
    #[arg(long)]
    detach: bool,
    /// Changes written per committed batch of a job.
    #[arg(long, default_value_t = 1000, hide = true)]
    job_batch: usize,
    #[command(flatten)]
    invite: InviteArgs,
}

/// Invitation e-mails for created users.
#[derive(Debug, Clone, clap::Args)]
pub struct InviteArgs {
    /// Queue an invitation e-mail for every created user (never for
    /// updates), in the same transaction as the user; send them with
    /// `userimport outbox deliver`.
    #[arg(long)]
    pub invite: bool,
    /// The invitation template (minijinja: a "Subject: …" line, a blank
    /// line, the body; variables name, login, email, link).
    #[arg(long, value_name = "FILE", requires = "invite")]
    pub invite_template: Option<PathBuf>,
    /// When the invitations are due (RFC 3339; default now).
    #[arg(long, value_name = "TIME", requires = "invite")]
    pub send_at: Option<String>,
    /// The set-password page the single-use link points to (BASE?token=…).
    #[arg(
        long,
        value_name = "URL",
        env = "USERIMPORT_INVITE_BASE_URL",
        requires = "invite"
    )]
    pub invite_base_url: Option<String>,
}

impl InviteArgs {
    /// The invitation spec, when `--invite` is given.
    pub fn invite(&self) -> Result<Option<Invite>, Failure> {
        if !self.invite {
            return Ok(None);
        }
        let template = match &self.invite_template {
            Some(path) => Invite::read_template(path)?,
            None => DEFAULT_TEMPLATE.to_string(),
        };
        let base = self.invite_base_url.clone().ok_or_else(|| {
            Failure("--invite needs --invite-base-url URL (the set-password page)".into())
        })?;
        Ok(Some(Invite::new(template, base, self.send_at.as_deref())?))
    }
}

fn is_plan_file(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let format = args.report.format()?;
    let invite = args.invite.invite()?;
    // A results file that cannot be written (or would overwrite the store
    // or the input) is found out before anything is applied.
    output::reserve(args.results.as_deref(), &args.store.db, &args.file)?;
    output::reserve(args.changes.csv_path(), &args.store.db, &args.file)?;
    let applied = if is_plan_file(&args.file) {
        apply_plan_file(&args, invite.as_ref())?
    } else {
        let mut settings = settings(&args.read, &args.plan);
        settings.invite = invite;
        let mut how = ApplyOptions::default();
        how.background_threshold = args.background_threshold;
        how.job_batch = args.job_batch;
        how.detach = args.detach;
        how.store = crate::store_options::get();
        how.max_changes = args.changes.limit();
        let input = if args.file.as_os_str() == "-" {
            Input::Reader(Box::new(std::io::stdin()))
        } else {
            Input::Path(args.file.clone())
        };
        let mut shown = jobs::StreamDisplay::new(true);
        let applied = userimport::apply(&args.store.db, input, &settings, &how, &mut |p| {
            shown.update(p)
        });
        shown.finish();
        applied.map_err(|e| advise(e, &args.store.db))?
    };
    report(&args, &applied, format)
}

/// The library's message, with the command that finishes a stopped job
/// (of the store `db`).
fn advise(e: userimport::Error, db: &str) -> Failure {
    let cancelled = |id: i64| {
        Failure(format!(
            "job {id} was cancelled at a batch boundary: the rows before it are written; finish with `userimport jobs resume {id}`"
        ))
    };
    match &e {
        userimport::Error::JobStopped {
            id,
            source: userimport::sink::Error::Cancelled,
        } => cancelled(*id),
        // A job's second pass stopped by a cancel request.
        userimport::Error::Stopped { job }
            if store::open_read(db)
                .ok()
                .and_then(|s| userimport::jobs::get(&s, *job).ok())
                .is_some_and(|j| j.status == userimport::sink::JobStatus::Cancelled) =>
        {
            cancelled(*job)
        }
        userimport::Error::Stopped { job } => {
            Failure(format!("{e}: finish with `userimport jobs resume {job}`"))
        }
        userimport::Error::JobStopped { id, .. } => {
            Failure(format!("{e}: finish with `userimport jobs resume {id}`"))
        }
        _ => Failure(crate::store_options::advise(e)),
    }
}

/// A reviewed plan file: verified against the profile given now, this
/// store and the actor, then applied.
fn apply_plan_file(args: &Args, invite: Option<&Invite>) -> Result<Applied, Failure> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure(format!("cannot read {}: {e}", args.file.display())))?;
    let plan = Plan::from_json(&text)
        .map_err(|e| Failure(format!("{} is not a plan: {e}", args.file.display())))?;
    let profile = load_profile(&args.read, &args.plan)?;
    let mut store = store::open_write(&args.store.db)?;
    userimport::apply_plan(
        &mut store,
        &plan,
        &profile,
        args.plan.actor.as_deref(),
        invite,
    )
    .map_err(|e| Failure(format!("{}: {e}", args.file.display())))
}

/// Prints the check (when refused, with issues, or as JSON) and the
/// outcome, writes `--results`, and gives the exit code.
fn report(args: &Args, applied: &Applied, format: Format) -> Result<u8, Failure> {
    let checked = applied.checked();
    let mut code = crate::exit_code(&checked);
    if format == Format::Text {
        crate::advice::print_hints(&checked.issues);
    }
    if let Some(path) = args.changes.csv_path() {
        let mut file = output::reserved(path)?;
        write_changes_csv(&checked, &mut file)?;
        file.commit()?;
    }
    let mut out = open_output(None)?;
    if applied.refused {
        if format == Format::Json {
            // The same shape as an apply that wrote: nothing committed.
            writeln!(out, "{}", serde_json::to_string_pretty(applied)?)?;
        } else {
            write_report(&checked, format, args.report.only_errors, &mut out)?;
            args.changes.write_note(&checked, format, &mut out)?;
        }
        out.flush()?;
        if code == 1 {
            eprintln!(
                "userimport: nothing applied: fix the errors above, or pass --skip-invalid to apply the valid rows"
            );
        }
        return Ok(code);
    }
    if applied.resumed
        && let Some(job) = &applied.job
    {
        eprintln!(
            "resuming job {} (the same file and options, not finished)",
            job.job.id
        );
    }
    if args.detach
        && let Some(job) = &applied.job
    {
        jobs::spawn_worker(&args.store.db, job.job.id, args.job_batch)?;
        println!("{}", job.job.id);
        return Ok(0);
    }
    if format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(applied)?)?;
    } else if format == Format::Csv {
        // The error report alone on stdout, so that it stays a CSV file;
        // the outcome on stderr.
        write_report(&checked, format, args.report.only_errors, &mut out)?;
        let mut outcome = Vec::new();
        print_outcome(applied, &mut outcome)?;
        eprint!("{}", String::from_utf8_lossy(&outcome));
    } else {
        // Who changes and how, as `check` lists them, then the outcome.
        if !checked.issues.is_empty() || !applied.listing.is_empty() {
            write_report(&checked, Format::Text, args.report.only_errors, &mut out)?;
            args.changes.write_note(&checked, format, &mut out)?;
            writeln!(out)?;
        }
        print_outcome(applied, &mut out)?;
    }
    out.flush()?;
    if let Some(path) = &args.results {
        let mut file = output::reserved(path)?;
        let store = store::open_read(&args.store.db)?;
        applied.write_results(&store, &mut file)?;
        file.commit()?;
    }
    if !applied.committed && applied.job.is_none() {
        code = code.max(1);
    }
    Ok(code.max(u8::from(applied.results.failed > 0)))
}

fn print_outcome(applied: &Applied, out: &mut dyn Write) -> Result<(), Failure> {
    let r = &applied.results;
    if let Some(job) = &applied.job {
        let job = &job.job;
        writeln!(
            out,
            "job {}: {}: {} created, {} updated, {} deleted, {} unchanged, {} failed",
            job.id,
            job.status.as_str(),
            r.created,
            r.updated,
            r.deleted,
            r.unchanged,
            r.failed
        )?;
        return Ok(());
    }
    let verb = if applied.committed {
        "applied"
    } else {
        "rolled back, nothing written"
    };
    writeln!(
        out,
        "{verb}: {} created, {} updated, {} deleted, {} unchanged, {} skipped, {} failed (store revision {})",
        r.created, r.updated, r.deleted, r.unchanged, r.skipped, r.failed, applied.revision
    )?;
    if !applied.created_groups.is_empty() {
        writeln!(out, "groups created: {}", applied.created_groups.join(", "))?;
    }
    for row in applied.rows.iter().filter(|r| r.reason.is_some()) {
        writeln!(
            out,
            "line {}: {:?}: {}",
            row.line,
            row.outcome,
            row.reason.as_deref().unwrap_or_default()
        )?;
    }
    Ok(())
}
