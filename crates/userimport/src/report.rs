//! Reports of a check: text for a terminal, JSON for programs, CSV for the
//! administrator to download and fix the file.

use std::io::Write;

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

use userimport_plan::{
    ChangeKind, Directory, EmptyDirectory, ListChange, Lookup, ReviewEntry, StoredUser, Summary,
    UserRef,
};
use userimport_validate::Issue;
use userimport_validate::RowKeys;

use crate::Error;
use crate::csv_out::{CsvWriter, OutputCharset};
use crate::pipeline::{Checked, FileInfo};
use userimport_schema::Purpose;

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
    changes: Vec<JsonChange<'a>>,
    changes_omitted: BTreeMap<&'static str, u64>,
}

/// One entry of the JSON report's `changes`.
#[derive(Serialize)]
struct JsonChange<'a> {
    kind: &'static str,
    line: u64,
    row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    login_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<JsonField<'a>>,
    #[serde(skip_serializing_if = "ListChange::is_empty")]
    groups: &'a ListChange,
    #[serde(skip_serializing_if = "ListChange::is_empty")]
    roles: &'a ListChange,
    #[serde(skip_serializing_if = "ListChange::is_empty")]
    identities: &'a ListChange,
}

/// One field's change: the column key, its header as in the file, old → new.
#[derive(Serialize)]
struct JsonField<'a> {
    column: &'a str,
    header: &'a str,
    old: Option<&'a str>,
    new: Option<&'a str>,
}

fn json_change<'a>(checked: &'a Checked, entry: &'a ReviewEntry) -> JsonChange<'a> {
    let user = &entry.user;
    JsonChange {
        kind: entry.kind.name(),
        line: entry.line,
        row: entry.row,
        member_id: user.member_id,
        login_id: user.login_id.as_deref(),
        email: user.email.as_deref(),
        name: user.name.as_deref(),
        group: entry.group.as_deref(),
        fields: entry
            .fields
            .iter()
            .map(|f| JsonField {
                column: &f.column,
                header: checked.header(&f.column),
                old: f.old.as_deref(),
                new: f.new.as_deref(),
            })
            .collect(),
        groups: &entry.groups,
        roles: &entry.roles,
        identities: &entry.identities,
    }
}

/// The JSON report's `changes` array: the listed changes (see
/// [`crate::ImportOptions::max_changes`]), as `serde_json` values.
pub fn changes_json(checked: &Checked) -> serde_json::Value {
    let changes: Vec<JsonChange<'_>> = checked
        .review
        .entries
        .iter()
        .map(|e| json_change(checked, e))
        .collect();
    serde_json::to_value(changes).unwrap_or_default()
}

/// The change listing of a check, kept apart from the check: what an apply
/// reports of who changes and how. It serializes as the JSON report's
/// `changes` and `changes_omitted` (flattened into the apply report).
#[derive(Debug, Clone, Default)]
pub struct ChangeListing {
    review: userimport_plan::Review,
    headers: BTreeMap<String, String>,
    list_columns: Vec<(Purpose, String)>,
    summary: Summary,
}

impl ChangeListing {
    /// Takes the listing out of `checked` (its review, headers and list
    /// columns are left empty).
    pub fn take(checked: &mut Checked) -> Self {
        ChangeListing {
            review: std::mem::take(&mut checked.review),
            headers: std::mem::take(&mut checked.headers),
            list_columns: std::mem::take(&mut checked.list_columns),
            summary: checked.summary,
        }
    }

    /// Puts a copy of the listing back into `checked`, for the reports.
    pub fn restore(&self, checked: &mut Checked) {
        checked.review = self.review.clone();
        checked.headers = self.headers.clone();
        checked.list_columns = self.list_columns.clone();
    }

    /// True when no change is listed.
    pub fn is_empty(&self) -> bool {
        self.review.entries.is_empty()
    }

    fn checked(&self) -> Checked {
        let mut checked = Checked::new(
            FileInfo {
                encoding: String::new(),
                delimiter: String::new(),
                header_line: 0,
                rows: 0,
                workbook: None,
            },
            self.summary,
            Vec::new(),
            None,
        );
        self.restore(&mut checked);
        checked
    }
}

