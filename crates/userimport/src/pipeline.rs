//! The import pipeline: bytes → records → rows and issues → plan.

use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc;

use serde::Serialize;
use userimport_parse::{
    Charset, ColumnMapping, Reader, ReaderBuilder, Record, WorkbookInfo, WorkbookOptions,
};
use userimport_plan::{
    Change, Chunk, Directory, Mode, Plan, PlanOptions, Planner, Review, Summary,
};
use userimport_schema::{Profile, Purpose};
use userimport_validate::{Issue, KeyPrint, Row, Uniqueness, ValidateOptions, Validator};

use crate::Error;
use crate::workbook;

/// How a file is read, validated and planned. Every field has the CLI's
/// default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportOptions {
    /// The file's charset (default: detect).
    pub charset: Charset,
    /// The delimiter (`None` = detect).
    pub delimiter: Option<u8>,
    /// The header's 1-based physical line (`None` = the first non-blank line).
    pub header_row: Option<u64>,
    /// `--map FIELD=HEADER` (`Some`) and `--map FIELD=none` (`None`).
    pub maps: Vec<(String, Option<String>)>,
    /// Validation options (card ID notation …).
    pub validate: ValidateOptions,
    /// Planning options (mode, merge, keys, passwords, actor …).
    pub plan: PlanOptions,
    /// Records validated and planned per chunk (default 1,024: the chunks in
    /// flight then stay in the CPU caches between parsing, validation and
    /// planning; 8,192 cost 1.5x the CPU time and twice the memory on a 1M-row
    /// check).
    pub chunk_rows: usize,
    /// [`Importer::check`] lists at most this many errors and this many
    /// warnings (the first in file order; default 10,000 each), so that a
    /// file with an error on every row still checks in bounded memory. The
    /// counts always include every issue, and a `report.truncated` warning
    /// says how many were left out. File-level issues are always listed;
    /// [`Importer::plan`] lists every issue.
    pub max_issues: usize,
    /// The change listing ([`Checked::review`]) keeps at most this many
    /// changes of each kind (created, updated, deleted, suspended users,
    /// created groups; the first in file order; default 100), so that its
    /// memory is bounded for any file. `usize::MAX` lists every change. The
    /// summary's counts are complete whatever the limit.
    pub max_changes: usize,
    /// A workbook's sheet: its name or 1-based position (`None` = the first).
    pub sheet: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            charset: Charset::Auto,
            delimiter: None,
            header_row: None,
            maps: Vec::new(),
            validate: ValidateOptions::default(),
            plan: PlanOptions::default(),
            chunk_rows: 1_024,
            max_issues: 10_000,
            max_changes: 100,
            sheet: None,
        }
    }
}

/// What was read: the `file` object of the JSON report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// The encoding, as encoding_rs names it (`Shift_JIS`).
    pub encoding: String,
    /// The delimiter (`","`, `";"`, `"\t"`).
    pub delimiter: String,
    /// The header's physical line.
    pub header_line: u64,
    /// Data rows read.
    pub rows: u64,
    /// The workbook's format and sheet, when the file is a workbook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workbook: Option<WorkbookInfo>,
}

/// The result of checking (and planning) a file: what the review screen shows.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What was read.
    pub file: FileInfo,
    /// The counts.
    pub summary: Summary,
    /// Every issue, in file order (header issues first).
    pub issues: Vec<Issue>,
    /// The plan, when one was asked for ([`Importer::plan`]).
    pub plan: Option<Plan>,
    /// Who changes and how: the first [`ImportOptions::max_changes`]
    /// changes of each kind.
    pub review: Review,
    /// Each mapped profile column's header as it appears in the file
    /// (column key → header text), to name columns in the administrator's
    /// words.
    pub headers: BTreeMap<String, String>,
    /// The keys of the profile's groups, roles and identities columns.
    pub list_columns: Vec<(Purpose, String)>,
}

impl Checked {
    /// A check result with no change listing (a plan file applied, a job
    /// resumed): `review`, `headers` and `list_columns` empty.
    pub fn new(file: FileInfo, summary: Summary, issues: Vec<Issue>, plan: Option<Plan>) -> Self {
        Checked {
            file,
            summary,
            issues,
            plan,
            review: Review::default(),
            headers: BTreeMap::new(),
            list_columns: Vec::new(),
        }
    }

