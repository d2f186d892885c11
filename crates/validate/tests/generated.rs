//! A generated 20,000-row file with known defects at known lines: every
//! defect line is found with its code, and no clean line is flagged.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Rng, col};
use userimport_parse::Record;
use userimport_schema::Profile;
use userimport_validate::{Uniqueness, ValidateOptions, Validator, codes};

/// A defect: how to break a row's fields, and the code it must raise.
type Defect = (fn(&mut Vec<String>), &'static str);

const DEFECTS: &[Defect] = &[
    (
        |f| f[col::EMAIL] = "someone@example".into(),
        codes::EMAIL_INVALID,
    ),
    (
        |f| f[col::EMAIL] = "Some One <one@example.com>".into(),
        codes::EMAIL_INVALID,
    ),
    (|f| f[col::COUNTRY] = "Japn".into(), codes::COUNTRY_UNKNOWN),
    (
        |f| f[col::LANGUAGE] = "xx_XX".into(),
        codes::LANGUAGE_UNKNOWN,
    ),
    (
        |f| f[col::TIMEZONE] = "Asia/Tokio".into(),
        codes::TIMEZONE_UNKNOWN,
    ),
    (
        |f| f[col::DATE_FORMAT] = "YY/M".into(),
        codes::DATE_FORMAT_UNKNOWN,
    ),
    (
        |f| f[col::PASSWORD] = "short".into(),
        codes::PASSWORD_TOO_SHORT,
    ),
    (
        |f| f[col::PASSWORD] = "p".repeat(129),
        codes::PASSWORD_TOO_LONG,
    ),
    (|f| f[col::NOTIFY] = "maybe".into(), codes::ONOFF_INVALID),
    (|f| f[col::STATUS] = "Gone".into(), codes::ENUM_UNKNOWN),
    (|f| f[col::DELETE] = "2".into(), codes::DELETE_FLAG_INVALID),
    (|f| f[col::NAME] = "n".repeat(256), codes::FIELD_TOO_LONG),
    (
        |f| f[col::MEMBER_ID] = "0".into(),
        codes::INTEGER_OUT_OF_RANGE,
    ),
    (|f| f[col::MEMBER_ID] = "12a".into(), codes::INTEGER_INVALID),
    (
        |f| f[col::GROUPS] = "Sales,-Sales".into(),
        codes::LIST_CONFLICT,
    ),
    (
        |f| f[col::GROUPS] = "none,Sales".into(),
        codes::LIST_INVALID,
    ),
    (
        |f| {
            f[col::DUE_TYPE] = "Unlimited".into();
            f[col::DUE_VALUE] = "30".into();
        },
        codes::DUE_DATE_VALUE_NOT_ALLOWED,
    ),
    (
        |f| {
            f[col::DUE_TYPE] = "FromCreation".into();
            f[col::DUE_VALUE] = String::new();
        },
        codes::DUE_DATE_VALUE_MISSING,
    ),
    (
        |f| {
            f[col::DUE_TYPE] = "FromFirstLogin".into();
            f[col::DUE_VALUE] = "ten".into();
        },
        codes::DUE_DATE_DAYS_INVALID,
    ),
    (
        |f| {
            f[col::DUE_TYPE] = "expiration date".into();
            f[col::DUE_VALUE] = "2027/2/30".into();
        },
        codes::DUE_DATE_DATE_INVALID,
    ),
    (
        |f| {
            f[col::DUE_TYPE] = String::new();
            f[col::DUE_VALUE] = "30".into();
        },
        codes::DUE_DATE_TYPE_MISSING,
    ),
    (
        |f| {
            f.pop();
        },
        codes::ROW_RAGGED,
    ),
    (|f| f.push("extra".into()), codes::ROW_RAGGED),
];

#[test]
fn every_defect_line_is_found_and_no_clean_line_is_flagged() {
    const ROWS: u64 = 20_000;
    let profile = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &profile,
        common::fields(&profile, &header),
        &header,
        ValidateOptions::default(),
    );
    let mut rng = Rng::new(0x5EED);
    let mut fields: Vec<Vec<String>> = (1..=ROWS)
        .map(|i| common::clean_fields(i, &mut rng))
        .collect();

    // expected[line] = codes that line must raise
    let mut expected: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut taken = BTreeSet::new();
    let mut free_row = |rng: &mut Rng| loop {
        let row = 1 + rng.below(ROWS);
        if taken.insert(row) {
            return row;
        }
    };
    for round in 0..20 {
        for (defect, code) in DEFECTS {
            let row = free_row(&mut rng);
            defect(&mut fields[row as usize - 1]);
            expected.entry(row + 1).or_default().insert(*code);
        }
        // A duplicate login far away (case and spaces differ) flags both rows.
        let (a, b) = (free_row(&mut rng), free_row(&mut rng));
        let login = fields[a as usize - 1][col::LOGIN].to_uppercase();
        fields[b as usize - 1][col::LOGIN] = format!(" {login} ");
        expected
            .entry(a + 1)
            .or_default()
            .insert(codes::KEY_DUPLICATE);
        expected
            .entry(b + 1)
            .or_default()
            .insert(codes::KEY_DUPLICATE);
        // A delete row with junk outside its keys is clean.
        let clean = free_row(&mut rng);
        let f = &mut fields[clean as usize - 1];
        f[col::DELETE] = "1".into();
        f[col::COUNTRY] = "Atlantis".into();
        f[col::PASSWORD] = "x".into();
        f[col::DUE_TYPE] = format!("junk {round}");
    }
    let records: Vec<Record> = fields
        .into_iter()
        .enumerate()
        .map(|(i, f)| Record::from_fields(i as u64 + 2, f))
        .collect();

    let mut found: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    let mut unique = Uniqueness::new(&profile);
    let mut first = 1;
    let mut valid_lines = BTreeSet::new();
    for chunk in records.chunks(4_096) {
        let (rows, issues) = validator.validate(chunk, first);
        for issue in issues {
            assert_eq!(issue.row + 1, issue.line);
            found.entry(issue.line).or_default().insert(issue.code);
        }
        valid_lines.extend(rows.iter().filter(|r| r.valid).map(|r| r.line));
        unique.observe_all(&rows);
        first += chunk.len() as u64;
    }
    for issue in unique.finish() {
        found.entry(issue.line).or_default().insert(issue.code);
    }

    assert_eq!(expected.len(), 20 * (DEFECTS.len() + 2));
    for (line, codes) in &expected {
        let got = found.get(line).cloned().unwrap_or_default();
        for code in codes {
            assert!(
                got.contains(*code),
                "line {line}: expected {code}, found {got:?}"
            );
        }
    }
    let flagged_clean: Vec<_> = found
        .keys()
        .filter(|line| !expected.contains_key(line))
        .collect();
    assert!(
        flagged_clean.is_empty(),
        "clean lines flagged: {flagged_clean:?}"
    );
    // Rows with a per-row error are invalid; all others valid.
    for line in 2..ROWS + 2 {
        let per_row_error = expected
            .get(&line)
            .is_some_and(|c| c.iter().any(|code| *code != codes::KEY_DUPLICATE));
        assert_eq!(valid_lines.contains(&line), !per_row_error, "line {line}");
    }
}
