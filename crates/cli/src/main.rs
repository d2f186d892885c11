//! `userimport`: the command-line frontend of the userimport engine.
//!
//! Only argument parsing, output formats and exit codes live here; everything
//! a library user would need is in the `userimport` crate.

mod output;
mod template;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Bulk user import from CSV: template, check, apply, export.
#[derive(Debug, Parser)]
#[command(name = "userimport", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the CSV template of a profile: header plus one valid example row.
    Template(template::Args),
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
    let result = match cli.command {
        Command::Template(args) => template::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure(message)) => {
            eprintln!("userimport: {message}");
            ExitCode::from(2)
        }
    }
}
