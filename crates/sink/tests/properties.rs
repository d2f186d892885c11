//! Property tests: applying a file and planning it again changes nothing,
//! whatever the file holds, on both stores.

use proptest::prelude::*;
use userimport_plan::{Change, Directory, PlanOptions, Planner};
use userimport_schema::Profile;
use userimport_sink::{MemorySink, Sink, SqliteSink};
use userimport_validate::{Cell, ListEdit, Row, Secret};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdefghijklmnopqrstuvwxyzABCDE";

#[derive(Debug, Clone)]
struct User {
    name: String,
    department: Option<String>,
    status: Option<&'static str>,
    groups: Vec<String>,
    email: bool,
}

fn user() -> impl Strategy<Value = User> {
    (
        "[A-Za-zあ-ん ]{1,12}",
        proptest::option::of("[A-Za-z0-9 ]{0,8}"),
        proptest::option::of(prop_oneof![Just("Valid"), Just("Invalid")]),
        proptest::collection::vec("[A-Ca-c]{1,3}", 0..3),
        any::<bool>(),
    )
        .prop_map(|(name, department, status, groups, email)| User {
            name: name.trim().to_string(),
            department: department.map(|d| d.trim().to_string()),
            status,
            groups,
            email,
        })
}

fn rows(profile: &Profile, users: &[User]) -> Vec<Row> {
    let col = |key: &str| profile.column_index(key).expect("column");
    users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            cells[col("login_id")] = Cell::Value(format!("user{i}"));
            cells[col("name")] = if u.name.is_empty() {
                Cell::Value("x".to_string())
            } else {
                Cell::Value(u.name.clone())
            };
            cells[col("department")] = match &u.department {
                Some(d) if !d.is_empty() => Cell::Value(d.clone()),
                _ => Cell::Blank,
            };
            cells[col("email")] = if u.email {
                Cell::Value(format!("User{i}@Example.com"))
            } else {
                Cell::Blank
            };
            cells[col("status")] = match u.status {
                Some(s) => Cell::Value(s.to_string()),
                None => Cell::Blank,
            };
            cells[col("groups")] = if u.groups.is_empty() {
                Cell::Blank
            } else {
                let mut add = u.groups.clone();
                add.dedup();
                Cell::List(ListEdit {
                    add,
                    remove: Vec::new(),
                })
            };
            cells[col("notify_announcements")] = Cell::Blank;
            cells[col("password_hash")] = Cell::Secret(Secret::new(HASH));
            Row {
                line: i as u64 + 2,
                row: i as u64 + 1,
                cells,
                valid: true,
            }
        })
        .collect()
}

fn round_trip<S: Sink>(store: &mut S, rows: Vec<Row>) -> Result<(), TestCaseError>
where
    S::Error: std::fmt::Debug,
{
    let profile = Profile::standard();
    let plan = Planner::plan_rows(&profile, PlanOptions::default(), rows.clone(), &*store)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(plan.is_clean(), "{:?}", plan.issues);
    let out = store
        .apply(&plan, &mut |_| true)
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert!(out.committed);
    let again = Planner::plan_rows(&profile, PlanOptions::default(), rows, &*store)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(
        again
            .changes
            .iter()
            .all(|c| matches!(c, Change::Unchanged { .. })),
        "{:?}",
        again.changes
    );
    prop_assert_eq!(
        again.summary.unchanged,
        plan.summary.create + plan.summary.update + plan.summary.unchanged
    );
    let revision = store
        .revision()
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let out = store
        .apply(&again, &mut |_| true)
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(out.unchanged as usize, again.changes.len());
    prop_assert_eq!(
        store
            .revision()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
        revision
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn applying_then_replanning_changes_nothing(
        first in proptest::collection::vec(user(), 1..40),
        second in proptest::collection::vec(user(), 1..40),
    ) {
        let profile = Profile::standard();
        let mut sql = SqliteSink::open_in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut mem = MemorySink::new();
        // A first file creates; a second (same logins, other values) updates.
        round_trip(&mut sql, rows(&profile, &first))?;
        round_trip(&mut sql, rows(&profile, &second))?;
        round_trip(&mut mem, rows(&profile, &first))?;
        round_trip(&mut mem, rows(&profile, &second))?;
        let mut a = Vec::new();
        sql.for_each_user(&mut |u| { a.push((u.login.clone(), u.email.clone(), u.attributes.clone(), u.groups.clone())); true })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut b = Vec::new();
        mem.for_each_user(&mut |u| { b.push((u.login.clone(), u.email.clone(), u.attributes.clone(), u.groups.clone())); true })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(a, b);
    }
}
