//! userimport, as a library: the engine behind "download template → edit in
//! Excel → upload and check → execute → results".
//!
//! This crate re-exports the component crates ([`schema`], [`parse`],
//! [`validate`], [`plan`], [`sink`]) and owns what wires them: the import
//! pipeline, result reports, export, and formula-safe CSV writing
//! ([`CsvWriter`]).
//!
//! # Example
//!
//! ```
//! use userimport::{Importer, schema::Profile, sink::{Sink, SqliteSink}};
//!
//! let file = "Login ID,Name,Email address,Password,Country/Region\n\
//!             tanaka,田中 花子,hanako@example.com,Sakura-2026-spring,Japan\n\
//!             suzuki,鈴木 一郎,not-an-email,Baseball-51-Seattle,Japn\n";
//! let profile = Profile::standard();
//! let mut store = SqliteSink::open_in_memory()?;
//! let importer = Importer::builder(&profile).build();
//!
//! // Upload and check: every problem, with line, column and a stable code.
//! let checked = importer.plan(file.as_bytes(), &store)?;
//! let codes: Vec<_> = checked.errors().map(|i| (i.line, i.code.as_str())).collect();
//! assert_eq!(codes, [(3, "email.invalid"), (3, "country.unknown")]);
//! assert_eq!((checked.summary.create, checked.summary.invalid), (1, 1));
//!
//! // All or nothing: a plan with errors is refused and nothing is written.
//! let plan = checked.plan.as_ref().unwrap();
//! assert!(store.apply(plan, &mut |_| true).is_err());
//! assert_eq!(store.user_count()?, 0);
//! # use userimport::plan::Directory;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The README's embedding example (compiled here so it stays true):
//!
//! ```no_run
//! use userimport::{ApplyOptions, ImportSettings, Input, Store, jobs};
//!
//! let mut settings = ImportSettings::default();   // profile "standard", upsert …
//! settings.actor = Some("lead@example.com".into()); // member ID, login or e-mail
//! let url = "sqlite://userimport.db";               // or postgres://…
//!
//! // upload and check: decode, validate, plan; nothing written
//! let store = Store::open_existing(url)?;
//! let checked = settings.importer()?.check(std::fs::File::open("users.csv")?, &store)?;
//! for issue in checked.errors() {
//!     eprintln!("{issue}"); // line 7, column "email": error [email.invalid] …
//! }
//!
//! // execute: at once, or as a resumable job above the background threshold
//! let applied = userimport::apply(url, Input::Path("users.csv".into()), &settings,
//!     &ApplyOptions::default(), &mut |p| { eprintln!("{}/{}", p.rows_written, p.rows_read); true })?;
//! println!("{}", serde_json::to_string_pretty(&applied)?); // the `apply --format json` shape
//!
//! // a job stopped half-way (crash, shutdown, `false` from the callback)
//! // is finished by its ID, from any frontend
//! for job in jobs::list(&Store::open(url)?)? {
//!     if job.status != userimport::sink::JobStatus::Done {
//!         jobs::resume(&mut Store::open(url)?, job.id, 1_000, &mut |_| true)?;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The template an administrator downloads:
//!
//! ```
//! use userimport::{OutputCharset, schema::Profile, write_template};
//!
//! let file = write_template(&Profile::standard(), OutputCharset::UTF8_BOM, Vec::new())?;
//! assert!(file.starts_with(b"\xEF\xBB\xBFLogin ID,Name,"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod apply;
mod csv_out;
mod export;
pub mod fix;
pub mod jobs;
pub mod launch;
mod moved;
mod output_file;
mod pipeline;
mod plan_file;
mod refill;
mod report;
mod settings;
mod store;
mod stream;
mod two_pass;
mod workbook;

pub use userimport_parse as parse;
pub use userimport_plan as plan;
pub use userimport_schema as schema;
pub use userimport_sink as sink;
pub use userimport_validate as validate;

