//! Each rule with good and bad values, through the public API.

mod common;

use userimport_parse::Record;
use userimport_schema::{Column, FieldKind, Profile};
use userimport_validate::{
    CardIdType, Cell, Issue, ListEdit, Severity, ValidateOptions, Validator, codes,
};

/// Validates one cell of column `key` (the file has only that column).
fn run(profile: &Profile, key: &str, value: &str, options: ValidateOptions) -> (Cell, Vec<Issue>) {
    let column = profile.column(key).expect("column");
    let header = Record::from_fields(1, [column.label.as_str()]);
    let validator = Validator::new(profile, common::fields(profile, &header), &header, options);
    let (rows, issues) = validator.validate(&[Record::from_fields(2, [value])], 1);
    let index = profile.column_index(key).expect("index");
    assert_eq!(rows[0].valid, !issues.iter().any(Issue::is_error));
    (rows[0].cells[index].clone(), issues)
}

#[track_caller]
fn good_with(profile: &Profile, key: &str, value: &str, options: ValidateOptions) -> Cell {
    let (cell, issues) = run(profile, key, value, options);
    assert!(issues.is_empty(), "{key}={value:?}: {issues:?}");
    cell
}

#[track_caller]
fn good(profile: &Profile, key: &str, value: &str) -> Cell {
    good_with(profile, key, value, ValidateOptions::default())
}

#[track_caller]
fn bad_with(
    profile: &Profile,
    key: &str,
    value: &str,
    code: &str,
    options: ValidateOptions,
) -> Issue {
    let (cell, issues) = run(profile, key, value, options);
    assert_eq!(issues.len(), 1, "{key}={value:?}: {issues:?}");
    let issue = issues.into_iter().next().expect("one issue");
    assert_eq!(issue.code, code, "{key}={value:?}: {}", issue.message);
    assert_eq!(issue.severity, Severity::Error);
    assert_eq!((issue.line, issue.row), (2, 1));
    assert_eq!(issue.column.as_deref(), Some(key));
    assert_eq!(cell, Cell::Absent, "a cell with an error is absent");
    assert!(codes::ALL.contains(&issue.code.as_str()));
    issue
}

#[track_caller]
fn bad(profile: &Profile, key: &str, value: &str, code: &str) -> Issue {
    bad_with(profile, key, value, code, ValidateOptions::default())
}

fn value(text: &str) -> Cell {
    Cell::Value(text.to_string())
}

#[test]
fn text_is_trimmed_unescaped_and_counted_in_characters() {
    let p = Profile::standard();
    assert_eq!(
        good(&p, "name", "  Hanako Tanaka  "),
        value("Hanako Tanaka")
    );
    assert_eq!(good(&p, "name", "'=SUM(A1)"), value("=SUM(A1)"));
    assert_eq!(good(&p, "name", "'-5"), value("-5"));
    assert_eq!(good(&p, "name", "O'Brien"), value("O'Brien"));
    assert_eq!(good(&p, "name", "   "), Cell::Blank);
    assert_eq!(
        good(&p, "name", &"日".repeat(255)),
        value(&"日".repeat(255))
    );
    let issue = bad(&p, "name", &"日".repeat(256), codes::FIELD_TOO_LONG);
    assert!(
        issue.message.contains("256") && issue.message.contains("255"),
        "{}",
        issue.message
    );

    let mut custom = Profile::team();
    custom.columns.push(Column::new(
        "code",
        "Code",
        FieldKind::Text {
            min_len: 3,
            max_len: 5,
        },
    ));
    assert_eq!(good(&custom, "code", "abc"), value("abc"));
    bad(&custom, "code", "ab", codes::FIELD_TOO_SHORT);
    bad(&custom, "code", "abcdef", codes::FIELD_TOO_LONG);
}

