//! In-file uniqueness of keys, across distant rows and chunk boundaries.

mod common;

use userimport_parse::Record;
use userimport_schema::Profile;
use userimport_validate::{Cell, Row, Uniqueness, ValidateOptions, Validator, codes};

fn row(profile: &Profile, line: u64, cells: &[(&str, &str)]) -> Row {
    let mut all = vec![Cell::Absent; profile.columns.len()];
    for (key, value) in cells {
        all[profile.column_index(key).expect("column")] = Cell::Value(value.to_string());
    }
    Row {
        line,
        row: line - 1,
        cells: all,
        valid: true,
    }
}

#[test]
fn duplicates_across_distant_rows_and_chunks_flag_every_row() {
    let p = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let mut records = common::clean_records(30_000, 3);
    // Row 1's login again on row 29,000 (other case, padded), row 5's e-mail
    // on rows 12,000 and 25,000, and a delete row re-using row 7's login.
    let mut rng = common::Rng::new(9);
    let mut set = |records: &mut Vec<Record>, row: usize, column: usize, value: String| {
        let mut fields = common::clean_fields(row as u64, &mut rng);
        fields[column] = value;
        records[row - 1] = Record::from_fields(row as u64 + 1, fields);
    };
    set(
        &mut records,
        29_000,
        common::col::LOGIN,
        " USER0000001 ".into(),
    );
    set(
        &mut records,
        12_000,
        common::col::EMAIL,
        "User5@Example.com".into(),
    );
    set(
        &mut records,
        25_000,
        common::col::EMAIL,
        "user5@example.com".into(),
    );
    let mut fields = common::clean_fields(20_000, &mut rng);
    fields[common::col::LOGIN] = "user0000007".into();
    fields[common::col::COUNTRY] = "Atlantis".into(); // ignored on a delete row
    fields[common::col::DELETE] = "1".into();
    records[20_000 - 1] = Record::from_fields(20_001, fields);

    let mut unique = Uniqueness::new(&p);
    let mut row_issues = Vec::new();
    let mut first = 1;
    for chunk in records.chunks(7_000) {
        let (rows, issues) = validator.validate(chunk, first);
        row_issues.extend(issues);
        unique.observe_all(&rows);
        first += chunk.len() as u64;
    }
    assert!(row_issues.is_empty(), "{row_issues:?}");
    let issues = unique.finish();
    let found: Vec<(u64, &str)> = issues
        .iter()
        .map(|i| (i.line, i.column.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        found,
        [
            (2, "login_id"),
            (6, "email"),
            (8, "login_id"),
            (12_001, "email"),
            (20_001, "login_id"),
            (25_001, "email"),
            (29_001, "login_id"),
        ]
    );
    assert!(
        issues
            .iter()
            .all(|i| i.code == codes::KEY_DUPLICATE && i.is_error())
    );
    assert!(issues.iter().all(|i| i.row + 1 == i.line));
    assert!(
        issues[0].message.contains("line 29001"),
        "{}",
        issues[0].message
    );
    assert!(
        issues[1].message.contains("lines 12001, 25001"),
        "{}",
        issues[1].message
    );
    assert!(
        issues[3].message.contains("lines 6, 25001"),
        "{}",
        issues[3].message
    );
}

#[test]
fn keys_compare_per_column_ignoring_case_and_spaces() {
    let p = Profile::standard();
    let mut unique = Uniqueness::new(&p);
    // The same text as login of one row and e-mail of another is no duplicate.
    unique.observe(&row(
        &p,
        2,
        &[
            ("login_id", "ann@example.com"),
            ("email", "ann@example.com"),
        ],
    ));
    unique.observe(&row(
        &p,
        3,
        &[("login_id", "bob"), ("email", "bob@example.com")],
    ));
    unique.observe(&row(&p, 4, &[("member_id", "17"), ("login_id", "Bob ")]));
    unique.observe(&row(&p, 5, &[("member_id", "17")]));
    unique.observe(&row(&p, 6, &[("login_id", "Ünal")]));
    unique.observe(&row(&p, 7, &[("login_id", "ünal")]));
    let found: Vec<(u64, Option<String>)> = unique
        .finish()
        .into_iter()
        .map(|i| (i.line, i.column))
        .collect();
    let c = |s: &str| Some(s.to_string());
    assert_eq!(
        found,
        [
            (3, c("login_id")),
            (4, c("login_id")),
            (4, c("member_id")),
            (5, c("member_id")),
            (6, c("login_id")),
            (7, c("login_id"))
        ]
    );
}

#[test]
fn many_copies_name_a_bounded_number_of_lines() {
    let p = Profile::team();
    let mut unique = Uniqueness::new(&p);
    for line in 2..1_002 {
        unique.observe(&row(&p, line, &[("primary_email", "same@example.com")]));
    }
    let issues = unique.finish();
    assert_eq!(issues.len(), 1_000);
    assert!(
        issues[0].message.contains("and 989 more"),
        "{}",
        issues[0].message
    );
    assert!(issues[0].message.len() < 400);
}

#[test]
fn huge_line_numbers_still_report_exactly() {
    let p = Profile::team();
    let mut unique = Uniqueness::new(&p);
    let far = 5_000_000_000_u64;
    unique.observe(&row(&p, 2, &[("primary_email", "a@example.com")]));
    unique.observe(&Row {
        line: far,
        row: far - 1,
        ..row(&p, 3, &[("primary_email", "A@example.com")])
    });
    let issues = unique.finish();
    assert_eq!(
        issues.iter().map(|i| (i.line, i.row)).collect::<Vec<_>>(),
        [(2, 1), (far, far - 1)]
    );
    assert!(issues[0].message.contains(&far.to_string()));
}

#[test]
fn memory_stays_under_64_bytes_per_row() {
    let p = Profile::standard();
    let mut unique = Uniqueness::new(&p);
    let n = 200_000_u64;
    for i in 0..n {
        let login = format!("user{i}");
        let email = format!("user{i}@example.com");
        let member = (i + 1).to_string();
        unique.observe(&row(
            &p,
            i + 2,
            &[
                ("member_id", &member),
                ("login_id", &login),
                ("email", &email),
            ],
        ));
    }
    let per_row = unique.memory_bytes() as f64 / n as f64;
    assert!(per_row <= 64.0, "{per_row} bytes per row");
    assert_eq!(unique.len(), 3 * n as usize);
    // Duplicates of keys stored many blocks earlier are still found.
    unique.observe(&row(&p, n + 2, &[("email", "USER0@example.com")]));
    unique.observe(&row(&p, n + 3, &[("member_id", "100000")]));
    let found: Vec<u64> = unique.finish().iter().map(|i| i.line).collect();
    assert_eq!(found, [2, 100_001, n + 2, n + 3]);
}

#[test]
fn one_pass_gives_the_rows_issues_and_fingerprints_of_two() {
    let p = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let mut records = common::clean_records(1_500, 4);
    // Errors and a repeated login in a few rows, across task boundaries.
    let login = p.column_index("login_id").expect("login column");
    let email = p.column_index("email").expect("email column");
    for (at, column, value) in [
        (3, email, "not an address"),
        (255, login, "Boss"),
        (256, login, "boss"),
        (1_024, email, "a@b"),
    ] {
        let mut fields: Vec<String> = records[at].iter().map(str::to_string).collect();
        let field = common::fields(&p, &header)[column].expect("mapped");
        fields[field] = value.to_string();
        records[at] = Record::from_fields(records[at].line(), fields);
    }
    let unique = Uniqueness::new(&p);
    let prints = unique.fingerprinter();

    let (mut rows, mut issues, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    validator.validate_into(&records, 1, &mut rows, &mut issues);
    prints.fingerprint_into(&rows, &mut keys);

    let (mut one_rows, mut one_issues, mut one_keys) = (Vec::new(), Vec::new(), Vec::new());
    validator.validate_and_fingerprint_into(
        &records,
        1,
        (&mut one_rows, &mut one_issues),
        &prints,
        &mut one_keys,
    );
    assert_eq!(one_rows, rows);
    assert_eq!(one_issues, issues);
    assert_eq!(one_keys, keys);
    assert!(
        issues.len() >= 2,
        "the changed cells are errors: {issues:?}"
    );
    assert!(
        keys.len() >= 2 * records.len(),
        "a login and an e-mail a row at least"
    );
}
