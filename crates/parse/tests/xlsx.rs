//! Excel workbooks: written here with rust_xlsxwriter (or saved by
//! LibreOffice, `tests/data/`), read back as records; hostile workbooks
//! refused before calamine inflates them.

use std::io::{Cursor, Read, Write};

use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, XlsxError};
use userimport_parse::{
    Error, FormulaCell, Limit, Reader, ReaderBuilder, Record, WorkbookOptions, column_letters,
};
use userimport_schema::Limits;

/// A workbook built by `build`, as bytes.
fn workbook(build: impl FnOnce(&mut Workbook) -> Result<(), XlsxError>) -> Vec<u8> {
    let mut book = Workbook::new();
    build(&mut book).expect("build the workbook");
    book.save_to_buffer().expect("save the workbook")
}

/// A reader over `bytes` with `builder`.
fn open(builder: &ReaderBuilder, bytes: &[u8]) -> Result<Reader<Cursor<Vec<u8>>>, Error> {
    builder.build(Cursor::new(bytes.to_vec()))
}

fn fields(record: &Record) -> Vec<String> {
    record.iter().map(str::to_string).collect()
}

/// (line, fields) of every data record.
fn rows(reader: &mut Reader<Cursor<Vec<u8>>>) -> Result<Vec<(u64, Vec<String>)>, Error> {
    let mut out = Vec::new();
    let mut record = Record::new();
    while reader.read_record(&mut record)? {
        out.push((record.line(), fields(&record)));
    }
    Ok(out)
}

/// The administrator's sheet: text IDs with leading zeros, Japanese and
/// accented names, dates, numbers, a boolean and a formula; row 3 blank.
fn users_sheet(book: &mut Workbook) -> Result<(), XlsxError> {
    let date = Format::new().set_num_format("yyyy/mm/dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let sheet = book.add_worksheet();
    sheet.set_name("Users")?;
    for (col, header) in [
        "Member ID",
        "Name",
        "Start date",
        "Count",
        "Ratio",
        "Active",
        "Next",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, col as u16, *header)?;
    }
    sheet.write_string(1, 0, "00123")?;
    sheet.write_string(1, 1, "山田 太郎")?;
    sheet.write_datetime_with_format(1, 2, &ExcelDateTime::from_ymd(2026, 4, 1)?, &date)?;
    sheet.write_number(1, 3, 42.0)?;
    sheet.write_number(1, 4, 0.1 + 0.2)?;
    sheet.write_boolean(1, 5, true)?;
    sheet.write_formula(1, 6, Formula::new("=D2+1").set_result("43"))?;
    sheet.write_string(3, 0, "007")?;
    sheet.write_string(3, 1, "María")?;
    let evening = ExcelDateTime::parse_from_str("2026-12-31 18:30:00")?;
    sheet.write_datetime_with_format(3, 2, &evening, &datetime)?;
    Ok(())
}

#[test]
fn cells_come_in_as_the_administrator_saw_them() {
    let bytes = workbook(users_sheet);
    let mut reader = open(&ReaderBuilder::new(), &bytes).unwrap();
    let info = reader
        .workbook()
        .cloned()
        .expect("recognised as a workbook");
    assert_eq!(info.format, "xlsx");
    assert_eq!(info.sheet, "Users");
    assert_eq!(reader.header().line(), 1);
    assert_eq!(
        fields(reader.header()),
        [
            "Member ID",
            "Name",
            "Start date",
            "Count",
            "Ratio",
            "Active",
            "Next"
        ]
    );
    assert_eq!(reader.formula_cells(), [FormulaCell { line: 2, column: 6 }]);
    let rows = rows(&mut reader).unwrap();
    assert_eq!(
        rows,
        [
            (
                2,
                vec![
                    "00123",
                    "山田 太郎",
                    "2026/04/01",
                    "42",
                    "0.3",
                    "TRUE",
                    "43"
                ]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
            ),
            (
                4,
                vec!["007", "María", "2026/12/31 18:30:00", "", "", "", ""]
                    .into_iter()
                    .map(String::from)
                    .collect()
            ),
        ]
    );
}