#[test]
fn email_is_strict_and_kept_as_typed() {
    let p = Profile::standard();
    assert_eq!(
        good(&p, "email", " Hanako.Tanaka@Example.COM "),
        value("Hanako.Tanaka@Example.COM")
    );
    assert_eq!(
        good(&p, "email", "a+tag@mail.example.co.jp"),
        value("a+tag@mail.example.co.jp")
    );
    let cases = [
        ("hanako@localhost", "top-level part such as .com"),
        ("Hanako <hanako@example.com>", "without a name"),
        ("hanako@[127.0.0.1]", "not an address in brackets"),
        ("hanako@10.0.0.1", "not an IP address"),
        ("hana ko@example.com", "not allowed"),
        ("hanako@@example.com", "not allowed"),
        ("hanako@example..com", "empty part"),
        ("hanako.example.com", "no @"),
        ("@example.com", "nothing before the @"),
        ("hanako@", "nothing after the @"),
    ];
    for (input, why) in cases {
        let issue = bad(&p, "email", input, codes::EMAIL_INVALID);
        assert!(
            issue.message.starts_with("not a valid e-mail address: "),
            "{}",
            issue.message
        );
        assert!(issue.message.contains(why), "{input}: {}", issue.message);
        assert_eq!(issue.value.as_deref(), Some(input));
    }
}

#[test]
fn delete_clears_an_optional_email_only() {
    let standard = Profile::standard(); // e-mail optional
    assert_eq!(good(&standard, "email", "delete"), Cell::Clear);
    assert_eq!(good(&standard, "email", " DELETE "), Cell::Clear);
    let required = ValidateOptions {
        email_optional_override: Some(false),
        ..ValidateOptions::default()
    };
    let issue = bad_with(
        &standard,
        "email",
        "delete",
        codes::FIELD_CLEAR_REQUIRED,
        required,
    );
    assert!(
        issue.message.contains("required in this profile"),
        "{}",
        issue.message
    );

    let mut team = Profile::team(); // primary e-mail required
    team.columns[2].clear_keyword = Some("delete".into());
    bad(
        &team,
        "primary_email",
        "delete",
        codes::FIELD_CLEAR_REQUIRED,
    );
    let optional = ValidateOptions {
        email_optional_override: Some(true),
        ..ValidateOptions::default()
    };
    assert_eq!(
        good_with(&team, "primary_email", "delete", optional),
        Cell::Clear
    );
}

#[test]
fn passwords_follow_the_policy_and_never_leak() {
    let p = Profile::standard();
    let Cell::Secret(secret) = good(&p, "password", "  pass word  ") else {
        panic!("not a secret");
    };
    assert_eq!(secret.expose(), "  pass word  ", "taken exactly as typed");
    assert!(matches!(good(&p, "password", "12345678"), Cell::Secret(_)));
    assert!(matches!(
        good(&p, "password", &"x".repeat(128)),
        Cell::Secret(_)
    ));
    assert_eq!(good(&p, "password", "  "), Cell::Blank);
    for (input, code) in [
        ("hunter2", codes::PASSWORD_TOO_SHORT),
        (&*"s3cr3t-".repeat(19), codes::PASSWORD_TOO_LONG),
    ] {
        let issue = bad(&p, "password", input, code);
        assert_eq!(issue.value, None);
        assert!(!issue.message.contains(input));
        let json = serde_json::to_string(&issue).expect("json");
        assert!(
            !json.contains("hunter2") && !json.contains("s3cr3t"),
            "{json}"
        );
    }
    let issue = bad(&p, "password", &"x".repeat(129), codes::PASSWORD_TOO_LONG);
    assert!(
        issue.message.contains("never shortened"),
        "{}",
        issue.message
    );
}

#[test]
fn password_hashes_must_be_argon2id_or_bcrypt() {
    let p = Profile::standard();
    let argon =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    for hash in [
        argon,
        bcrypt,
        "$2y$10$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ] {
        let Cell::Secret(secret) = good(&p, "password_hash", hash) else {
            panic!("{hash} not a secret");
        };
        assert_eq!(secret.expose(), hash);
    }
    // A multi-byte character where bcrypt's cost goes must not panic.
    let odd = format!("$2b$1é{}", "a".repeat(53));
    bad(&p, "password_hash", &odd, codes::PASSWORD_HASH_INVALID);
    for hash in [
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
        "$argon2id$v=19$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
        "$2b$03$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$2b$12$short",
        "plaintext-password",
    ] {
        let issue = bad(&p, "password_hash", hash, codes::PASSWORD_HASH_INVALID);
        assert_eq!(issue.value, None);
        assert!(!issue.message.contains(hash));
    }
}

