//! The schema's own templates and sample rows, through the validator: the
//! template passes clean, and exactly the defective sample rows are flagged,
//! on the spoiled column.

use userimport_parse::Record;
use userimport_schema::{Profile, SampleRows, Template};
use userimport_validate::{Uniqueness, ValidateOptions, Validator};

fn validator(profile: &Profile, header: &Record) -> Validator {
    let fields = profile
        .columns
        .iter()
        .map(|c| header.iter().position(|h| c.matches_header(h)))
        .collect();
    Validator::new(profile, fields, header, ValidateOptions::default())
}

#[test]
fn every_template_passes_clean() {
    for name in Profile::builtin_names() {
        let profile = Profile::builtin(name).expect("built-in");
        let template = Template::for_profile(&profile);
        let header = Record::from_fields(1, &template.header);
        let validator = validator(&profile, &header);
        assert!(
            validator.header_issues().is_empty(),
            "{name}: {:?}",
            validator.header_issues()
        );
        let records: Vec<Record> = template
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| Record::from_fields(i as u64 + 2, row))
            .collect();
        let (rows, issues) = validator.validate(&records, 1);
        assert!(issues.is_empty(), "{name}: {issues:?}");
        assert!(rows.iter().all(|r| r.valid));
    }
}

#[test]
fn exactly_the_defective_sample_rows_are_flagged() {
    for name in Profile::builtin_names() {
        let profile = Profile::builtin(name).expect("built-in");
        let mut sample = SampleRows::new(&profile, 7).defect_rate(0.05);
        let header = Record::from_fields(1, sample.header());
        let validator = validator(&profile, &header);
        let mut expected = Vec::new();
        let records: Vec<Record> = (0..5_000u64)
            .map(|i| {
                let (cells, defect) = sample.next_row();
                if let Some(defect) = defect {
                    expected.push((i + 2, defect.column));
                }
                Record::from_fields(i + 2, cells)
            })
            .collect();
        assert!(
            expected.len() > 100,
            "{name}: only {} defects",
            expected.len()
        );
        let (rows, issues) = validator.validate(&records, 1);
        let mut unique = Uniqueness::new(&profile);
        unique.observe_all(&rows);
        assert!(unique.finish().is_empty(), "{name}: sample keys are unique");
        let found: Vec<(u64, String)> = issues
            .iter()
            .map(|i| (i.line, i.column.clone().unwrap_or_default()))
            .collect();
        assert_eq!(found, expected, "{name}");
    }
}