#[test]
fn each_column_may_have_its_own_date_format() {
    let bytes = workbook(users_sheet);
    let mut builder = ReaderBuilder::new();
    let mut options = WorkbookOptions::default();
    options.date_format = "%d/%m/%Y".to_string();
    builder.workbook(options);
    let mut reader = open(&builder, &bytes).unwrap();
    let rows_default = {
        let mut r = open(&builder, &bytes).unwrap();
        rows(&mut r).unwrap()
    };
    assert_eq!(rows_default[0].1[2], "01/04/2026");
    reader.set_date_formats(vec![None, None, Some("%Y-%m-%d".to_string())]);
    let rows = rows(&mut reader).unwrap();
    assert_eq!(rows[0].1[2], "2026-04-01");
    assert_eq!(rows[1].1[2], "2026-12-31 18:30:00");
}

#[test]
fn a_sheet_by_name_or_position_and_a_header_row_below_a_title() {
    let bytes = workbook(|book| {
        book.add_worksheet()
            .set_name("Notes")?
            .write_string(0, 0, "read me")?;
        let sheet = book.add_worksheet();
        sheet.set_name("Import")?;
        sheet.write_string(0, 0, "Employees, April")?;
        sheet.write_string(2, 0, "User ID")?;
        sheet.write_string(2, 1, "Name")?;
        sheet.write_string(3, 0, "E01")?;
        sheet.write_string(3, 1, "佐藤")?;
        Ok(())
    });
    let first = open(&ReaderBuilder::new(), &bytes).unwrap();
    assert_eq!(fields(first.header()), ["read me"]);
    for wanted in ["Import", "import", "2"] {
        let mut builder = ReaderBuilder::new();
        builder
            .workbook(WorkbookOptions::sheet(Some(wanted.to_string())))
            .header_row(Some(3));
        let mut reader = open(&builder, &bytes).unwrap();
        assert_eq!(reader.workbook().unwrap().sheet, "Import");
        assert_eq!(reader.header().line(), 3, "--sheet {wanted}");
        assert_eq!(fields(reader.header()), ["User ID", "Name"]);
        assert_eq!(
            rows(&mut reader).unwrap(),
            [(4, vec!["E01".into(), "佐藤".into()])]
        );
    }
    let mut builder = ReaderBuilder::new();
    builder.workbook(WorkbookOptions::sheet(Some("Staff".to_string())));
    let err = open(&builder, &bytes).unwrap_err();
    assert!(matches!(err, Error::NoSheet { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the workbook has no sheet \"Staff\"; its sheets are: \"Notes\", \"Import\""
    );
}

/// Every entry of a zip, by name.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().to_string(), data)
        })
        .collect()
}

/// A zip of `entries`, deflated.
fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, data) in entries {
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A small real workbook with `name` replaced by (or added as) `data`.
fn patched(name: &str, data: Vec<u8>) -> Vec<u8> {
    let base = workbook(|book| {
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Login ID")?;
        sheet.write_string(1, 0, "alice")?;
        Ok(())
    });
    let mut all: Vec<(String, Vec<u8>)> = entries(&base)
        .into_iter()
        .filter(|(n, _)| n != name)
        .collect();
    all.push((name.to_string(), data));
    zip_of(&all)
}

/// A worksheet whose `<sheetData>` holds `rows`.
fn sheet_xml(rows: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
    )
    .into_bytes()
}

const SHEET: &str = "xl/worksheets/sheet1.xml";

fn small_zip_limit() -> ReaderBuilder {
    let mut options = WorkbookOptions::default();
    options.max_unzipped_bytes = 1024 * 1024;
    let mut builder = ReaderBuilder::new();
    builder.workbook(options);
    builder
}

#[test]
fn a_zip_bomb_is_refused_by_its_declared_size() {
    let mut rows =
        String::from(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>Login ID</t></is></c></row>"#);
    rows.push_str(&"<row/>".repeat(400_000));
    let bytes = patched(SHEET, sheet_xml(&rows));
    assert!(bytes.len() < 100_000, "the bomb is small: {}", bytes.len());
    let err = open(&small_zip_limit(), &bytes).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::UnzippedBytes), "{err}");
    assert!(
        err.to_string().contains("max_unzipped_bytes = 1048576"),
        "{err}"
    );
}

