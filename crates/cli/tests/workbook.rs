//! Excel workbooks through the real `userimport` binary: templates and
//! exports as .xlsx, export → save in LibreOffice → import changing nothing,
//! `--sheet`, and hostile workbooks refused with a bounded peak RSS.

use std::io::{self, Cursor, Read, Write};
use std::path::Path;
use std::process::Command;

mod harness;

use harness::{Run, example_path, run};

/// Peak RSS allowed for `check` of any workbook (the debug binary).
const MAX_RSS_KIB: i64 = 96 * 1024;

fn ok(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}\n{}{}", r.stdout, r.stderr);
}

fn file_arg(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

/// A store with the ten example users; its path.
fn store_with_users(dir: &Path) -> String {
    let db = file_arg(dir, "store.db");
    let users = example_path("data/users.csv");
    ok(&run(&["apply", &users, "--db", &db], None, dir), "apply");
    db
}

#[test]
fn templates_and_exports_as_workbooks_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = store_with_users(d);
    let template = file_arg(d, "template.xlsx");
    ok(&run(&["template", "-o", &template], None, d), "template");
    assert!(std::fs::read(&template).unwrap().starts_with(b"PK\x03\x04"));
    let check = run(
        &["check", &template, "--db", &file_arg(d, "empty.db")],
        None,
        d,
    );
    ok(&check, "check the template");
    assert!(
        check.stdout.contains("file: 1 rows, xlsx sheet \"Users\""),
        "{}",
        check.stdout
    );

    let export = file_arg(d, "users.xlsx");
    ok(
        &run(&["export", "--db", &db, "-o", &export], None, d),
        "export",
    );
    let check = run(
        &["check", &export, "--db", &db, "--format", "json"],
        None,
        d,
    );
    ok(&check, "check the export");
    let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(report["summary"]["unchanged"], 10, "{report}");
    assert_eq!(report["summary"]["errors"], 0, "{report}");
    assert_eq!(report["file"]["workbook"]["format"], "xlsx", "{report}");
    assert_eq!(report["file"]["workbook"]["sheet"], "Users", "{report}");

    // --format wins over the name; an unknown format is a usage error.
    let named_csv = file_arg(d, "users.csv");
    ok(
        &run(
            &["export", "--db", &db, "--format", "xlsx", "-o", &named_csv],
            None,
            d,
        ),
        "export --format xlsx",
    );
    assert!(std::fs::read(&named_csv).unwrap().starts_with(b"PK"));
    let csv = run(&["export", "--db", &db, "--format", "csv"], None, d);
    assert!(csv.stdout.contains("Login ID"), "{}", csv.stdout);
    let bad = run(&["export", "--db", &db, "--format", "ods"], None, d);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("unknown --format \"ods\": use csv or xlsx"),
        "{}",
        bad.stderr
    );

    // --sheet: the hidden Lists sheet has no key column; no sheet 9.
    let lists = run(
        &["check", &export, "--db", &db, "--sheet", "Lists"],
        None,
        d,
    );
    assert_eq!(lists.code, 2, "{}{}", lists.stdout, lists.stderr);
    let none = run(&["check", &export, "--db", &db, "--sheet", "9"], None, d);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr
            .contains("the workbook has no sheet \"9\"; its sheets are: \"Users\", \"Lists\""),
        "{}",
        none.stderr
    );
    let preview = run(
        &["preview", &export, "--sheet", "1", "--rows", "1"],
        None,
        d,
    );
    ok(&preview, "preview");
    assert!(
        preview
            .stdout
            .starts_with("workbook xlsx, sheet \"Users\", header on line 1"),
        "{}",
        preview.stdout
    );
}

/// LibreOffice's `soffice`, when the machine has it. In CI (CI=true) it
/// must: `.ci/run` installs it.
fn soffice() -> Option<&'static str> {
    let found = Command::new("soffice")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "soffice (LibreOffice) is missing; .ci/run installs libreoffice-calc-nogui"
        );
        eprintln!("soffice (LibreOffice) is not installed: this test is skipped locally");
        return None;
    }
    Some("soffice")
}

#[test]
fn an_export_saved_again_by_libreoffice_imports_unchanged() {
    let Some(soffice) = soffice() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = store_with_users(d);
    let export = file_arg(d, "users.xlsx");
    ok(
        &run(&["export", "--db", &db, "-o", &export], None, d),
        "export",
    );
    let out = d.join("saved");
    let profile = format!("file://{}", d.join("lo-profile").display());
    let status = Command::new(soffice)
        .arg(format!("-env:UserInstallation={profile}"))
        .args([
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
        ])
        .arg(&out)
        .arg(&export)
        .output()
        .unwrap();
    let saved = out.join("users.xlsx");
    assert!(saved.exists(), "soffice saved nothing: {status:?}");
    assert_ne!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&export).unwrap()
    );
    let check = run(
        &[
            "check",
            saved.to_str().unwrap(),
            "--db",
            &db,
            "--format",
            "json",
        ],
        None,
        d,
    );
    ok(&check, "check the workbook LibreOffice saved");
    let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(report["summary"]["unchanged"], 10, "{report}");
    assert_eq!(report["summary"]["update"], 0, "{report}");
}