pub use apply::{Applied, ApplyOptions, Input, JobReport, ResultCounts, apply, apply_plan};
pub use csv_out::{CsvWriter, OutputCharset, Unencodable, UnencodableCell, WriteError};
pub use export::{ExportOptions, export, export_cell, export_columns};
pub use output_file::{OutputError, OutputFile, Protected, refuse_clobber};
pub use pipeline::{
    Checked, FileInfo, ImportOptions, Importer, ImporterBuilder, delimiter_name, sort_issues,
};
pub use report::{
    ChangeListing, Format, changes_json, changes_omitted, write_changes_csv, write_changes_text,
    write_issues_csv, write_issues_text, write_report, write_results_csv, write_results_csv_listed,
    write_results_csv_with, write_summary_text,
};
pub use settings::{ImportSettings, parse_delimiter, parse_map};
pub use store::{Store, StoreUrl, mask_url_password};
pub use stream::{Phase, StreamOptions, StreamOutcome, StreamProgress};
pub use workbook::{export_xlsx, write_template_xlsx};

/// Errors that stop an import: file-level problems (exit code 2), store
/// failures, refusals. Row problems are [`validate::Issue`]s, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file cannot be read as a user file (undecodable, over a limit,
    /// missing required column …).
    #[error(transparent)]
    File(#[from] parse::Error),
    /// Planning failed (the store could not be read …).
    #[error(transparent)]
    Plan(#[from] plan::Error),
    /// The store failed.
    #[error(transparent)]
    Sink(#[from] sink::Error),
    /// Writing an output failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Input or output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An output file cannot be written where it was asked for.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The import settings are not usable; the message says which and why.
    #[error("{0}")]
    Settings(String),
    /// A job stopped; the rows before the failing batch are committed and
    /// the job can be resumed.
    #[error("job {id} stopped: {source}; the rows before it are written")]
    JobStopped {
        /// The job.
        id: i64,
        /// Why.
        source: sink::Error,
    },
    /// The progress callback stopped a job after some of its batches were
    /// committed: they stay written, and the job can be resumed.
    #[error("stopped: job {job} keeps the batches committed so far and can be resumed")]
    Stopped {
        /// The job.
        job: i64,
    },
    /// The store could not be opened.
    #[error("cannot open store {url}: {source}")]
    Open {
        /// The store's URL, its password masked.
        url: String,
        /// Why.
        source: sink::Error,
    },
    /// A guard refused the operation; the message says why.
    #[error("{0}")]
    Refused(String),
    /// Writing an `.xlsx` workbook failed; the message says where.
    #[error("cannot write the workbook: {0}")]
    Workbook(String),
    /// A cell to fix in place is not in the file, or its value cannot be
    /// written in the file's charset; the message says which and why.
    #[error("{0}")]
    Edit(String),
    /// The store moved since the file was checked
    /// ([`ApplyOptions::expected_revision`]): nothing was written; check the
    /// file again.
    #[error(
        "the store changed since the file was checked (revision {checked}, now {now}){}: check the file again",
        moved::history_text(history)
    )]
    StoreMoved {
        /// The revision the file was checked at.
        checked: u64,
        /// The store's revision now.
        now: u64,
        /// What was applied in between, when the store keeps history.
        history: Vec<sink::Revision>,
    },
}

use schema::{Profile, Template};

/// Writes a profile's template (header plus one valid example row) as CSV.
pub fn write_template<W: std::io::Write>(
    profile: &Profile,
    charset: OutputCharset,
    out: W,
) -> Result<W, WriteError> {
    write_template_in(profile, schema::Lang::En, charset, out)
}

/// [`write_template`] with the header in `lang` (`--lang ja`: `ログインID` …).
pub fn write_template_in<W: std::io::Write>(
    profile: &Profile,
    lang: schema::Lang,
    charset: OutputCharset,
    out: W,
) -> Result<W, WriteError> {
    let template = Template::for_profile_in(profile, lang);
    let mut writer = CsvWriter::new(out, charset)?;
    writer.write_row(&template.header)?;
    for row in &template.rows {
        writer.write_row(row)?;
    }
    writer.finish()
}
