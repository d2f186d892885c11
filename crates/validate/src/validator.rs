//! The validator: records in, rows and issues out, in parallel and in file order.

use std::sync::Arc;

use rayon::prelude::*;
use userimport_parse::{ColumnMapping, Detection, Record};
use userimport_schema::{FieldKind, Profile, Purpose};

use crate::codes;
use crate::cross::Cross;
use crate::field::{self, ColumnPlan, Env, Out};
use crate::issue::Issue;
use crate::options::ValidateOptions;
use crate::row::{Cell, Row};
use crate::rule::{RowContext, Rule};
use crate::unique::{Fingerprinter, KeyPrint};

/// Anything a [`Validator`] can take its profile from: a `Profile`, a
/// `&Profile` (cloned once), or a shared `Arc<Profile>`.
pub trait IntoProfile {
    /// The profile, shared.
    fn into_profile(self) -> Arc<Profile>;
}

impl IntoProfile for Profile {
    fn into_profile(self) -> Arc<Profile> {
        Arc::new(self)
    }
}

impl IntoProfile for &Profile {
    fn into_profile(self) -> Arc<Profile> {
        Arc::new(self.clone())
    }
}

impl IntoProfile for Arc<Profile> {
    fn into_profile(self) -> Arc<Profile> {
        self
    }
}

impl IntoProfile for &Arc<Profile> {
    fn into_profile(self) -> Arc<Profile> {
        Arc::clone(self)
    }
}

/// Most characters of a raw value carried in [`Issue::value`]; longer values
/// are cut and end in `…`, so a report stays small whatever the file holds.
const MAX_VALUE_CHARS: usize = 256;

/// Rows a rayon task takes at least, so small rows are not scheduled one by one.
const MIN_ROWS_PER_TASK: usize = 256;

/// The rule engine for one file: a profile, where its columns are in the file,
/// and the options. Immutable once built (except [`Validator::add_rule`]), and
/// shareable across threads.
///
/// What it does with each record, in order:
///
/// 1. **Shape.** A record with fewer or more fields than the header gets a
///    `row.ragged` error naming both counts; missing trailing fields are read
///    as blank, extra fields are ignored, so the rest of the row is still
///    checked and reported.
/// 2. **Delete flag.** When the delete-flag column holds `1`, only the key
///    columns (member ID, login ID, e-mail) are checked; errors in any other
///    column are dropped (their cells become [`Cell::Absent`]) and cross-field
///    rules are skipped.
/// 3. **Per field**, by [`FieldKind`]: trimmed, formula escaping of our own
///    exports undone ([`userimport_schema::unescape_formula`]), then blank →
///    [`Cell::Blank`], the clear keyword → [`Cell::Clear`] (an error where the
///    column is required), else the kind's rule gives a canonical
///    [`Cell::Value`], [`Cell::List`] or [`Cell::Secret`]. A cell with an error
///    becomes [`Cell::Absent`]. Columns the file lacks are [`Cell::Absent`];
///    read-only columns are always [`Cell::Absent`]. Passwords are taken
///    exactly as typed (not trimmed, not unescaped).
/// 4. **Cross-field rules** of the profile (due date, date range).
/// 5. **Added rules** ([`Validator::add_rule`]).
///
/// Blank required cells are not an error here: only the planner knows whether
/// a row creates a user, and it raises `field.required`. In-file duplicates
/// are found across chunks by [`crate::Uniqueness`].
pub struct Validator {
    profile: Arc<Profile>,
    columns: Vec<ColumnPlan>,
    fields: Vec<Option<usize>>,
    header_len: usize,
    header_line: u64,
    unknown: Vec<(usize, String)>,
    cross: Vec<Cross>,
    delete_column: Option<usize>,
    rules: Vec<Box<dyn Rule>>,
    options: ValidateOptions,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("profile", &self.profile.name)
            .field("fields", &self.fields)
            .field("header_len", &self.header_len)
            .field("rules", &self.rules.len())
            .field("options", &self.options)
            .finish()
    }
}

