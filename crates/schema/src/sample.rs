//! Realistic sample rows for any profile: test files and benchmark data are
//! generated, never committed.

use crate::codes::CodeTable;
use crate::kind::FieldKind;
use crate::profile::{Profile, Purpose};
use crate::template::Template;

/// A deterministic generator of realistic user rows for a profile, optionally
/// with defects at a given rate (each defective row has exactly one bad cell,
/// so a validator must flag exactly those rows).
///
/// ```
/// use userimport_schema::{Profile, SampleRows};
///
/// let profile = Profile::standard();
/// let mut rows = SampleRows::new(&profile, 42).defect_rate(0.1);
/// assert_eq!(rows.header()[0], "Login ID");
/// let (cells, defect) = rows.next_row();
/// assert_eq!(cells.len(), rows.header().len());
/// # let _ = defect;
/// ```
#[derive(Debug, Clone)]
pub struct SampleRows {
    columns: Vec<(String, FieldKind, Purpose)>,
    header: Vec<String>,
    state: u64,
    serial: u64,
    defect_per_million: u64,
}

/// What is wrong with a defective sample row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// The column key holding the bad value.
    pub column: String,
    /// A short description (`bad e-mail`).
    pub what: &'static str,
}

const GIVEN: &[&str] = &[
    "Hanako", "Ichiro", "María", "John", "An", "Minji", "Amélie", "Rahul", "Lena", "Fang", "Olu",
    "Sven", "Aiko", "Pedro", "Fatima", "Chen", "Zoë", "Yuki", "Omar", "Ingrid",
];
const FAMILY: &[&str] = &[
    "Tanaka", "Suzuki", "García", "Smith", "Nguyen", "Kim", "Dubois", "Sharma", "Schmidt", "Wang",
    "Okafor", "Larsen", "Sato", "Silva", "Haddad", "Li", "Müller", "Ito", "Farouk", "Berg",
];
const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Engineering",
    "Support",
    "Finance",
    "Operations",
    "Legal",
    "HR",
];
const COUNTRIES: &[&str] = &[
    "Japan",
    "Spain",
    "UnitedStatesOfAmerica",
    "VietNam",
    "France",
];
const LANGUAGES: &[&str] = &["ja_JP", "es_ES", "en_US", "vi_VN", "fr_FR"];
const ZONES: &[&str] = &["Asia/Tokyo", "Europe/Paris", "Asia/Kolkata", "Asia/Bangkok"];

impl SampleRows {
    /// Rows for every importable column of the profile (the template's
    /// columns), seeded for reproducibility.
    pub fn new(profile: &Profile, seed: u64) -> Self {
        let header = Template::for_profile(profile).header;
        let columns = header
            .iter()
            .filter_map(|label| profile.columns.iter().find(|c| &c.label == label))
            .map(|c| (c.key.clone(), c.kind.clone(), c.purpose))
            .collect();
        SampleRows {
            columns,
            header,
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            serial: 0,
            defect_per_million: 0,
        }
    }

