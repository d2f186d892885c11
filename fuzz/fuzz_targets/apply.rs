//! One file, two stores: bytes → plan against a `MemorySink` and against
//! an in-memory SQLite store, both holding the seed users → apply to each →
//! export from SQLite → plan the export again.
//!
//! - both stores give the same plan, the same outcome and the same users;
//! - no store holds two users with one login ID or e-mail;
//! - the export of what was applied, checked again, changes nothing and
//!   has no error;
//! - the streamed apply (plan and write in one pass, small held batches,
//!   into a third store) commits exactly when the plan applies, and then
//!   leaves the same users; when it does not, it writes nothing.
//!
//! First two bytes: profile, mode, merge, actor, skip-invalid, update
//! passwords, sync action and threshold, generated passwords, card ID
//! notation, key order; the rest is the file. Passwords are replaced by one
//! hash made once (see `prehash`), so argon2 does not dominate a run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::plan::{Merge, Mode, PlanOptions, StoredUser, SyncAction};
use userimport::schema::{KeyKind, Profile};
use userimport::sink::{ApplyOutcome, Sink};
use userimport::validate::{CardIdType, ValidateOptions};
use userimport::{Checked, ExportOptions, ImportOptions, Importer, OutputCharset, StreamOptions};
use userimport_fuzz::{actor, assert_keys_unique, prehash, seeded_memory, seeded_sqlite, users};

/// The import options two option bytes stand for.
fn options(a: u8, b: u8, profile: &Profile) -> ImportOptions {
    let mut options = ImportOptions::default();
    options.plan = PlanOptions {
        mode: match (a >> 2) & 3 {
            0 => Mode::Upsert,
            1 => Mode::Create,
            2 => Mode::Update,
            _ => Mode::Sync,
        },
        merge: if a & 0x10 != 0 {
            Merge::KeepExisting
        } else {
            Merge::Overwrite
        },
        actor: (a & 0x20 != 0).then(|| actor(&profile.name).to_string()),
        skip_invalid: a & 0x40 != 0,
        update_passwords: a & 0x80 != 0,
        sync_action: if b & 1 != 0 {
            SyncAction::Suspend
        } else {
            SyncAction::Delete
        },
        max_delete_percent: if b & 2 != 0 { 100.0 } else { 10.0 },
        generate_passwords: b & 4 != 0,
        key_order: match (b >> 4) & 3 {
            0 => Vec::new(),
            1 => vec![KeyKind::Id, KeyKind::Email],
            2 => vec![KeyKind::Email, KeyKind::Login],
            _ => vec![KeyKind::Login],
        },
    };
    options.validate = ValidateOptions {
        card_id_type: if b & 8 != 0 {
            CardIdType::Hex
        } else {
            CardIdType::Decimal
        },
        ..ValidateOptions::default()
    };
    options
}

fn profile(a: u8) -> Profile {
    match a & 3 {
        1 => Profile::team(),
        2 => Profile::access(),
        _ => Profile::standard(),
    }
}

/// The counts and per-row outcomes of an apply (not its messages, which
/// may name a backend).
fn shape(outcome: &ApplyOutcome) -> impl PartialEq + std::fmt::Debug {
    let rows: Vec<_> = outcome
        .results
        .iter()
        .map(|r| (r.line, r.row, r.outcome, r.id))
        .collect();
    (
        (outcome.committed, outcome.revision),
        (outcome.created, outcome.updated, outcome.deleted),
        (outcome.unchanged, outcome.skipped, outcome.failed),
        outcome.created_groups.clone(),
        rows,
    )
}

/// Plans `data` against both stores; they must agree.
fn plan_both(
    importer: &Importer,
    data: &[u8],
    memory: &userimport::sink::MemorySink,
    sqlite: &userimport::sink::SqliteSink,
) -> Option<Checked> {
    match (importer.plan(data, memory), importer.plan(data, sqlite)) {
        (Ok(m), Ok(s)) => {
            assert_eq!(m.summary, s.summary, "the two stores count differently");
            // The memory store has no identity; the SQLite store's is random.
            let origin = |c: &Checked| {
                c.plan.clone().map(|mut p| {
                    p.store_id = None;
                    p
                })
            };
            assert_eq!(origin(&m), origin(&s), "the two stores plan differently");
            Some(s)
        }
        (Err(m), Err(s)) => {
            assert_eq!(m.to_string(), s.to_string());
            None
        }
        (m, s) => panic!("one store plans, the other refuses: {m:?} / {s:?}"),
    }
}

