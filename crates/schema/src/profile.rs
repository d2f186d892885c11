//! Profiles: the columns of one import system, with their rules, keys and limits.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::codes::CodeTable;
use crate::kind::{FieldKind, due_date_type_values, status_values};
use crate::{Error, Result};

/// What a column means to the engine. The kind says what a cell may hold; the
/// purpose says what the planner does with it. Most columns are plain
/// [`Purpose::Attribute`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// A stored attribute with no special meaning.
    #[default]
    Attribute,
    /// The store-assigned member ID (key `id`); blank means a new user.
    MemberId,
    /// The login ID (key `login`), immutable once created.
    Login,
    /// The e-mail address (key `email`).
    Email,
    /// A plaintext password for new users.
    Password,
    /// A pre-hashed password (PHC string).
    PasswordHash,
    /// The user's status (blank = the first enum value for new users).
    Status,
    /// Group memberships.
    Groups,
    /// Management roles.
    Roles,
    /// `source:username` identities.
    Identities,
    /// The delete flag.
    Delete,
}

/// The keys a row can be matched on, tried in the profile's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The member ID column.
    Id,
    /// The login ID column.
    Login,
    /// The e-mail column.
    Email,
}

impl KeyKind {
    /// The column purpose that carries this key.
    pub fn purpose(self) -> Purpose {
        match self {
            KeyKind::Id => Purpose::MemberId,
            KeyKind::Login => Purpose::Login,
            KeyKind::Email => Purpose::Email,
        }
    }

    /// Parses `id`, `login` or `email` (as in `--key id,login,email`).
    pub fn parse_list(list: &str) -> Result<Vec<KeyKind>> {
        list.split(',')
            .map(|part| match part.trim().to_ascii_lowercase().as_str() {
                "id" | "member_id" => Ok(KeyKind::Id),
                "login" | "login_id" => Ok(KeyKind::Login),
                "email" | "mail" => Ok(KeyKind::Email),
                other => Err(Error::Invalid(format!(
                    "unknown key {other:?}: use id, login or email"
                ))),
            })
            .collect()
    }
}

/// One column of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The stable key (`login_id`): used in reports, `--map` and `--columns`.
    pub key: String,
    /// The human label written in templates and exports (`Login ID`).
    pub label: String,
    /// Other header spellings accepted on import (`ログインID`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What a cell may hold.
    pub kind: FieldKind,
    /// What the planner does with it.
    #[serde(default)]
    pub purpose: Purpose,
    /// A new user needs a value here.
    #[serde(default)]
    pub required: bool,
    /// A keyword that clears the stored value (`delete` for an optional e-mail,
    /// `none` for groups). Only honoured where the column is not required.
    #[serde(default)]
    pub clear_keyword: Option<String>,
    /// The value shown in the template's example row.
    #[serde(default)]
    pub example: Option<String>,
    /// The column's values are roles (the team tool's `role`: User, Admin,
    /// Supervisor): an importing actor may only set or take away a value
    /// it holds itself (as a role, or as its own value of this column).
    /// The first value of an enumeration is the baseline, free to set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Column {
    /// A column with a key, label and kind; everything else default.
    pub fn new(key: &str, label: &str, kind: FieldKind) -> Self {
        Column {
            key: key.to_string(),
            label: label.to_string(),
            aliases: Vec::new(),
            kind,
            purpose: Purpose::Attribute,
            required: false,
            clear_keyword: None,
            example: None,
            privileged: false,
        }
    }

    /// Marks the column's values as roles ([`Column::privileged`]).
    pub fn privileged(mut self) -> Self {
        self.privileged = true;
        self
    }

    /// Sets the purpose.
    pub fn purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = purpose;
        self
    }

    /// Marks the column required for new users.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Adds header aliases.
    pub fn aliases(mut self, aliases: &[&str]) -> Self {
        self.aliases.extend(aliases.iter().map(|a| a.to_string()));
        self
    }

    /// Sets the clear keyword.
    pub fn clear_keyword(mut self, keyword: &str) -> Self {
        self.clear_keyword = Some(keyword.to_string());
        self
    }

    /// Sets the template's example value.
    pub fn example(mut self, value: &str) -> Self {
        self.example = Some(value.to_string());
        self
    }

    /// True when `header` (a header cell) names this column: its key, label or
    /// an alias, ignoring case, surrounding spaces and full-width forms.
    pub fn matches_header(&self, header: &str) -> bool {
        let header = crate::fold_header(header);
        std::iter::once(&self.key)
            .chain(std::iter::once(&self.label))
            .chain(self.aliases.iter())
            .any(|name| crate::fold_header(name) == header)
    }
}

