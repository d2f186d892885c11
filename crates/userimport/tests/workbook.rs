//! Workbooks through the facade: export → import of the `.xlsx` changes
//! nothing; what a written workbook holds (text columns, frozen bold
//! header, drop-down lists, no formula); an uploaded workbook's dates,
//! leading zeros, Japanese text and formula cells as the importer sees them.
//!
//! Stores are [`MemorySink`]s; passwords are one precomputed argon2id hash.

use std::io::{Cursor, Read};
use std::sync::OnceLock;

use proptest::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, XlsxError};
use userimport::plan::{Mode, PlanOptions};
use userimport::schema::Profile;
use userimport::sink::{MemorySink, Sink};
use userimport::{
    CsvWriter, ExportOptions, ImportOptions, Importer, OutputCharset, export_xlsx,
    write_template_xlsx,
};

fn importer(profile: &Profile) -> Importer {
    let mut options = ImportOptions::default();
    options.plan = PlanOptions {
        mode: Mode::Upsert,
        ..PlanOptions::default()
    };
    options.chunk_rows = 3;
    Importer::builder(profile).options(options).build()
}

fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| userimport::plan::hash_password("Workbook-Test-Password-1").unwrap())
}

/// Applies `file` (CSV or workbook) to `store`; the check must be clean.
fn apply(profile: &Profile, file: &[u8], store: &mut MemorySink) -> Result<(), TestCaseError> {
    let checked = importer(profile)
        .plan(file, &*store)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(checked.is_clean(), "{:#?}", checked.issues);
    let plan = checked.plan.unwrap();
    let outcome = store
        .apply(&plan, &mut |_| true)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(outcome.committed);
    Ok(())
}

/// Text a person might type: formula-looking starts, quotes (also after
/// a `|`, `;` or `,`), leading zeros, Japanese; no control or invisible
/// characters.
fn text(min: usize) -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "", "", "=", "+", "-", "@", "＝", "'", "'=", "''", "\"", "0", "00", "山田 ", "María ",
        // A quote after another delimiter, which the importer also unescapes.
        "|'=", "a;'", "b,''", "c|'-",
    ]);
    (start, "[\\p{L}\\p{N}\\p{P}\\p{S} ]{0,20}").prop_filter_map("blank", move |(a, b)| {
        let t = format!("{a}{b}");
        let trimmed = t.trim();
        (trimmed.chars().count() >= min
            && !trimmed.chars().any(|c| {
                c.is_control()
                    || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}')
            }))
        .then_some(t)
    })
}

#[derive(Debug, Clone)]
struct User {
    login: String,
    name: String,
    department: String,
    status: &'static str,
    country: &'static str,
    due: (&'static str, &'static str),
}

fn users() -> impl Strategy<Value = Vec<User>> {
    prop::collection::btree_set("0{0,2}[a-z0-9]{1,8}", 1..6).prop_flat_map(|logins| {
        logins
            .into_iter()
            .map(|login| {
                (
                    text(1),
                    prop_oneof![Just(String::new()), text(0)],
                    prop::sample::select(vec!["", "Valid", "Invalid"]),
                    prop::sample::select(vec!["", "Japan", "Djibouti."]),
                    prop::sample::select(vec![
                        ("", ""),
                        ("FromCreation", "365"),
                        ("ExpirationDate", "2026/04/01"),
                    ]),
                )
                    .prop_map(move |(name, department, status, country, due)| {
                        User {
                            login: login.clone(),
                            name,
                            department,
                            status,
                            country,
                            due,
                        }
                    })
            })
            .collect::<Vec<_>>()
    })
}