/// Exports the SQLite store with `importer`'s profile and plans the export
/// against it again: nothing may change and nothing may be wrong.
fn export_checks_clean(importer: &Importer, sqlite: &userimport::sink::SqliteSink) {
    let profile = importer.profile();
    let mut file = Vec::new();
    userimport::export(
        profile,
        sqlite,
        &ExportOptions::default(),
        OutputCharset::UTF8,
        &mut file,
    )
    .expect("the store exports");
    let mut again = ImportOptions::default();
    again.validate = importer.options().validate.clone();
    let reimport = Importer::builder(profile).options(again).build();
    let checked = reimport.check(&file[..], sqlite).unwrap_or_else(|e| {
        panic!(
            "the export does not check: {e}\n{}",
            String::from_utf8_lossy(&file)
        )
    });
    let s = &checked.summary;
    let errors: Vec<_> = checked.errors().collect();
    assert!(
        errors.is_empty() && s.create + s.update + s.delete == 0,
        "export → check is not a no-op: {s:?} {errors:?}\n{}",
        String::from_utf8_lossy(&file)
    );
}

/// Applies `data` streamed (three-row chunks, two-change held batches)
/// into a fresh SQLite store planned through a memory store of the same
/// users; `applied` is what applying the whole plan left, or `None` when it
/// was refused or rolled back.
fn streamed_agrees(importer: &Importer, data: &[u8], applied: Option<&[StoredUser]>) {
    let profile = importer.profile();
    let mut options = importer.options().clone();
    options.chunk_rows = 3;
    let streaming = Importer::builder(profile).options(options).build();
    let planning = seeded_memory(&profile.name);
    let mut store = seeded_sqlite(&profile.name);
    let before = users(&store);
    let stream = StreamOptions {
        batch_rows: 2,
        hold_rows: 2,
        ..StreamOptions::default()
    };
    let done = streaming.apply_streaming(data, planning, &mut store, &stream, &mut |_| true);
    let committed = matches!(&done, Ok(d) if d.outcome.committed);
    let after = users(&store);
    match applied {
        Some(applied) => {
            assert!(
                committed,
                "the plan applies, the streamed apply does not: {done:?}"
            );
            assert_eq!(after, applied, "streamed and at once leave different users");
        }
        None => {
            assert!(
                !committed,
                "the plan is refused, the streamed apply commits: {done:?}"
            );
            assert_eq!(after, before, "a streamed apply that did not commit wrote");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, data @ ..] = data else {
        return;
    };
    let profile = profile(*a);
    let importer = Importer::builder(&profile)
        .options(options(*a, *b, &profile))
        .build();
    let mut memory = seeded_memory(&profile.name);
    let mut sqlite = seeded_sqlite(&profile.name);
    let Some(checked) = plan_both(&importer, data, &memory, &sqlite) else {
        return;
    };
    let Some(mut plan) = checked.plan else {
        return;
    };
    // Streamed, passwords are hashed as written (argon2): only without them.
    let hashed = prehash(&mut plan);
    let stream = hashed == 0 && !plan.options.skip_invalid;
    let m = memory.apply(&plan, &mut |_| true);
    let s = sqlite.apply(&plan, &mut |_| true);
    let (m, s) = match (m, s) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(_), Err(_)) => {
            assert_eq!(users(&memory), users(&sqlite));
            if stream {
                streamed_agrees(&importer, data, None);
            }
            return;
        }
        (m, s) => panic!("one store applies, the other refuses: {m:?} / {s:?}"),
    };
    assert_eq!(shape(&m), shape(&s), "the two stores apply differently");
    let stored = users(&sqlite);
    assert_eq!(
        users(&memory),
        stored,
        "the two stores hold different users"
    );
    assert_keys_unique(&stored);
    userimport::write_results_csv(&s.results, std::io::sink()).expect("results write");
    if stream {
        streamed_agrees(&importer, data, s.committed.then_some(&stored[..]));
    }
    if s.committed {
        export_checks_clean(&importer, &sqlite);
    }
});
