//! The pipeline gives the same report and plan however the file is cut into
//! chunks (it validates chunk N on a helper thread while it parses chunk N+1
//! and plans chunk N-1), and `check` counts what `plan` plans.

use userimport::schema::{Profile, SampleRows};
use userimport::sink::MemorySink;
use userimport::{Checked, CsvWriter, ImportOptions, Importer, OutputCharset};

/// 1,500 generated rows with 2% defects, plus an in-file duplicate of the
/// first row at the end (a key seen again many chunks later) and a ragged row.
fn file() -> Vec<u8> {
    let profile = Profile::standard();
    let mut sample = SampleRows::new(&profile, 9).defect_rate(0.02);
    let mut w = CsvWriter::new(Vec::new(), OutputCharset::parse("utf-8").unwrap()).unwrap();
    w.write_row(sample.header()).unwrap();
    let mut first = None;
    for _ in 0..1_500 {
        let (cells, _) = sample.next_row();
        first.get_or_insert_with(|| cells.clone());
        w.write_row(&cells).unwrap();
    }
    w.write_row(first.unwrap()).unwrap();
    let mut bytes = w.finish().unwrap();
    bytes.extend_from_slice(b"ragged,row\n");
    bytes
}

fn run(chunk_rows: usize, keep_plan: bool) -> Checked {
    let profile = Profile::standard();
    let mut options = ImportOptions::default();
    options.chunk_rows = chunk_rows;
    let importer = Importer::builder(&profile).options(options).build();
    let store = MemorySink::new();
    let bytes = file();
    match keep_plan {
        true => importer.plan(&bytes[..], &store).unwrap(),
        false => importer.check(&bytes[..], &store).unwrap(),
    }
}

#[test]
fn chunk_size_changes_nothing() {
    let reference = run(1_000_000, true);
    assert_eq!(reference.file.rows, 1_502);
    assert!(reference.summary.invalid > 2, "{:?}", reference.summary);
    assert!(
        reference
            .issues
            .iter()
            .any(|i| i.code == "key.duplicate" && i.row == 1)
    );
    assert!(reference.issues.iter().any(|i| i.code == "row.ragged"));
    for chunk_rows in [1, 2, 7, 1_024, 1_501] {
        for keep_plan in [false, true] {
            let got = run(chunk_rows, keep_plan);
            assert_eq!(got.file, reference.file, "chunk_rows {chunk_rows}");
            assert_eq!(got.summary, reference.summary, "chunk_rows {chunk_rows}");
            assert_eq!(got.issues, reference.issues, "chunk_rows {chunk_rows}");
            if keep_plan {
                assert_eq!(got.plan, reference.plan, "chunk_rows {chunk_rows}");
            } else {
                assert!(got.plan.is_none());
            }
        }
    }
}

#[test]
fn header_only_file() {
    let profile = Profile::standard();
    let sample = SampleRows::new(&profile, 1);
    let mut w = CsvWriter::new(Vec::new(), OutputCharset::parse("utf-8").unwrap()).unwrap();
    w.write_row(sample.header()).unwrap();
    let bytes = w.finish().unwrap();
    let importer = Importer::builder(&profile).build();
    let checked = importer.check(&bytes[..], &MemorySink::new()).unwrap();
    assert_eq!(checked.file.rows, 0);
    assert_eq!(checked.summary.rows, 0);
    assert!(checked.is_clean());
}

#[test]
fn an_error_mid_file_ends_the_run_without_waiting_forever() {
    // The team profile allows 2,000 rows: the reader fails while chunks are
    // still being validated on the helper thread.
    let profile = Profile::team();
    let mut sample = SampleRows::new(&profile, 3);
    let mut w = CsvWriter::new(Vec::new(), OutputCharset::parse("utf-8").unwrap()).unwrap();
    w.write_row(sample.header()).unwrap();
    for _ in 0..2_500 {
        w.write_row(&sample.next_row().0).unwrap();
    }
    let bytes = w.finish().unwrap();
    for chunk_rows in [1, 7, 1_024] {
        let mut options = ImportOptions::default();
        options.chunk_rows = chunk_rows;
        let importer = Importer::builder(&profile).options(options).build();
        let err = importer.check(&bytes[..], &MemorySink::new()).unwrap_err();
        assert!(err.to_string().contains("2000"), "{err}");
    }
}

/// A check plans new users without building them: the issues that only a
/// new user can raise (a required cell left blank, no password, a status
/// only existing users may have, a group to create) come out the same, in
/// the same order, as when the plan is kept.
#[test]
fn check_and_plan_agree_on_new_users_issues() {
    let file =
        b"Login ID,Name,Display name,Department,Position,Email address,Password,Status,Belong to
a.one,,One,Sales,,a.one@example.com,Pass-word-1,Valid,Sales
a.two,Two Two,Two,Sales,,a.two@example.com,,Valid,Sales
a.three,Three,Three,Sales,,a.three@example.com,Pass-word-3,Temporary suspended,Sales
a.four,Four,Four,Sales,,a.four@example.com,Pass-word-4,Valid,Brand New Group
a.five,Five,Five,Sales,,,Pass-word-5,,
";
    let profile = Profile::standard();
    let importer = Importer::builder(&profile).build();
    let checked = importer.check(&file[..], &MemorySink::new()).unwrap();
    let planned = importer.plan(&file[..], &MemorySink::new()).unwrap();
    assert_eq!(checked.summary, planned.summary);
    assert_eq!(checked.issues, planned.issues);
    let codes: Vec<(u64, &str)> = checked
        .issues
        .iter()
        .map(|i| (i.row, i.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (1, "field.required"),
            (1, "group.new"),
            (2, "password.missing"),
            (3, "status.suspended_new"),
            (4, "group.new"),
        ]
    );
    assert_eq!((checked.summary.create, checked.summary.invalid), (2, 3));
}
