//! `userimport apply`: apply a CSV file or a reviewed plan file to the store.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use userimport::plan::{Directory, EmptyDirectory, Plan};
use userimport::sink::{ApplyOutcome, DEFAULT_TEMPLATE, Invite, Outcome, RowResult, Sink};
use userimport::validate::Issue;
use userimport::{Format, StreamOptions, StreamOutcome, write_report, write_results_csv_with};

use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::{create_private, open_output};
use crate::{Failure, jobs, store};

#[derive(Debug, clap::Args)]
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
    /// Write the per-row results (outcome and reason) to this CSV file.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Files with more data rows than this run as a job recorded in the
    /// store: written as they are checked, held until the whole file is
    /// known to be clean, then committed in batches with the job's progress
    /// (resumable with `userimport jobs resume ID`).
    #[arg(long, default_value_t = 100)]
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
    #[arg(long, requires = "invite")]
    pub invite_template: Option<PathBuf>,
    /// When the invitations are due (RFC 3339; default now).
    #[arg(long, requires = "invite")]
    pub send_at: Option<String>,
    /// The set-password page the single-use link points to (BASE?token=…).
    #[arg(long, env = "USERIMPORT_INVITE_BASE_URL", requires = "invite")]
    pub invite_base_url: Option<String>,
}

