//! A bulk load (`Sink::begin_bulk_load`) leaves out the indexes that refuse
//! no row (look-alike skeletons, card ID, folded identities), and on
//! PostgreSQL the unique keys of `users` too, and builds them from its rows
//! just before it commits, on both stores: every index is there afterwards,
//! the look-alike and card checks against the store still find what was
//! loaded, a key two loaded users hold still refuses the load, and a load
//! that fails or loses its connection leaves the store as it was, indexes
//! included.

use userimport_plan::{Directory, EmptyDirectory, Plan, PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{Error, JobSpec, Jobs, Outcome, RowResult, Sink};
use userimport_validate::{Cell, Row};

mod backends;

use backends::{Backend, both_backends, try_write_batch, write_batch as write};

/// The store's indexes as its own catalogue lists them: (name, definition).
trait Indexes {
    fn indexes(&self) -> Vec<(String, String)>;
    /// The bulk load checks the unique keys when it adds them again before
    /// its commit, not row by row.
    const KEYS_CHECKED_AT_COMMIT: bool;
}

impl Indexes for backends::Sqlite {
    const KEYS_CHECKED_AT_COMMIT: bool = false;

    fn indexes(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(self.path()).expect("open");
        let mut stmt = conn
            .prepare(
                "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY name",
            )
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("indexes")
    }
}

impl Indexes for backends::Postgres {
    const KEYS_CHECKED_AT_COMMIT: bool = true;

    fn indexes(&self) -> Vec<(String, String)> {
        let mut client =
            ::postgres::Client::connect(&self.base, ::postgres::NoTls).expect("connect");
        client
            .query(
                "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
                &[&self.schema],
            )
            .expect("indexes")
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

/// The indexes a bulk load leaves out while it loads.
const DEFERRED: [&str; 4] = [
    "identities_folded",
    "users_card_id",
    "users_email_skeleton",
    "users_login_skeleton",
];

/// Every index of the empty store is there, defined as it was.
fn assert_every_index(before: &[(String, String)], after: &[(String, String)]) {
    assert_eq!(before, after, "the indexes are those of the empty store");
    for name in DEFERRED {
        assert!(
            after.iter().any(|(n, _)| n == name),
            "no index {name} in {after:?}"
        );
    }
}

/// `n` access-profile users from `first` on: user ID `E00001`, e-mail,
/// card number `700000 + i`.
fn users(first: u64, n: u64) -> Vec<Row> {
    let profile = Profile::access();
    (first..first + n)
        .map(|i| {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            for (key, cell) in [
                ("user_id", Cell::Value(format!("E{i:05}"))),
                ("name", Cell::Value(format!("User {i}"))),
                ("email", Cell::Value(format!("e{i}@example.com"))),
                ("card_id", Cell::Value(format!("{}", 700_000 + i))),
            ] {
                cells[profile.column_index(key).expect("column")] = cell;
            }
            Row {
                line: i + 1,
                row: i,
                cells,
                valid: true,
            }
        })
        .collect()
}

/// `rows` without their card numbers.
fn without_cards(mut rows: Vec<Row>) -> Vec<Row> {
    let card = Profile::access().column_index("card_id").expect("column");
    for row in &mut rows {
        row.cells[card] = Cell::Absent;
    }
    rows
}

/// The card-number issues of checking `rows` against `store`: (line,
/// message), lower case.
fn card_issues(store: &impl Directory<Error = Error>, rows: Vec<Row>) -> Vec<(u64, String)> {
    plan(store, rows)
        .issues
        .iter()
        .filter(|i| i.code == "card_id.duplicate")
        .map(|i| (i.line, i.message.to_lowercase()))
        .collect()
}

/// One access-profile user with the given user ID and card number.
fn user(line: u64, id: &str, card: &str) -> Row {
    let profile = Profile::access();
    let mut cells = vec![Cell::Absent; profile.columns.len()];
    for (key, value) in [("user_id", id), ("name", "Someone"), ("card_id", card)] {
        cells[profile.column_index(key).expect("column")] = Cell::Value(value.to_string());
    }
    Row {
        line,
        row: line - 1,
        cells,
        valid: true,
    }
}

fn plan(store: &impl Directory, rows: Vec<Row>) -> Plan {
    Planner::plan_rows(&Profile::access(), PlanOptions::default(), rows, store).expect("plan")
}

fn empty(store: &impl Directory<Error = Error>) -> EmptyDirectory {
    EmptyDirectory::new(store.revision().unwrap(), store.groups().unwrap())
}

/// Loads 3,000 users in bulk, in two held batches and a committed one.
fn load<S: Sink<Error = Error> + Directory<Error = Error>>(store: &mut S) {
    assert!(
        store.begin_bulk_load().unwrap(),
        "an empty store loads in bulk"
    );
    let mut revision = 0;
    for (first, n, hold) in [
        (1, 1_000, true),
        (1_001, 1_000, true),
        (2_001, 1_000, false),
    ] {
        let batch = plan(&empty(store), users(first, n));
        assert!(batch.is_clean(), "{:?}", batch.issues);
        let written = write(store, &batch, revision, hold);
        assert_eq!(written.created, 1_000, "{written:?}");
        assert_eq!(written.committed, !hold, "{written:?}");
        revision = written.revision;
    }
}

fn a_bulk_load_leaves_every_index_in_place<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    let before = b.indexes();
    load(&mut store);
    assert_eq!(store.user_count().unwrap(), 3_000);
    assert_every_index(&before, &b.indexes());
    // The next apply is no bulk load (the store has users) and keeps them.
    assert!(!store.begin_bulk_load().unwrap());
    let more = plan(&store, users(3_001, 10));
    let revision = store.revision().unwrap();
    let written = write(&mut store, &more, revision, false);
    assert!(written.committed && written.created == 10, "{written:?}");
    assert_every_index(&before, &b.indexes());
}

fn look_alike_and_card_checks_hold_after_a_bulk_load<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    load(&mut store);
    drop(store);
    let store = b.open();
    // `Е00007` with a Cyrillic Е looks like E00007; card 700012 is E00012's.
    let checked = plan(
        &store,
        vec![
            user(2, "\u{415}00007", "123"),
            user(3, "E09999", "700012"),
            user(4, "E09998", "555"),
        ],
    );
    let codes: Vec<(u64, &str)> = checked
        .issues
        .iter()
        .map(|i| (i.line, i.code.as_str()))
        .collect();
    assert!(codes.contains(&(2, "key.confusable")), "{codes:?}");
    assert!(codes.contains(&(3, "card_id.duplicate")), "{codes:?}");
    assert!(
        !codes.iter().any(|(line, _)| *line == 4),
        "a new user with a new card is fine: {codes:?}"
    );
    let named = |line: u64| {
        checked
            .issues
            .iter()
            .filter(|i| i.line == line)
            .map(|i| i.message.clone())
            .collect::<String>()
    };
    assert!(named(2).to_lowercase().contains("e00007"), "{}", named(2));
    assert!(named(3).to_lowercase().contains("e00012"), "{}", named(3));

    // A card given by an update (the stores edit the JSON in place) is
    // found through the index too.
    let mut store = store;
    let update = plan(&store, vec![user(2, "E00020", "999999")]);
    assert!(update.is_clean(), "{:?}", update.issues);
    let revision = store.revision().unwrap();
    let written = write(&mut store, &update, revision, false);
    assert!(written.committed && written.updated == 1, "{written:?}");
    let checked = plan(&store, vec![user(2, "E09997", "999999")]);
    assert!(
        checked
            .issues
            .iter()
            .any(|i| i.code == "card_id.duplicate" && i.message.to_lowercase().contains("e00020")),
        "{:?}",
        checked.issues
    );
}

/// The card-ID index holds only users with a card: on PostgreSQL a load
/// keeps it until the first user with one is written, then builds it after
/// the rows. Either way it is right once the load commits.
fn a_card_first_met_late_in_a_bulk_load_is_found<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    let before = b.indexes();
    assert!(store.begin_bulk_load().unwrap());
    let mut revision = 0;
    for (rows, hold) in [
        (without_cards(users(1, 1_000)), true),
        (users(1_001, 1_000), true),
        (without_cards(users(2_001, 10)), false),
    ] {
        let batch = plan(&empty(&store), rows);
        let written = write(&mut store, &batch, revision, hold);
        assert!(
            written.created > 0 && written.committed != hold,
            "{written:?}"
        );
        revision = written.revision;
    }
    assert_every_index(&before, &b.indexes());
    drop(store);
    let store = b.open();
    // 700005 was never given (E00005 has no card); 701500 is E01500's.
    let issues = card_issues(
        &store,
        vec![user(2, "E09999", "700005"), user(3, "E09998", "701500")],
    );
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].0, 3, "{issues:?}");
    assert!(issues[0].1.contains("e01500"), "{issues:?}");
}