#[test]
fn pre_hashed_passwords_below_the_floor_are_refused() {
    let mut p = Profile::standard();
    let salt_hash = "c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
    for (params, shown) in [
        ("m=19455,t=2,p=1", "m=19455, t=2, p=1"),
        ("m=65536,t=1,p=1", "m=65536, t=1, p=1"),
        ("m=8,t=1,p=1", "m=8, t=1, p=1"),
    ] {
        let hash = format!("$argon2id$v=19${params}${salt_hash}");
        let issue = bad(&p, "password_hash", &hash, codes::PASSWORD_HASH_WEAK);
        assert!(issue.message.contains(shown), "{}", issue.message);
        assert!(!issue.message.contains(salt_hash) && issue.value.is_none());
    }
    let bcrypt9 = "$2b$09$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let issue = bad(&p, "password_hash", bcrypt9, codes::PASSWORD_HASH_WEAK);
    assert!(
        issue.message.contains("bcrypt cost 9 is below 10"),
        "{}",
        issue.message
    );
    // Exactly the default floor passes; a profile may raise it.
    let floor = format!("$argon2id$v=19$m=19456,t=2,p=1${salt_hash}");
    assert!(matches!(good(&p, "password_hash", &floor), Cell::Secret(_)));
    p.hash_floor.bcrypt_cost = 12;
    p.hash_floor.argon2_memory_kib = 65_536;
    bad(&p, "password_hash", &floor, codes::PASSWORD_HASH_WEAK);
    let bcrypt11 = "$2b$11$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    bad(&p, "password_hash", bcrypt11, codes::PASSWORD_HASH_WEAK);
}

#[test]
fn e_mails_with_a_quoted_local_part_are_refused() {
    let p = Profile::standard();
    for email in [
        "\"victim@evil.example,\"@example.com",
        "\"john doe\"@example.com",
        "\"a\"@example.com",
    ] {
        let issue = bad(&p, "email", email, codes::EMAIL_INVALID);
        assert!(
            issue.message.contains("quoted"),
            "{email}: {}",
            issue.message
        );
    }
    assert_eq!(
        good(&p, "email", "o'brien@example.com"),
        value("o'brien@example.com")
    );
}

#[test]
fn enums_resolve_aliases_to_canonical_values() {
    let p = Profile::standard();
    assert_eq!(
        good(&p, "status", "temporary suspended"),
        value("Suspended")
    );
    assert_eq!(good(&p, "status", "VALID"), value("Valid"));
    assert_eq!(
        good(&p, "due_date_type", "From the first login date"),
        value("FromFirstLogin")
    );
    let issue = bad(&p, "status", "Gone", codes::ENUM_UNKNOWN);
    assert!(
        issue.message.contains("Valid, Invalid, Suspended"),
        "{}",
        issue.message
    );
}

#[test]
fn on_off_and_delete_flag() {
    let p = Profile::standard();
    assert_eq!(good(&p, "notify_announcements", "ON"), value("On"));
    assert_eq!(good(&p, "notify_announcements", " off "), value("Off"));
    assert_eq!(good(&p, "notify_announcements", ""), Cell::Blank);
    bad(&p, "notify_announcements", "yes", codes::ONOFF_INVALID);

    assert_eq!(good(&p, "delete", "1"), value("1"));
    assert_eq!(good(&p, "delete", "0"), Cell::Blank);
    assert_eq!(good(&p, "delete", ""), Cell::Blank);
    bad(&p, "delete", "2", codes::DELETE_FLAG_INVALID);
    bad(&p, "delete", "yes", codes::DELETE_FLAG_INVALID);
}

#[test]
fn code_tables_resolve_or_suggest() {
    let p = Profile::standard();
    assert_eq!(good(&p, "country", "Djibouti."), value("Djibouti"));
    assert_eq!(good(&p, "country", "jp"), value("Japan"));
    assert_eq!(good(&p, "language", "TH_TH"), value("th_TH"));
    assert_eq!(good(&p, "timezone", "asia/tokyo"), value("Asia/Tokyo"));
    assert_eq!(good(&p, "date_format", "YYYYY-MM-DD"), value("YYYY-MM-DD"));
    assert_eq!(good(&p, "time_format", "hh:mm:ss A"), value("hh:mm:ss a"));

    let issue = bad(&p, "country", "Japn", codes::COUNTRY_UNKNOWN);
    assert!(
        issue.message.contains("did you mean Japan"),
        "{}",
        issue.message
    );
    let issue = bad(&p, "timezone", "Asia/Tokio", codes::TIMEZONE_UNKNOWN);
    assert!(issue.message.contains("Asia/Tokyo"), "{}", issue.message);
    bad(&p, "language", "xx_XX", codes::LANGUAGE_UNKNOWN);
    bad(&p, "date_format", "YY", codes::DATE_FORMAT_UNKNOWN);
    bad(&p, "time_format", "soon", codes::TIME_FORMAT_UNKNOWN);
}

