//! The `Issue` model: one problem found in a file, with where and why.

use serde::{Deserialize, Serialize};

/// How bad an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row (or file) is not imported as it stands.
    Error,
    /// Worth knowing; the row is still imported.
    Warning,
}

/// One problem found in a file: where (physical line, data row, column), what
/// (a stable dotted code, see [`crate::codes`]), and a message that says how to
/// fix it. Values of secret columns (passwords, hashes) are never carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// 1-based physical line where the record starts (what Excel shows); the
    /// header's line for column-level issues.
    pub line: u64,
    /// 1-based data row; 0 for issues about the header or the whole file.
    pub row: u64,
    /// The profile column key, when the issue is about one column.
    pub column: Option<String>,
    /// The stable code (`email.invalid`).
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and how to fix it, in English.
    pub message: String,
    /// The offending value as found in the file (never for secret columns).
    pub value: Option<String>,
    /// The column's header as the file spells it (`メールアドレス`), when the
    /// pipeline knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The row's member ID, login ID and e-mail, so that the row can be found
    /// without counting lines (empty for file-level issues).
    #[serde(flatten, default)]
    pub keys: RowKeys,
}

/// The keys of the row an issue is about: as found in the file, or, for the
/// member ID of a row without one, the ID of the user the row matched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowKeys {
    /// The member ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The login ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_id: Option<String>,
    /// The e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl RowKeys {
    /// True when no key is known.
    pub fn is_empty(&self) -> bool {
        self.member_id.is_none() && self.login_id.is_none() && self.email.is_none()
    }
}

impl Issue {
    /// An error on a row.
    pub fn error(line: u64, row: u64, code: &str, message: impl Into<String>) -> Self {
        Issue {
            line,
            row,
            column: None,
            code: code.to_string(),
            severity: Severity::Error,
            message: message.into(),
            value: None,
            header: None,
            keys: RowKeys::default(),
        }
    }

    /// A warning on a row (or on the header when `row` is 0).
    pub fn warning(line: u64, row: u64, code: &str, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(line, row, code, message)
        }
    }

    /// The column as the administrator knows it: the file's header, else the key.
    pub fn column_name(&self) -> Option<&str> {
        self.header.as_deref().or(self.column.as_deref())
    }

    /// Names the column.
    pub fn column(mut self, key: &str) -> Self {
        self.column = Some(key.to_string());
        self
    }

    /// Carries the offending value (callers never pass secrets).
    pub fn value(mut self, value: &str) -> Self {
        self.value = Some(value.to_string());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = self.column_name() {
            write!(f, ", column {column:?}")?;
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {level} [{}] {}", self.code, self.message)?;
        if let Some(value) = &self.value {
            write!(f, " (value {value:?})")?;
        }
        Ok(())
    }
}
