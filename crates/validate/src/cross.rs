//! Cross-field rules from the profile: columns that constrain each other.

use userimport_schema::{CrossRule, FieldKind, Profile};

use crate::codes;
use crate::field::{self, ColumnPlan, clip};
use crate::issue::Issue;
use crate::row::Cell;

/// A [`CrossRule`] with its column keys resolved to indices.
#[derive(Debug, Clone)]
pub(crate) enum Cross {
    DueDate { kind: usize, value: usize },
    DateRange { start: usize, end: usize },
}

/// Formats the due date of `ExpirationDate` may be written in, canonical first.
const DUE_DATE_FORMATS: [&str; 2] = ["%Y/%m/%d", "%Y-%m-%d"];

/// The largest day count of the `From…` due-date types (100 years).
const DUE_DATE_MAX_DAYS: u32 = 36_500;

impl Cross {
    /// Resolves the profile's rules; rules naming unknown columns (a profile
    /// that skipped [`Profile::check`]) are dropped.
    pub(crate) fn compile(profile: &Profile) -> Vec<Cross> {
        profile
            .rules
            .iter()
            .filter_map(|rule| match rule {
                CrossRule::DueDate {
                    type_column,
                    value_column,
                } => Some(Cross::DueDate {
                    kind: profile.column_index(type_column)?,
                    value: profile.column_index(value_column)?,
                }),
                CrossRule::DateRange { start, end } => Some(Cross::DateRange {
                    start: profile.column_index(start)?,
                    end: profile.column_index(end)?,
                }),
                _ => None,
            })
            .collect()
    }

    /// Checks one row; may rewrite the value column to its canonical form.
    pub(crate) fn apply(
        &self,
        columns: &[ColumnPlan],
        cells: &mut [Cell],
        record: &userimport_parse::Record,
        issues: &mut Vec<Issue>,
        line: u64,
        row: u64,
    ) {
        let has_issue = |issues: &[Issue], i: usize| {
            let key = columns.get(i).map(|c| c.key.as_str());
            issues.iter().any(|x| x.column.as_deref() == key)
        };
        match *self {
            Cross::DueDate { kind, value } => {
                if has_issue(issues, kind) || has_issue(issues, value) {
                    return;
                }
                let (Some(kind_col), Some(value_col)) = (columns.get(kind), columns.get(value))
                else {
                    return;
                };
                let text = |i: usize| match cells.get(i) {
                    Some(Cell::Value(v)) => Some(v.as_str()),
                    _ => None,
                };
                let given = text(value);
                // Messages quote the due date type as typed (`effective date`).
                let typed = kind_col.field.and_then(|f| record.get(f)).map(field::trim);
                // Formatted only for a message: not on every row.
                let said = || format!("{} {:?}", kind_col.label, typed.unwrap_or_default());
                match due_date(text(kind), given, said, kind_col, value_col) {
                    Ok(None) => {}
                    Ok(Some(canonical)) => set(cells, value, canonical),
                    Err((code, message)) => {
                        let issue = Issue::error(line, row, code, message).column(&value_col.key);
                        issues.push(match given {
                            Some(v) => issue.value(&clip(v)),
                            None => issue,
                        });
                    }
                }
            }
            Cross::DateRange { start, end } => {
                let (Some(start_col), Some(end_col)) = (columns.get(start), columns.get(end))
                else {
                    return;
                };
                let (Some(Cell::Value(a)), Some(Cell::Value(b))) =
                    (cells.get(start), cells.get(end))
                else {
                    return;
                };
                let (Some(from), Some(to)) = (date_of(start_col, a), date_of(end_col, b)) else {
                    return;
                };
                if to < from {
                    issues.push(
                        Issue::error(
                            line,
                            row,
                            codes::DATE_RANGE_REVERSED,
                            format!(
                                "{} ({b}) is before {} ({a}): swap them or correct one",
                                end_col.label, start_col.label
                            ),
                        )
                        .column(&end_col.key)
                        .value(&clip(b)),
                    );
                }
            }
        }
    }
}

/// The due-date rule: `Ok(Some(canonical))` rewrites the value cell,
/// `Ok(None)` keeps it, `Err` is the issue to raise on the value column.
fn due_date(
    due_type: Option<&str>,
    given: Option<&str>,
    said: impl Fn() -> String,
    kind_col: &ColumnPlan,
    value_col: &ColumnPlan,
) -> Result<Option<String>, (&'static str, String)> {
    let Some(due_type) = due_type else {
        if given.is_some() {
            return Err((
                codes::DUE_DATE_TYPE_MISSING,
                format!(
                    "{} has a value but {} is blank: enter the due date type \
                     (Unlimited, FromFirstLogin, FromCreation or ExpirationDate), \
                     or clear the value",
                    value_col.label, kind_col.label
                ),
            ));
        }
        return Ok(None);
    };
    // Without the value column in the file there is nothing to check.
    if value_col.field.is_none() {
        return Ok(None);
    }
    match (due_type, given) {
        ("Unlimited", Some(_)) => Err((
            codes::DUE_DATE_VALUE_NOT_ALLOWED,
            format!(
                "{} takes no {}: leave it blank, or choose another due date type",
                said(),
                value_col.label
            ),
        )),
        ("FromFirstLogin" | "FromCreation", None) => Err((
            codes::DUE_DATE_VALUE_MISSING,
            format!(
                "{} needs the number of valid days in {}: enter a whole number from 1 to \
                 {DUE_DATE_MAX_DAYS}",
                said(),
                value_col.label
            ),
        )),
        // The usual cell is canonical already: kept, not rewritten.
        ("FromFirstLogin" | "FromCreation", Some(v))
            if field::is_canonical_day_count(v, DUE_DATE_MAX_DAYS) =>
        {
            Ok(None)
        }
        ("FromFirstLogin" | "FromCreation", Some(v)) => field::day_count(v, DUE_DATE_MAX_DAYS)
            .map(Some)
            .map_err(|why| {
                (
                    codes::DUE_DATE_DAYS_INVALID,
                    format!(
                        "{} needs a number of days in {}: {why}",
                        said(),
                        value_col.label
                    ),
                )
            }),
        ("ExpirationDate", None) => Err((
            codes::DUE_DATE_VALUE_MISSING,
            format!(
                "{} needs the due date in {}: enter it as YYYY/MM/DD, for example 2026/12/31",
                said(),
                value_col.label
            ),
        )),
        ("ExpirationDate", Some(v)) => field::date(v, &DUE_DATE_FORMATS).map(Some).map_err(|why| {
            (
                codes::DUE_DATE_DATE_INVALID,
                format!("{} needs a date in {}: {why}", said(), value_col.label),
            )
        }),
        // Unlimited without a value; a custom profile's own types: nothing to check.
        _ => Ok(None),
    }
}

/// Replaces a cell with its canonical value.
fn set(cells: &mut [Cell], index: usize, value: String) {
    if let Some(cell) = cells.get_mut(index) {
        *cell = Cell::Value(value);
    }
}

/// The date in a canonical date cell.
fn date_of(column: &ColumnPlan, canonical: &str) -> Option<chrono::NaiveDate> {
    match &column.kind {
        FieldKind::Date { formats } => field::parse_date(canonical, formats).map(|(d, _)| d),
        _ => field::parse_date(canonical, &DUE_DATE_FORMATS).map(|(d, _)| d),
    }
}
