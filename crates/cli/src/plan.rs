//! `userimport plan`: check a file and write the reviewable plan.

use std::io::Write;
use std::path::PathBuf;

use userimport::write_report;

use crate::common::{PlanArgs, ReadArgs, ReportArgs, StoreArgs, importer, open_input};
use crate::output::{self, open_output};
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
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let importer = importer(&args.read, &args.plan)?;
    let format = args.report.format()?;
    let mut file = output::create_file(&args.output, Some(&args.store.db), Some(&args.file))?;
    let store = store::open_read(&args.store.db)?;
    // Written as it is planned (passwords hashed chunk by chunk): memory
    // does not grow with the file. The file appears only once complete.
    let checked = importer.write_plan(open_input(&args.file)?, &store, &mut file)?;
    file.commit()?;
    let mut out = open_output(None)?;
    write_report(&checked, format, args.report.only_errors, &mut out)?;
    if format == userimport::Format::Text {
        crate::advice::print_hints(&checked.issues);
    }
    out.flush()?;
    Ok(crate::exit_code(&checked))
}