    /// True when no issue is an error.
    pub fn is_clean(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }

    /// True when a file-level issue (row 0) refuses the whole plan.
    pub fn is_refused(&self) -> bool {
        self.issues.iter().any(|i| i.is_error() && i.row == 0)
    }

    /// The error issues.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.is_error())
    }

    /// A column's header as the file spells it (`メールアドレス`), else its key.
    pub fn header<'a>(&'a self, key: &'a str) -> &'a str {
        self.headers.get(key).map_or(key, String::as_str)
    }
}

/// The import engine for one profile and one set of options: it checks a
/// file against a store ([`Importer::check`]), plans it ([`Importer::plan`]),
/// and applies a plan ([`Importer::apply`]).
#[derive(Debug, Clone)]
pub struct Importer {
    profile: Arc<Profile>,
    options: ImportOptions,
}

/// Builds an [`Importer`].
#[derive(Debug, Clone)]
pub struct ImporterBuilder {
    profile: Arc<Profile>,
    options: ImportOptions,
}

impl ImporterBuilder {
    /// Sets every option at once.
    pub fn options(&mut self, options: ImportOptions) -> &mut Self {
        self.options = options;
        self
    }

    /// Sets the mode.
    pub fn mode(&mut self, mode: Mode) -> &mut Self {
        self.options.plan.mode = mode;
        self
    }

    /// Sets the charset.
    pub fn charset(&mut self, charset: Charset) -> &mut Self {
        self.options.charset = charset;
        self
    }

    /// Sets the planning options.
    pub fn plan_options(&mut self, plan: PlanOptions) -> &mut Self {
        self.options.plan = plan;
        self
    }

    /// The importer.
    pub fn build(&self) -> Importer {
        Importer {
            profile: Arc::clone(&self.profile),
            options: self.options.clone(),
        }
    }
}

/// Chunks in flight between the parsing thread and the validation thread.
const BATCHES: usize = 3;

/// What [`Importer::run`] keeps of the planned changes.
pub(crate) enum Keep<'a> {
    /// Counts and issues only (`check`).
    Counts,
    /// The whole plan (`plan`).
    Plan,
    /// Counts, every error (warnings capped as for `Counts`) and sync's
    /// removals, into the vector given: the first pass of an apply that
    /// skips invalid rows, which needs to know every refused row but not
    /// the plan.
    Refusals(&'a mut Ending),
    /// Each chunk's changes handed on as planned, with whether the file is
    /// clean so far; the sync tail (clean files only) and then
    /// [`Streamed::Checked`] come last. An error stops the run.
    Stream(&'a mut dyn FnMut(Streamed, bool) -> Result<(), Error>),
}

/// What the first pass of a two-pass apply keeps beside its check.
#[derive(Debug, Default)]
pub(crate) struct Ending {
    /// Sync's removals.
    pub(crate) tail: Vec<Change>,
    /// The store revision planned against.
    pub(crate) revision: u64,
}

/// What a streamed run hands on.
pub(crate) enum Streamed {
    /// A planned chunk of the data rows `rows` (the sync tail: `0..0`); its
    /// `issues` are the planner's for those rows (already in the report).
    Chunk {
        /// The chunk.
        chunk: Chunk,
        /// The data rows it planned.
        rows: std::ops::Range<u64>,
    },
    /// The whole file is checked: `rows` data rows, planned against the
    /// store's `revision`; `withdrawn` lists the data rows found to be
    /// in-file duplicates at the end, whose changes, handed on earlier,
    /// must not be applied.
    Checked {
        rows: u64,
        revision: u64,
        withdrawn: Vec<u64>,
    },
}

/// One chunk of records on its way through validation, with its rows and
/// issues; reused from chunk to chunk.
#[derive(Default)]
struct Batch {
    records: Vec<Record>,
    filled: usize,
    first_row: u64,
    rows: Vec<Row>,
    issues: Vec<Issue>,
    /// The key fingerprints of `rows`, for in-file uniqueness.
    prints: Vec<KeyPrint>,
}

/// Change kinds per data row, one byte each, so rows found to be in-file
/// duplicates at the end of the file can be taken back out of the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    None = 0,
    Create,
    Update,
    Delete,
    Unchanged,
}