#[test]
fn dates_are_strict_and_canonical() {
    let p = Profile::access(); // %Y-%m-%d, then %Y/%m/%d
    assert_eq!(good(&p, "start_date", "2026-01-05"), value("2026-01-05"));
    assert_eq!(good(&p, "start_date", "2026/01/05"), value("2026-01-05"));
    for input in [
        "2026-1-5",
        "2015-9-5",
        "2026-02-30",
        "05/01/2026",
        "2026-01-05T00:00",
        "+2026-01-05",
    ] {
        let issue = bad(&p, "start_date", input, codes::DATE_INVALID);
        assert!(issue.message.contains("YYYY-MM-DD"), "{}", issue.message);
    }
}

#[test]
fn day_counts_and_integers() {
    let mut p = Profile::team();
    p.columns.push(Column::new(
        "days",
        "Days",
        FieldKind::DayCount { max: 100 },
    ));
    p.columns.push(Column::new(
        "size",
        "Size",
        FieldKind::Integer {
            min: Some(-5),
            max: Some(60),
        },
    ));
    assert_eq!(good(&p, "days", "30"), value("30"));
    assert_eq!(good(&p, "days", "030"), value("30"));
    assert_eq!(good(&p, "days", "100"), value("100"));
    for input in ["0", "101", "-1", "1.5", "ten", "99999999999999999999999"] {
        bad(&p, "days", input, codes::DAY_COUNT_INVALID);
    }
    assert_eq!(good(&p, "size", "+7"), value("7"));
    assert_eq!(good(&p, "size", "-5"), value("-5"));
    bad(&p, "size", "61", codes::INTEGER_OUT_OF_RANGE);
    bad(&p, "size", "-6", codes::INTEGER_OUT_OF_RANGE);
    for input in ["4.0", "x", "-", "99999999999999999999"] {
        bad(&p, "size", input, codes::INTEGER_INVALID);
    }
    let s = Profile::standard();
    assert_eq!(good(&s, "member_id", "42"), value("42"));
    bad(&s, "member_id", "0", codes::INTEGER_OUT_OF_RANGE);
}

#[test]
fn card_ids_in_decimal_or_hex() {
    let p = Profile::access();
    assert_eq!(good(&p, "card_id", "0012345"), value("12345"));
    assert_eq!(good(&p, "card_id", "0000"), value("0"));
    let issue = bad(&p, "card_id", "04A1B2", codes::CARD_ID_INVALID);
    assert!(
        issue.message.contains("hexadecimal card ID notation"),
        "{}",
        issue.message
    );
    bad(&p, "card_id", "12-34", codes::CARD_ID_INVALID);

    let hex = ValidateOptions {
        card_id_type: CardIdType::Hex,
        ..ValidateOptions::default()
    };
    assert_eq!(
        good_with(&p, "card_id", "0x04a1b2", hex.clone()),
        value("04A1B2")
    );
    assert_eq!(good_with(&p, "card_id", "ff", hex.clone()), value("FF"));
    bad_with(&p, "card_id", "0xZZ", codes::CARD_ID_INVALID, hex.clone());
    bad_with(&p, "card_id", "0x", codes::CARD_ID_INVALID, hex);
    assert_eq!(CardIdType::parse("hexadecimal"), Some(CardIdType::Hex));
}

