//! Excel workbooks: templates and exports written as `.xlsx`
//! ([`write_template_xlsx`], [`export_xlsx`]), and what the import pipeline
//! adds when the file it reads is a workbook (date formats per column,
//! formula warnings, cell references in issues).
//!
//! A written workbook is made to survive "edit in Excel, upload": its first
//! sheet holds the users under a bold, frozen header row; ID, date, code and
//! text columns are formatted as text (`@`), so Excel keeps leading zeros and
//! does not turn `2026/04/01` into its own date, also in rows the
//! administrator adds; code columns (status, country, language, time zone …)
//! offer the profile's values in a drop-down list kept on a hidden `Lists`
//! sheet; every value is a text cell, so a value that looks like a formula is
//! never run. Reading the workbook back gives exactly the cells written, so
//! export → import changes nothing.

use std::io::Write;

use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, Format, Formula, Workbook, Worksheet, XlsxError,
};
use userimport_parse::{ColumnMapping, FormulaCell, Record, cell_reference, column_letters};
use userimport_plan::{Directory, StoredUser};
use userimport_schema::{FieldKind, Profile, Purpose, Template, escape_formula, unescape_formula};
use userimport_validate::{Issue, codes};

use crate::Error;
use crate::export::{ExportOptions, export_cell, export_columns, selected};

/// The name of the users' sheet in written workbooks.
const SHEET: &str = "Users";
/// The name of the hidden sheet holding the drop-down lists.
const LISTS: &str = "Lists";
/// Rows a drop-down list applies to (Excel's last row).
const LAST_ROW: u32 = 1_048_575;
/// The most characters Excel keeps in one cell.
const MAX_CELL_CHARS: usize = 32_767;

fn workbook_error(e: XlsxError) -> Error {
    Error::Workbook(e.to_string())
}

/// How a column's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typed {
    /// A text cell formatted `@`.
    Text,
    /// A whole number when the value is one (day counts, integers).
    Number,
}

fn typed(profile: &Profile, column: Option<usize>) -> Typed {
    match column.map(|c| &profile.columns[c].kind) {
        Some(FieldKind::DayCount { .. } | FieldKind::Integer { .. }) => Typed::Number,
        _ => Typed::Text,
    }
}

