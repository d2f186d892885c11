//! Property: any record, against any built-in profile and options, validates
//! without panicking, with known codes, and never echoes a secret.

use proptest::prelude::*;
use userimport_parse::Record;
use userimport_schema::Profile;
use userimport_validate::{CardIdType, Uniqueness, ValidateOptions, Validator, codes};

/// Cells that hit the interesting paths: keywords, separators, formula
/// prefixes, multi-byte characters, near-valid values, arbitrary text.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("none".to_string()),
        Just("delete".to_string()),
        Just("1".to_string()),
        Just("'=1".to_string()),
        Just("$2b$1é$".to_string()),
        Just("$argon2id$v=19$m=1,t=1,p=1$é$é".to_string()),
        Just("slack:é, -x, ,".to_string()),
        Just("2026/02/29".to_string()),
        Just("a@b.c".to_string()),
        "[ -~]{0,40}",
        "[\\PC]{0,20}",
        "[0-9a-fA-Fx:,\\-@./ ]{0,30}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn validation_never_panics(
        profile in 0..3usize,
        hex in any::<bool>(),
        optional in proptest::option::of(any::<bool>()),
        records in proptest::collection::vec(proptest::collection::vec(cell(), 0..30), 1..8),
    ) {
        let profile = Profile::builtin(Profile::builtin_names()[profile]).expect("built-in");
        let header = Record::from_fields(1, profile.columns.iter().map(|c| c.label.as_str()));
        let fields: Vec<Option<usize>> = (0..profile.columns.len()).map(Some).collect();
        let options = ValidateOptions {
            card_id_type: if hex { CardIdType::Hex } else { CardIdType::Decimal },
            email_optional_override: optional,
        };
        let validator = Validator::new(&profile, fields, &header, options);
        let records: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, f)| Record::from_fields(i as u64 + 2, f))
            .collect();
        let (rows, issues) = validator.validate(&records, 1);
        prop_assert_eq!(rows.len(), records.len());
        let mut unique = Uniqueness::new(&profile);
        unique.observe_all(&rows);
        for issue in issues.iter().chain(&unique.finish()) {
            prop_assert!(codes::ALL.contains(&issue.code.as_str()), "{}", issue.code);
            let secret = issue
                .column
                .as_deref()
                .and_then(|key| profile.column(key))
                .is_some_and(|c| c.kind.is_secret());
            if secret {
                prop_assert!(issue.value.is_none());
            }
        }
    }
}
