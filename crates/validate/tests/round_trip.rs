//! Export → import changes nothing: a row's canonical cells, written back the
//! way an export writes them (formula escaping included), validate to the
//! same cells.

mod common;

use proptest::prelude::*;
use userimport_parse::Record;
use userimport_schema::{Profile, escape_formula};
use userimport_validate::{Cell, Row, ValidateOptions, Validator};

/// A cell as an export writes it.
fn export(profile: &Profile, column: usize, cell: &Cell) -> String {
    let text = match cell {
        Cell::Absent | Cell::Blank => String::new(),
        Cell::Value(v) => v.clone(),
        Cell::Secret(s) => return s.expose().to_string(), // never exported; typed as is
        Cell::Clear => profile.columns[column]
            .clear_keyword
            .clone()
            .unwrap_or_default(),
        Cell::List(edit) => edit
            .add
            .iter()
            .cloned()
            .chain(edit.remove.iter().map(|r| format!("-{r}")))
            .collect::<Vec<_>>()
            .join(","),
    };
    escape_formula(&text).into_owned()
}

fn again(validator: &Validator, profile: &Profile, header: &Record, rows: &[Row]) {
    let fields = common::fields(profile, header);
    let records: Vec<Record> = rows
        .iter()
        .map(|row| {
            let mut out = vec![String::new(); header.len()];
            for (column, field) in fields.iter().enumerate() {
                if let Some(f) = field {
                    out[*f] = export(profile, column, row.cell(column));
                }
            }
            Record::from_fields(row.line, out)
        })
        .collect();
    let (second, issues) = validator.validate(&records, rows[0].row);
    assert!(issues.is_empty(), "{issues:?}");
    for (a, b) in rows.iter().zip(&second) {
        assert_eq!(a.cells, b.cells, "line {}", a.line);
    }
}

#[test]
fn generated_rows_round_trip() {
    let profile = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &profile,
        common::fields(&profile, &header),
        &header,
        ValidateOptions::default(),
    );
    let (rows, issues) = validator.validate(&common::clean_records(3_000, 11), 1);
    assert!(issues.is_empty(), "{issues:?}");
    again(&validator, &profile, &header, &rows);
}

proptest! {
    #[test]
    fn formula_like_text_round_trips(
        name in "[=+\\-@'\\t ]{0,2}[a-zA-Z0-9 '=+@]{0,12}",
        department in "[=+\\-@＝＋－＠'][\\PC]{0,8}",
    ) {
        let profile = Profile::standard();
        let header = Record::from_fields(1, ["Login ID", "Name", "Department"]);
        let validator = Validator::new(
            &profile,
            common::fields(&profile, &header),
            &header,
            ValidateOptions::default(),
        );
        let record = Record::from_fields(2, ["ann".to_string(), name, department]);
        let (rows, issues) = validator.validate(&[record], 1);
        prop_assume!(issues.is_empty());
        again(&validator, &profile, &header, &rows);
    }
}
