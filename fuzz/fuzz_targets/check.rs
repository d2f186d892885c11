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
        static PROFILES: [Profile; 3] = [Profile::standard(), Profile::team(), Profile::access()];
    }
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let profile = PROFILES.with(|p| match mode & 3 {
        0 | 3 => p[0].clone(),
        1 => p[1].clone(),
        _ => p[2].clone(),
    });
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
    let small = Importer::builder(&profile).options(options.clone()).build();
    options.chunk_rows = 8192;
    let whole = Importer::builder(&profile).options(options).build();
    STORE.with(|store| {
        // Upload-and-check in small chunks, and plan in one chunk: the
        // counts and issues must not depend on either.
        let checked = small.check(data, store);
        let planned = whole.plan(data, store);
        let (checked, planned) = match (checked, planned) {
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
        let key = |c: &userimport::Checked| {
            let mut v: Vec<(u64, u64, String, Option<String>)> = c
                .issues
                .iter()
                .map(|i| (i.line, i.row, i.code.clone(), i.column.clone()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(key(&checked), key(&planned), "check and plan issues");
        for issue in &checked.issues {
            assert!(issue.row <= s.rows, "{issue:?}");
        }
        for format in [Format::Text, Format::Json, Format::Csv] {
            write_report(&checked, format, false, std::io::sink()).unwrap();
        }
    });
});