impl Validator {
    /// Builds a validator.
    ///
    /// `fields[i]` is the index of the record field that holds profile column
    /// `i`, or `None` when the file lacks that column (or it is mapped to
    /// `none`); missing trailing entries count as `None`, extra entries are
    /// ignored. `header` is the header record: its length is the expected
    /// field count of every record, and its cells that no column maps to are
    /// reported by [`Validator::header_issues`] as unknown (blank header cells
    /// are not).
    pub fn new(
        profile: impl IntoProfile,
        fields: Vec<Option<usize>>,
        header: &Record,
        options: ValidateOptions,
    ) -> Validator {
        let profile = profile.into_profile();
        let mut fields = fields;
        fields.resize(profile.columns.len(), None);
        let email_required = |column: &userimport_schema::Column| match (
            column.purpose,
            options.email_optional_override,
        ) {
            (Purpose::Email, Some(optional)) => !optional,
            _ => column.required,
        };
        let columns: Vec<ColumnPlan> = profile
            .columns
            .iter()
            .zip(&fields)
            .map(|(column, field)| ColumnPlan {
                key: column.key.clone(),
                // Messages name a column as the file's header does.
                label: header_text(header, *field).unwrap_or_else(|| column.label.clone()),
                kind: column.kind.clone(),
                required: email_required(column),
                clear_keyword: column.clear_keyword.clone(),
                secret: column.kind.is_secret(),
                is_key: is_key_purpose(column.purpose),
                field: *field,
                names: match column.purpose {
                    Purpose::Roles => profile.roles.clone(),
                    _ => Vec::new(),
                },
                card_id_type: field
                    .and_then(|f| header.get(f))
                    .and_then(|h| notation_named(&column.kind, h)),
            })
            .collect();
        let unknown = header
            .iter()
            .enumerate()
            .filter(|(i, text)| !text.trim().is_empty() && !fields.contains(&Some(*i)))
            .map(|(i, text)| (i, text.to_string()))
            .collect();
        Validator {
            cross: Cross::compile(&profile),
            delete_column: profile
                .columns
                .iter()
                .position(|c| matches!(c.kind, FieldKind::DeleteFlag)),
            columns,
            fields,
            header_len: header.len(),
            header_line: header.line(),
            unknown,
            rules: Vec::new(),
            options,
            profile,
        }
    }

    /// Builds a validator from a parsed [`ColumnMapping`]: its field indices,
    /// and its unknown header cells (cells set aside with `--map FIELD=none`
    /// are not reported).
    pub fn from_mapping(
        profile: impl IntoProfile,
        mapping: &ColumnMapping,
        header: &Record,
        options: ValidateOptions,
    ) -> Validator {
        let profile = profile.into_profile();
        let fields = (0..profile.columns.len())
            .map(|i| mapping.index(i))
            .collect();
        let mut validator = Validator::new(profile, fields, header, options);
        validator.unknown = mapping.unknown().to_vec();
        validator
    }

    /// Replaces the list of unknown header cells (`(field index, header
    /// text)`), for callers whose column mapping knows better (cells mapped to
    /// `none` on purpose are not unknown).
    pub fn set_unknown_headers(&mut self, unknown: Vec<(usize, String)>) -> &mut Self {
        self.unknown = unknown;
        self
    }