/// The values offered in a column's drop-down list, when it has one.
fn list_values(kind: &FieldKind) -> Option<Vec<String>> {
    let values = match kind {
        FieldKind::Enum { values } => values.iter().map(|v| v.canonical.clone()).collect(),
        FieldKind::OnOff { .. } => vec!["On".to_string(), "Off".to_string()],
        FieldKind::DeleteFlag => vec!["1".to_string(), "0".to_string()],
        FieldKind::Code { table } => table
            .canonical_values()
            .into_iter()
            .map(str::to_string)
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// Writes one sheet of users, row by row, then the whole workbook.
struct SheetWriter {
    book: Workbook,
    kinds: Vec<Typed>,
    text: Format,
    row: u32,
}

impl SheetWriter {
    /// A workbook whose first sheet has `labels` as its header, for the
    /// profile columns `columns` (`None`: a column of no known kind).
    fn new(profile: &Profile, columns: &[Option<usize>], labels: &[String]) -> Result<Self, Error> {
        let mut book = Workbook::new();
        let text = Format::new().set_num_format("@");
        let bold = Format::new().set_bold().set_num_format("@");
        let kinds: Vec<Typed> = columns.iter().map(|&c| typed(profile, c)).collect();
        let lists: Vec<(usize, String, Vec<String>)> = columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let column = &profile.columns[(*c)?];
                Some((i, column.label.clone(), list_values(&column.kind)?))
            })
            .collect();
        let sheet = book.add_worksheet_with_constant_memory();
        sheet.set_name(SHEET).map_err(workbook_error)?;
        for (i, label) in labels.iter().enumerate() {
            let col = column_index(i)?;
            let width = label.chars().count().clamp(10, 40) as f64 + 2.0;
            sheet.set_column_width(col, width).map_err(workbook_error)?;
            if kinds[i] == Typed::Text {
                sheet
                    .set_column_format(col, &text)
                    .map_err(workbook_error)?;
            }
            sheet
                .write_string_with_format(0, col, label, &bold)
                .map_err(workbook_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(workbook_error)?;
        for (n, (i, _, values)) in lists.iter().enumerate() {
            let source = format!(
                "={LISTS}!${letters}$2:${letters}${last}",
                letters = column_letters(n),
                last = values.len() + 1
            );
            let validation = DataValidation::new()
                .allow_list_formula(Formula::new(source))
                .ignore_blank(true)
                .set_error_style(DataValidationErrorStyle::Warning);
            let col = column_index(*i)?;
            sheet
                .add_data_validation(1, col, LAST_ROW, col, &validation)
                .map_err(workbook_error)?;
        }
        if !lists.is_empty() {
            let sheet = book.add_worksheet();
            sheet.set_name(LISTS).map_err(workbook_error)?;
            write_lists(sheet, &lists, &text)?;
            sheet.set_hidden(true);
        }
        Ok(SheetWriter {
            book,
            kinds,
            text,
            row: 0,
        })
    }

    /// Appends one row of cells (in header order); blank cells stay empty.
    fn write_row<S: AsRef<str>>(
        &mut self,
        cells: impl IntoIterator<Item = S>,
    ) -> Result<(), Error> {
        self.row += 1;
        let row = self.row;
        let sheet = self.book.worksheet_from_index(0).map_err(workbook_error)?;
        for (i, cell) in cells.into_iter().enumerate() {
            let value = cell.as_ref();
            if value.is_empty() {
                continue;
            }
            let col = column_index(i)?;
            if self.kinds.get(i) == Some(&Typed::Number)
                && let Ok(n) = value.parse::<i64>()
                && n.to_string() == value
                && n.unsigned_abs() < (1u64 << 53)
            {
                sheet
                    .write_number(row, col, n as f64)
                    .map_err(workbook_error)?;
                continue;
            }
            // A text cell is never run as a formula; only a value that the
            // importer would unescape (a `'` at its start, or after a `;`,
            // tab, `|` or `,`) is escaped, so that it reads back unchanged.
            let value = match unescape_formula(value) != value {
                true => escape_formula(value),
                false => value.into(),
            };
            if value.chars().count() > MAX_CELL_CHARS {
                return Err(Error::Workbook(format!(
                    "cell {}: {} characters, more than an Excel cell holds ({MAX_CELL_CHARS})",
                    cell_reference(u64::from(row) + 1, i),
                    value.chars().count()
                )));
            }
            sheet
                .write_string_with_format(row, col, value.as_ref(), &self.text)
                .map_err(workbook_error)?;
        }
        Ok(())
    }

    /// The workbook's bytes, written to `out`.
    fn finish<W: Write>(mut self, mut out: W) -> Result<W, Error> {
        let bytes = self.book.save_to_buffer().map_err(workbook_error)?;
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(out)
    }
}

fn column_index(i: usize) -> Result<u16, Error> {
    u16::try_from(i)
        .map_err(|_| Error::Workbook(format!("{} columns are more than a sheet has", i + 1)))
}

/// The hidden sheet: one column per list, its label on top.
fn write_lists(
    sheet: &mut Worksheet,
    lists: &[(usize, String, Vec<String>)],
    text: &Format,
) -> Result<(), Error> {
    for (n, (_, label, values)) in lists.iter().enumerate() {
        let col = column_index(n)?;
        sheet.write_string(0, col, label).map_err(workbook_error)?;
        for (r, value) in values.iter().enumerate() {
            let row = u32::try_from(r + 1).map_err(|_| Error::Workbook("list too long".into()))?;
            sheet
                .write_string_with_format(row, col, value, text)
                .map_err(workbook_error)?;
        }
    }
    Ok(())
}

/// Writes a profile's template (the header and one valid example row, as
/// [`Template::for_profile`] has them) as an `.xlsx` workbook.
pub fn write_template_xlsx<W: Write>(profile: &Profile, out: W) -> Result<W, Error> {
    let template = Template::for_profile(profile);
    let columns: Vec<Option<usize>> = template
        .header
        .iter()
        .map(|label| profile.columns.iter().position(|c| &c.label == label))
        .collect();
    let mut writer = SheetWriter::new(profile, &columns, &template.header)?;
    for row in &template.rows {
        writer.write_row(row)?;
    }
    writer.finish(out)
}

/// Writes the users of `dir` as an `.xlsx` workbook: the same columns, rows
/// and canonical values as [`export`](crate::export) writes as CSV. Returns
/// the number of users written.
pub fn export_xlsx<D: Directory, W: Write>(
    profile: &Profile,
    dir: &D,
    options: &ExportOptions,
    out: W,
) -> Result<(u64, W), Error> {
    for (key, _) in &options.filters {
        if profile.column_index(key).is_none() {
            return Err(Error::Refused(format!("--where: unknown column {key:?}")));
        }
    }
    let columns = export_columns(profile, &options.columns)?;
    let labels: Vec<String> = columns
        .iter()
        .map(|&i| profile.columns[i].label.clone())
        .collect();
    let known: Vec<Option<usize>> = columns.iter().copied().map(Some).collect();
    let mut writer = SheetWriter::new(profile, &known, &labels)?;
    let written = for_each_selected(profile, dir, options, &mut |user| {
        writer.write_row(columns.iter().map(|&i| export_cell(profile, i, user)))
    })?;
    Ok((written, writer.finish(out)?))
}

/// Calls `write` for every user `options` select, in store order (a random
/// sample: by member ID); the number written.
fn for_each_selected<D: Directory>(
    profile: &Profile,
    dir: &D,
    options: &ExportOptions,
    write: &mut dyn FnMut(&StoredUser) -> Result<(), Error>,
) -> Result<u64, Error> {
    use rand::Rng;
    let mut written = 0u64;
    let mut failure: Option<Error> = None;
    let mut sample: Vec<StoredUser> = Vec::new();
    let mut seen = 0usize;
    let mut rng = rand::rng();
    let result = dir.for_each_user(&mut |user| {
        if !selected(profile, options, user) {
            return true;
        }
        if let Some(n) = options.random {
            // Algorithm R, as the CSV export samples.
            seen += 1;
            if sample.len() < n {
                sample.push(user.clone());
            } else {
                let j = rng.random_range(0..seen);
                if j < n {
                    sample[j] = user.clone();
                }
            }
            return true;
        }
        match write(user) {
            Ok(()) => {
                written += 1;
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    });
    result.map_err(|e| Error::Refused(format!("cannot read the store: {e}")))?;
    if let Some(e) = failure {
        return Err(e);
    }
    sample.sort_by_key(|u| u.id);
    for user in &sample {
        write(user)?;
        written += 1;
    }
    Ok(written)
}

/// The date format for date cells in columns without one of their own: the
/// canonical format of the profile's first date column, else the seeds'
/// `%Y/%m/%d`.
pub(crate) fn default_date_format(profile: &Profile) -> String {
    profile
        .columns
        .iter()
        .find_map(|c| match &c.kind {
            FieldKind::Date { formats } => formats.first().cloned(),
            _ => None,
        })
        .unwrap_or_else(|| "%Y/%m/%d".to_string())
}

/// Each file column's date format: the canonical format of the date column
/// it maps to, if any.
pub(crate) fn date_formats(profile: &Profile, mapping: &ColumnMapping) -> Vec<Option<String>> {
    let mut formats: Vec<Option<String>> = Vec::new();
    for (i, column) in profile.columns.iter().enumerate() {
        let (Some(field), FieldKind::Date { formats: f }) = (mapping.index(i), &column.kind) else {
            continue;
        };
        if formats.len() <= field {
            formats.resize(field + 1, None);
        }
        formats[field] = f.first().cloned();
    }
    formats
}

/// Formula cells in key and password columns, turned into warnings as the
/// records holding them are read.
pub(crate) struct FormulaWatch {
    /// (cell, profile column key), in sheet order.
    cells: Vec<(FormulaCell, String)>,
    next: usize,
}

impl FormulaWatch {
    /// The formula cells of `cells` that are in a key or password column.
    pub(crate) fn new(profile: &Profile, mapping: &ColumnMapping, cells: &[FormulaCell]) -> Self {
        let watched: Vec<(usize, &str)> = profile
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                matches!(
                    c.purpose,
                    Purpose::MemberId
                        | Purpose::Login
                        | Purpose::Email
                        | Purpose::Password
                        | Purpose::PasswordHash
                )
            })
            .filter_map(|(i, c)| Some((mapping.index(i)?, c.key.as_str())))
            .collect();
        let cells = cells
            .iter()
            .filter_map(|cell| {
                let (_, key) = watched.iter().find(|(field, _)| *field == cell.column)?;
                Some((*cell, key.to_string()))
            })
            .collect();
        FormulaWatch { cells, next: 0 }
    }

    /// Warnings for the watched formula cells in `records` (data rows
    /// `first_row`, `first_row + 1`, …, in sheet order).
    pub(crate) fn issues(&mut self, records: &[Record], first_row: u64, out: &mut Vec<Issue>) {
        for (i, record) in records.iter().enumerate() {
            while let Some((cell, key)) = self.cells.get(self.next) {
                if cell.line > record.line() {
                    break;
                }
                self.next += 1;
                if cell.line < record.line() {
                    continue;
                }
                let message = format!(
                    "cell {} holds a formula: its last calculated value is used, which changes when the workbook is recalculated; a key or password should be typed as a value",
                    cell_reference(cell.line, cell.column)
                );
                out.push(
                    Issue::warning(
                        cell.line,
                        first_row + i as u64,
                        codes::CELL_FORMULA,
                        message,
                    )
                    .column(key),
                );
            }
        }
    }
}

/// Adds the cell (its letter and header) to every issue about a column, so
/// that a workbook's administrator finds it: `… (cell C7 under "E-mail")`.
pub(crate) fn locate(
    issues: &mut [Issue],
    profile: &Profile,
    mapping: &ColumnMapping,
    header: &Record,
) {
    for issue in issues {
        let Some(key) = issue.column.as_deref() else {
            continue;
        };
        let Some(field) = profile.column_index(key).and_then(|c| mapping.index(c)) else {
            continue;
        };
        let header = header.get(field).unwrap_or("");
        let place = match issue.row {
            0 => format!("column {}", column_letters(field)),
            _ => format!("cell {}", cell_reference(issue.line, field)),
        };
        if !issue.message.contains(&place) {
            issue.message = format!("{} ({place} under {header:?})", issue.message);
        }
    }
}