#[test]
fn a_zip_bomb_that_lies_about_its_size_is_refused_while_inflating() {
    let mut rows =
        String::from(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>Login ID</t></is></c></row>"#);
    rows.push_str(&"<row/>".repeat(400_000));
    let mut bytes = patched(SHEET, sheet_xml(&rows));
    // Declare 1,000 bytes in the local header and the central directory.
    let name = SHEET.as_bytes();
    let mut lied = 0;
    for at in 0..bytes.len().saturating_sub(46) {
        let local = bytes[at..].starts_with(b"PK\x03\x04") && bytes[at + 30..].starts_with(name);
        let central = bytes[at..].starts_with(b"PK\x01\x02") && bytes[at + 46..].starts_with(name);
        let size_at = match (local, central) {
            (true, _) => at + 22,
            (_, true) => at + 24,
            _ => continue,
        };
        if bytes[size_at..size_at + 4] != [0xff; 4] {
            bytes[size_at..size_at + 4].copy_from_slice(&1000u32.to_le_bytes());
            lied += 1;
        }
    }
    // Zip64 sizes (large_file) live in the extra field: lie there too.
    for at in 0..bytes.len().saturating_sub(20) {
        if bytes[at..].starts_with(&[0x01, 0x00]) && bytes[at + 2..at + 4] == [16, 0] {
            let size = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap());
            if size > 1_000_000 {
                bytes[at + 4..at + 12].copy_from_slice(&1000u64.to_le_bytes());
                lied += 1;
            }
        }
    }
    assert!(lied >= 2, "the sizes were patched ({lied})");
    let err = open(&ReaderBuilder::new(), &bytes).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::UnzippedBytes), "{err}");
    assert!(
        err.to_string()
            .contains("inflates to more than it declares"),
        "{err}"
    );
}

#[test]
fn a_million_columns_are_refused_at_the_first_one_past_the_limit() {
    let mut row = String::from(r#"<row r="1">"#);
    for _ in 0..1_000_000 {
        row.push_str("<c><v>1</v></c>");
    }
    row.push_str("</row>");
    let err = open(&ReaderBuilder::new(), &patched(SHEET, sheet_xml(&row))).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::Columns), "{err}");
    assert_eq!(
        err.to_string(),
        "sheet \"Sheet1\", cell AMK1 (line 1, column 1025): the workbook exceeds the limit max_columns = 1024"
    );
    // One cell far out (a dense reader would allocate every cell before it).
    let far = format!(
        r#"<row r="1"><c r="A1"><v>1</v></c><c r="{}1"><v>2</v></c></row><row r="1048576"><c r="XFD1048576"><v>3</v></c></row>"#,
        column_letters(16_000)
    );
    let err = open(&ReaderBuilder::new(), &patched(SHEET, sheet_xml(&far))).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::Columns), "{err}");
}

fn shared_strings(strings: &[String]) -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#,
    );
    for s in strings {
        xml.push_str(&format!("<si><t>{s}</t></si>"));
    }
    xml.push_str("</sst>");
    xml.into_bytes()
}

#[test]
fn a_huge_shared_string_is_refused_before_it_is_loaded() {
    for size in [100_000, 3 * 1024 * 1024] {
        let strings = ["Login ID".to_string(), "x".repeat(size)];
        let bytes = patched("xl/sharedStrings.xml", shared_strings(&strings));
        let err = open(&ReaderBuilder::new(), &bytes).unwrap_err();
        assert_eq!(err.limit(), Some(Limit::FieldBytes), "{size}: {err}");
    }
    // A huge inline string is a cell over the limit.
    let row = format!(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>Login ID</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>{}</t></is></c></row>"#,
        "y".repeat(70_000)
    );
    let err = open(&ReaderBuilder::new(), &patched(SHEET, sheet_xml(&row)))
        .and_then(|mut r| rows(&mut r).map(|_| r))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("sheet \"Sheet1\", cell A2 (line 2, column 1)"),
        "{err}"
    );
    assert_eq!(err.limit(), Some(Limit::FieldBytes));
}