/// A load without a card keeps the card-ID index on PostgreSQL; a card
/// written after it is found through it.
fn a_bulk_load_without_cards_leaves_the_card_index_working<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    let before = b.indexes();
    assert!(store.begin_bulk_load().unwrap());
    let batch = plan(&empty(&store), without_cards(users(1, 500)));
    let written = write(&mut store, &batch, 0, false);
    assert!(written.committed && written.created == 500, "{written:?}");
    assert_every_index(&before, &b.indexes());
    let update = plan(&store, vec![user(2, "E00020", "999999")]);
    let revision = store.revision().unwrap();
    let written = write(&mut store, &update, revision, false);
    assert!(written.committed && written.updated == 1, "{written:?}");
    let issues = card_issues(&store, vec![user(2, "E09997", "999999")]);
    assert!(
        issues.len() == 1 && issues[0].1.contains("e00020"),
        "{issues:?}"
    );
}

fn a_failed_bulk_load_leaves_the_store_and_its_indexes_as_they_were<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    let before = b.indexes();
    assert!(store.begin_bulk_load().unwrap());
    let first = plan(&empty(&store), users(1, 2_000));
    let held = write(&mut store, &first, 0, true);
    assert!(held.held && held.created == 2_000, "{held:?}");
    // Planned as if the store were empty: E01500 is already loaded, and
    // the unique index on login IDs refuses it, as it is written (SQLite)
    // or when it is added again before the commit (PostgreSQL).
    let second = plan(&empty(&store), users(1_500, 10));
    assert!(second.is_clean(), "{:?}", second.issues);
    match try_write_batch(&mut store, &second, held.revision, false) {
        Ok(refused) if !B::KEYS_CHECKED_AT_COMMIT => assert!(!refused.committed, "{refused:?}"),
        Err(Error::Refused(why)) if B::KEYS_CHECKED_AT_COMMIT => {
            // One of E01500 to E01509, whichever the index build meets first.
            assert!(why.contains("login ID \"e0150"), "{why}");
            assert!(why.contains("nothing was written"), "{why}");
        }
        other => panic!("the load was not refused as expected: {other:?}"),
    }
    assert_eq!(store.user_count().unwrap(), 0, "the held rows went too");
    assert_eq!(store.revision().unwrap(), 0);
    assert_eq!(b.indexes(), before);

    // A load that loses its connection is taken back by the database.
    assert!(store.begin_bulk_load().unwrap(), "loads in bulk again");
    assert!(write(&mut store, &first, 0, true).held);
    drop(store);
    let mut store = b.open();
    assert_eq!(store.user_count().unwrap(), 0);
    assert_eq!(b.indexes(), before);

    // And the same load then completes, its indexes built.
    assert!(store.begin_bulk_load().unwrap());
    let done = write(&mut store, &first, 0, false);
    assert!(done.committed && done.created == 2_000, "{done:?}");
    assert_every_index(&before, &b.indexes());
}

