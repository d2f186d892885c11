//! `userimport plan`: check a file and write the reviewable plan.

use std::io::Write;
use std::path::PathBuf;

use userimport::write_report;

use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::{create_private, open_output};
use crate::{Failure, store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CSV file to plan (`-` = standard input).
    file: PathBuf,
    /// Where to write the plan (JSON; passwords only as argon2id hashes).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    changes: crate::changes::ChangeArgs,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let importer = args.changes.apply_to(importer(&args.read, &args.plan)?);
    let format = args.report.format()?;
    let store = store::open_read(&args.store.db)?;
    let checked = importer.plan(open_input(&args.file)?, &store)?;
    let mut plan = checked
        .plan
        .clone()
        .ok_or_else(|| Failure("internal: the planner returned no plan".into()))?;
    // Plain passwords never reach the disk: hash them now.
    plan.hash_passwords()?;
    let json = plan.to_json()?;
    let mut file = create_private(&args.output)
        .map_err(|e| Failure(format!("cannot write {}: {e}", args.output.display())))?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    let mut out = open_output(None)?;
    write_report(&checked, format, args.report.only_errors, &mut out)?;
    args.changes.finish(&checked, format, &mut out)?;
    out.flush()?;
    Ok(crate::exit_code(&checked))
}