#[test]
fn name_lists_add_remove_and_clear() {
    let p = Profile::standard();
    let list = |add: &[&str], remove: &[&str]| {
        Cell::List(ListEdit {
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        })
    };
    assert_eq!(
        good(&p, "groups", " Sales , Tokyo,,Sales"),
        list(&["Sales", "Tokyo"], &[])
    );
    assert_eq!(
        good(&p, "groups", "-Old, New, - Older"),
        list(&["New"], &["Old", "Older"])
    );
    assert_eq!(good(&p, "groups", "none"), Cell::Clear);
    assert_eq!(good(&p, "roles", "NONE"), Cell::Clear);
    assert_eq!(good(&p, "groups", ", ,"), Cell::Blank);
    bad(&p, "groups", "Sales,-Sales", codes::LIST_CONFLICT);
    bad(&p, "groups", "none,Sales", codes::LIST_INVALID);
    bad(&p, "groups", &"g".repeat(300), codes::FIELD_TOO_LONG);
}

#[test]
fn identities_need_an_enabled_source() {
    let p = Profile::team(); // sources: email, slack, teams
    let Cell::List(edit) = good(
        &p,
        "source_usernames",
        "slack:jdoe, Teams:j.doe, slack:jdoe",
    ) else {
        panic!("not a list");
    };
    assert_eq!(edit.add, ["slack:jdoe", "teams:j.doe"]);
    let issue = bad(
        &p,
        "source_usernames",
        "github:jdoe",
        codes::IDENTITY_UNKNOWN_SOURCE,
    );
    assert!(issue.message.contains("slack"), "{}", issue.message);
    bad(&p, "source_usernames", "jdoe", codes::IDENTITY_INVALID);
    bad(&p, "source_usernames", "slack:", codes::IDENTITY_INVALID);
}

#[test]
fn header_issues_once_per_column_not_per_row() {
    let p = Profile::standard();
    let header = Record::from_fields(
        1,
        ["Login ID", "First login", "Shoe size", "Last login", ""],
    );
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let header_issues = validator.header_issues();
    let codes_found: Vec<(&str, Option<&str>)> = header_issues
        .iter()
        .map(|i| (i.code.as_str(), i.column.as_deref()))
        .collect();
    assert_eq!(
        codes_found,
        [
            (codes::COLUMN_READ_ONLY, Some("first_login")),
            (codes::COLUMN_READ_ONLY, Some("last_login")),
            (codes::COLUMN_UNKNOWN, None),
        ]
    );
    assert!(
        header_issues
            .iter()
            .all(|i| i.severity == Severity::Warning && i.row == 0 && i.line == 1)
    );
    assert_eq!(header_issues[2].value.as_deref(), Some("Shoe size"));

    let records: Vec<Record> = (0..100)
        .map(|i| {
            Record::from_fields(
                i + 2,
                [
                    format!("u{i}"),
                    "2024-01-01 10:00".into(),
                    "42".into(),
                    "x".into(),
                    "".into(),
                ],
            )
        })
        .collect();
    let (rows, issues) = validator.validate(&records, 1);
    assert!(issues.is_empty(), "{issues:?}");
    let first_login = p.column_index("first_login").expect("column");
    let email = p.column_index("email").expect("column");
    assert!(
        rows.iter()
            .all(|r| r.cells[first_login] == Cell::Absent && r.cells[email] == Cell::Absent)
    );
}

#[test]
fn ragged_rows_name_both_counts() {
    let p = Profile::team();
    let header = Record::from_fields(1, ["Primary Email", "Display Name", "Role"]);
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let records = [
        Record::from_fields(2, ["a@example.com", "Ann"]),
        Record::from_fields(3, ["b@example.com", "Bob", "User", "extra"]),
        Record::from_fields(4, ["c@example.com", "Cy", "User"]),
    ];
    let (rows, issues) = validator.validate(&records, 1);
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(
        issues
            .iter()
            .all(|i| i.code == codes::ROW_RAGGED && i.column.is_none())
    );
    assert!(issues[0].message.contains("2 fields") && issues[0].message.contains("header has 3"));
    assert!(issues[1].message.contains("4 fields"));
    assert_eq!(
        rows[0].cell(3),
        &Cell::Blank,
        "missing trailing field read as blank"
    );
    assert_eq!(rows[1].cell(3), &value("User"));
    assert_eq!(
        rows.iter().map(|r| r.valid).collect::<Vec<_>>(),
        [false, false, true]
    );
}