/// Limits enforced while streaming a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest file in bytes (`None` = unlimited).
    pub max_bytes: Option<u64>,
    /// Most data rows (`None` = unlimited).
    pub max_rows: Option<u64>,
    /// Largest single field in bytes (default 64 KiB).
    pub max_field_bytes: usize,
    /// Most columns in a record (default 1,024).
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: None,
            max_rows: None,
            max_field_bytes: 64 * 1024,
            max_columns: 1024,
        }
    }
}

/// How group names in a file are treated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupPolicy {
    /// Unknown groups are created (and listed in the plan); otherwise they are
    /// a row error.
    pub create_unknown: bool,
    /// The group a new user joins when the groups cell is blank.
    pub default_group: Option<String>,
}

impl Default for GroupPolicy {
    fn default() -> Self {
        GroupPolicy {
            create_unknown: true,
            default_group: None,
        }
    }
}

/// A rule that ties two columns together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum CrossRule {
    /// Due-date type decides what the value column holds: nothing for
    /// `Unlimited`, a day count for `FromFirstLogin`/`FromCreation`, a date
    /// for `ExpirationDate`.
    DueDate {
        /// The due-date type column key.
        type_column: String,
        /// The valid-days-or-due-date column key.
        value_column: String,
    },
    /// The end date is not before the start date.
    DateRange {
        /// The start date column key.
        start: String,
        /// The end date column key.
        end: String,
    },
}

/// Everything the engine knows about one import system: columns, keys, limits,
/// group policy, identity sources and cross-field rules. Built in
/// ([`Profile::standard`], [`Profile::team`], [`Profile::access`]), loaded from
/// TOML ([`Profile::from_toml`]) or built in Rust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name (`standard`).
    pub name: String,
    /// The columns, in template and export order.
    pub columns: Vec<Column>,
    /// The key fallback order (default `id, login, email`).
    #[serde(default = "default_key_order")]
    pub key_order: Vec<KeyKind>,
    /// Streaming limits.
    #[serde(default)]
    pub limits: Limits,
    /// Group handling.
    #[serde(default)]
    pub groups: GroupPolicy,
    /// Identity sources that are enabled (`source:username` must name one).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Charsets the file may be in (encoding_rs names); empty = any.
    #[serde(default)]
    pub charsets: Vec<String>,
    /// Cross-field rules.
    #[serde(default)]
    pub rules: Vec<CrossRule>,
    /// The weakest pre-hashed password accepted.
    #[serde(default)]
    pub hash_floor: crate::HashFloor,
}

/// Lays the settings and columns of a TOML file over a built-in profile (see
/// [`Profile::from_toml`]).
fn extend(base: Profile, overlay: toml::Table) -> Result<toml::Table> {
    let mut merged = toml::Table::try_from(&base).map_err(|e| Error::Toml(e.to_string()))?;
    for (key, value) in overlay {
        match (key.as_str(), value, merged.get_mut(&key)) {
            ("columns", toml::Value::Array(columns), Some(toml::Value::Array(base_columns))) => {
                for column in columns {
                    let key = column.get("key").and_then(toml::Value::as_str);
                    let existing = base_columns.iter_mut().find(|c| {
                        key.is_some() && c.get("key").and_then(toml::Value::as_str) == key
                    });
                    match existing {
                        Some(slot) => *slot = column,
                        None => base_columns.push(column),
                    }
                }
            }
            (_, toml::Value::Table(table), Some(toml::Value::Table(base_table))) => {
                base_table.extend(table);
            }
            (_, value, _) => {
                merged.insert(key, value);
            }
        }
    }
    Ok(merged)
}

