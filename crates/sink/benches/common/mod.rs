//! Shared by the apply benches: the generated rows and their CSV form.
#![allow(dead_code)]

use userimport_schema::Profile;
use userimport_validate::{Cell, Row, Secret};

pub const COLUMNS: &[&str] = &[
    "login_id",
    "name",
    "display_name",
    "department",
    "position",
    "email",
    "password_hash",
    "notify_announcements",
    "country",
    "language",
    "timezone",
    "status",
    "groups",
];

pub fn values(i: usize) -> Vec<String> {
    let departments = ["Sales", "Support", "Engineering", "Finance", "HR"];
    vec![
        format!("user{i:07}"),
        format!("User Number {i}"),
        format!("U{i}"),
        departments[i % departments.len()].to_string(),
        "Staff".to_string(),
        format!("user{i:07}@example.com"),
        format!(
            "$argon2id$v=19$m=19456,t=2,p=1${:022x}${:043x}",
            i as u128 * 7919,
            i as u128 * 104_729
        ),
        "On".to_string(),
        "Japan".to_string(),
        "ja_JP".to_string(),
        "Asia/Tokyo".to_string(),
        "Valid".to_string(),
        departments[i % departments.len()].to_string(),
    ]
}

/// CPU seconds (user + system) of this process and of its waited-for
/// children, from `/proc/self/stat` (Linux; zeros elsewhere).
pub fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name, which ends with ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    // utime, stime, cutime, cstime are fields 14-17 (index 11-14 here).
    (get(11) + get(12), get(13) + get(14))
}

pub fn make_rows(profile: &Profile, indices: &[usize], n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            for ((value, &index), &column) in values(i).into_iter().zip(indices).zip(COLUMNS) {
                cells[index] = match column {
                    "password_hash" => Cell::Secret(Secret::new(value)),
                    "groups" => Cell::List(userimport_validate::ListEdit {
                        add: vec![value],
                        remove: Vec::new(),
                    }),
                    _ => Cell::Value(value),
                };
            }
            Row {
                line: i as u64 + 2,
                row: i as u64 + 1,
                cells,
                valid: true,
            }
        })
        .collect()
}
