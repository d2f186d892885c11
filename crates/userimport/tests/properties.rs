//! Property tests of the round trips the design promises:
//! - write → parse is the identity (through [`CsvWriter`] and the parse
//!   [`Reader`](userimport::parse::Reader), in every output charset);
//! - the formula-safe writer neutralises every dangerous cell start and the
//!   reader's un-escaping gives the input back exactly;
//! - export → import changes nothing;
//! - applying the same file twice changes nothing the second time.
//!
//! Stores are [`MemorySink`]s; passwords are given as one precomputed
//! argon2id hash, so no test pays for hashing per case.

use std::sync::OnceLock;

use proptest::prelude::*;
use userimport::parse::{Charset, ReaderBuilder};
use userimport::plan::{Mode, PlanOptions};
use userimport::schema::{Profile, escape_formula, unescape_formula};
use userimport::sink::{MemorySink, Sink};
use userimport::{
    CsvWriter, ExportOptions, ImportOptions, Importer, OutputCharset, WriteError, export,
};

/// Cell starts a spreadsheet would run as a formula.
const DANGEROUS: [char; 12] = [
    '=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠',
];

/// A cell: any text, often starting like a formula or like our escaping.
fn cell() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "", "", "", "=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "'", "'=", "''",
        " ", "\"", "sep=;", "¥", "‾", "\\", "~", "〜", "－", "Bob;=", "a\t+", "c|@", "d,-", "e;'=",
        "f;''",
    ]);
    (
        start,
        "\\PC{0,12}",
        prop::sample::select(vec!["", ",", "\"", "\r\n", "\n", " "]),
    )
        .prop_map(|(a, b, c)| format!("{a}{b}{c}"))
}

