//! `userimport`: the command-line frontend of the userimport engine.
//!
//! Only argument parsing, output formats and exit codes live here; everything
//! a library user would need is in the `userimport` crate.

mod advice;
mod apply;
mod changes;
mod check;
mod common;
mod export;
mod fields;
mod groups;
mod jobs;
mod outbox;
mod output;
mod plan;
mod preview;
mod progress;
mod serve;
mod store;
mod store_options;
mod template;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Parsing and validating a million rows allocates many small strings;
// mimalloc handles that pattern several times faster than the system malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bulk user import from CSV: template, check, apply, export.
/// The exit codes, shown by `--help`.
const EXIT_CODES: &str = "Exit codes:\n  0  success, and no row has an error\n  1  rows have errors (nothing is applied unless --skip-invalid)\n  2  usage, I/O or file-level error (undecodable, over a limit, missing required column, refused by a guard)\n\nThe columns of a profile, with the headers they match: userimport fields [--profile P]";

#[derive(Debug, Parser)]
#[command(name = "userimport", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Create the store's tables in a database (or PostgreSQL schema) that
    /// already holds another application's tables (refused otherwise).
    #[arg(long, global = true)]
    init_foreign_db: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the CSV template of a profile: header plus one valid example row.
    Template(template::Args),
    /// Show the header and first records exactly as parsed (no validation).
    Preview(preview::Args),
    /// Decode, validate and plan a file against the store; writes nothing.
    Check(check::Args),
    /// Check a file and write the reviewable plan (JSON) to apply later.
    Plan(plan::Args),
    /// Apply a CSV file or a plan file to the store.
    Apply(apply::Args),
    /// Export the stored users as an import file.
    Export(export::Args),
    /// List a profile's columns: headers they match, kinds, values, keywords.
    Fields(fields::Args),
    /// List, add or remove groups.
    Groups(groups::Args),
    /// Background jobs: list, show one with its results, resume, cancel.
    Jobs(jobs::Args),
    /// Queued invitation e-mails: list them, or deliver those due over SMTP.
    Outbox(outbox::Args),
    /// The web page and HTTP API; `serve token create --actor LOGIN` makes an API token.
    Serve(serve::Args),
}

/// The exit code of a check: 2 when a guard refuses the file, 1 when rows
/// have errors, 0 otherwise.
pub fn exit_code(checked: &userimport::Checked) -> u8 {
    if checked.is_refused() {
        2
    } else if checked.is_clean() {
        0
    } else {
        1
    }
}

/// A failure that ends the command: a usage, I/O or file-level error (exit 2).
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    // The contract is exit 0, 1 or 2; a panic would be 101. The library does
    // not panic on input, but if a bug does, say so and keep the contract.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("userimport: internal error (please report this bug): {info}");
        std::process::exit(2);
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    store_options::set_init_foreign(cli.init_foreign_db);
    let result = match cli.command {
        Command::Template(args) => template::run(args),
        Command::Preview(args) => preview::run(args),
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Export(args) => export::run(args),
        Command::Fields(args) => fields::run(args),
        Command::Groups(args) => groups::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::Outbox(args) => outbox::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure(message)) => {
            eprintln!("userimport: {message}");
            ExitCode::from(2)
        }
    }
}
