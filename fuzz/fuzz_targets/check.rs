//! bytes → the whole pipeline (decode, map, validate, plan) against a
//! `MemorySink` holding a few users: never panics, and the report's
//! counts add up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use userimport::plan::{Mode, PlanOptions};
use userimport::schema::Profile;
use userimport::sink::{MemorySink, Sink};
use userimport::{Format, ImportOptions, Importer, write_report};

/// A store with two users (one of them an actor with one role and one
/// group), made once.
fn store() -> MemorySink {
    let mut store = MemorySink::new();
    let seed = "login_id,name,email,password,groups,roles\r\n\
        admin,Admin,admin@example.com,,Sales,Manager\r\n\
        user,User,user@example.com,,Tokyo,\r\n";
    let mut options = PlanOptions::default();
    options.generate_passwords = true;
    let importer = Importer::builder(&Profile::standard())
        .plan_options(options)
        .build();
    if let Ok(checked) = importer.plan(seed.as_bytes(), &store)
        && checked.is_clean()
        && let Some(plan) = checked.plan
    {
        let _ = store.apply(&plan, &mut |_| true);
    }
    store
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static STORE: MemorySink = store();
    }
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let profile = match mode & 3 {
        0 | 3 => Profile::standard(),
        1 => Profile::team(),
        _ => Profile::access(),
    };
    let mut plan = PlanOptions::default();
    plan.mode = match (mode >> 2) & 3 {
        0 => Mode::Upsert,
        1 => Mode::Create,
        2 => Mode::Update,
        _ => Mode::Sync,
    };
    if mode & 0x10 != 0 {
        plan.actor = Some("admin".to_string());
    }
    plan.generate_passwords = mode & 0x20 != 0;
    let mut options = ImportOptions::default();
    options.plan = plan;
    options.chunk_rows = 1 + (mode as usize >> 6) * 3;
    let importer = Importer::builder(&profile).options(options).build();
    STORE.with(|store| {
        let keep = mode & 0x40 != 0;
        let result = if keep {
            importer.plan(data, store)
        } else {
            importer.check(data, store)
        };
        let Ok(checked) = result else { return };
        let s = &checked.summary;
        assert_eq!(s.valid + s.invalid, s.rows, "{s:?}");
        assert_eq!(s.rows, checked.file.rows, "{s:?}");
        for issue in &checked.issues {
            assert!(issue.row <= s.rows, "{issue:?}");
        }
        for format in [Format::Text, Format::Json, Format::Csv] {
            write_report(&checked, format, false, std::io::sink()).unwrap();
        }
    });
});