/// A real one-cell workbook whose `name` entry is replaced by the bytes
/// `write` streams (deflated as they come, never held whole).
fn workbook_with(name: &str, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Login ID").unwrap();
    sheet.write_string(1, 0, "alice").unwrap();
    let base = book.save_to_buffer().unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(base)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        if entry.name() == name {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.start_file(entry.name().to_string(), options).unwrap();
        out.write_all(&data).unwrap();
    }
    out.start_file(name, options).unwrap();
    write(&mut out).unwrap();
    out.finish().unwrap().into_inner()
}

/// Rewrites the uncompressed size `name` declares in its local header and
/// in the central directory.
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(64) {
        let (fixed, size_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (30, 22),
            b"PK\x01\x02" => (46, 24),
            _ => continue,
        };
        if zip[at + fixed..].starts_with(name.as_bytes()) {
            zip[at + size_at..at + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "the declared sizes were patched");
}

const SHEET: &str = "xl/worksheets/sheet1.xml";
const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>login_id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>"#;
const TAIL: &str = "</sheetData></worksheet>";

/// `check -` of `bytes`: exit code and output, peak RSS bounded.
fn check_stdin(name: &str, bytes: Vec<u8>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let db = file_arg(dir.path(), "store.db");
    let started = std::time::Instant::now();
    let r = run(
        &["check", "-", "--db", &db],
        Some(Box::new(move |w: &mut dyn Write| w.write_all(&bytes))),
        dir.path(),
    );
    eprintln!(
        "{name}: exit {}, peak RSS {} KiB, {:.1} s",
        r.code,
        r.max_rss_kib,
        started.elapsed().as_secs_f64()
    );
    assert!(
        matches!(r.code, 0..=2),
        "{name}: exit {}\n{}",
        r.code,
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked"),
        "{name}: a panic\n{}",
        r.stderr
    );
    assert!(
        r.max_rss_kib < MAX_RSS_KIB,
        "{name}: peak RSS {} KiB is over {MAX_RSS_KIB} KiB",
        r.max_rss_kib
    );
    r
}

#[test]
fn hostile_workbooks_are_refused_with_bounded_memory() {
    // 192 MiB of XML comments (under the 256 MiB budget, 0.2 MB deflated):
    // inflated to count, then streamed; nothing is held.
    let filler = workbook_with(SHEET, |w| {
        w.write_all(HEAD.as_bytes())?;
        let comment = format!("<!--{}-->", "x".repeat(512 << 10));
        for _ in 0..384 {
            w.write_all(comment.as_bytes())?;
        }
        w.write_all(TAIL.as_bytes())
    });
    let r = check_stdin("192 MiB of comments", filler);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.max_rss_kib < 48 * 1024, "{} KiB", r.max_rss_kib);
    assert!(r.stdout.contains("file: 0 rows, xlsx"), "{}", r.stdout);

    // A sheet that declares 1 GiB: over the budget, refused unread.
    let mut bomb = workbook_with(SHEET, |w| {
        w.write_all(HEAD.as_bytes())?;
        w.write_all(TAIL.as_bytes())
    });
    declare_size(&mut bomb, SHEET, 1 << 30);
    let r = check_stdin("a sheet declaring 1 GiB", bomb);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("max_unzipped_bytes = 268435456"),
        "{}",
        r.stderr
    );

    // A million columns in one row.
    let wide = workbook_with(SHEET, |w| {
        w.write_all(HEAD.as_bytes())?;
        w.write_all(br#"<row r="2">"#)?;
        for _ in 0..1_000_000 {
            w.write_all(b"<c><v>1</v></c>")?;
        }
        w.write_all(b"</row>")?;
        w.write_all(TAIL.as_bytes())
    });
    let r = check_stdin("a million columns", wide);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cell AMK2 (line 2, column 1025)"),
        "{}",
        r.stderr
    );

    // A 64 MiB shared string.
    let strings = workbook_with("xl/sharedStrings.xml", |w| {
        w.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>Login ID</t></si><si><t>"#)?;
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            w.write_all(&chunk)?;
        }
        w.write_all(b"</t></si></sst>")
    });
    let r = check_stdin("a 64 MiB shared string", strings);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("max_field_bytes"), "{}", r.stderr);

    // 100,000 rows of two cells: checked, streamed.
    let many = workbook_with(SHEET, |w| {
        w.write_all(HEAD.as_bytes())?;
        for i in 2..100_002 {
            write!(
                w,
                r#"<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>user{i:06}</t></is></c><c r="B{i}" t="inlineStr"><is><t>名前 {i}</t></is></c></row>"#
            )?;
        }
        w.write_all(TAIL.as_bytes())
    });
    let r = check_stdin("100,000 rows", many);
    assert!(
        r.stdout.contains("file: 100000 rows, xlsx"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}