impl Serialize for ChangeListing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let checked = self.checked();
        let changes: Vec<JsonChange<'_>> = checked
            .review
            .entries
            .iter()
            .map(|e| json_change(&checked, e))
            .collect();
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("changes", &changes)?;
        map.serialize_entry("changes_omitted", &changes_omitted(&checked))?;
        map.end()
    }
}

/// How many changes of each kind the listing leaves out (kinds with none
/// left out are absent).
pub fn changes_omitted(checked: &Checked) -> BTreeMap<&'static str, u64> {
    checked
        .review
        .omitted(&checked.summary)
        .into_iter()
        .map(|(kind, n)| (kind.name(), n))
        .collect()
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
                changes: checked
                    .review
                    .entries
                    .iter()
                    .map(|e| json_change(checked, e))
                    .collect(),
                changes_omitted: changes_omitted(checked),
            };
            serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Csv => write_issues_csv(&issues, out)?,
        Format::Text => {
            write_summary_text(&checked.file, &checked.summary, &mut out)?;
            if !checked.review.entries.is_empty() {
                writeln!(out)?;
                write_changes_text(checked, &mut out)?;
            }
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
    let column_w = width(&|i| i.column_name().map_or(1, |c| c.chars().count()), 6);
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
            issue.column_name().unwrap_or("-"),
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

/// The downloadable error report:
/// `line,row,column,severity,code,message,value,member_id,login_id,email`
/// (the column as the file heads it, the value as typed, the row's keys as
/// typed, or the member ID of the user the row matched), UTF-8 with a BOM so
/// Excel opens it right, every cell formula-safe.
pub fn write_issues_csv<W: Write>(issues: &[&Issue], out: W) -> Result<(), Error> {
    let mut writer = CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row([
        "line",
        "row",
        "column",
        "severity",
        "code",
        "message",
        "value",
        "member_id",
        "login_id",
        "email",
    ])?;
    for issue in issues {
        let severity = if issue.is_error() { "error" } else { "warning" };
        let keys = &issue.keys;
        writer.write_row([
            issue.line.to_string().as_str(),
            issue.row.to_string().as_str(),
            issue.column_name().unwrap_or(""),
            severity,
            &issue.code,
            &issue.message,
            issue.value.as_deref().unwrap_or(""),
            keys.member_id.as_deref().unwrap_or(""),
            keys.login_id.as_deref().unwrap_or(""),
            keys.email.as_deref().unwrap_or(""),
        ])?;
    }
    writer.finish()?;
    Ok(())
}

/// The results file of an apply (`--results FILE`): one row per change with
/// its outcome and reason, formula-safe, UTF-8 with a BOM:
/// `line,row,outcome,member_id,reason,login_id,email` (login ID and e-mail
/// empty: [`write_results_csv_with`] fills them).
pub fn write_results_csv<W: Write>(
    results: &[userimport_sink::RowResult],
    out: W,
) -> Result<(), Error> {
    write_results(
        results,
        &HashMap::new(),
        &HashMap::new(),
        &EmptyDirectory::default(),
        out,
    )
}

/// [`write_results_csv`] with each row's member ID, login ID and e-mail:
/// those the row's `issues` carry (a failed row's keys as typed, and the
/// member ID of the user it matched), else those of the user it created,
/// updated or matched (looked up in `dir`, batched). A deleted user is no
/// longer in the store: its row carries the member ID only (see
/// [`write_results_csv_listed`]).
pub fn write_results_csv_with<W: Write, D: Directory + ?Sized>(
    results: &[userimport_sink::RowResult],
    issues: &[Issue],
    dir: &D,
    out: W,
) -> Result<(), Error> {
    write_results(results, &row_keys(issues), &HashMap::new(), dir, out)
}

/// [`write_results_csv_with`], where a deleted user's row also carries the
/// login ID and e-mail the change listing gives it (for the deletions it
/// lists: [`crate::ImportOptions::max_changes`]).
pub fn write_results_csv_listed<W: Write, D: Directory + ?Sized>(
    results: &[userimport_sink::RowResult],
    issues: &[Issue],
    listing: &ChangeListing,
    dir: &D,
    out: W,
) -> Result<(), Error> {
    let deleted: HashMap<i64, &UserRef> = listing
        .review
        .of_kind(ChangeKind::Delete)
        .filter_map(|e| Some((e.user.member_id?, &e.user)))
        .collect();
    write_results(results, &row_keys(issues), &deleted, dir, out)
}

/// Each row's keys as its first issue carries them.
fn row_keys(issues: &[Issue]) -> HashMap<u64, &RowKeys> {
    let mut keys: HashMap<u64, &RowKeys> = HashMap::new();
    for issue in issues.iter().filter(|i| i.row > 0 && !i.keys.is_empty()) {
        keys.entry(issue.row).or_insert(&issue.keys);
    }
    keys
}

fn write_results<W: Write, D: Directory + ?Sized>(
    results: &[userimport_sink::RowResult],
    keys: &HashMap<u64, &RowKeys>,
    deleted: &HashMap<i64, &UserRef>,
    dir: &D,
    out: W,
) -> Result<(), Error> {
    const LOOKUP_BATCH: usize = 1_000;
    let mut writer = CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row([
        "line",
        "row",
        "outcome",
        "member_id",
        "reason",
        "login_id",
        "email",
    ])?;
    for part in results.chunks(LOOKUP_BATCH) {
        let ids: Vec<Lookup> = part.iter().filter_map(|r| r.id.map(Lookup::Id)).collect();
        let users: HashMap<i64, StoredUser> = if ids.is_empty() {
            HashMap::new()
        } else {
            dir.find(&ids)
                .map_err(userimport_plan::Error::store)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect()
        };
        for r in part {
            let outcome = serde_json::to_value(r.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let typed = keys.get(&r.row).copied();
            let user = r.id.and_then(|id| users.get(&id));
            let member_id =
                r.id.map(|id| id.to_string())
                    .or_else(|| typed.and_then(|k| k.member_id.clone()));
            let gone = r.id.and_then(|id| deleted.get(&id));
            // A row's own keys first (the row can be found by them), then
            // the stored user's, then a deleted user's as listed.
            let login = typed
                .and_then(|k| k.login_id.clone())
                .or_else(|| user.and_then(|u| u.login.clone()))
                .or_else(|| gone.and_then(|u| u.login_id.clone()));
            let email = typed
                .and_then(|k| k.email.clone())
                .or_else(|| user.and_then(|u| u.email.clone()))
                .or_else(|| gone.and_then(|u| u.email.clone()));
            writer.write_row([
                r.line.to_string(),
                r.row.to_string(),
                outcome,
                member_id.unwrap_or_default(),
                r.reason.clone().unwrap_or_default(),
                login.unwrap_or_default(),
                email.unwrap_or_default(),
            ])?;
        }
    }
    writer.finish()?;
    Ok(())
}

/// Who a change is about, for the text listing: `member 12, login "tanaka", …`.
fn describe(user: &UserRef) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(id) = user.member_id {
        parts.push(format!("member {id}"));
    }
    if let Some(login) = &user.login_id {
        parts.push(format!("login {login:?}"));
    }
    if let Some(email) = &user.email {
        parts.push(format!("e-mail {email:?}"));
    }
    if let Some(name) = &user.name {
        parts.push(format!("name {name:?}"));
    }
    parts.join(", ")
}

fn list_text(change: &ListChange) -> String {
    let added = change.added.iter().map(|n| format!("+{n:?}"));
    let removed = change.removed.iter().map(|n| format!("-{n:?}"));
    added.chain(removed).collect::<Vec<_>>().join(" ")
}

fn value_text(value: Option<&str>) -> String {
    value.map_or_else(|| "(blank)".to_string(), |v| format!("{v:?}"))
}

/// The change listing of the text report: one line per user (line, who),
/// then one indented line per changed field, old → new, and group and role
/// edits as `+"added" -"removed"`; groups to be created; then how many of
/// each kind are not listed. Every value is quoted and escaped.
pub fn write_changes_text<W: Write>(checked: &Checked, out: &mut W) -> Result<(), Error> {
    let totals = checked.review.totals(&checked.summary);
    let counts: Vec<String> = totals
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{} {n}", kind_title(*kind)))
        .collect();
    writeln!(out, "changes: {}", counts.join(", "))?;
    for (kind, _) in totals {
        for entry in checked.review.of_kind(kind) {
            if kind == ChangeKind::CreateGroup {
                let group = entry.group.as_deref().unwrap_or_default();
                writeln!(out, "  create group {group:?}")?;
                continue;
            }
            let line = match entry.line {
                0 => "absent from the file".to_string(),
                n => format!("line {n}"),
            };
            writeln!(
                out,
                "  {:<7} {line}: {}",
                kind.name(),
                describe(&entry.user)
            )?;
            for field in &entry.fields {
                writeln!(
                    out,
                    "          {}: {} -> {}",
                    checked.header(&field.column),
                    value_text(field.old.as_deref()),
                    value_text(field.new.as_deref())
                )?;
            }
            for (purpose, change) in [
                (Purpose::Groups, &entry.groups),
                (Purpose::Roles, &entry.roles),
                (Purpose::Identities, &entry.identities),
            ] {
                if !change.is_empty() {
                    let name = list_header(checked, purpose);
                    writeln!(out, "          {name}: {}", list_text(change))?;
                }
            }
        }
    }
    for (kind, n) in checked.review.omitted(&checked.summary) {
        writeln!(out, "  ... {n} more {} not listed", kind_title(kind))?;
    }
    Ok(())
}

fn kind_title(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "create",
        ChangeKind::Update => "update",
        ChangeKind::Delete => "delete",
        ChangeKind::Suspend => "suspend",
        ChangeKind::CreateGroup => "groups to create",
    }
}

