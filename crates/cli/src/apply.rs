//! `userimport apply`: apply a CSV file or a reviewed plan file to the store.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use userimport::plan::Plan;
use userimport::sink::{ApplyOutcome, Outcome, RowResult, Sink};
use userimport::validate::Issue;
use userimport::{Format, write_report, write_results_csv};

use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::{create_private, open_output};
use crate::{Failure, store};

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
}

fn is_plan_file(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let format = args.report.format()?;
    let mut sink = store::open_write(&args.store.db)?;
    let (plan, mut code) = if is_plan_file(&args.file) {
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
    } else {
        let importer = importer(&args.read, &args.plan)?;
        let checked = importer.plan(open_input(&args.file)?, &sink)?;
        let code = crate::exit_code(&checked);
        let refuse = checked.is_refused() || (!checked.is_clean() && !args.plan.skip_invalid);
        if refuse || format != Format::Text || !checked.issues.is_empty() {
            let mut out = open_output(None)?;
            if refuse || format != Format::Json {
                write_report(&checked, format, args.report.only_errors, &mut out)?;
            }
            out.flush()?;
        }
        if refuse {
            if code == 1 {
                eprintln!(
                    "userimport: nothing applied: fix the errors above, or pass --skip-invalid to apply the valid rows"
                );
            }
            return Ok(code);
        }
        let plan = checked
            .plan
            .ok_or_else(|| Failure("internal: the planner returned no plan".into()))?;
        (plan, code)
    };
    let mut outcome = sink
        .apply(&plan, &mut |_| true)
        .map_err(|e| Failure(e.to_string()))?;
    add_invalid_rows(&mut outcome, &plan.issues);
    if !outcome.committed {
        code = code.max(1);
    }
    if let Some(path) = &args.results {
        let file = create_private(path)
            .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))?;
        write_results_csv(&outcome.results, std::io::BufWriter::new(file))?;
    }
    let mut out = open_output(None)?;
    print_outcome(&outcome, format, &mut out)?;
    out.flush()?;
    Ok(code)
}

/// Rows refused by validation or planning (applied around with
/// `--skip-invalid`) are results too: failed, with their reasons, so the
/// counts and the results file cover every row of the file.
fn add_invalid_rows(outcome: &mut ApplyOutcome, issues: &[Issue]) {
    let mut failed: BTreeMap<u64, (u64, Vec<String>)> = BTreeMap::new();
    for issue in issues.iter().filter(|i| i.is_error() && i.row > 0) {
        let (_, reasons) = failed.entry(issue.row).or_insert((issue.line, Vec::new()));
        reasons.push(format!("{}: {}", issue.code, issue.message));
    }
    if failed.is_empty() {
        return;
    }
    for (row, (line, reasons)) in failed {
        outcome.push(RowResult {
            line,
            row,
            outcome: Outcome::Failed,
            id: None,
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