fn default_key_order() -> Vec<KeyKind> {
    vec![KeyKind::Id, KeyKind::Login, KeyKind::Email]
}

impl Profile {
    /// Looks up a built-in profile by name (`standard`, `team`, `access`).
    pub fn builtin(name: &str) -> Option<Profile> {
        match name {
            "standard" => Some(Profile::standard()),
            "team" => Some(Profile::team()),
            "access" => Some(Profile::access()),
            _ => None,
        }
    }

    /// The names of the built-in profiles.
    pub fn builtin_names() -> &'static [&'static str] {
        &["standard", "team", "access"]
    }

    /// Loads a built-in profile by name or a TOML file by path (anything
    /// ending in `.toml`), as `--profile` does.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        if let Some(profile) = Profile::builtin(name_or_path) {
            return Ok(profile);
        }
        if name_or_path.ends_with(".toml") || Path::new(name_or_path).exists() {
            return Profile::from_toml_file(name_or_path);
        }
        Err(Error::Invalid(format!(
            "unknown profile {name_or_path:?}: use {} or a .toml file",
            Profile::builtin_names().join(", ")
        )))
    }

    /// Reads a profile from a TOML file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Profile> {
        use std::io::Read;
        /// A profile is a few kilobytes; more is not a profile (`/dev/zero`).
        const MAX_PROFILE_BYTES: u64 = 1 << 20;
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_PROFILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_PROFILE_BYTES {
            return Err(Error::Invalid(format!(
                "{} is larger than {MAX_PROFILE_BYTES} bytes: not a profile",
                path.display()
            )));
        }
        Profile::from_toml(&text)
    }

    /// Parses a profile from TOML text and checks it is coherent.
    ///
    /// A file may start from a built-in profile with `extends = "standard"`
    /// (or `team`, `access`): its top-level settings replace the base's
    /// (tables such as `[groups]` and `[limits]` key by key), and each of its
    /// `[[columns]]` replaces the base column with the same key or, with a new
    /// key, is appended. So a member site with two extension fields and a
    /// default group is a dozen lines, not a copy of every column:
    ///
    /// ```
    /// use userimport_schema::Profile;
    ///
    /// let profile = Profile::from_toml(r#"
    /// name = "members"
    /// extends = "standard"
    /// key_order = ["id"]
    /// [groups]
    /// default_group = "Members"
    /// [[columns]]
    /// key = "shoe_size"
    /// label = "Shoe size"
    /// kind = { type = "integer", min = 15, max = 35 }
    /// "#)?;
    /// assert_eq!(profile.groups.default_group.as_deref(), Some("Members"));
    /// assert!(profile.groups.create_unknown, "kept from the base");
    /// assert_eq!(profile.columns.len(), Profile::standard().columns.len() + 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Profile> {
        let toml_error = |e: toml::de::Error| Error::Toml(e.message().to_string());
        let mut table: toml::Table = toml::from_str(text).map_err(toml_error)?;
        let profile: Profile = match table.remove("extends") {
            None => toml::from_str(text).map_err(toml_error)?,
            Some(toml::Value::String(base)) => {
                let base = Profile::builtin(&base).ok_or_else(|| {
                    Error::Invalid(format!(
                        "extends = {base:?}: use one of {}",
                        Profile::builtin_names().join(", ")
                    ))
                })?;
                let merged = extend(base, table)?;
                merged.try_into().map_err(toml_error)?
            }
            Some(_) => return Err(Error::Toml("extends must be a profile name".to_string())),
        };
        profile.check()?;
        Ok(profile)
    }

    /// Writes the profile as TOML (a starting point for a custom profile).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Toml(e.to_string()))
    }

    /// Checks the profile is coherent: unique keys and header names, at most
    /// one column per special purpose, rules that name real columns.
    pub fn check(&self) -> Result<()> {
        if self.columns.is_empty() {
            return Err(Error::Invalid(format!(
                "profile {:?} has no columns",
                self.name
            )));
        }
        for (i, column) in self.columns.iter().enumerate() {
            if column.key.trim().is_empty() {
                return Err(Error::Invalid(format!("column {} has an empty key", i + 1)));
            }
            for other in &self.columns[..i] {
                if other.key.eq_ignore_ascii_case(&column.key) {
                    return Err(Error::Invalid(format!(
                        "duplicate column key {:?}",
                        column.key
                    )));
                }
                let names = std::iter::once(&column.key)
                    .chain(std::iter::once(&column.label))
                    .chain(column.aliases.iter());
                for name in names {
                    if other.matches_header(name) {
                        return Err(Error::Invalid(format!(
                            "header name {name:?} of column {:?} also names column {:?}",
                            column.key, other.key
                        )));
                    }
                }
            }
            if column.purpose != Purpose::Attribute
                && self.columns[..i]
                    .iter()
                    .any(|c| c.purpose == column.purpose)
            {
                return Err(Error::Invalid(format!(
                    "two columns have purpose {:?}; at most one may",
                    column.purpose
                )));
            }
            if let FieldKind::Enum { values } = &column.kind
                && values.is_empty()
            {
                return Err(Error::Invalid(format!(
                    "enum column {:?} has no values",
                    column.key
                )));
            }
            if let FieldKind::Date { formats } = &column.kind
                && formats.is_empty()
            {
                return Err(Error::Invalid(format!(
                    "date column {:?} has no formats",
                    column.key
                )));
            }
        }
        for key in &self.key_order {
            if self.column_for(key.purpose()).is_none() {
                return Err(Error::Invalid(format!(
                    "key {key:?} is in the key order but no column has purpose {:?}",
                    key.purpose()
                )));
            }
        }
        if self.key_order.is_empty() {
            return Err(Error::Invalid("the key order is empty".to_string()));
        }
        for rule in &self.rules {
            let names: Vec<&String> = match rule {
                CrossRule::DueDate {
                    type_column,
                    value_column,
                } => vec![type_column, value_column],
                CrossRule::DateRange { start, end } => vec![start, end],
            };
            for name in names {
                if self.column(name).is_none() {
                    return Err(Error::Invalid(format!(
                        "rule names unknown column {name:?}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The column with this key.
    pub fn column(&self, key: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.key == key)
    }

    /// The index of the column with this key.
    pub fn column_index(&self, key: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.key == key)
    }

    /// The column with a special purpose, if the profile has one.
    pub fn column_for(&self, purpose: Purpose) -> Option<&Column> {
        self.columns.iter().find(|c| c.purpose == purpose)
    }

    /// The index of the column with a special purpose.
    pub fn index_for(&self, purpose: Purpose) -> Option<usize> {
        self.columns.iter().position(|c| c.purpose == purpose)
    }

    /// The column a header cell names, by key, label or alias.
    pub fn column_for_header(&self, header: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.matches_header(header))
    }

    /// The learning platform and member site profile (seeds 000, 001, 002).
    pub fn standard() -> Profile {
        use FieldKind as K;
        use Purpose as P;
        let columns = vec![
            Column::new(
                "member_id",
                "Member ID",
                K::Integer {
                    min: Some(1),
                    max: None,
                },
            )
            .purpose(P::MemberId)
            .aliases(&["id", "メンバーID", "会員ID"]),
            Column::new("login_id", "Login ID", K::text(100))
                .purpose(P::Login)
                .required()
                .aliases(&["login", "Sign-in ID", "ログインID"])
                .example("tanaka.hanako"),
            Column::new("name", "Name", K::text(255))
                .required()
                .aliases(&["氏名", "名前", "Full name"])
                .example("Hanako Tanaka"),
            Column::new("display_name", "Display name", K::text(255))
                .aliases(&["表示名", "Nickname"])
                .example("Hanako"),
            Column::new("department", "Department", K::text(255))
                .aliases(&["部署", "所属"])
                .example("Sales"),
            Column::new("position", "Position", K::text(255))
                .aliases(&["役職", "Title"])
                .example("Manager"),
            Column::new("email", "Email address", K::Email)
                .purpose(P::Email)
                .clear_keyword("delete")
                .aliases(&[
                    "E-mail",
                    "E-mail address",
                    "mail",
                    "メールアドレス",
                    "Sign-in/email address",
                ])
                .example("hanako.tanaka@example.com"),
            Column::new("password", "Password", K::password())
                .purpose(P::Password)
                .aliases(&["パスワード"])
                .example("Ch4nge-me-please"),
            Column::new("password_hash", "Password hash", K::PasswordHash)
                .purpose(P::PasswordHash)
                .aliases(&["パスワードハッシュ"]),
            Column::new(
                "notify_announcements",
                "Announcement e-mails",
                K::OnOff { default: true },
            )
            .aliases(&[
                "Receive an E-mail about the release of the announcement notification",
                "Notification",
                "お知らせ通知",
            ])
            .example("On"),
            Column::new(
                "country",
                "Country/Region",
                K::Code {
                    table: CodeTable::Country,
                },
            )
            .aliases(&["Country", "Country/Region of Residence", "国・地域"])
            .example("Japan"),
            Column::new(
                "language",
                "Language",
                K::Code {
                    table: CodeTable::Language,
                },
            )
            .aliases(&["言語"])
            .example("ja_JP"),
            Column::new(
                "timezone",
                "Time zone",
                K::Code {
                    table: CodeTable::TimeZone,
                },
            )
            .aliases(&["Timezone", "タイムゾーン"])
            .example("Asia/Tokyo"),
            Column::new(
                "date_format",
                "Date format",
                K::Code {
                    table: CodeTable::DateFormat,
                },
            )
            .aliases(&["日付形式"])
            .example("YYYY/MM/DD"),
            Column::new(
                "time_format",
                "Time format",
                K::Code {
                    table: CodeTable::TimeFormat,
                },
            )
            .aliases(&["時刻形式"])
            .example("HH:mm:ss"),
            Column::new("status", "Status", status_values())
                .purpose(P::Status)
                .aliases(&["ステータス"])
                .example("Valid"),
            Column::new("due_date_type", "Due date type", due_date_type_values())
                .aliases(&["Deadline type", "有効期限タイプ"])
                .example("FromCreation"),
            Column::new(
                "valid_days_or_due_date",
                "Valid days/due date",
                K::Text {
                    min_len: 0,
                    max_len: 10,
                },
            )
            .aliases(&["Valid days", "Due date", "有効日数/有効期限"])
            .example("365"),
            Column::new("groups", "Belong to", K::NameList)
                .purpose(P::Groups)
                .clear_keyword("none")
                .aliases(&["Groups", "Group", "所属グループ"])
                .example("Sales,Tokyo"),
            Column::new("roles", "Management roles", K::NameList)
                .purpose(P::Roles)
                .clear_keyword("none")
                .aliases(&["Roles", "管理権限"]),
            Column::new("delete", "Delete flag", K::DeleteFlag)
                .purpose(P::Delete)
                .aliases(&["Delete", "削除フラグ"]),
            Column::new("first_login", "First login", K::ReadOnly)
                .aliases(&["First login date", "初回ログイン日時"]),
            Column::new("last_login", "Last login", K::ReadOnly)
                .aliases(&["Last login date", "最終ログイン日時"]),
            Column::new("created_at", "Registered date", K::ReadOnly).aliases(&[
                "Creation date",
                "Created",
                "登録日時",
            ]),
            Column::new("updated_at", "Update date", K::ReadOnly).aliases(&["Updated", "更新日時"]),
        ];
        Profile {
            name: "standard".to_string(),
            columns,
            key_order: default_key_order(),
            limits: Limits::default(),
            groups: GroupPolicy::default(),
            sources: Vec::new(),
            charsets: Vec::new(),
            hash_floor: crate::HashFloor::default(),
            rules: vec![CrossRule::DueDate {
                type_column: "due_date_type".to_string(),
                value_column: "valid_days_or_due_date".to_string(),
            }],
        }
    }

    /// The team tool profile (seed 003): e-mail keyed, at most 2,000 rows,
    /// groups that must already exist, identities from enabled sources.
    pub fn team() -> Profile {
        use FieldKind as K;
        use Purpose as P;
        let columns = vec![
            Column::new(
                "status",
                "Current Status",
                K::enumeration(&[("Active", &[]), ("Archived", &[])]),
            )
            .purpose(P::Status)
            .example("Active"),
            Column::new("display_name", "Display Name", K::text(255))
                .required()
                .example("John R. Doe"),
            Column::new("primary_email", "Primary Email", K::Email)
                .purpose(P::Email)
                .required()
                .example("john.doe@example.com"),
            Column::new(
                "role",
                "Role",
                K::enumeration(&[("User", &[]), ("Admin", &[]), ("Supervisor", &[])]),
            )
            .privileged()
            .example("User"),
            Column::new("groups", "Groups", K::NameList)
                .purpose(P::Groups)
                .clear_keyword("none")
                .aliases(&["Group(s)", "Group"])
                .example("Group 1,Group 2"),
            Column::new("source_usernames", "Source Username(s)", K::IdentityList)
                .purpose(P::Identities)
                .aliases(&["Source Usernames", "Source Username"])
                .example("slack:jdoe"),
        ];
        Profile {
            name: "team".to_string(),
            columns,
            key_order: vec![KeyKind::Email],
            limits: Limits {
                max_rows: Some(2_000),
                ..Limits::default()
            },
            groups: GroupPolicy {
                create_unknown: false,
                default_group: None,
            },
            sources: vec![
                "email".to_string(),
                "slack".to_string(),
                "teams".to_string(),
            ],
            charsets: Vec::new(),
            hash_floor: crate::HashFloor::default(),
            rules: Vec::new(),
        }
    }

    /// The access-control portal profile (seed 004): user ID keyed, UTF-8
    /// only, at most 5 MB, card IDs and validity dates.
    pub fn access() -> Profile {
        use FieldKind as K;
        use Purpose as P;
        let dates = ["%Y-%m-%d", "%Y/%m/%d"];
        let columns = vec![
            Column::new("user_id", "User ID", K::text(64))
                .purpose(P::Login)
                .required()
                .aliases(&["ID", "Employee ID"])
                .example("E0001"),
            Column::new("name", "Name", K::text(255))
                .required()
                .example("Jane Park"),
            Column::new("email", "Email", K::Email)
                .purpose(P::Email)
                .aliases(&["E-mail"])
                .example("jane.park@example.com"),
            Column::new("department", "Department", K::text(255)).example("Security"),
            Column::new("card_id", "Card ID", K::CardId)
                .aliases(&["Card", "Card number"])
                .example("12345678"),
            Column::new("start_date", "Start date", K::date(&dates))
                .aliases(&["Start"])
                .example("2026-01-01"),
            Column::new("end_date", "End date", K::date(&dates))
                .aliases(&["End", "Expiration date"])
                .example("2026-12-31"),
        ];
        Profile {
            name: "access".to_string(),
            columns,
            key_order: vec![KeyKind::Login],
            limits: Limits {
                max_bytes: Some(5 * 1024 * 1024),
                ..Limits::default()
            },
            groups: GroupPolicy::default(),
            sources: Vec::new(),
            charsets: vec!["UTF-8".to_string()],
            hash_floor: crate::HashFloor::default(),
            rules: vec![CrossRule::DateRange {
                start: "start_date".to_string(),
                end: "end_date".to_string(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_are_coherent() {
        for name in Profile::builtin_names() {
            let profile = Profile::builtin(name).unwrap();
            profile.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn standard_has_the_design_columns_in_order() {
        let profile = Profile::standard();
        let keys: Vec<&str> = profile.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "member_id",
                "login_id",
                "name",
                "display_name",
                "department",
                "position",
                "email",
                "password",
                "password_hash",
                "notify_announcements",
                "country",
                "language",
                "timezone",
                "date_format",
                "time_format",
                "status",
                "due_date_type",
                "valid_days_or_due_date",
                "groups",
                "roles",
                "delete",
                "first_login",
                "last_login",
                "created_at",
                "updated_at"
            ]
        );
    }

    #[test]
    fn headers_match_by_key_label_and_japanese_alias() {
        let p = Profile::standard();
        let login = p.column_index("login_id");
        assert_eq!(p.column_for_header("login_id"), login);
        assert_eq!(p.column_for_header("  LOGIN ID "), login);
        assert_eq!(p.column_for_header("ログインID"), login);
        assert_eq!(p.column_for_header("ＬＯＧＩＮ＿ＩＤ"), login);
        assert_eq!(
            p.column_for_header("メールアドレス"),
            p.column_index("email")
        );
        assert_eq!(p.column_for_header("氏名"), p.column_index("name"));
        assert_eq!(
            p.column_for_header("パスワード"),
            p.column_index("password")
        );
        assert_eq!(p.column_for_header("shoe size"), None);
    }

    #[test]
    fn toml_profile_round_trips() {
        for name in Profile::builtin_names() {
            let profile = Profile::builtin(name).unwrap();
            let text = profile.to_toml().unwrap();
            let back = Profile::from_toml(&text).unwrap();
            assert_eq!(back, profile, "{name}");
        }
    }

    #[test]
    fn toml_profile_with_custom_fields_loads_with_defaults() {
        let text = r#"
name = "members"
key_order = ["id", "email"]
[[columns]]
key = "member_id"
label = "Member ID"
purpose = "member_id"
kind = { type = "integer", min = 1 }
[[columns]]
key = "email"
label = "E-mail"
purpose = "email"
required = true
kind = { type = "email" }
[[columns]]
key = "shoe_size"
label = "Shoe size"
kind = { type = "integer", min = 10, max = 60 }
[[columns]]
key = "plan"
label = "Plan"
kind = { type = "enum", values = [{ canonical = "Gold", aliases = ["G"] }, { canonical = "Free" }] }
"#;
        let p = Profile::from_toml(text).unwrap();
        assert_eq!(p.key_order, vec![KeyKind::Id, KeyKind::Email]);
        assert_eq!(p.limits.max_field_bytes, 64 * 1024);
        assert_eq!(
            p.column("plan").unwrap().kind.resolve_enum("g"),
            Some("Gold")
        );
    }

    #[test]
    fn toml_profile_extends_a_builtin() {
        let text = r#"
name = "portal"
extends = "access"
[limits]
max_rows = 500
[[columns]]
key = "department"
label = "Team"
kind = { type = "text", max_len = 40 }
[[columns]]
key = "badge_color"
label = "Badge colour"
kind = { type = "enum", values = [{ canonical = "Red" }, { canonical = "Blue" }] }
"#;
        let p = Profile::from_toml(text).unwrap();
        let base = Profile::access();
        assert_eq!(p.name, "portal");
        assert_eq!(p.limits.max_rows, Some(500));
        assert_eq!(
            p.limits.max_bytes, base.limits.max_bytes,
            "kept from the base"
        );
        assert_eq!(p.charsets, base.charsets);
        assert_eq!(p.column("department").unwrap().label, "Team");
        assert_eq!(
            p.column_index("department"),
            base.column_index("department")
        );
        assert_eq!(p.columns.last().unwrap().key, "badge_color");
        assert_eq!(p.rules, base.rules);

        let err = Profile::from_toml("name = \"x\"\nextends = \"nope\"\n").unwrap_err();
        assert!(err.to_string().contains("extends"), "{err}");
    }

    #[test]
    fn incoherent_profiles_are_refused_with_a_reason() {
        let mut p = Profile::standard();
        p.columns
            .push(Column::new("LOGIN_ID", "Again", FieldKind::text(5)));
        assert!(
            p.check()
                .unwrap_err()
                .to_string()
                .contains("duplicate column key")
        );

        let bad = "name = \"x\"\nkey_order = [\"login\"]\n[[columns]]\nkey = \"a\"\nlabel = \"A\"\nkind = { type = \"text\" }\n";
        let err = Profile::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains("no column has purpose"), "{err}");

        let err = Profile::from_toml("name = 3").unwrap_err().to_string();
        assert!(
            err.contains("invalid type") || err.contains("expected"),
            "{err}"
        );
    }
}
