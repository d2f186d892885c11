//! Reports of a check: text for a terminal, JSON for programs, CSV for the
//! administrator to download and fix the file.

use std::io::Write;

use serde::Serialize;
use userimport_plan::Summary;
use userimport_validate::Issue;

use crate::Error;
use crate::csv_out::{CsvWriter, OutputCharset};
use crate::pipeline::{Checked, FileInfo};

/// A report format (`--format text|json|csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A summary and a table of issues.
    #[default]
    Text,
    /// The JSON report of DESIGN.md.
    Json,
    /// The error report: one issue a row, formula-safe.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format {other:?}: use text, json or csv")),
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a FileInfo,
    summary: &'a Summary,
    issues: Vec<&'a Issue>,
}

/// Writes the report of a check. `only_errors` leaves warnings out of the
/// issue list (the counts stay whole).
pub fn write_report<W: Write>(
    checked: &Checked,
    format: Format,
    only_errors: bool,
    mut out: W,
) -> Result<(), Error> {
    let issues: Vec<&Issue> = checked
        .issues
        .iter()
        .filter(|i| !only_errors || i.is_error())
        .collect();
    match format {
        Format::Json => {
            let report = JsonReport {
                file: &checked.file,
                summary: &checked.summary,
                issues,
            };
            serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Csv => write_issues_csv(&issues, out)?,
        Format::Text => {
            write_summary_text(&checked.file, &checked.summary, &mut out)?;
            if !issues.is_empty() {
                writeln!(out)?;
                write_issues_text(&issues, &mut out)?;
            }
        }
    }
    Ok(())
}

/// The file and summary lines of the text report.
pub fn write_summary_text<W: Write>(
    file: &FileInfo,
    s: &Summary,
    out: &mut W,
) -> Result<(), Error> {
    let delimiter = match file.delimiter.as_str() {
        "\t" => "tab".to_string(),
        d => format!("{d:?}"),
    };
    match &file.workbook {
        Some(book) => writeln!(
            out,
            "file: {} rows, {} sheet {:?}, header on line {}",
            file.rows, book.format, book.sheet, file.header_line
        )?,
        None => writeln!(
            out,
            "file: {} rows, {}, delimiter {delimiter}, header on line {}",
            file.rows, file.encoding, file.header_line
        )?,
    }
    writeln!(
        out,
        "rows: {} valid, {} invalid | create {}, update {}, delete {}, unchanged {}, skipped {} | {} errors, {} warnings",
        s.valid,
        s.invalid,
        s.create,
        s.update,
        s.delete,
        s.unchanged,
        s.skipped,
        s.errors,
        s.warnings
    )?;
    Ok(())
}

/// The issue table of the text report.
pub fn write_issues_text<W: Write>(issues: &[&Issue], out: &mut W) -> Result<(), Error> {
    let width = |f: &dyn Fn(&Issue) -> usize, min: usize| {
        issues.iter().map(|i| f(i)).max().unwrap_or(0).max(min)
    };
    let column_w = width(&|i| i.column.as_deref().map_or(1, |c| c.chars().count()), 6);
    let code_w = width(&|i| i.code.chars().count(), 4);
    writeln!(
        out,
        "{:>6}  {:<column_w$}  {:<7}  {:<code_w$}  message",
        "line", "column", "level", "code"
    )?;
    for issue in issues {
        let level = if issue.is_error() { "error" } else { "warning" };
        // Line 0 is the file as a whole (a sync guard, a missing column).
        let line = match issue.line {
            0 => "-".to_string(),
            n => n.to_string(),
        };
        write!(
            out,
            "{:>6}  {:<column_w$}  {:<7}  {:<code_w$}  {}",
            line,
            issue.column.as_deref().unwrap_or("-"),
            level,
            issue.code,
            issue.message
        )?;
        if let Some(value) = &issue.value {
            write!(out, " (value {:?})", value)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The downloadable error report: `line,row,column,severity,code,message,value`,
/// UTF-8 with a BOM so Excel opens it right, every cell formula-safe.
pub fn write_issues_csv<W: Write>(issues: &[&Issue], out: W) -> Result<(), Error> {
    let mut writer = CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row([
        "line", "row", "column", "severity", "code", "message", "value",
    ])?;
    for issue in issues {
        let severity = if issue.is_error() { "error" } else { "warning" };
        writer.write_row([
            issue.line.to_string().as_str(),
            issue.row.to_string().as_str(),
            issue.column.as_deref().unwrap_or(""),
            severity,
            &issue.code,
            &issue.message,
            issue.value.as_deref().unwrap_or(""),
        ])?;
    }
    writer.finish()?;
    Ok(())
}

/// The results file of an apply (`--results FILE`): one row per change with
/// its outcome and reason, formula-safe, UTF-8 with a BOM.
pub fn write_results_csv<W: Write>(
    results: &[userimport_sink::RowResult],
    out: W,
) -> Result<(), Error> {
    let mut writer = CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row(["line", "row", "outcome", "member_id", "reason"])?;
    for r in results {
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        writer.write_row([
            r.line.to_string(),
            r.row.to_string(),
            outcome,
            r.id.map(|id| id.to_string()).unwrap_or_default(),
            r.reason.clone().unwrap_or_default(),
        ])?;
    }
    writer.finish()?;
    Ok(())
}
