//! Cross-field rules: due date and date range.

mod common;

use userimport_parse::Record;
use userimport_schema::Profile;
use userimport_validate::{Cell, Issue, ValidateOptions, Validator, codes};

fn due(kind: &str, value: &str) -> (Cell, Vec<Issue>) {
    let p = Profile::standard();
    let header = Record::from_fields(1, ["Login ID", "Due date type", "Valid days/due date"]);
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let (rows, issues) = validator.validate(&[Record::from_fields(2, ["ann", kind, value])], 1);
    let index = p.column_index("valid_days_or_due_date").expect("column");
    (rows[0].cells[index].clone(), issues)
}

#[track_caller]
fn due_ok(kind: &str, value: &str) -> Cell {
    let (cell, issues) = due(kind, value);
    assert!(issues.is_empty(), "{kind}/{value}: {issues:?}");
    cell
}

#[track_caller]
fn due_bad(kind: &str, value: &str, code: &str) -> Issue {
    let (_, issues) = due(kind, value);
    assert_eq!(issues.len(), 1, "{kind}/{value}: {issues:?}");
    let issue = issues.into_iter().next().expect("issue");
    assert_eq!(issue.code, code, "{kind}/{value}: {}", issue.message);
    assert_eq!(issue.column.as_deref(), Some("valid_days_or_due_date"));
    issue
}

#[test]
fn unlimited_takes_no_value() {
    assert_eq!(due_ok("Unlimited", ""), Cell::Blank);
    due_bad("Unlimited", "30", codes::DUE_DATE_VALUE_NOT_ALLOWED);
}

#[test]
fn from_types_need_a_day_count() {
    assert_eq!(due_ok("FromFirstLogin", "30"), Cell::Value("30".into()));
    assert_eq!(
        due_ok("From the creation date", "030"),
        Cell::Value("30".into())
    );
    due_bad("FromFirstLogin", "", codes::DUE_DATE_VALUE_MISSING);
    due_bad("FromCreation", "abc", codes::DUE_DATE_DAYS_INVALID);
    due_bad("FromCreation", "0", codes::DUE_DATE_DAYS_INVALID);
    due_bad("FromCreation", "2026/12/31", codes::DUE_DATE_DAYS_INVALID);
}

#[test]
fn expiration_date_needs_a_date_canonicalised() {
    assert_eq!(
        due_ok("expiration date", "2026/12/31"),
        Cell::Value("2026/12/31".into())
    );
    assert_eq!(
        due_ok("ExpirationDate", "2026-12-31"),
        Cell::Value("2026/12/31".into())
    );
    // As Excel re-saves dates, and as Japanese Excel writes them.
    assert_eq!(
        due_ok("ExpirationDate", "2027/3/31"),
        Cell::Value("2027/03/31".into())
    );
    assert_eq!(
        due_ok("ExpirationDate", "2027年3月31日"),
        Cell::Value("2027/03/31".into())
    );
    due_bad("effective date", "", codes::DUE_DATE_VALUE_MISSING);
    let issue = due_bad("ExpirationDate", "2026/2/30", codes::DUE_DATE_DATE_INVALID);
    assert!(issue.message.contains("YYYY/MM/DD"), "{}", issue.message);
    due_bad("ExpirationDate", "30", codes::DUE_DATE_DATE_INVALID);
}

#[test]
fn a_value_without_a_type_is_an_error() {
    due_bad("", "30", codes::DUE_DATE_TYPE_MISSING);
    assert_eq!(due_ok("", ""), Cell::Blank);
    // A bad type is reported once, on the type column.
    let (_, issues) = due("Forever", "30");
    assert_eq!(
        issues.iter().map(|i| i.code.as_str()).collect::<Vec<_>>(),
        [codes::ENUM_UNKNOWN]
    );
}

#[test]
fn the_type_alone_is_fine_when_the_value_column_is_absent() {
    let p = Profile::standard();
    let header = Record::from_fields(1, ["Login ID", "Due date type"]);
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let (_, issues) = validator.validate(&[Record::from_fields(2, ["ann", "FromCreation"])], 1);
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn end_dates_are_not_before_start_dates() {
    let p = Profile::access();
    let header = Record::from_fields(1, ["User ID", "Start date", "End date"]);
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let records = [
        Record::from_fields(2, ["e1", "2026-05-01", "2026-04-30"]),
        Record::from_fields(3, ["e2", "2026/05/01", "2026-05-01"]),
        Record::from_fields(4, ["e3", "2026-05-01", ""]),
        Record::from_fields(5, ["e4", "2026-05-01", "2027/01/01"]),
    ];
    let (rows, issues) = validator.validate(&records, 1);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(
        (issues[0].line, issues[0].code.as_str()),
        (2, codes::DATE_RANGE_REVERSED)
    );
    assert_eq!(issues[0].column.as_deref(), Some("end_date"));
    assert!(
        issues[0].message.contains("before"),
        "{}",
        issues[0].message
    );
    assert_eq!(rows.iter().filter(|r| r.valid).count(), 3);
}