impl Importer {
    /// A builder for a profile, with default options.
    pub fn builder(profile: &Profile) -> ImporterBuilder {
        ImporterBuilder {
            profile: Arc::new(profile.clone()),
            options: ImportOptions::default(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The options.
    pub fn options(&self) -> &ImportOptions {
        &self.options
    }

    /// Opens a reader on `input` with this importer's charset, dialect and
    /// the profile's limits and charsets.
    pub fn reader<R: Read>(&self, input: R) -> Result<Reader<R>, Error> {
        Ok(self.reader_builder().build(input)?)
    }

    /// The reader settings this importer uses.
    pub fn reader_builder(&self) -> ReaderBuilder {
        let mut builder = ReaderBuilder::new();
        builder
            .charset(self.options.charset)
            .delimiter(self.options.delimiter)
            .header_row(self.options.header_row)
            .limits(self.profile.limits)
            .allowed_charsets(self.profile.charsets.clone());
        let mut workbook = WorkbookOptions::sheet(self.options.sheet.clone());
        workbook.date_format = workbook::default_date_format(&self.profile);
        builder.workbook(workbook);
        builder
    }

    /// Upload and check: decodes, validates and plans `input` against `dir`,
    /// keeping only counts and issues (memory does not grow with the file
    /// beyond the key index). Writes nothing.
    pub fn check<R: Read, D: Directory>(&self, input: R, dir: &D) -> Result<Checked, Error> {
        self.run(input, dir, Keep::Counts)
    }

    /// Like [`Importer::check`], and keeps the plan (every change) for review,
    /// for writing to a plan file, or for [`Importer::apply`].
    pub fn plan<R: Read, D: Directory>(&self, input: R, dir: &D) -> Result<Checked, Error> {
        self.run(input, dir, Keep::Plan)
    }

    /// The first pass of an apply that leaves refused rows out: checks
    /// `input` against `dir` keeping counts, every error (the refused rows
    /// and why), the first [`ImportOptions::max_issues`] warnings, and
    /// sync's removals with the revision planned against; not the plan.
    pub(crate) fn refusals<R: Read, D: Directory>(
        &self,
        input: R,
        dir: &D,
    ) -> Result<(Checked, Ending), Error> {
        let mut ending = Ending::default();
        let checked = self.run(input, dir, Keep::Refusals(&mut ending))?;
        Ok((checked, ending))
    }

    /// Execute: applies exactly `plan` to `store` (all or nothing unless the
    /// plan was made with `skip_invalid`), refused if the store moved since
    /// the plan was made. `progress` returning `false` cancels.
    pub fn apply<S: userimport_sink::Sink>(
        &self,
        plan: &Plan,
        store: &mut S,
        mut progress: impl FnMut(&userimport_sink::Progress) -> bool,
    ) -> Result<userimport_sink::ApplyOutcome, S::Error> {
        store.apply(plan, &mut progress)
    }

    pub(crate) fn run<R: Read, D: Directory>(
        &self,
        input: R,
        dir: &D,
        mut keep: Keep<'_>,
    ) -> Result<Checked, Error> {
        let keep_plan = matches!(keep, Keep::Plan);
        let profile = &self.profile;
        let mut reader = self.reader(input)?;
        let header = reader.header().clone();
        // Every required column must be there when every row creates a user;
        // otherwise an update-only file may leave them out, and a row that
        // turns out to create a user gets a `field.required` error.
        let require_all = self.options.plan.mode == Mode::Create;
        let mapping = ColumnMapping::new(profile, &header, &self.options.maps, require_all)?;
        let is_workbook = reader.workbook().is_some();
        reader.set_date_formats(workbook::date_formats(profile, &mapping));
        let mut formulas = workbook::FormulaWatch::new(profile, &mapping, reader.formula_cells());
        let mut formula_issues = Vec::new();
        let key_order = match self.options.plan.key_order.is_empty() {
            true => &profile.key_order,
            false => &self.options.plan.key_order,
        };
        let has_key = key_order.iter().any(|key| {
            profile
                .index_for(key.purpose())
                .is_some_and(|column| mapping.index(column).is_some())
        });
        if !has_key {
            let names: Vec<String> = key_order
                .iter()
                .filter_map(|key| profile.column_for(key.purpose()))
                .map(|c| format!("{:?} ({})", c.label, c.key))
                .collect();
            return Err(Error::Refused(format!(
                "line {}: the header has no key column, so no row can be matched: add one of {}",
                header.line(),
                names.join(", ")
            )));
        }
        let validator = Validator::from_mapping(
            Arc::clone(profile),
            &mapping,
            &header,
            self.options.validate.clone(),
        );
        let mut plan_options = self.options.plan.clone();
        if plan_options.key_order.is_empty() {
            plan_options.key_order = profile.key_order.clone();
        }
        let mut planner = Planner::new(profile, plan_options, dir)?;
        // Check keeps only counts and issues: no new user is built.
        planner.counts_only(matches!(keep, Keep::Counts | Keep::Refusals(_)));
        planner.review_limit(self.options.max_changes);
        let uniqueness = Uniqueness::new(profile);
        let mut header_issues = validator.header_issues();
        header_issues.extend(
            reader
                .detection()
                .and_then(userimport_validate::charset_issue),
        );
        // The planner counts its own issues; the validator's are counted here.
        let mut counted = Summary::default();
        counted.count_issues(&header_issues);
        let cap = self.options.max_issues.max(1);
        let mut issues = match keep {
            Keep::Plan => IssueList::new(usize::MAX, usize::MAX),
            Keep::Refusals(_) => IssueList::new(usize::MAX, cap),
            _ => IssueList::new(cap, cap),
        };
        issues.extend(header_issues);
        let mut changes: Vec<Change> = Vec::new();
        let mut kinds: Vec<Kind> = Vec::new();

        let key_columns = [
            profile.index_for(Purpose::MemberId),
            profile.index_for(Purpose::Login),
            profile.index_for(Purpose::Email),
        ];
        let chunk_rows = self.options.chunk_rows.max(1);
        let mut next_row = 1u64;
        // Parsing and planning stay on this thread (the input and the store
        // need not be `Send`); validation runs on a helper thread (rayon
        // inside), so chunk N is validated while chunk N+1 is parsed and
        // chunk N-1 planned. Chunks travel in file order through one FIFO
        // and come back with their rows; their buffers are reused, so memory
        // is `BATCHES` chunks whatever the file's size.
        // The helper thread also records each chunk's key fingerprints (in
        // file order, as chunks arrive), which keeps that work off this
        // thread, the busier of the two; it hands the index back at the end.
        let uniqueness = std::thread::scope(|scope| -> Result<Uniqueness, Error> {
            let (to_validate, inbox) = mpsc::sync_channel::<Batch>(BATCHES);
            let (validated, from_validate) = mpsc::sync_channel::<Batch>(BATCHES);
            let validator = &validator;
            let fingerprinter = uniqueness.fingerprinter();
            let helper = scope.spawn(move || {
                let mut uniqueness = uniqueness;
                for mut batch in inbox {
                    batch.issues.clear();
                    batch.prints.clear();
                    validator.validate_and_fingerprint_into(
                        &batch.records[..batch.filled],
                        batch.first_row,
                        (&mut batch.rows, &mut batch.issues),
                        &fingerprinter,
                        &mut batch.prints,
                    );
                    uniqueness.observe_prints(&batch.prints);
                    if validated.send(batch).is_err() {
                        break;
                    }
                }
                uniqueness
            });
            let mut spare: Vec<Batch> = (0..BATCHES).map(|_| Batch::default()).collect();
            let mut in_flight = 0usize;
            let mut at_end = false;
            let mut process = |batch: &mut Batch| -> Result<(), Error> {
                let rows = &batch.rows[..batch.filled];
                let mut chunk = planner.plan_chunk(rows, dir)?;
                kinds.resize(kinds.len() + batch.filled, Kind::None);
                for &row in &chunk.created_rows {
                    if let Some(slot) = row.checked_sub(1).and_then(|r| kinds.get_mut(r as usize)) {
                        *slot = Kind::Create;
                    }
                }
                for change in &chunk.changes {
                    let kind = match change {
                        Change::Create { .. } => Kind::Create,
                        Change::Update { .. } | Change::Suspend { .. } => Kind::Update,
                        Change::Delete { .. } => Kind::Delete,
                        Change::Unchanged { .. } => Kind::Unchanged,
                    };
                    if let Some(slot) = change
                        .row()
                        .checked_sub(1)
                        .and_then(|r| kinds.get_mut(r as usize))
                    {
                        *slot = kind;
                    }
                }
                counted.count_issues(&batch.issues);
                let rows = (
                    &batch.records[..batch.filled],
                    batch.first_row,
                    &chunk.matched[..],
                );
                fill_keys(&mut batch.issues, rows, &mapping, key_columns);
                fill_keys(&mut chunk.issues, rows, &mapping, key_columns);
                issues.extend(batch.issues.drain(..));
                match &mut keep {
                    Keep::Counts | Keep::Refusals(_) => issues.extend(chunk.issues),
                    Keep::Plan => {
                        issues.extend(chunk.issues);
                        changes.extend(chunk.changes);
                    }
                    Keep::Stream(stream) => {
                        issues.extend(chunk.issues.iter().cloned());
                        let clean = counted.errors + planner.summary().errors == 0;
                        let rows = batch.first_row..batch.first_row + batch.filled as u64;
                        stream(Streamed::Chunk { chunk, rows }, clean)?;
                    }
                }
                Ok(())
            };
            loop {
                if at_end {
                    if in_flight == 0 {
                        break;
                    }
                    let Ok(mut batch) = from_validate.recv() else {
                        return Err(Error::Refused("the validation thread stopped".into()));
                    };
                    in_flight -= 1;
                    process(&mut batch)?;
                    continue;
                }
                let mut batch = match spare.pop() {
                    Some(batch) => batch,
                    None => {
                        let Ok(mut batch) = from_validate.recv() else {
                            return Err(Error::Refused("the validation thread stopped".into()));
                        };
                        in_flight -= 1;
                        process(&mut batch)?;
                        batch
                    }
                };
                batch.records.resize_with(chunk_rows, Record::new);
                batch.filled = 0;
                while batch.filled < chunk_rows
                    && reader.read_record(&mut batch.records[batch.filled])?
                {
                    batch.filled += 1;
                }
                at_end = batch.filled < chunk_rows;
                if batch.filled == 0 {
                    continue;
                }
                batch.first_row = next_row;
                formulas.issues(
                    &batch.records[..batch.filled],
                    next_row,
                    &mut formula_issues,
                );
                next_row += batch.filled as u64;
                if to_validate.send(batch).is_err() {
                    return Err(Error::Refused("the validation thread stopped".into()));
                }
                in_flight += 1;
            }
            // The inbox closes, so the helper's loop ends.
            drop(to_validate);
            helper
                .join()
                .map_err(|_| Error::Refused("the validation thread stopped".into()))
        })?;
        counted.count_issues(&formula_issues);
        issues.extend(formula_issues);
        // In-file duplicates: every one counted and its row noted; a check
        // keeps only the first `cap` (by line, row and column).
        let cap = issues.error_cap;
        let mut duplicate_rows: HashSet<u64> = HashSet::new();
        let mut duplicate_counts = Summary::default();
        let mut kept: BinaryHeap<ByPlace> = BinaryHeap::new();
        uniqueness.finish_into(|issue| {
            duplicate_rows.insert(issue.row);
            duplicate_counts.count_issues(std::iter::once(&issue));
            kept.push(ByPlace(issue));
            if kept.len() > cap {
                kept.pop();
                issues.dropped += 1;
            }
        });
        let duplicates = kept.into_sorted_vec().into_iter().map(|d| d.0);
        let mut finish = planner.finish(dir)?;
        // File-level issues of the plan (`sync.threshold`) join the report.
        issues.extend(finish.issues.drain(..));
        let mut summary = finish.summary;
        summary.errors += counted.errors;
        summary.warnings += counted.warnings;
        summary.errors += duplicate_counts.errors;
        summary.warnings += duplicate_counts.warnings;

        // Rows found to be in-file duplicates only at the end: take their
        // changes back out (a planned change made them count as valid).
        let withdrawn: HashSet<u64> = finish.withdrawn_rows.iter().copied().collect();
        for &row in &duplicate_rows {
            if withdrawn.contains(&row) {
                continue;
            }
            let Some(kind) = row.checked_sub(1).and_then(|r| kinds.get(r as usize)) else {
                continue;
            };
            let counter = match kind {
                Kind::None => continue,
                Kind::Create => &mut summary.create,
                Kind::Update => &mut summary.update,
                Kind::Delete => &mut summary.delete,
                Kind::Unchanged => &mut summary.unchanged,
            };
            *counter = counter.saturating_sub(1);
            summary.valid = summary.valid.saturating_sub(1);
            summary.invalid += 1;
            summary.skipped += 1;
        }
        issues.extend(duplicates);
        let mut issues = issues.into_vec();
        sort_issues(&mut issues);
        if is_workbook {
            workbook::locate(&mut issues, profile, &mapping, &header);
        }

        let mut review = std::mem::take(&mut finish.review);
        review.withdraw(&duplicate_rows);
        // Each column as the file heads it; the profile's label if absent.
        let headers: BTreeMap<String, String> = profile
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let text = mapping.index(i).and_then(|f| header.get(f)).map(str::trim);
                let text = text.filter(|t| !t.is_empty()).unwrap_or(&column.label);
                (column.key.clone(), text.to_string())
            })
            .collect();
        for issue in &mut issues {
            if let Some(column) = &issue.column {
                issue.header = headers.get(column).cloned();
            }
        }
        let file = FileInfo {
            encoding: reader.encoding().name().to_string(),
            delimiter: delimiter_name(reader.delimiter()),
            header_line: header.line(),
            rows: next_row - 1,
            workbook: reader.workbook().cloned(),
        };
        if let Keep::Stream(stream) = &mut keep {
            // Sync's removals last, and only for a clean file: a file with
            // errors writes nothing.
            let clean = summary.errors == 0;
            if clean && !finish.changes.is_empty() {
                let tail = Chunk {
                    changes: std::mem::take(&mut finish.changes),
                    ..Chunk::default()
                };
                stream(
                    Streamed::Chunk {
                        chunk: tail,
                        rows: 0..0,
                    },
                    clean,
                )?;
            }
            let revision = finish.revision;
            stream(
                Streamed::Checked {
                    rows: next_row - 1,
                    revision,
                    withdrawn: {
                        let mut rows: Vec<u64> = duplicate_rows.iter().copied().collect();
                        rows.sort_unstable();
                        rows
                    },
                },
                clean,
            )?;
        }
        if let Keep::Refusals(ending) = &mut keep {
            ending.tail = std::mem::take(&mut finish.changes);
            ending.revision = finish.revision;
        }
        let plan = keep_plan.then(|| {
            changes.retain(|c| c.row() == 0 || !duplicate_rows.contains(&c.row()));
            let mut plan = finish.into_plan(changes, Vec::new());
            plan.summary = summary;
            plan.issues = issues.clone();
            plan
        });
        Ok(Checked {
            file,
            summary,
            issues,
            plan,
            review,
            headers,
            list_columns: [Purpose::Groups, Purpose::Roles, Purpose::Identities]
                .into_iter()
                .filter_map(|p| Some((p, profile.column_for(p)?.key.clone())))
                .collect(),
        })
    }
}

/// The issues a run keeps: every file-level issue (row 0), and the first
/// `error_cap` errors and `warning_cap` warnings in file order. The rest
/// are counted, not kept. Which issues are kept, and their order, do not depend on the chunk
/// size: within one row, issues arrive in the same order whatever the
/// chunking, and rows are ranked by line.
struct IssueList {
    error_cap: usize,
    warning_cap: usize,
    seq: u64,
    file_level: Vec<Issue>,
    errors: BinaryHeap<Ranked>,
    warnings: BinaryHeap<Ranked>,
    dropped: u64,
}

/// An issue ranked by (line, row, column).
struct ByPlace(Issue);

impl ByPlace {
    // Code and message too: two duplicates of one cell (say, the same key and
    // a look-alike of another) come from a parallel scan in no fixed order.
    fn key(&self) -> (u64, u64, Option<&str>, &str, &str) {
        let i = &self.0;
        (i.line, i.row, i.column.as_deref(), &i.code, &i.message)
    }
}

impl PartialEq for ByPlace {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ByPlace {}
impl PartialOrd for ByPlace {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByPlace {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// An issue ranked by (line, row, arrival).
struct Ranked(u64, Issue);

impl Ranked {
    fn key(&self) -> (u64, u64, u64) {
        (self.1.line, self.1.row, self.0)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl IssueList {
    fn new(error_cap: usize, warning_cap: usize) -> Self {
        IssueList {
            error_cap,
            warning_cap,
            seq: 0,
            file_level: Vec::new(),
            errors: BinaryHeap::new(),
            warnings: BinaryHeap::new(),
            dropped: 0,
        }
    }

    fn push(&mut self, issue: Issue) {
        if issue.row == 0 || (self.error_cap == usize::MAX && self.warning_cap == usize::MAX) {
            self.file_level.push(issue);
            return;
        }
        self.seq += 1;
        let (heap, cap) = if issue.is_error() {
            (&mut self.errors, self.error_cap)
        } else {
            (&mut self.warnings, self.warning_cap)
        };
        heap.push(Ranked(self.seq, issue));
        if heap.len() > cap {
            heap.pop();
            self.dropped += 1;
        }
    }

    fn extend(&mut self, issues: impl IntoIterator<Item = Issue>) {
        for issue in issues {
            self.push(issue);
        }
    }

    /// The kept issues in arrival order, then a `report.truncated` warning
    /// when some were left out.
    fn into_vec(self) -> Vec<Issue> {
        let mut ranked: Vec<Ranked> = self.errors.into_vec();
        ranked.extend(self.warnings.into_vec());
        ranked.sort_unstable();
        let mut issues = self.file_level;
        issues.extend(ranked.into_iter().map(|r| r.1));
        if self.dropped > 0 {
            let errors = match self.error_cap {
                usize::MAX => "every error and the first".to_string(),
                cap => format!("the first {cap} errors and"),
            };
            issues.push(Issue::warning(
                0,
                0,
                "report.truncated",
                format!(
                    "{} more issues are not listed: the report lists {errors} {} warnings (the counts include every issue)",
                    self.dropped, self.warning_cap
                ),
            ));
        }
        issues
    }
}

/// Gives each row issue the row's member ID, login ID and e-mail as typed,
/// or for a row without a member ID the ID of the user it matched.
/// `rows`: the chunk's records, the first being data row `first_row`, and
/// its refused rows' matched users.
fn fill_keys(
    issues: &mut [Issue],
    (records, first_row, matched): (&[Record], u64, &[(u64, i64)]),
    mapping: &ColumnMapping,
    key_columns: [Option<usize>; 3],
) {
    for issue in issues.iter_mut().filter(|i| i.row >= first_row) {
        let Some(record) = usize::try_from(issue.row - first_row)
            .ok()
            .and_then(|i| records.get(i))
        else {
            continue;
        };
        let value = |column: Option<usize>| {
            let text = mapping.get(record, column?)?.trim();
            (!text.is_empty()).then(|| text.to_string())
        };
        let [id, login, email] = key_columns;
        let keys = &mut issue.keys;
        keys.member_id = value(id).or_else(|| {
            let (_, id) = matched.iter().find(|(row, _)| *row == issue.row)?;
            Some(id.to_string())
        });
        keys.login_id = value(login);
        keys.email = value(email);
    }
}

/// Sorts issues into file order: by line, then errors before warnings; the
/// order within a line (the validator's column order) is kept.
pub fn sort_issues(issues: &mut [Issue]) {
    issues.sort_by(|a, b| a.line.cmp(&b.line).then(a.severity.cmp(&b.severity)));
}

/// `,` `;` or `\t` as the JSON report spells a delimiter.
pub fn delimiter_name(delimiter: u8) -> String {
    (delimiter as char).to_string()
}
