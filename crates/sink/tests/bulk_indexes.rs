//! A bulk load (`Sink::begin_bulk_load`) leaves out the indexes that refuse
//! no row (look-alike skeletons, card ID, folded identities) and builds
//! them from its rows just before it commits, on both stores: every index
//! is there afterwards, the look-alike and card checks against the store
//! still find what was loaded, and a load that fails or loses its
//! connection leaves the store as it was, indexes included.

use userimport_plan::{Directory, EmptyDirectory, Plan, PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{Error, Sink};
use userimport_validate::{Cell, Row};

mod backends;

use backends::{Backend, both_backends, write_batch as write};

/// The store's indexes as its own catalogue lists them: (name, definition).
trait Indexes {
    fn indexes(&self) -> Vec<(String, String)>;
}

impl Indexes for backends::Sqlite {
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

fn a_failed_bulk_load_leaves_the_store_and_its_indexes_as_they_were<B: Backend + Indexes>(b: &B) {
    let mut store = b.open();
    let before = b.indexes();
    assert!(store.begin_bulk_load().unwrap());
    let first = plan(&empty(&store), users(1, 2_000));
    let held = write(&mut store, &first, 0, true);
    assert!(held.held && held.created == 2_000, "{held:?}");
    // Planned as if the store were empty: E01500 is already loaded, and
    // the unique index on login IDs refuses it.
    let second = plan(&empty(&store), users(1_500, 10));
    assert!(second.is_clean(), "{:?}", second.issues);
    let refused = write(&mut store, &second, held.revision, false);
    assert!(!refused.committed, "{refused:?}");
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

both_backends!(
    a_bulk_load_leaves_every_index_in_place,
    look_alike_and_card_checks_hold_after_a_bulk_load,
    a_failed_bulk_load_leaves_the_store_and_its_indexes_as_they_were,
);
