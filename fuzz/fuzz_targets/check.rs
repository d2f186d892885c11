//! bytes → the whole pipeline (decode, map, validate, plan) under fuzzed
//! import options, against a `MemorySink` holding the seed users of the
//! profile: never panics; upload-and-check (small chunks, counts only) and
//! plan (one chunk, every change) agree; the counts add up; every report
//! format writes.
//!
//! The first four bytes are the options:
//! - byte 0: profile (standard, team, access, or a TOML profile from the
//!   input), mode, actor, generated passwords, chunk size;
//! - byte 1: charset (auto and every explicit one), delimiter, header row;
//! - byte 2: merge, key order, card ID notation, sync action and threshold,
//!   skip-invalid, update passwords;
//! - byte 3: a column mapping (`--map FIELD=none`, `--map FIELD=HEADER`).
//!
//! The rest is the file; with a TOML profile, the TOML comes first and a NUL
//! byte separates it from the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::parse::Charset;
use userimport::plan::{Merge, Mode, PlanOptions, SyncAction};
use userimport::schema::{KeyKind, Profile};
use userimport::sink::MemorySink;
use userimport::validate::{CardIdType, ValidateOptions};
use userimport::{Checked, Format, ImportOptions, Importer, write_report};
use userimport_fuzz::{actor, seeded_memory};

fn plan_options(a: u8, c: u8, profile: &Profile) -> PlanOptions {
    PlanOptions {
        mode: match (a >> 2) & 3 {
            0 => Mode::Upsert,
            1 => Mode::Create,
            2 => Mode::Update,
            _ => Mode::Sync,
        },
        actor: (a & 0x10 != 0).then(|| actor(&profile.name).to_string()),
        generate_passwords: a & 0x20 != 0,
        merge: if c & 1 != 0 {
            Merge::KeepExisting
        } else {
            Merge::Overwrite
        },
        key_order: match (c >> 1) & 3 {
            0 => Vec::new(),
            1 => vec![KeyKind::Email, KeyKind::Login, KeyKind::Id],
            2 => vec![KeyKind::Login],
            _ => vec![KeyKind::Id, KeyKind::Email],
        },
        sync_action: if c & 0x10 != 0 {
            SyncAction::Suspend
        } else {
            SyncAction::Delete
        },
        max_delete_percent: if c & 0x20 != 0 { 100.0 } else { 10.0 },
        skip_invalid: c & 0x40 != 0,
        update_passwords: c & 0x80 != 0,
    }
}

fn read_options(b: u8, options: &mut ImportOptions) {
    options.charset = match b & 7 {
        1 => Charset::Utf8,
        2 => Charset::ShiftJis,
        3 => Charset::EucJp,
        4 => Charset::Utf16Le,
        5 => Charset::Utf16Be,
        6 => Charset::Windows1252,
        _ => Charset::Auto,
    };
    options.delimiter = match (b >> 3) & 3 {
        0 => None,
        1 => Some(b','),
        2 => Some(b';'),
        _ => Some(b'\t'),
    };
    options.header_row = match b >> 5 {
        0 => None,
        k => Some(u64::from(k)),
    };
}

/// `--map` options from one byte: a column of the profile mapped to no
/// header, or to another column's label, or both.
fn maps(d: u8, profile: &Profile) -> Vec<(String, Option<String>)> {
    let n = profile.columns.len();
    if n == 0 {
        return Vec::new();
    }
    let a = &profile.columns[usize::from(d & 7) % n];
    let b = &profile.columns[usize::from((d >> 3) & 7) % n];
    match d >> 6 {
        0 => Vec::new(),
        1 => vec![(a.key.clone(), None)],
        2 => vec![(a.key.clone(), Some(b.label.clone()))],
        _ => vec![
            (a.key.clone(), None),
            (b.key.clone(), Some(a.label.clone())),
        ],
    }
}

/// The profile byte 0 names, and the file: for a TOML profile the input
/// is `TOML \0 FILE`.
fn profile_and_file(a: u8, rest: &[u8]) -> Option<(Profile, &[u8])> {
    match a & 3 {
        0 => Some((Profile::standard(), rest)),
        1 => Some((Profile::team(), rest)),
        2 => Some((Profile::access(), rest)),
        _ => {
            let nul = rest.iter().position(|&b| b == 0)?;
            let toml = std::str::from_utf8(&rest[..nul]).ok()?;
            let profile = Profile::from_toml(toml).ok()?;
            (profile.columns.len() <= 200).then_some((profile, &rest[nul + 1..]))
        }
    }
}

/// Issues as (line, row, code, column), sorted.
fn issue_keys(c: &Checked) -> Vec<(u64, u64, String, Option<String>)> {
    let mut v: Vec<_> = c
        .issues
        .iter()
        .map(|i| (i.line, i.row, i.code.clone(), i.column.clone()))
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static STANDARD: MemorySink = seeded_memory("standard");
        static TEAM: MemorySink = seeded_memory("team");
    }
    let [a, b, c, d, rest @ ..] = data else {
        return;
    };
    let Some((profile, file)) = profile_and_file(*a, rest) else {
        return;
    };
    let mut options = ImportOptions::default();
    options.plan = plan_options(*a, *c, &profile);
    read_options(*b, &mut options);
    options.validate = ValidateOptions {
        card_id_type: if c & 8 != 0 {
            CardIdType::Hex
        } else {
            CardIdType::Decimal
        },
        ..ValidateOptions::default()
    };
    options.maps = maps(*d, &profile);
    options.chunk_rows = 1 + (usize::from(*a) >> 6) * 3;
    let small = Importer::builder(&profile).options(options.clone()).build();
    options.chunk_rows = 8192;
    let whole = Importer::builder(&profile).options(options).build();
    let run = |store: &MemorySink| {
        // Upload-and-check in small chunks, and plan in one chunk: the
        // counts and issues must not depend on either.
        let (checked, planned) = match (small.check(file, store), whole.plan(file, store)) {
            (Ok(c), Ok(p)) => (c, p),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                return;
            }
            (a, b) => panic!("check and plan disagree: {a:?} / {b:?}"),
        };
        let s = &checked.summary;
        assert_eq!(s.valid + s.invalid, s.rows, "{s:?}");
        assert_eq!(s.rows, checked.file.rows, "{s:?}");
        assert_eq!(checked.summary, planned.summary, "check and plan counts");
        assert_eq!(
            issue_keys(&checked),
            issue_keys(&planned),
            "check and plan issues"
        );
        for issue in &checked.issues {
            assert!(issue.row <= s.rows, "{issue:?}");
        }
        for format in [Format::Text, Format::Json, Format::Csv] {
            write_report(&checked, format, false, std::io::sink()).expect("the report writes");
        }
    };
    match profile.name.as_str() {
        "team" => TEAM.with(run),
        _ => STANDARD.with(run),
    }
});
