//! `userimport check`: decode, validate and plan against the store; writes nothing.

use std::path::PathBuf;

use userimport::write_report;

use crate::changes::ChangeArgs;
use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::open_guarded;
use crate::{Failure, store};

/// `check --help`'s closing words: the exit codes.
const AFTER_HELP: &str = "Exit codes:
  0  no row has an error (warnings allowed)
  1  rows have errors
  2  usage, I/O or file-level error (undecodable, over a limit, missing required column, refused by a guard)";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The CSV file to check (`-` = standard input).
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
    /// Write the report to a file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let importer = args.changes.apply_to(importer(&args.read, &args.plan)?);
    let format = args.report.format()?;
    let mut out = open_guarded(
        args.output.as_deref(),
        Some(&args.store.db),
        Some(&args.file),
    )?;
    let store = store::open_read(&args.store.db)?;
    let mut checked = importer.check(open_input(&args.file)?, &store)?;
    // Standard input cannot be read twice: its duplicates keep no keys.
    if args.file.as_os_str() != "-" {
        importer.fill_end_of_file_issues(open_input(&args.file)?, &mut checked.issues)?;
    }
    write_report(&checked, format, args.report.only_errors, &mut out)?;
    let paths = (args.store.db.as_str(), args.file.as_path());
    args.changes.finish(&checked, format, paths, &mut out)?;
    if format == userimport::Format::Text {
        crate::advice::print_hints(&checked.issues);
    }
    out.finish()?;
    Ok(crate::exit_code(&checked))
}