fn spec(rows: u64) -> JobSpec {
    JobSpec {
        file: "users.csv".into(),
        file_sha256: "00".into(),
        options: "{}".into(),
        rows_total: rows,
    }
}

/// A load that turns into a job records the held rows' results at once,
/// inside the load's transaction: every result is there afterwards, read
/// through the job, and every index too. A store that already holds
/// another job's results (a job that failed before writing a user) keeps
/// them through the load.
fn load_as_a_job<B: Backend + Indexes>(b: &B, earlier_job: bool) {
    let mut store = b.open();
    let before = b.indexes();
    let earlier = earlier_job.then(|| {
        let failed = RowResult {
            line: 2,
            row: 1,
            outcome: Outcome::Failed,
            id: None,
            reason: Some("refused".into()),
        };
        let id = store.create_job(&spec(1)).unwrap();
        store
            .record_job_results(id, 1, std::slice::from_ref(&failed))
            .unwrap();
        (id, failed)
    });
    assert!(
        store.begin_bulk_load().unwrap(),
        "an empty store loads in bulk"
    );
    let first = plan(&empty(&store), users(1, 2_000));
    let held = write(&mut store, &first, 0, true);
    assert!(held.held && held.created == 2_000, "{held:?}");
    let job = store.create_job(&spec(2_010)).unwrap();
    store.record_job_results(job, 2_000, &held.results).unwrap();
    let rest = plan(&empty(&store), users(2_001, 10));
    let done = write(&mut store, &rest, held.revision, false);
    assert!(done.committed && done.created == 10, "{done:?}");
    let results = store.job_results(job).unwrap();
    assert_eq!(results, held.results, "earlier job: {earlier_job}");
    if let Some((id, failed)) = earlier {
        assert_eq!(store.job_results(id).unwrap(), [failed]);
    }
    assert_every_index(&before, &b.indexes());
}

fn a_bulk_load_recorded_as_a_job_keeps_every_result_and_index<B: Backend + Indexes>(b: &B) {
    load_as_a_job(b, false);
}

fn a_bulk_load_keeps_an_earlier_jobs_results_and_their_index<B: Backend + Indexes>(b: &B) {
    load_as_a_job(b, true);
}

both_backends!(
    a_bulk_load_recorded_as_a_job_keeps_every_result_and_index,
    a_bulk_load_keeps_an_earlier_jobs_results_and_their_index,
    a_bulk_load_leaves_every_index_in_place,
    look_alike_and_card_checks_hold_after_a_bulk_load,
    a_failed_bulk_load_leaves_the_store_and_its_indexes_as_they_were,
    a_card_first_met_late_in_a_bulk_load_is_found,
    a_bulk_load_without_cards_leaves_the_card_index_working,
);