    /// The share of rows (0.0 to 1.0) that carry one defect.
    pub fn defect_rate(mut self, rate: f64) -> Self {
        self.defect_per_million = (rate.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        self
    }

    /// The header row (column labels).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64: fast, deterministic, good enough for test data.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// The next row's cells and, when it is defective, what is wrong.
    /// Keys (login ID, e-mail) are unique across the rows of one generator.
    pub fn next_row(&mut self) -> (Vec<String>, Option<Defect>) {
        self.serial += 1;
        let n = self.serial;
        let given = self.pick(GIVEN);
        let family = self.pick(FAMILY);
        let mut cells = Vec::with_capacity(self.columns.len());
        let columns = self.columns.clone();
        for (key, kind, purpose) in &columns {
            let value = match (purpose, kind) {
                (Purpose::Login, _) => format!("user{n:07}"),
                (Purpose::Email, _) => format!(
                    "{}.{}{n}@example.com",
                    ascii(given).to_lowercase(),
                    ascii(family).to_lowercase()
                ),
                (Purpose::Password, _) => format!("Pw-{:016x}", self.next_u64()),
                (Purpose::Groups, _) => self.pick(DEPARTMENTS).to_string(),
                (Purpose::Roles, _) | (Purpose::Delete, _) => String::new(),
                (Purpose::Identities, _) => format!("slack:u{n}"),
                (_, FieldKind::Text { .. }) if key.contains("name") => format!("{given} {family}"),
                (_, FieldKind::Text { .. }) if key.contains("valid_days") => {
                    (30 + self.next_u64() % 700).to_string()
                }
                (_, FieldKind::Text { .. }) => self.pick(DEPARTMENTS).to_string(),
                (_, FieldKind::Enum { values }) => {
                    if key.contains("due_date") {
                        "FromCreation".to_string()
                    } else {
                        values
                            .first()
                            .map(|v| v.canonical.clone())
                            .unwrap_or_default()
                    }
                }
                (_, FieldKind::OnOff { .. }) => self.pick(&["On", "Off", ""]).to_string(),
                (_, FieldKind::Code { table }) => match table {
                    CodeTable::Country => self.pick(COUNTRIES).to_string(),
                    CodeTable::Language => self.pick(LANGUAGES).to_string(),
                    CodeTable::TimeZone | CodeTable::AnyTimeZone => self.pick(ZONES).to_string(),
                    CodeTable::DateFormat => "YYYY/MM/DD".to_string(),
                    CodeTable::TimeFormat => "HH:mm:ss".to_string(),
                },
                (_, FieldKind::Date { .. }) if key.contains("end") => "2027-12-31".to_string(),
                (_, FieldKind::Date { .. }) => "2026-01-01".to_string(),
                (_, FieldKind::CardId) => (10_000_000 + n).to_string(),
                (_, FieldKind::DayCount { .. }) | (_, FieldKind::Integer { .. }) => {
                    (1 + self.next_u64() % 365).to_string()
                }
                _ => String::new(),
            };
            cells.push(value);
        }
        let defect = if self.next_u64() % 1_000_000 < self.defect_per_million {
            self.spoil(&mut cells, &columns)
        } else {
            None
        };
        (cells, defect)
    }

    /// Puts one bad value into the row, in a column the profile has.
    fn spoil(
        &mut self,
        cells: &mut [String],
        columns: &[(String, FieldKind, Purpose)],
    ) -> Option<Defect> {
        let candidates: Vec<usize> = (0..columns.len())
            .filter(|&i| {
                matches!(
                    (&columns[i].2, &columns[i].1),
                    (Purpose::Email, _)
                        | (
                            _,
                            FieldKind::Code {
                                table: CodeTable::Country
                            }
                        )
                        | (_, FieldKind::Date { .. })
                        | (_, FieldKind::OnOff { .. })
                )
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let i = candidates[(self.next_u64() % candidates.len() as u64) as usize];
        let (key, kind, purpose) = &columns[i];
        let (value, what) = match (purpose, kind) {
            (Purpose::Email, _) => (cells[i].replace('@', " at "), "bad e-mail"),
            (_, FieldKind::Code { .. }) => ("Atlantis".to_string(), "unknown country"),
            (_, FieldKind::Date { .. }) => ("2026-02-30".to_string(), "impossible date"),
            _ => ("Maybe".to_string(), "not On or Off"),
        };
        cells[i] = value;
        Some(Defect {
            column: key.clone(),
            what,
        })
    }
}

/// Drops accents so generated e-mail addresses stay ASCII.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' => 'a',
            'é' | 'ë' => 'e',
            'í' => 'i',
            'ü' => 'u',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_deterministic_unique_and_defects_at_the_rate() {
        let profile = Profile::standard();
        let mut a = SampleRows::new(&profile, 7).defect_rate(0.2);
        let mut b = SampleRows::new(&profile, 7).defect_rate(0.2);
        let mut defects = 0;
        let mut logins = std::collections::HashSet::new();
        for _ in 0..5_000 {
            let (row_a, defect_a) = a.next_row();
            let (row_b, defect_b) = b.next_row();
            assert_eq!(row_a, row_b);
            assert_eq!(defect_a, defect_b);
            defects += usize::from(defect_a.is_some());
            assert!(logins.insert(row_a[0].clone()));
        }
        assert!((800..1_200).contains(&defects), "{defects}");
    }

    #[test]
    fn every_profile_gets_full_rows() {
        for name in Profile::builtin_names() {
            let profile = Profile::builtin(name).unwrap();
            let mut rows = SampleRows::new(&profile, 1);
            let (cells, _) = rows.next_row();
            assert_eq!(cells.len(), rows.header().len(), "{name}");
        }
    }
}