/// The header of the groups, roles or identities column.
fn list_header(checked: &Checked, purpose: Purpose) -> String {
    let key = match purpose {
        Purpose::Groups => "groups",
        Purpose::Roles => "roles",
        _ => "identities",
    };
    checked
        .list_columns
        .iter()
        .find(|(p, _)| *p == purpose)
        .map_or(key, |(_, k)| checked.header(k))
        .to_string()
}

/// The changes as a CSV for a spreadsheet:
/// `kind,line,member_id,login_id,email,name,group,column,old,new,added,removed`,
/// one row per changed field or list (a user with no field listed, such as a
/// created or deleted one, is one row), UTF-8 with a BOM, formula-safe.
/// `column` is the header as the file spells it; `added` and `removed` list
/// names comma-separated.
pub fn write_changes_csv<W: Write>(checked: &Checked, out: W) -> Result<(), Error> {
    let mut writer = CsvWriter::new(out, OutputCharset::UTF8_BOM)?;
    writer.write_row([
        "kind",
        "line",
        "member_id",
        "login_id",
        "email",
        "name",
        "group",
        "column",
        "old",
        "new",
        "added",
        "removed",
    ])?;
    for entry in &checked.review.entries {
        let user = &entry.user;
        let who = [
            entry.kind.name().to_string(),
            entry.line.to_string(),
            user.member_id.map(|id| id.to_string()).unwrap_or_default(),
            user.login_id.clone().unwrap_or_default(),
            user.email.clone().unwrap_or_default(),
            user.name.clone().unwrap_or_default(),
            entry.group.clone().unwrap_or_default(),
        ];
        let mut rows: Vec<[String; 5]> = entry
            .fields
            .iter()
            .map(|f| {
                [
                    checked.header(&f.column).to_string(),
                    f.old.clone().unwrap_or_default(),
                    f.new.clone().unwrap_or_default(),
                    String::new(),
                    String::new(),
                ]
            })
            .collect();
        for (purpose, change) in [
            (Purpose::Groups, &entry.groups),
            (Purpose::Roles, &entry.roles),
            (Purpose::Identities, &entry.identities),
        ] {
            if !change.is_empty() {
                rows.push([
                    list_header(checked, purpose),
                    String::new(),
                    String::new(),
                    change.added.join(", "),
                    change.removed.join(", "),
                ]);
            }
        }
        if rows.is_empty() {
            rows.push(Default::default());
        }
        for row in rows {
            writer.write_row(who.iter().chain(row.iter()))?;
        }
    }
    writer.finish()?;
    Ok(())
}