#[test]
fn malformed_and_foreign_workbooks_are_refused_with_a_reason() {
    // A shared-string index the workbook does not have.
    let row = r#"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#;
    let err = open(&ReaderBuilder::new(), &patched(SHEET, sheet_xml(row))).unwrap_err();
    assert!(
        err.to_string()
            .contains("cell A1: shared string \"7\" does not exist"),
        "{err}"
    );
    // Too many entries.
    let many: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("x/{i}.xml"), Vec::new()))
        .collect();
    let mut options = WorkbookOptions::default();
    options.max_entries = 10;
    let mut builder = ReaderBuilder::new();
    builder.workbook(options);
    let err = open(&builder, &zip_of(&many)).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::ZipEntries), "{err}");
    // An .ods, another zip, an .xls, a file over max_bytes.
    let ods = zip_of(&[(
        "mimetype".to_string(),
        b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
    )]);
    let err = open(&ReaderBuilder::new(), &ods).unwrap_err();
    assert!(err.to_string().contains("(.ods)"), "{err}");
    let other = zip_of(&[("readme.txt".to_string(), b"hello".to_vec())]);
    let err = open(&ReaderBuilder::new(), &other).unwrap_err();
    assert!(err.to_string().contains("not an Excel workbook"), "{err}");
    let mut xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    xls.resize(4096, 0);
    let err = open(&ReaderBuilder::new(), &xls).unwrap_err();
    assert!(err.to_string().contains("(.xls)"), "{err}");
    let bytes = workbook(users_sheet);
    let mut builder = ReaderBuilder::new();
    builder.limits(Limits {
        max_bytes: Some(1000),
        ..Limits::default()
    });
    let err = open(&builder, &bytes).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::Bytes), "{err}");
    // Truncated: the zip's directory is gone.
    let err = open(&ReaderBuilder::new(), &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(err, Error::Workbook { .. }), "{err}");
}

#[test]
fn the_row_limit_counts_data_rows_as_for_csv() {
    let bytes = workbook(|book| {
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Login ID")?;
        for row in 1..=20 {
            sheet.write_string(row, 0, format!("user{row}"))?;
        }
        Ok(())
    });
    let mut builder = ReaderBuilder::new();
    builder.limits(Limits {
        max_rows: Some(10),
        ..Limits::default()
    });
    let mut reader = open(&builder, &bytes).unwrap();
    let err = rows(&mut reader).unwrap_err();
    assert_eq!(err.limit(), Some(Limit::Rows));
    assert_eq!(err.line(), Some(12));
}

/// `tests/data/libreoffice.xlsx` was saved by LibreOffice Calc 7.4 from
/// `tests/data/libreoffice.csv`; `tests/data/README.md` has the command.
#[test]
fn a_workbook_saved_by_libreoffice() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/libreoffice.xlsx");
    let bytes = std::fs::read(path).unwrap();
    let mut reader = open(&ReaderBuilder::new(), &bytes).unwrap();
    assert_eq!(reader.workbook().unwrap().format, "xlsx");
    assert_eq!(
        fields(reader.header()),
        [
            "member_id",
            "login_id",
            "name",
            "email",
            "valid_days_or_due_date",
            "notify_announcements"
        ]
    );
    let rows = rows(&mut reader).unwrap();
    let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 3, 4]);
    // Typed as text in LibreOffice, the leading zeros stay; the date stays
    // a date; Japanese text and the formula's cached value come through.
    assert_eq!(
        rows[0].1,
        [
            "000123",
            "yamada",
            "山田 太郎",
            "yamada@example.com",
            "2026/04/01",
            "On"
        ]
    );
    assert_eq!(rows[1].1[2], "María José");
    assert_eq!(rows[1].1[4], "365");
    assert_eq!(rows[2].1[4], "366");
    assert_eq!(reader.formula_cells(), [FormulaCell { line: 4, column: 4 }]);
}