fn import_file(users: &[User]) -> Vec<u8> {
    let mut w = CsvWriter::new(Vec::new(), OutputCharset::UTF8_BOM).unwrap();
    w.write_row([
        "login_id",
        "name",
        "department",
        "email",
        "password_hash",
        "status",
        "country",
        "due_date_type",
        "valid_days_or_due_date",
    ])
    .unwrap();
    for u in users {
        w.write_row([
            u.login.as_str(),
            &u.name,
            &u.department,
            &format!("{}@example.com", u.login),
            hash(),
            u.status,
            u.country,
            u.due.0,
            u.due.1,
        ])
        .unwrap();
    }
    w.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Export as .xlsx → import of that workbook changes nothing: leading
    /// zeros, formula-looking text, quotes, dates and Japanese survive.
    #[test]
    fn xlsx_export_then_import_changes_nothing(users in users()) {
        let profile = Profile::standard();
        let mut store = MemorySink::new();
        apply(&profile, &import_file(&users), &mut store)?;
        let (written, book) = export_xlsx(&profile, &store, &ExportOptions::default(), Vec::new())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(written, users.len() as u64);
        let checked = importer(&profile)
            .check(&book[..], &store)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let s = checked.summary;
        prop_assert!(checked.is_clean(), "{:#?}", checked.issues);
        prop_assert_eq!(
            (s.create, s.update, s.delete, s.unchanged),
            (0, 0, 0, users.len() as u64)
        );
        prop_assert_eq!(checked.file.workbook.map(|w| w.sheet), Some("Users".to_string()));
    }
}

