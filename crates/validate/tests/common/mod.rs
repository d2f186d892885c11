//! Seeded generators of `standard`-profile records, shared by tests and the bench.
#![allow(dead_code)]

use userimport_parse::Record;
use userimport_schema::Profile;

/// SplitMix64: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The header the generator writes: the standard template's labels, most columns.
pub const HEADER: &[&str] = &[
    "Member ID",
    "Login ID",
    "Name",
    "Display name",
    "Department",
    "Position",
    "Email address",
    "Password",
    "Announcement e-mails",
    "Country/Region",
    "Language",
    "Time zone",
    "Date format",
    "Time format",
    "Status",
    "Due date type",
    "Valid days/due date",
    "Belong to",
    "Management roles",
    "Delete flag",
];

/// Field indices of each column.
pub mod col {
    pub const MEMBER_ID: usize = 0;
    pub const LOGIN: usize = 1;
    pub const NAME: usize = 2;
    pub const DISPLAY: usize = 3;
    pub const DEPARTMENT: usize = 4;
    pub const POSITION: usize = 5;
    pub const EMAIL: usize = 6;
    pub const PASSWORD: usize = 7;
    pub const NOTIFY: usize = 8;
    pub const COUNTRY: usize = 9;
    pub const LANGUAGE: usize = 10;
    pub const TIMEZONE: usize = 11;
    pub const DATE_FORMAT: usize = 12;
    pub const TIME_FORMAT: usize = 13;
    pub const STATUS: usize = 14;
    pub const DUE_TYPE: usize = 15;
    pub const DUE_VALUE: usize = 16;
    pub const GROUPS: usize = 17;
    pub const ROLES: usize = 18;
    pub const DELETE: usize = 19;
}

pub fn header() -> Record {
    Record::from_fields(1, HEADER)
}

/// Where each profile column is in `header` (what a column mapping gives).
pub fn fields(profile: &Profile, header: &Record) -> Vec<Option<usize>> {
    profile
        .columns
        .iter()
        .map(|c| header.iter().position(|h| c.matches_header(h)))
        .collect()
}

const FIRST: &[&str] = &[
    "Hanako", "Taro", "Ann", "Bob", "Chloé", "Dmitri", "Emi", "Farid",
];
const LAST: &[&str] = &[
    "Tanaka", "Sato", "Smith", "Müller", "Okafor", "Nguyen", "Kim",
];
const DEPARTMENTS: &[&str] = &["Sales", "Engineering", "HR", "営業部", "Finance"];
const COUNTRIES: &[&str] = &[
    "Japan",
    "UnitedArabEmirates",
    "Djibouti.",
    "jp",
    "France",
    "CoteD'Ivoire",
];
const LANGUAGES: &[&str] = &["ja_JP", "en_US", "TH_TH", "fr_FR"];
const TIMEZONES: &[&str] = &[
    "Asia/Tokyo",
    "UTC",
    "Europe/Paris",
    "Tokyo Standard Time (UTC + 09:00)",
];
const DATE_FORMATS: &[&str] = &["YYYY/MM/DD", "YYYYY-MM-DD", "DD/MM/YYYY"];
const TIME_FORMATS: &[&str] = &["HH:mm:ss", "hh:mm:ss a"];
const STATUSES: &[&str] = &["Valid", "Invalid", "", "valid"];
const GROUPS: &[&str] = &["Sales,Tokyo", "", "-Old, New", "none", "Engineering"];

/// The fields of clean data row `i` (1-based): every value valid, keys unique.
pub fn clean_fields(i: u64, rng: &mut Rng) -> Vec<String> {
    let mut f = vec![String::new(); HEADER.len()];
    if i.is_multiple_of(3) {
        f[col::MEMBER_ID] = (100_000 + i).to_string();
    }
    f[col::LOGIN] = format!("user{i:07}");
    f[col::NAME] = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
    f[col::DISPLAY] = rng.pick(FIRST).to_string();
    f[col::DEPARTMENT] = rng.pick(DEPARTMENTS).to_string();
    f[col::POSITION] = "Staff".to_string();
    f[col::EMAIL] = format!("user{i}@example.com");
    f[col::PASSWORD] = format!("Pw-{:012}", rng.next_u64() % 1_000_000_000_000);
    f[col::NOTIFY] = rng.pick(&["On", "off", ""]).to_string();
    f[col::COUNTRY] = rng.pick(COUNTRIES).to_string();
    f[col::LANGUAGE] = rng.pick(LANGUAGES).to_string();
    f[col::TIMEZONE] = rng.pick(TIMEZONES).to_string();
    f[col::DATE_FORMAT] = rng.pick(DATE_FORMATS).to_string();
    f[col::TIME_FORMAT] = rng.pick(TIME_FORMATS).to_string();
    f[col::STATUS] = rng.pick(STATUSES).to_string();
    let (due, value) = match rng.below(4) {
        0 => ("Unlimited", String::new()),
        1 => ("FromFirstLogin", (1 + rng.below(365)).to_string()),
        2 => ("From the creation date", (1 + rng.below(365)).to_string()),
        _ => (
            "expiration date",
            format!("2027/{:02}/{:02}", 1 + rng.below(12), 1 + rng.below(28)),
        ),
    };
    f[col::DUE_TYPE] = due.to_string();
    f[col::DUE_VALUE] = value;
    f[col::GROUPS] = rng.pick(GROUPS).to_string();
    f[col::ROLES] = rng.pick(&["", "Manager"]).to_string();
    f[col::DELETE] = rng.pick(&["", "0"]).to_string();
    f
}

/// `n` clean records, data row `i` on line `i + 1`.
pub fn clean_records(n: u64, seed: u64) -> Vec<Record> {
    let mut rng = Rng::new(seed);
    (1..=n)
        .map(|i| Record::from_fields(i + 1, clean_fields(i, &mut rng)))
        .collect()
}
