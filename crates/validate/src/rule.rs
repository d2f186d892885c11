//! The extension point: rules a service adds to the engine.

use userimport_parse::Record;
use userimport_schema::Profile;

use crate::issue::Issue;
use crate::row::Cell;

/// A row rule a service adds with [`crate::Validator::add_rule`].
///
/// Rules run after the built-in per-field and cross-field rules, in parallel
/// over the rows of a chunk (hence `Send + Sync`), in the order they were
/// added. A rule sees the row's canonical cells and its raw fields through a
/// [`RowContext`] and pushes issues; it cannot change cells. Any error it
/// pushes makes the row invalid. Values it attaches to issues about secret
/// columns (passwords, hashes) are removed before they leave the validator.
///
/// ```
/// use userimport_validate::{Issue, Rule, RowContext};
///
/// /// Logins of the form `tmp-…` are refused.
/// struct NoTemporaryLogins;
///
/// impl Rule for NoTemporaryLogins {
///     fn check(&self, ctx: &RowContext<'_>, issues: &mut Vec<Issue>) {
///         if let Some(login) = ctx.value("login_id") {
///             if login.starts_with("tmp-") {
///                 issues.push(ctx.error(
///                     "acme.login_temporary",
///                     Some("login_id"),
///                     "temporary logins are not imported: use the person's real login ID",
///                 ));
///             }
///         }
///     }
/// }
/// ```
pub trait Rule: Send + Sync {
    /// Checks one row and pushes what is wrong with it.
    fn check(&self, ctx: &RowContext<'_>, issues: &mut Vec<Issue>);
}

impl<F> Rule for F
where
    F: Fn(&RowContext<'_>, &mut Vec<Issue>) + Send + Sync,
{
    fn check(&self, ctx: &RowContext<'_>, issues: &mut Vec<Issue>) {
        self(ctx, issues)
    }
}

/// What a [`Rule`] sees of one row.
#[derive(Debug, Clone, Copy)]
pub struct RowContext<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) record: &'a Record,
    pub(crate) fields: &'a [Option<usize>],
    pub(crate) cells: &'a [Cell],
    pub(crate) row: u64,
    pub(crate) delete: bool,
}

impl<'a> RowContext<'a> {
    /// The profile being validated against.
    pub fn profile(&self) -> &'a Profile {
        self.profile
    }

    /// The 1-based physical line where the record starts.
    pub fn line(&self) -> u64 {
        self.record.line()
    }

    /// The 1-based data row.
    pub fn row(&self) -> u64 {
        self.row
    }

    /// True when the row's delete flag is `1` (only its keys matter).
    pub fn is_delete(&self) -> bool {
        self.delete
    }

    /// The canonical cells, one per profile column, in profile order.
    pub fn cells(&self) -> &'a [Cell] {
        self.cells
    }

    /// The canonical cell of the column with this key (`Absent` if none).
    pub fn cell(&self, key: &str) -> &'a Cell {
        self.profile
            .column_index(key)
            .and_then(|i| self.cells.get(i))
            .unwrap_or(&Cell::Absent)
    }

    /// The canonical text of the column with this key, when it holds a value.
    pub fn value(&self, key: &str) -> Option<&'a str> {
        match self.cell(key) {
            Cell::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The raw field of the column with this key, exactly as in the file.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        let column = self.profile.column_index(key)?;
        let field = (*self.fields.get(column)?)?;
        self.record.get(field)
    }

    /// The whole record as parsed.
    pub fn record(&self) -> &'a Record {
        self.record
    }

    /// An error issue on this row, optionally naming a column.
    pub fn error(&self, code: &str, column: Option<&str>, message: impl Into<String>) -> Issue {
        let issue = Issue::error(self.line(), self.row, code, message);
        match column {
            Some(key) => issue.column(key),
            None => issue,
        }
    }

    /// A warning issue on this row, optionally naming a column.
    pub fn warning(&self, code: &str, column: Option<&str>, message: impl Into<String>) -> Issue {
        let issue = Issue::warning(self.line(), self.row, code, message);
        match column {
            Some(key) => issue.column(key),
            None => issue,
        }
    }
}