/// The entry `name` of the zip `bytes`, as text.
fn entry(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn a_written_workbook_types_its_columns_and_offers_the_code_tables() {
    let profile = Profile::standard();
    let mut store = MemorySink::new();
    let users = vec![User {
        login: "00123".to_string(),
        name: "=HYPERLINK(\"http://example.invalid\")".to_string(),
        department: "'=1+1".to_string(),
        status: "Valid",
        country: "Japan",
        due: ("ExpirationDate", "2026/04/01"),
    }];
    apply(&profile, &import_file(&users), &mut store).unwrap();
    let (_, book) = export_xlsx(&profile, &store, &ExportOptions::default(), Vec::new()).unwrap();
    let sheet = entry(&book, "xl/worksheets/sheet1.xml");
    // The header row is frozen; no cell is a formula.
    assert!(
        sheet.contains(r#"ySplit="1""#) && sheet.contains(r#"state="frozen""#),
        "{sheet}"
    );
    assert!(!sheet.contains("<f>"), "a formula was written: {sheet}");
    // Drop-down lists for code columns, from the hidden Lists sheet.
    assert!(sheet.contains(r#"<dataValidation type="list""#), "{sheet}");
    assert!(sheet.contains("<formula1>Lists!$"), "{sheet}");
    let workbook = entry(&book, "xl/workbook.xml");
    assert!(
        workbook.contains(r#"name="Lists" sheetId="2" state="hidden""#),
        "{workbook}"
    );
    // The lists' values are shared strings of the hidden sheet.
    let lists = entry(&book, "xl/sharedStrings.xml");
    assert!(entry(&book, "xl/worksheets/sheet2.xml").contains("<dimension ref=\"A1:"));
    for value in [
        "Suspended",
        "UnitedArabEmirates",
        "Asia/Tokyo",
        "ja_JP",
        "YYYY/MM/DD",
    ] {
        assert!(lists.contains(value), "{value} is not offered");
    }
    // Columns and the header are formatted as text (`@`), the header bold.
    let styles = entry(&book, "xl/styles.xml");
    assert!(
        styles.contains(r#"formatCode="@""#) || styles.contains(r#"numFmtId="49""#),
        "{styles}"
    );
    assert!(styles.contains("<b/>"), "{styles}");
    assert!(sheet.contains("<cols>"), "{sheet}");
    // Read back: the cells as written.
    let mut reader = importer(&profile).reader(&book[..]).unwrap();
    let header: Vec<String> = reader.header().iter().map(String::from).collect();
    let record = reader.next().unwrap().unwrap();
    let cell = |label: &str| {
        let i = header.iter().position(|h| h == label).unwrap();
        record.get(i).unwrap().to_string()
    };
    assert_eq!(cell("Login ID"), "00123");
    assert_eq!(cell("Name"), "=HYPERLINK(\"http://example.invalid\")");
    assert_eq!(
        cell("Department"),
        "''=1+1",
        "the importer unescapes one quote"
    );
    assert_eq!(cell("Valid days/due date"), "2026/04/01");
}

#[test]
fn the_template_as_a_workbook_checks_clean() {
    let profile = Profile::standard();
    let book = write_template_xlsx(&profile, Vec::new()).unwrap();
    let checked = importer(&profile)
        .check(&book[..], &MemorySink::new())
        .unwrap();
    assert!(checked.is_clean(), "{:#?}", checked.issues);
    assert_eq!((checked.summary.rows, checked.summary.create), (1, 1));
}

/// An access-portal sheet as an administrator types it in Excel: IDs as
/// text, real date cells, Japanese names, and a formula in the key column.
fn access_sheet(book: &mut Workbook) -> Result<(), XlsxError> {
    let date = Format::new().set_num_format("yyyy/m/d");
    let sheet = book.add_worksheet();
    for (col, h) in ["User ID", "Name", "Email", "Start date", "End date"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *h)?;
    }
    sheet.write_string(1, 0, "00042")?;
    sheet.write_string(1, 1, "山田 太郎")?;
    sheet.write_string(1, 2, "yamada@example.com")?;
    sheet.write_datetime_with_format(1, 3, &ExcelDateTime::from_ymd(2026, 4, 1)?, &date)?;
    sheet.write_datetime_with_format(1, 4, &ExcelDateTime::from_ymd(2027, 3, 31)?, &date)?;
    sheet.write_formula(2, 0, Formula::new("=A2&\"3\"").set_result("000423"))?;
    sheet.write_string(2, 1, "María")?;
    sheet.write_string(2, 2, "not an address")?;
    Ok(())
}

#[test]
fn an_uploaded_workbook_as_the_administrator_saw_it() {
    let profile = Profile::access();
    let mut book = Workbook::new();
    access_sheet(&mut book).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let mut store = MemorySink::new();
    let checked = importer(&profile).plan(&bytes[..], &store).unwrap();
    // The date cells took the profile's format (YYYY-MM-DD) and validated.
    let codes: Vec<(u64, &str, Option<&str>)> = checked
        .issues
        .iter()
        .map(|i| (i.line, i.code.as_str(), i.column.as_deref()))
        .collect();
    assert_eq!(
        codes,
        [
            (3, "email.invalid", Some("email")),
            (3, "cell.formula", Some("user_id"))
        ],
        "{:#?}",
        checked.issues
    );
    let formula = &checked.issues[1];
    assert!(
        formula.message.starts_with("cell A3 holds a formula"),
        "{}",
        formula.message
    );
    assert!(!formula.is_error());
    let email = &checked.issues[0];
    assert!(
        email.message.ends_with("(cell C3 under \"Email\")"),
        "{}",
        email.message
    );
    // The first row alone is clean and goes in with its leading zeros and dates.
    let mut first = Workbook::new();
    let sheet_only_first = |book: &mut Workbook| -> Result<(), XlsxError> {
        access_sheet(book)?;
        let sheet = book.worksheet_from_index(0)?;
        for col in 0..5 {
            sheet.write_blank(2, col, &Format::new())?;
        }
        Ok(())
    };
    sheet_only_first(&mut first).unwrap();
    let bytes = first.save_to_buffer().unwrap();
    let checked = importer(&profile).plan(&bytes[..], &store).unwrap();
    assert!(checked.is_clean(), "{:#?}", checked.issues);
    store
        .apply(checked.plan.as_ref().unwrap(), &mut |_| true)
        .unwrap();
    let (_, exported) =
        export_xlsx(&profile, &store, &ExportOptions::default(), Vec::new()).unwrap();
    let mut reader = importer(&profile).reader(&exported[..]).unwrap();
    let record = reader.next().unwrap().unwrap();
    let cells: Vec<&str> = record.iter().collect();
    assert_eq!(cells[0], "00042");
    assert_eq!(cells[1], "山田 太郎");
    assert!(
        cells.contains(&"2026-04-01") && cells.contains(&"2027-03-31"),
        "{cells:?}"
    );
}
