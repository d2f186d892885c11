//! `userimport check`: decode, validate and plan against the store; writes nothing.

use std::path::PathBuf;

use userimport::write_report;

use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::open_guarded;
use crate::{Failure, store};

#[derive(Debug, clap::Args)]
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
    /// Write the report to a file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let importer = importer(&args.read, &args.plan)?;
    let format = args.report.format()?;
    let mut out = open_guarded(
        args.output.as_deref(),
        Some(&args.store.db),
        Some(&args.file),
    )?;
    let store = store::open_read(&args.store.db)?;
    let checked = importer.check(open_input(&args.file)?, &store)?;
    write_report(&checked, format, args.report.only_errors, &mut out)?;
    if format == userimport::Format::Text {
        crate::advice::print_hints(&checked.issues);
    }
    out.finish()?;
    Ok(crate::exit_code(&checked))
}