    /// Adds a rule that runs on every row after the built-in rules.
    pub fn add_rule(&mut self, rule: Box<dyn Rule>) -> &mut Self {
        self.rules.push(rule);
        self
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The shared profile.
    pub fn profile_arc(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// The options.
    pub fn options(&self) -> &ValidateOptions {
        &self.options
    }

    /// The record field of each profile column (`None`: not in the file).
    pub fn fields(&self) -> &[Option<usize>] {
        &self.fields
    }

    /// True when profile column `column` needs a value for a new user, after
    /// [`ValidateOptions::email_optional_override`]. The planner uses this to
    /// raise `field.required`.
    pub fn is_required(&self, column: usize) -> bool {
        self.columns.get(column).is_some_and(|c| c.required)
    }

    /// Issues about the header, reported once per file: a `column.read_only`
    /// warning per read-only column present (none when every one is headed
    /// as the tool's export heads it: an export re-imported), a `column.unknown` warning per
    /// header cell that names no profile column. Line is the header's, row 0.
    pub fn header_issues(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        // Read-only columns all headed as the tool's own export heads them
        // (in English or Japanese): an export being re-imported, quiet.
        let mut read_only = self
            .columns
            .iter()
            .zip(&self.profile.columns)
            .filter(|(c, _)| matches!(c.kind, FieldKind::ReadOnly) && c.field.is_some());
        let exported = read_only.all(|(column, profile_column)| {
            [
                Some(profile_column.label.as_str()),
                userimport_schema::japanese_label(profile_column),
            ]
            .contains(&Some(column.label.as_str()))
        });
        for column in &self.columns {
            if matches!(column.kind, FieldKind::ReadOnly) && column.field.is_some() && !exported {
                issues.push(
                    Issue::warning(
                        self.header_line,
                        0,
                        codes::COLUMN_READ_ONLY,
                        format!(
                            "{} is read-only: its values are ignored on import (it is filled on \
                             export), so the column may stay in the file",
                            column.label
                        ),
                    )
                    .column(&column.key),
                );
            }
        }
        for (index, text) in &self.unknown {
            let message = if text.trim().is_empty() {
                format!(
                    "column {} has no header: its values are ignored; give it the header of a \
                     column of profile {:?} or remove it",
                    index + 1,
                    self.profile.name
                )
            } else {
                format!(
                    "header {:?} (column {}) names no column of profile {:?}: its values are \
                     ignored; rename it to a known header or map it with --map FIELD=HEADER",
                    field::clip(text),
                    index + 1,
                    self.profile.name
                )
            };
            issues.push(
                Issue::warning(self.header_line, 0, codes::COLUMN_UNKNOWN, message)
                    .value(&shown(text)),
            );
        }
        issues
    }

    /// Validates a chunk of records in parallel. Data rows are numbered
    /// `first_row`, `first_row + 1`, … in slice order; rows and issues come
    /// back in that order (issues of one row: shape, per column in profile
    /// order, cross-field, added rules).
    pub fn validate(&self, records: &[Record], first_row: u64) -> (Vec<Row>, Vec<Issue>) {
        let mut rows = Vec::with_capacity(records.len());
        let mut issues = Vec::new();
        self.validate_into(records, first_row, &mut rows, &mut issues);
        (rows, issues)
    }

    /// Like [`Validator::validate`], but fills `rows` in place, reusing the
    /// cells and strings it already holds, and appends to `issues`. Keep one
    /// `rows` buffer across chunks and most cells are written without
    /// allocating. `rows` ends with exactly one row per record.
    pub fn validate_into(
        &self,
        records: &[Record],
        first_row: u64,
        rows: &mut Vec<Row>,
        issues: &mut Vec<Issue>,
    ) {
        one_row_per_record(rows, records.len());
        let found: Vec<Vec<Issue>> = rows
            .par_iter_mut()
            .zip(records.par_iter())
            .with_min_len(MIN_ROWS_PER_TASK)
            .enumerate()
            .map(|(i, (row, record))| self.fill(record, first_row + i as u64, row))
            .collect();
        issues.extend(found.into_iter().flatten());
    }

    /// Like [`Validator::validate_into`], and also appends the rows' key
    /// fingerprints (as [`Fingerprinter::fingerprint_into`] gives them, in
    /// row order) to `prints`, in the same parallel pass: each slice of rows
    /// is fingerprinted right after it is checked, while its cells are still
    /// in the CPU's cache, and the pool is woken once per chunk, not twice.
    pub fn validate_and_fingerprint_into(
        &self,
        records: &[Record],
        first_row: u64,
        (rows, issues): (&mut Vec<Row>, &mut Vec<Issue>),
        fingerprinter: &Fingerprinter,
        prints: &mut Vec<KeyPrint>,
    ) {
        one_row_per_record(rows, records.len());
        let parts: Vec<(Vec<Issue>, Vec<KeyPrint>)> = rows
            .par_chunks_mut(MIN_ROWS_PER_TASK)
            .zip(records.par_chunks(MIN_ROWS_PER_TASK))
            .enumerate()
            .map(|(i, (rows, records))| {
                let first = first_row + (i * MIN_ROWS_PER_TASK) as u64;
                let mut found = Vec::new();
                for (j, (row, record)) in rows.iter_mut().zip(records).enumerate() {
                    found.extend(self.fill(record, first + j as u64, row));
                }
                let mut keys = Vec::new();
                fingerprinter.fingerprint_rows(rows, &mut keys);
                (found, keys)
            })
            .collect();
        for (found, keys) in parts {
            issues.extend(found);
            prints.extend(keys);
        }
    }

    /// Validates one record as data row `row` (sequentially).
    pub fn validate_record(&self, record: &Record, row: u64) -> (Row, Vec<Issue>) {
        let mut out = Row {
            line: 0,
            row: 0,
            cells: Vec::with_capacity(self.columns.len()),
            valid: true,
        };
        let issues = self.fill(record, row, &mut out);
        (out, issues)
    }

    /// Validates `record` into `out`, reusing its cells.
    fn fill(&self, record: &Record, row: u64, out: &mut Row) -> Vec<Issue> {
        let line = record.line();
        let mut issues = Vec::new();
        if record.len() != self.header_len {
            let (what, treat) = if record.len() < self.header_len {
                ("fewer", "the missing trailing fields are read as blank")
            } else {
                ("more", "the extra fields are ignored")
            };
            issues.push(Issue::error(
                line,
                row,
                codes::ROW_RAGGED,
                format!(
                    "this row has {} fields but the header has {}: it has {what} fields than \
                     the header ({treat}); check for a missing or extra delimiter or quote",
                    record.len(),
                    self.header_len
                ),
            ));
        }
        self.stray_quote_issues(record, row, &mut issues);
        let env = Env {
            card_id_type: self.options.card_id_type,
            sources: &self.profile.sources,
            hash_floor: self.profile.hash_floor,
        };
        let delete = self
            .delete_column
            .and_then(|i| self.columns.get(i))
            .and_then(|c| c.field)
            .and_then(|f| record.get(f))
            .is_some_and(|raw| unescape_trim(raw) == "1");
        out.line = line;
        out.row = row;
        out.cells.resize(self.columns.len(), Cell::Absent);
        for (column, cell) in self.columns.iter().zip(out.cells.iter_mut()) {
            let raw = match column.field.map(|f| record.get(f)) {
                None => {
                    Out::Absent.store(cell);
                    continue;
                }
                // Fewer fields than the header: reported as row.ragged above.
                Some(None) => {
                    Out::Blank.store(cell);
                    continue;
                }
                Some(Some(raw)) => raw,
            };
            // Stored straight from the result: the checked cell is not
            // moved again first (a copy the CPU stalled on, once per cell).
            match field::check_cell(column, raw, env) {
                Ok(checked) => checked.store(cell),
                Err(problem) => {
                    if !delete || column.is_key {
                        let mut issue = Issue::error(line, row, problem.code, problem.message)
                            .column(&column.key);
                        if !column.secret {
                            issue.value = Some(shown(raw));
                        }
                        issues.push(issue);
                    }
                    Out::Absent.store(cell);
                }
            }
        }
        let cells = &mut out.cells;
        if !delete {
            for rule in &self.cross {
                rule.apply(&self.columns, cells, record, &mut issues, line, row);
            }
        }
        if !self.rules.is_empty() {
            let ctx = RowContext {
                profile: &self.profile,
                record,
                fields: &self.fields,
                cells,
                row,
                delete,
            };
            for rule in &self.rules {
                rule.check(&ctx, &mut issues);
            }
            // Secrets never leave, whatever an added rule attached.
            for issue in &mut issues {
                if issue.value.is_some() && self.is_secret_key(issue.column.as_deref()) {
                    issue.value = None;
                }
            }
        }
        out.valid = !issues.iter().any(Issue::is_error);
        issues
    }

    /// A `field.stray_quote` warning per cell that held a quote inside
    /// unquoted text (the reader took it literally).
    fn stray_quote_issues(&self, record: &Record, row: u64, issues: &mut Vec<Issue>) {
        for quote in record.stray_quotes() {
            let column = self.columns.iter().find(|c| c.field == Some(quote.field));
            let raw = record.get(quote.field).unwrap_or_default();
            let mut issue = Issue::warning(
                record.line(),
                row,
                codes::FIELD_STRAY_QUOTE,
                format!(
                    "line {}, column {}: a quote inside an unquoted cell is read as a literal \
                     quote, as spreadsheets read it; to be exact, quote the whole cell and \
                     double the quote (\"O\"\"Brien\")",
                    quote.line,
                    quote.field + 1
                ),
            );
            if let Some(column) = column {
                issue = issue.column(&column.key);
            }
            if !column.is_some_and(|c| c.secret) {
                issue.value = Some(shown(raw));
            }
            issues.push(issue);
        }
    }

    fn is_secret_key(&self, key: Option<&str>) -> bool {
        key.is_some_and(|key| self.columns.iter().any(|c| c.secret && c.key == key))
    }
}

/// The `charset.uncertain` warning for a detected charset that is a guess:
/// it names the charset chosen and the runner-up (a frontend adds how to
/// name the charset). `None` for a confident detection.
pub fn charset_issue(detection: &Detection) -> Option<Issue> {
    if detection.confident {
        return None;
    }
    let chosen = detection.encoding.name();
    let message = match detection.runner_up {
        Some(other) => format!(
            "the file's charset is a guess: read as {chosen}, with {} nearly as likely; if \
             names or other text look wrong, the file is probably {}",
            other.name(),
            other.name()
        ),
        None => format!(
            "the file's charset was detected as {chosen}, but the text holds characters \
             nobody types: if names or other text look wrong, name the file's charset"
        ),
    };
    let mut issue = Issue::warning(0, 0, codes::CHARSET_UNCERTAIN, message);
    issue.value = Some(chosen.to_string());
    Some(issue)
}

/// The card ID notation a header cell names: `Card ID (decimal)` (what an
/// export writes), `Card ID (hex)`; `None` for other headers and kinds.
fn notation_named(kind: &FieldKind, header: &str) -> Option<crate::CardIdType> {
    if !matches!(kind, FieldKind::CardId) {
        return None;
    }
    let header = header.to_ascii_lowercase();
    if header.contains("(decimal)") {
        Some(crate::CardIdType::Decimal)
    } else if header.contains("(hex)") || header.contains("(hexadecimal)") {
        Some(crate::CardIdType::Hex)
    } else {
        None
    }
}

/// True for the purposes whose columns identify a user.
pub(crate) fn is_key_purpose(purpose: Purpose) -> bool {
    matches!(purpose, Purpose::MemberId | Purpose::Login | Purpose::Email)
}

fn unescape_trim(raw: &str) -> &str {
    field::trim(userimport_schema::unescape_formula_start(field::trim(raw)))
}

/// A raw value for [`Issue::value`], cut at [`MAX_VALUE_CHARS`].
fn shown(raw: &str) -> String {
    match raw.char_indices().nth(MAX_VALUE_CHARS) {
        Some((at, _)) => format!("{}…", &raw[..at]),
        None => raw.to_string(),
    }
}

/// The trimmed, non-blank header cell of record field `field`.
fn header_text(header: &Record, field: Option<usize>) -> Option<String> {
    let text = header.get(field?)?.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Makes `rows` exactly `n` rows long, keeping the rows (and their cells'
/// buffers) it already has.
fn one_row_per_record(rows: &mut Vec<Row>, n: usize) {
    rows.truncate(n);
    rows.resize_with(n, || Row {
        line: 0,
        row: 0,
        cells: Vec::new(),
        valid: true,
    });
}