#[test]
fn delete_rows_need_only_the_key() {
    let p = Profile::standard();
    let header = Record::from_fields(
        1,
        [
            "Login ID",
            "Email address",
            "Country",
            "Due date type",
            "Valid days",
            "Delete flag",
        ],
    );
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let records = [
        Record::from_fields(
            2,
            ["ann", "ann@example.com", "Atlantis", "Unlimited", "30", "1"],
        ),
        Record::from_fields(3, ["bob", "bob@localhost", "Atlantis", "", "", "1"]),
        Record::from_fields(
            4,
            ["cy", "cy@example.com", "Atlantis", "Unlimited", "30", "0"],
        ),
    ];
    let (rows, issues) = validator.validate(&records, 1);
    let found: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.code.as_str())).collect();
    assert_eq!(
        found,
        [
            (3, codes::EMAIL_INVALID),
            (4, codes::COUNTRY_UNKNOWN),
            (4, codes::DUE_DATE_VALUE_NOT_ALLOWED)
        ]
    );
    assert!(rows[0].valid && !rows[1].valid && !rows[2].valid);
    assert_eq!(
        rows[0].value(p.column_index("delete").expect("delete")),
        Some("1")
    );
}

#[test]
fn absent_columns_stay_absent_and_rows_keep_file_order() {
    let p = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let records = common::clean_records(5_000, 7);
    let (rows, issues) = validator.validate(&records, 11);
    assert!(issues.is_empty(), "{:?}", &issues[..issues.len().min(5)]);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.row, 11 + i as u64);
        assert_eq!(row.line, records[i].line());
        assert_eq!(row.cells.len(), p.columns.len());
    }
    let hash = p.column_index("password_hash").expect("column");
    assert!(rows.iter().all(|r| r.cells[hash] == Cell::Absent));
}

#[test]
fn added_rules_run_in_order_and_cannot_leak_secrets() {
    let p = Profile::standard();
    let header = Record::from_fields(1, ["Login ID", "Password"]);
    let mut validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    validator.add_rule(Box::new(
        |ctx: &userimport_validate::RowContext<'_>, issues: &mut Vec<Issue>| {
            if ctx.value("login_id").is_some_and(|l| l.starts_with("tmp-")) {
                issues.push(ctx.error(
                    "acme.login_temporary",
                    Some("login_id"),
                    "no temporary logins",
                ));
            }
            if let Some(raw) = ctx.raw("password") {
                // A careless rule: tries to carry the password.
                issues.push(
                    ctx.warning("acme.password_seen", Some("password"), "seen")
                        .value(raw),
                );
            }
        },
    ));
    let (rows, issues) = validator.validate(
        &[
            Record::from_fields(2, ["tmp-1", "correct horse"]),
            Record::from_fields(3, ["ann", "battery staple"]),
        ],
        1,
    );
    let found: Vec<(u64, &str)> = issues.iter().map(|i| (i.line, i.code.as_str())).collect();
    assert_eq!(
        found,
        [
            (2, "acme.login_temporary"),
            (2, "acme.password_seen"),
            (3, "acme.password_seen")
        ]
    );
    assert!(issues.iter().all(|i| i.value.is_none()));
    assert!(!rows[0].valid && rows[1].valid, "warnings keep a row valid");
}

#[test]
fn from_mapping_uses_the_parsed_column_mapping() {
    let p = Profile::standard();
    let header = Record::from_fields(1, ["ログインID", "Shoe size", "メールアドレス", "notes"]);
    let overrides = vec![("display_name".to_string(), Some("notes".to_string()))];
    let mapping =
        userimport_parse::ColumnMapping::new(&p, &header, &overrides, false).expect("mapping");
    let validator = Validator::from_mapping(&p, &mapping, &header, ValidateOptions::default());
    let header_issues = validator.header_issues();
    let unknown: Vec<Option<&str>> = header_issues.iter().map(|i| i.value.as_deref()).collect();
    assert_eq!(unknown, [Some("Shoe size")]);
    let (rows, issues) = validator.validate(
        &[Record::from_fields(
            2,
            ["ann", "42", "ann@example.com", "Annie"],
        )],
        1,
    );
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        rows[0].value(p.column_index("display_name").expect("column")),
        Some("Annie")
    );
}