/// Characters a CSV text file cannot carry (the reader refuses NUL and
/// most C0 controls as binary), replaced before writing.
fn printable(cell: &str) -> String {
    cell.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Writes `records` under a fixed header and reads them back.
fn write_and_read(
    records: &[Vec<String>],
    out: OutputCharset,
    charset: Charset,
) -> Result<Option<Vec<Vec<String>>>, String> {
    let header = ["a", "b", "c"];
    let mut writer = CsvWriter::new(Vec::new(), out).map_err(|e| e.to_string())?;
    writer.write_row(header).map_err(|e| e.to_string())?;
    for record in records {
        writer.write_row(record).map_err(|e| e.to_string())?;
    }
    let bytes = match writer.finish() {
        Ok(bytes) => bytes,
        // Shift_JIS cannot hold every character: refused, not mangled.
        Err(WriteError::Unencodable { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut builder = ReaderBuilder::new();
    builder.charset(charset).delimiter(Some(b','));
    let reader = builder.build(&bytes[..]).map_err(|e| e.to_string())?;
    if reader.header().iter().collect::<Vec<_>>() != header {
        return Err(format!("header {:?}", reader.header()));
    }
    let mut got = Vec::new();
    for record in reader {
        let record = record.map_err(|e| e.to_string())?;
        for raw in record.iter() {
            if raw.starts_with(DANGEROUS) {
                return Err(format!("written cell {raw:?} starts like a formula"));
            }
            let live = raw
                .match_indices([';', '\t', '|', ','])
                .any(|(at, sep)| raw[at + sep.len()..].starts_with(DANGEROUS));
            if live {
                return Err(format!(
                    "written cell {raw:?} holds a formula after a separator"
                ));
            }
        }
        got.push(
            record
                .iter()
                .map(|c| unescape_formula(c).into_owned())
                .collect(),
        );
    }
    Ok(Some(got))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The escaping alone: nothing dangerous survives at a cell start, and
    /// un-escaping gives back exactly the input (NUL included).
    #[test]
    fn formula_escaping_neutralises_and_round_trips(cell in cell(), nul in any::<bool>()) {
        let cell = if nul { format!("\0{cell}") } else { cell };
        let escaped = escape_formula(&cell);
        prop_assert!(!escaped.starts_with(DANGEROUS), "{:?} -> {:?}", cell, escaped);
        prop_assert_eq!(unescape_formula(&escaped), cell.as_str());
        // Nothing dangerous after a separator either (`Bob;=1+1` in a
        // spreadsheet that splits on `;`).
        let live = escaped
            .match_indices([';', '\t', '|', ','])
            .any(|(at, sep)| escaped[at + sep.len()..].starts_with(DANGEROUS));
        prop_assert!(!live, "{:?} -> {:?}", cell, escaped);
    }

    /// write → parse → un-escape is the identity, in every output charset;
    /// records whose cells are all blank are skipped by the reader.
    #[test]
    fn write_then_parse_is_identity(
        records in prop::collection::vec(prop::collection::vec(cell(), 0..6), 0..12),
        which in 0..3usize,
    ) {
        let records: Vec<Vec<String>> = records
            .iter()
            .map(|r| r.iter().map(|c| printable(c)).collect())
            .collect();
        let (out, charset) = match which {
            0 => (OutputCharset::UTF8_BOM, Charset::Utf8),
            1 => (OutputCharset::UTF8, Charset::Utf8),
            _ => (OutputCharset::parse("shift_jis").unwrap(), Charset::ShiftJis),
        };
        let got = write_and_read(&records, out, charset).map_err(TestCaseError::fail)?;
        if let Some(got) = got {
            let expected: Vec<Vec<String>> = records
                .into_iter()
                .filter(|r| !r.iter().all(|c| escape_formula(c).trim().is_empty()))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}

/// Found by the `roundtrip` fuzz target: Shift_JIS (and EUC-JP) encode
/// `¥` and `‾` without error as 0x5C and 0x7E, which read back as `\` and
/// `~`. The writer refuses them like any unmappable character, so what it
/// writes always reads back exactly.
#[test]
fn shift_jis_output_refuses_characters_that_read_back_as_others() {
    for charset in ["shift_jis", "euc-jp"] {
        for cell in [" ¥", "C:¥Users", "‾", "a‾b"] {
            let mut w = CsvWriter::new(Vec::new(), OutputCharset::parse(charset).unwrap()).unwrap();
            w.write_row(["ok", cell]).unwrap();
            let err = w.finish().unwrap_err();
            assert!(
                matches!(
                    &err,
                    WriteError::Unencodable { cells, .. }
                        if cells.len() == 1 && cells[0].line == 1 && cells[0].column == 2
                ),
                "{charset} {cell:?}: {err}"
            );
        }
        let got = write_and_read(
            &[vec!["\\".to_string(), "~".to_string()]],
            OutputCharset::parse(charset).unwrap(),
            if charset == "shift_jis" {
                Charset::ShiftJis
            } else {
                Charset::EucJp
            },
        )
        .unwrap();
        assert_eq!(got, Some(vec![vec!["\\".to_string(), "~".to_string()]]));
    }
}

/// One user of a generated import file.
#[derive(Debug, Clone)]
struct User {
    login: String,
    name: String,
    department: String,
    status: &'static str,
    notify: &'static str,
    groups: Vec<&'static str>,
    roles: Vec<&'static str>,
    country: &'static str,
}

/// Text a person might type, starting like a formula now and then; no
/// control or invisible characters (the validator refuses those).
fn text(min: usize) -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "", "", "", "=", "+", "-", "@", "＝", "＋", "－", "＠", "'", "'=", "''", "\"", "O'",
        "Bob;=", "x|@", "y,-", "z;'=", "w;''",
    ]);
    (start, "[\\p{L}\\p{N}\\p{P}\\p{S} ]{0,20}").prop_filter_map("blank", move |(a, b)| {
        let t = format!("{a}{b}");
        let trimmed = t.trim();
        (trimmed.chars().count() >= min
            && !trimmed.chars().any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}')))
            .then_some(t)
    })
}

fn user(login: String) -> impl Strategy<Value = User> {
    (
        text(1),
        prop_oneof![Just(String::new()), text(0)],
        prop::sample::select(vec!["", "Valid", "Invalid", "valid"]),
        prop::sample::select(vec!["", "On", "Off", "off"]),
        prop::sample::subsequence(vec!["Sales", "Tokyo", "Dev"], 0..=3),
        prop::sample::subsequence(vec!["Manager", "Editor"], 0..=2),
        prop::sample::select(vec!["", "Japan", "Djibouti."]),
    )
        .prop_map(
            move |(name, department, status, notify, groups, roles, country)| User {
                login: login.clone(),
                name,
                department,
                status,
                notify,
                groups,
                roles,
                country,
            },
        )
}

fn users() -> impl Strategy<Value = Vec<User>> {
    prop::collection::btree_set("[a-z][a-z0-9]{0,10}", 1..8)
        .prop_flat_map(|logins| logins.into_iter().map(user).collect::<Vec<_>>())
}

/// One argon2id hash, made once: new users need a password.
fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| userimport::plan::hash_password("Property-Test-Password-1").unwrap())
}

/// The users as an import file, written by our own formula-safe writer.
fn import_file(users: &[User]) -> Vec<u8> {
    let mut w = CsvWriter::new(Vec::new(), OutputCharset::UTF8_BOM).unwrap();
    w.write_row([
        "login_id",
        "name",
        "department",
        "email",
        "password_hash",
        "status",
        "notify_announcements",
        "groups",
        "roles",
        "country",
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
            u.notify,
            &u.groups.join(","),
            &u.roles.join(","),
            u.country,
        ])
        .unwrap();
    }
    w.finish().unwrap()
}