impl InviteArgs {
    /// The invitation spec, when `--invite` is given.
    pub fn invite(&self) -> Result<Option<Invite>, Failure> {
        if !self.invite {
            return Ok(None);
        }
        let template = match &self.invite_template {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?,
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
    let mut sink = store::open_write(&args.store.db)?;
    let (plan, code) = if is_plan_file(&args.file) {
        let text = std::fs::read_to_string(&args.file)
            .map_err(|e| Failure(format!("cannot read {}: {e}", args.file.display())))?;
        let mut plan = Plan::from_json(&text)
            .map_err(|e| Failure(format!("{} is not a plan: {e}", args.file.display())))?;
        // `--actor` holds for a plan file too: a plan made by the operator
        // is checked against the actor's authority, and a plan made for
        // another actor is refused.
        if let Some(actor) = &args.plan.actor {
            match &plan.options.actor {
                None => plan.options.actor = Some(actor.clone()),
                Some(made_for) if made_for.trim().eq_ignore_ascii_case(actor.trim()) => {}
                Some(made_for) => {
                    return Err(Failure(format!(
                        "{} was made for actor {made_for:?}, not {actor:?}: plan it again as {actor:?}",
                        args.file.display()
                    )));
                }
            }
        }
        let code = u8::from(!plan.is_clean());
        (plan, code)
    } else if !args.plan.skip_invalid && !args.detach {
        return run_streamed(&args, &mut sink, invite.as_ref(), format);
    } else {
        let importer = importer(&args.read, &args.plan)?;
        let checked = importer.plan(open_input(&args.file)?, &sink)?;
        let code = crate::exit_code(&checked);
        let refuse = checked.is_refused() || (!checked.is_clean() && !args.plan.skip_invalid);
        if !report_check(&args, &checked, refuse, format)? {
            return Ok(code);
        }
        let plan = checked
            .plan
            .ok_or_else(|| Failure("internal: the planner returned no plan".into()))?;
        let from_stdin = args.file.as_os_str() == "-";
        if args.detach && (from_stdin || checked.file.rows <= args.background_threshold) {
            return Err(Failure(format!(
                "--detach runs a background job: the file must be a path with more than --background-threshold ({}) rows",
                args.background_threshold
            )));
        }
        if !from_stdin && checked.file.rows > args.background_threshold {
            return run_as_job(
                &args,
                &mut sink,
                &plan,
                invite.as_ref(),
                checked.file.rows,
                code,
            );
        }
        (plan, code)
    };
    let outcome = sink
        .apply_inviting(&plan, invite.as_ref(), &mut |_| true)
        .map_err(|e| Failure(e.to_string()))?;
    report_outcome(&args, &sink, outcome, &plan.issues, code, format)
}

/// Prints the check's report when the file is `refused` (then with a
/// hint), has issues, or JSON was asked for; false when nothing is applied.
fn report_check(
    args: &Args,
    checked: &userimport::Checked,
    refused: bool,
    format: Format,
) -> Result<bool, Failure> {
    if refused || format != Format::Text || !checked.issues.is_empty() {
        let mut out = open_output(None)?;
        if refused || format != Format::Json {
            write_report(checked, format, args.report.only_errors, &mut out)?;
        }
        out.flush()?;
    }
    if refused && crate::exit_code(checked) == 1 {
        eprintln!(
            "userimport: nothing applied: fix the errors above, or pass --skip-invalid to apply the valid rows"
        );
    }
    Ok(!refused)
}

/// Adds the rows refused before writing to `outcome`, writes `--results`
/// and prints the outcome; the exit code is at least 1 when nothing was
/// committed.
fn report_outcome(
    args: &Args,
    store: &store::Store,
    mut outcome: ApplyOutcome,
    issues: &[Issue],
    code: u8,
    format: Format,
) -> Result<u8, Failure> {
    add_invalid_rows(&mut outcome, issues);
    let code = if outcome.committed { code } else { code.max(1) };
    if let Some(path) = &args.results {
        let file = create_private(path)
            .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
        let file = std::io::BufWriter::new(file);
        write_results_csv_with(&outcome.results, issues, store, file)?;
    }
    let mut out = open_output(None)?;
    print_outcome(&outcome, format, &mut out)?;
    out.flush()?;
    Ok(code)
}

/// The job path: record (or find the unfinished) job for this file and
/// options, then write it in committed batches here, or in a detached worker.
fn run_as_job(
    args: &Args,
    sink: &mut store::Store,
    plan: &Plan,
    invite: Option<&Invite>,
    rows: u64,
    code: u8,
) -> Result<u8, Failure> {
    let sha = jobs::sha256_file(&args.file)?;
    let options = jobs::options_json(&args.read, &args.plan, invite);
    let (id, resumed) = jobs::find_or_create(sink, &args.file, &sha, &options, rows)?;
    if args.detach {
        jobs::spawn_worker(&args.store.db, id, args.job_batch)?;
        println!("{id}");
        return Ok(0);
    }
    if resumed {
        eprintln!("resuming job {id} (the same file and options, not finished)");
    } else {
        eprintln!("job {id}: {rows} rows, written in committed batches");
    }
    let job = if resumed {
        jobs::resume(sink, id, args.job_batch, true)?
    } else {
        jobs::run_plan(sink, id, plan, invite, args.job_batch, true)?
    };
    report_job(args, sink, &job, code)
}

/// The default path for a CSV file: checked, planned and written in one
/// pass (`Importer::apply_streaming`), recorded as a job when the file has
/// more than `--background-threshold` rows. The same file with the same
/// options, left unfinished, is resumed instead.
fn run_streamed(
    args: &Args,
    sink: &mut store::Store,
    invite: Option<&Invite>,
    format: Format,
) -> Result<u8, Failure> {
    let importer = importer(&args.read, &args.plan)?;
    let from_stdin = args.file.as_os_str() == "-";
    let job = if from_stdin {
        None
    } else {
        let options = jobs::options_json(&args.read, &args.plan, invite);
        // The file is hashed (a second read) only when an unfinished job
        // with these options could be this file's; otherwise the apply
        // hashes the bytes as it reads them.
        if jobs::unfinished_with(sink, &options)? {
            let sha = jobs::sha256_file(&args.file)?;
            if let Some(id) = jobs::unfinished(sink, &sha, &options)? {
                eprintln!("resuming job {id} (the same file and options, not finished)");
                let job = jobs::resume(sink, id, args.job_batch, true)?;
                return report_job(args, sink, &job, 0);
            }
        }
        Some((
            jobs::spec(&args.file, "", &options, 0),
            args.background_threshold,
        ))
    };
    let options = StreamOptions {
        batch_rows: args.job_batch,
        hold_rows: StreamOptions::default().hold_rows,
        job,
        invite,
    };
    let mut shown = jobs::StreamDisplay::new(true);
    let input = open_input(&args.file)?;
    // A first import into an empty store is a bulk load, planned against
    // the store's (empty) contents read under its lock; otherwise the
    // planner reads the store through its own connection while this one
    // writes.
    let streamed = if sink.begin_bulk_load()? {
        let empty = EmptyDirectory::new(sink.revision()?, sink.groups()?);
        importer.apply_streaming(input, empty, sink, &options, &mut |p| shown.update(p))
    } else {
        let planning = store::open_read(&args.store.db)?;
        importer.apply_streaming(input, planning, sink, &options, &mut |p| shown.update(p))
    };
    shown.finish();
    let StreamOutcome {
        checked,
        outcome,
        job,
    } = streamed?;
    let code = crate::exit_code(&checked);
    if !report_check(args, &checked, !checked.is_clean(), format)? {
        return Ok(code);
    }
    // A job shows once its first batch commits; a store refusal before
    // that rolled it back with everything else.
    if let Some(job) = job.map(|id| sink.job(id)).transpose()?.flatten() {
        return report_job(args, sink, &job, code);
    }
    report_outcome(args, sink, outcome, &checked.issues, code, format)
}

/// Prints a job's line (or JSON) and writes its results file.
fn report_job(
    args: &Args,
    sink: &mut store::Store,
    job: &userimport::sink::Job,
    code: u8,
) -> Result<u8, Failure> {
    if args.report.format()? == Format::Json {
        println!("{}", serde_json::to_string_pretty(&job)?);
    } else {
        println!(
            "job {}: {}: {} created, {} updated, {} deleted, {} unchanged, {} failed",
            job.id,
            job.status.as_str(),
            job.created,
            job.updated,
            job.deleted,
            job.unchanged,
            job.failed
        );
    }
    if let Some(path) = &args.results {
        let file = create_private(path)
            .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
        let file = std::io::BufWriter::new(file);
        write_results_csv_with(&sink.job_results(job.id)?, &[], &*sink, file)?;
    }
    Ok(code.max(u8::from(job.failed > 0)))
}

/// Rows refused by validation or planning (applied around with
/// `--skip-invalid`) are results too: failed, with their reasons, so the
/// counts and the results file cover every row of the file.
fn add_invalid_rows(outcome: &mut ApplyOutcome, issues: &[Issue]) {
    let mut failed: BTreeMap<u64, (u64, Vec<String>, Option<i64>)> = BTreeMap::new();
    for issue in issues.iter().filter(|i| i.is_error() && i.row > 0) {
        let entry = failed
            .entry(issue.row)
            .or_insert((issue.line, Vec::new(), None));
        entry.1.push(format!("{}: {}", issue.code, issue.message));
        // The user the row matched (or named by member ID), if any.
        let id = issue
            .keys
            .member_id
            .as_deref()
            .and_then(|m| m.trim().parse().ok());
        entry.2 = entry.2.or(id);
    }
    if failed.is_empty() {
        return;
    }
    for (row, (line, reasons, id)) in failed {
        outcome.push(RowResult {
            line,
            row,
            outcome: Outcome::Failed,
            id,
            reason: Some(reasons.join("; ")),
        });
    }
    // File order; sync's changes (row 0) last.
    outcome.results.sort_by_key(|r| (r.row == 0, r.row));
}

fn print_outcome(o: &ApplyOutcome, format: Format, out: &mut dyn Write) -> Result<(), Failure> {
    if format == Format::Json {
        let json = serde_json::json!({
            "committed": o.committed,
            "revision": o.revision,
            "created": o.created,
            "updated": o.updated,
            "deleted": o.deleted,
            "unchanged": o.unchanged,
            "skipped": o.skipped,
            "failed": o.failed,
            "created_groups": o.created_groups,
            "results": o.results,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        return Ok(());
    }
    let verb = if o.committed {
        "applied"
    } else {
        "rolled back, nothing written"
    };
    writeln!(
        out,
        "{verb}: {} created, {} updated, {} deleted, {} unchanged, {} skipped, {} failed (store revision {})",
        o.created, o.updated, o.deleted, o.unchanged, o.skipped, o.failed, o.revision
    )?;
    if !o.created_groups.is_empty() {
        writeln!(out, "groups created: {}", o.created_groups.join(", "))?;
    }
    for r in o.results.iter().filter(|r| r.reason.is_some()) {
        writeln!(
            out,
            "line {}: {:?}: {}",
            r.line,
            r.outcome,
            r.reason.as_deref().unwrap_or_default()
        )?;
    }
    Ok(())
}