#[test]
fn hostile_cells_stay_fast() {
    let p = Profile::standard();
    // 30,000 distinct names, then each again and one conflict at the end.
    let names: Vec<String> = (0..30_000).map(|i| format!("g{i}")).collect();
    let cell = format!("{},{}", names.join(","), names.join(","));
    let start = std::time::Instant::now();
    let Cell::List(edit) = good(&p, "groups", &cell) else {
        panic!("not a list");
    };
    assert_eq!(edit.add.len(), 30_000);
    bad(
        &p,
        "groups",
        &format!("{cell},-g29999"),
        codes::LIST_CONFLICT,
    );
    bad(
        &p,
        "groups",
        &format!("-g0,{}", names[..20].join(",")),
        codes::LIST_CONFLICT,
    );
    // A 64 KiB country is refused without comparing it to every spelling.
    let issue = bad(&p, "country", &"x".repeat(65_536), codes::COUNTRY_UNKNOWN);
    assert!(
        issue.message.contains("65536 characters"),
        "{}",
        issue.message
    );
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
}

#[test]
fn the_engine_is_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Validator>();
    shareable::<userimport_validate::Uniqueness>();
    shareable::<Issue>();
}

#[test]
fn validate_into_reuses_rows_and_matches_validate() {
    let p = Profile::standard();
    let header = common::header();
    let validator = Validator::new(
        &p,
        common::fields(&p, &header),
        &header,
        ValidateOptions::default(),
    );
    let first = common::clean_records(700, 1);
    let mut second = common::clean_records(500, 2);
    // Some defects in the second chunk, so errors replace reused values.
    for (i, record) in second.iter_mut().enumerate().step_by(7) {
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        fields[common::col::EMAIL] = "broken@".into();
        fields[common::col::GROUPS] = String::new();
        fields[common::col::PASSWORD] = format!("secret-{i}");
        *record = Record::from_fields(record.line(), fields);
    }
    let mut rows = Vec::new();
    let mut issues = Vec::new();
    validator.validate_into(&first, 1, &mut rows, &mut issues);
    assert_eq!(rows.len(), 700);
    assert!(issues.is_empty());
    validator.validate_into(&second, 701, &mut rows, &mut issues);
    let (fresh_rows, fresh_issues) = validator.validate(&second, 701);
    assert_eq!(rows, fresh_rows);
    assert_eq!(issues, fresh_issues);
    assert!(!issues.is_empty());
}

#[test]
fn hidden_characters_tabs_and_line_breaks_are_refused() {
    let p = Profile::standard();
    assert_eq!(good(&p, "name", "Zoë 日本"), value("Zoë 日本"));
    // Every field is one line: a line break in a name would garble an
    // invitation's subject and body.
    for (input, key, shown) in [
        ("Ann\tLee", "name", "a tab (U+0009)"),
        ("Ann\r\nLee", "name", "a carriage return (U+000D)"),
        ("Ann\nBcc: x@evil.example", "name", "a line break (U+000A)"),
        ("Sales\nIT", "department", "U+000A"),
        ("Sales,\nIT", "groups", "U+000A"),
    ] {
        let issue = bad(&p, key, input, codes::FIELD_CONTROL_CHARACTER);
        assert!(issue.message.contains(shown), "{}", issue.message);
    }
    // A marker an export wrote for a character it could not encode.
    let issue = bad(&p, "name", "Jos{U+00E9}", codes::FIELD_SUBSTITUTED);
    assert!(issue.message.contains("'é'"), "{}", issue.message);
    for (input, key, shown) in [
        ("admin\u{202e}gpj.exe", "login_id", "U+202E"),
        ("admin\u{200b}@example.com", "email", "U+200B"),
        ("\u{feff}Ann", "name", "U+FEFF"),
        ("a\u{1b}[31mred", "name", "U+001B"),
        ("x\u{0}y", "department", "U+0000"),
        ("Sa\u{85}les", "groups", "U+0085"),
    ] {
        let issue = bad(&p, key, input, codes::FIELD_CONTROL_CHARACTER);
        assert!(issue.message.contains(shown), "{}", issue.message);
    }
    // Passwords are taken as typed: not checked for hidden characters.
    assert!(matches!(
        good(&p, "password", "pass\u{200b}word"),
        Cell::Secret(_)
    ));
}