fn importer(profile: &Profile) -> Importer {
    let plan = PlanOptions {
        mode: Mode::Upsert,
        ..PlanOptions::default()
    };
    let mut options = ImportOptions::default();
    options.plan = plan;
    options.chunk_rows = 3;
    Importer::builder(profile).options(options).build()
}

/// Applies `file` to `store`; the check must be clean.
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

/// Checks `file` against `store`: every row must match a user and change
/// nothing.
fn changes_nothing(
    profile: &Profile,
    file: &[u8],
    store: &MemorySink,
    rows: u64,
) -> Result<(), TestCaseError> {
    let checked = importer(profile)
        .check(file, store)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let s = checked.summary;
    prop_assert!(checked.is_clean(), "{:#?}", checked.issues);
    prop_assert_eq!(
        (s.create, s.update, s.delete, s.unchanged),
        (0, 0, 0, rows),
        "{:?}\n{}",
        s,
        String::from_utf8_lossy(file)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Re-applying the same file changes nothing.
    #[test]
    fn applying_the_same_file_twice_changes_nothing(users in users()) {
        let profile = Profile::standard();
        let file = import_file(&users);
        let mut store = MemorySink::new();
        apply(&profile, &file, &mut store)?;
        changes_nothing(&profile, &file, &store, users.len() as u64)?;
    }

    /// Export → import changes nothing, in every export charset that can
    /// hold the data, and whatever the columns chosen.
    #[test]
    fn export_then_import_changes_nothing(users in users(), all_columns in any::<bool>()) {
        let profile = Profile::standard();
        let mut store = MemorySink::new();
        apply(&profile, &import_file(&users), &mut store)?;
        let mut options = ExportOptions::default();
        if !all_columns {
            options.columns = ["member_id", "name", "department", "groups", "status"]
                .map(String::from)
                .to_vec();
        }
        let mut out = Vec::new();
        let written = export(&profile, &store, &options, OutputCharset::UTF8_BOM, &mut out)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(written, users.len() as u64);
        changes_nothing(&profile, &out, &store, users.len() as u64)?;
        // Every exported cell is formula-safe.
        let mut builder = ReaderBuilder::new();
        builder.charset(Charset::Utf8).delimiter(Some(b','));
        for record in builder.build(&out[..]).unwrap() {
            for cell in record.unwrap().iter() {
                prop_assert!(!cell.starts_with(DANGEROUS), "exported cell {:?}", cell);
            }
        }
    }
}
