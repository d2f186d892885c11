//! The review listing: who changes and how, collected while planning.
//!
//! A [`Review`] keeps the first `limit` entries of each [`ChangeKind`]
//! (created, updated, deleted and suspended users, groups to be created),
//! each naming the user as the administrator knows them ([`UserRef`]: member
//! ID, login ID, e-mail, name) and the file line. Only the listing is capped:
//! the plan's [`Summary`](crate::Summary) counts every change, so memory stays
//! bounded for any file while the counts stay whole.
//!
//! Planning also inspects every update for the signs of a damaged file and
//! raises warnings ([`crate::codes`]): a value replaced by one with `?` or
//! U+FFFD where the old value had non-ASCII characters (a file re-saved in a
//! charset that cannot hold them), a name emptied of letters, and one field
//! changed on most of the rows that match existing users.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use userimport_schema::{Profile, Purpose};
use userimport_validate::{Issue, Row};

use crate::directory::StoredUser;
use crate::types::{Change, Field, FieldChange, ListChange, Summary};

/// What one entry of the listing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A user is created.
    Create,
    /// A user is updated.
    Update,
    /// A user is deleted (delete flag, or sync).
    Delete,
    /// A user absent from a sync file is suspended.
    Suspend,
    /// A group is created.
    CreateGroup,
}

impl ChangeKind {
    /// Every kind, in listing order.
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Create,
        ChangeKind::Update,
        ChangeKind::Delete,
        ChangeKind::Suspend,
        ChangeKind::CreateGroup,
    ];

    /// The kind's name as the JSON report and the CSV spell it (`create_group`).
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
            ChangeKind::Suspend => "suspend",
            ChangeKind::CreateGroup => "create_group",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// A user as the administrator knows them: by the store's values for an
/// existing user, by the row's for a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The member ID (`None` for a user not yet created).
    pub member_id: Option<i64>,
    /// The login ID.
    pub login_id: Option<String>,
    /// The e-mail address.
    pub email: Option<String>,
    /// The name (the profile's `name` column, else its `display_name`).
    pub name: Option<String>,
}

/// One entry of the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewEntry {
    /// What happens.
    pub kind: ChangeKind,
    /// The physical line of the row (0 for sync changes and groups).
    pub line: u64,
    /// The data row (0 for sync changes and groups).
    pub row: u64,
    /// Who (empty for a group).
    pub user: UserRef,
    /// The group created ([`ChangeKind::CreateGroup`] only).
    pub group: Option<String>,
    /// Changed fields, old → new (a password shows as `"set"`, never its value).
    pub fields: Vec<FieldChange>,
    /// Groups added and removed.
    pub groups: ListChange,
    /// Roles added and removed.
    pub roles: ListChange,
    /// Identities added and removed.
    pub identities: ListChange,
}

impl ReviewEntry {
    fn new(kind: ChangeKind, line: u64, row: u64, user: UserRef) -> Self {
        ReviewEntry {
            kind,
            line,
            row,
            user,
            group: None,
            fields: Vec::new(),
            groups: ListChange::default(),
            roles: ListChange::default(),
            identities: ListChange::default(),
        }
    }
}

/// The listing of a plan: the first `limit` entries of each kind, in file
/// order (sync changes in store order, after the file's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Review {
    /// Most entries listed per kind (`usize::MAX` = every change).
    pub limit: usize,
    /// The listed entries.
    pub entries: Vec<ReviewEntry>,
    /// Every change of each kind seen, listed or not (in [`ChangeKind::ALL`]
    /// order). Rows withdrawn later (in-file duplicates) are not subtracted:
    /// the plan's summary holds the exact counts.
    pub seen: [u64; 5],
}

impl Review {
    /// An empty listing keeping at most `limit` entries per kind.
    pub fn new(limit: usize) -> Self {
        Review {
            limit,
            ..Review::default()
        }
    }

    /// The listed entries of one kind.
    pub fn of_kind(&self, kind: ChangeKind) -> impl Iterator<Item = &ReviewEntry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }

    fn listed(&self, kind: ChangeKind) -> usize {
        self.of_kind(kind).count()
    }

    /// Counts an entry of `kind`; true when it is to be listed.
    fn admit(&mut self, kind: ChangeKind) -> bool {
        self.seen[kind.slot()] += 1;
        self.seen[kind.slot()] <= self.limit as u64
    }

    /// Drops the entries of rows taken back out of the plan (rows later
    /// found to be in-file duplicates).
    pub fn withdraw(&mut self, rows: &HashSet<u64>) {
        if !rows.is_empty() {
            self.entries
                .retain(|e| e.row == 0 || !rows.contains(&e.row));
        }
    }

    /// Lists the groups a plan creates.
    pub fn note_groups(&mut self, groups: &[String]) {
        for group in groups {
            if self.admit(ChangeKind::CreateGroup) {
                let mut entry = ReviewEntry::new(ChangeKind::CreateGroup, 0, 0, UserRef::default());
                entry.group = Some(group.clone());
                self.entries.push(entry);
            }
        }
    }

    /// The complete count of each kind, from the plan's `summary` (its
    /// update count includes sync's suspensions, listed apart here).
    pub fn totals(&self, summary: &Summary) -> [(ChangeKind, u64); 5] {
        let suspended = self.seen[ChangeKind::Suspend.slot()];
        [
            (ChangeKind::Create, summary.create),
            (ChangeKind::Update, summary.update.saturating_sub(suspended)),
            (ChangeKind::Delete, summary.delete),
            (ChangeKind::Suspend, suspended),
            (
                ChangeKind::CreateGroup,
                self.seen[ChangeKind::CreateGroup.slot()],
            ),
        ]
    }

    /// How many changes of each kind are not listed (complete counts from
    /// the plan's `summary`), for kinds with any.
    pub fn omitted(&self, summary: &Summary) -> Vec<(ChangeKind, u64)> {
        self.totals(summary)
            .into_iter()
            .map(|(kind, total)| (kind, total.saturating_sub(self.listed(kind) as u64)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Rows matching existing users below which no mass-change warning is given.
const MASS_MIN_ROWS: u64 = 20;
/// A field changed on more than this share of those rows is a mass change.
const MASS_SHARE: f64 = 0.8;

/// What the planner keeps to build a [`Review`] and its warnings.
#[derive(Debug, Clone)]
pub(crate) struct Reviewer {
    pub review: Review,
    /// Column indices of the member ID, login ID, e-mail and name.
    index: [Option<usize>; 4],
    name_key: Option<String>,
    /// Column key → its label (for messages).
    labels: BTreeMap<String, String>,
    /// Text columns holding a person's name.
    name_columns: HashSet<String>,
    /// Updates per changed column key.
    changed: BTreeMap<String, u64>,
}

impl Reviewer {
    pub fn new(profile: &Profile, limit: usize) -> Self {
        let name_index = profile
            .column_index("name")
            .or_else(|| profile.column_index("display_name"));
        Reviewer {
            review: Review::new(limit),
            index: [
                profile.index_for(Purpose::MemberId),
                profile.index_for(Purpose::Login),
                profile.index_for(Purpose::Email),
                name_index,
            ],
            name_key: name_index
                .and_then(|i| profile.columns.get(i))
                .map(|c| c.key.clone()),
            labels: profile
                .columns
                .iter()
                .map(|c| (c.key.clone(), c.label.clone()))
                .collect(),
            name_columns: profile
                .columns
                .iter()
                .filter(|c| c.purpose == Purpose::Attribute && c.key.ends_with("name"))
                .map(|c| c.key.clone())
                .collect(),
            changed: BTreeMap::new(),
        }
    }

    /// Sets how many entries of each kind are listed.
    pub fn set_limit(&mut self, limit: usize) {
        self.review.limit = limit;
    }

    /// A stored user as the administrator knows them.
    pub fn stored_ref(&self, user: &StoredUser) -> UserRef {
        UserRef {
            member_id: Some(user.id),
            login_id: user.login.clone(),
            email: user.email.clone(),
            name: self
                .name_key
                .as_ref()
                .and_then(|k| user.attributes.get(k))
                .cloned(),
        }
    }

    fn row_ref(&self, row: &Row) -> UserRef {
        let value = |i: Option<usize>| i.and_then(|i| row.value(i)).map(str::to_string);
        UserRef {
            member_id: value(self.index[0]).and_then(|v| v.trim().parse().ok()),
            login_id: value(self.index[1]),
            email: value(self.index[2]),
            name: value(self.index[3]),
        }
    }

    /// Notes a row's change: lists it (within the limit) and raises the
    /// warnings of a suspicious update into `issues`.
    pub fn note(
        &mut self,
        change: &Change,
        row: &Row,
        stored: Option<&StoredUser>,
        issues: &mut Vec<Issue>,
    ) {
        let user = |this: &Self| match stored {
            Some(user) => this.stored_ref(user),
            None => this.row_ref(row),
        };
        match change {
            Change::Create { line, row: r, .. } => {
                if self.review.admit(ChangeKind::Create) {
                    let entry = ReviewEntry::new(ChangeKind::Create, *line, *r, self.row_ref(row));
                    self.review.entries.push(entry);
                }
            }
            Change::Delete { line, row: r, .. } => {
                if self.review.admit(ChangeKind::Delete) {
                    let entry = ReviewEntry::new(ChangeKind::Delete, *line, *r, user(self));
                    self.review.entries.push(entry);
                }
            }
            Change::Update {
                line,
                row: r,
                diff,
                groups,
                roles,
                identities,
                ..
            } => {
                self.inspect(diff, row, issues);
                if self.review.admit(ChangeKind::Update) {
                    let mut entry = ReviewEntry::new(ChangeKind::Update, *line, *r, user(self));
                    entry.fields = diff.clone();
                    entry.groups = groups.clone();
                    entry.roles = roles.clone();
                    entry.identities = identities.clone();
                    self.review.entries.push(entry);
                }
            }
            Change::Suspend { .. } | Change::Unchanged { .. } => {}
        }
    }

    /// Notes sync's removals (`users[i]` is the user of `changes[i]`, for
    /// as many as were kept).
    pub fn note_sync(&mut self, changes: &[Change], users: Vec<UserRef>) {
        let mut users = users.into_iter();
        for change in changes {
            let user = users.next().unwrap_or_default();
            match change {
                Change::Delete { id, .. } | Change::Suspend { id, .. } => {
                    let (kind, fields) = match change {
                        Change::Suspend { status, .. } => {
                            (ChangeKind::Suspend, vec![status.clone()])
                        }
                        _ => (ChangeKind::Delete, Vec::new()),
                    };
                    if self.review.admit(kind) {
                        let user = UserRef {
                            member_id: Some(*id),
                            ..user
                        };
                        let mut entry = ReviewEntry::new(kind, 0, 0, user);
                        entry.fields = fields;
                        self.review.entries.push(entry);
                    }
                }
                _ => {}
            }
        }
    }

    /// Warnings for one update's field changes: a lossy re-save, a name
    /// emptied of letters. Counts the changed columns for the mass check.
    fn inspect(&mut self, diff: &[FieldChange], row: &Row, issues: &mut Vec<Issue>) {
        for change in diff {
            if change.field == Field::Password {
                continue;
            }
            match self.changed.get_mut(&change.column) {
                Some(n) => *n += 1,
                None => {
                    self.changed.insert(change.column.clone(), 1);
                }
            }
            let (Some(old), Some(new)) = (change.old.as_deref(), change.new.as_deref()) else {
                continue;
            };
            let label = self
                .labels
                .get(&change.column)
                .map_or(change.column.as_str(), String::as_str);
            if is_lossy(old, new) {
                issues.push(
                    Issue::warning(
                        row.line,
                        row.row,
                        crate::codes::UPDATE_LOSSY,
                        format!(
                            "{label} changes from {old:?} to {new:?}: the new value has '?' where the old one has characters outside ASCII, as when a file is saved in a charset that cannot hold them (Excel's \"CSV\" on a Japanese or Western Windows); save the file as \"CSV UTF-8\" and check again"
                        ),
                    )
                    .column(&change.column)
                    .value(new),
                );
            } else if self.name_columns.contains(&change.column)
                && old.chars().any(char::is_alphabetic)
                && !new.chars().any(char::is_alphabetic)
            {
                issues.push(
                    Issue::warning(
                        row.line,
                        row.row,
                        crate::codes::UPDATE_NAME_WITHOUT_LETTERS,
                        format!(
                            "{label} changes from {old:?} to {new:?}, which has no letters left: check the file was saved without losing characters"
                        ),
                    )
                    .column(&change.column)
                    .value(new),
                );
            }
        }
    }

    /// The file-level warnings: a field changed on most rows that match
    /// existing users.
    pub fn finish_issues(&self, summary: &Summary) -> Vec<Issue> {
        let suspended = self.review.seen[ChangeKind::Suspend.slot()];
        let matched = (summary.update + summary.unchanged).saturating_sub(suspended);
        if matched < MASS_MIN_ROWS {
            return Vec::new();
        }
        self.changed
            .iter()
            .filter(|(_, n)| **n as f64 > matched as f64 * MASS_SHARE)
            .map(|(column, n)| {
                let label = self.labels.get(column).map_or(column.as_str(), String::as_str);
                let percent = *n as f64 * 100.0 / matched as f64;
                Issue::warning(
                    0,
                    0,
                    crate::codes::UPDATE_MASS_CHANGE,
                    format!(
                        "{label} changes on {n} of the {matched} rows that match existing users ({percent:.0}%): check the column was not sorted, filled down or pasted over by mistake"
                    ),
                )
                .column(column)
            })
            .collect()
    }
}

/// True when `new` looks like `old` after a lossy re-save: it has more `?`
/// or U+FFFD than `old` and fewer characters outside ASCII (they are what
/// was replaced).
pub fn is_lossy(old: &str, new: &str) -> bool {
    let marks = |s: &str| s.chars().filter(|c| *c == '?' || *c == '\u{FFFD}').count();
    let wide = |s: &str| {
        s.chars()
            .filter(|c| !c.is_ascii() && *c != '\u{FFFD}')
            .count()
    };
    marks(new) > marks(old) && wide(new) < wide(old)
}

#[cfg(test)]
mod tests {
    use super::is_lossy;

    #[test]
    fn lossy_resaves_are_recognised() {
        for (old, new, lossy) in [
            ("María", "Mar?a", true),
            ("김민지", "???", true),
            ("Zoë", "Zo\u{FFFD}", true),
            ("María", "Maria", false),
            ("Sales", "Sales?", false),
            ("¿Qué?", "¿Qué?", false),
            ("田中", "田中 花子", false),
            ("María Müller", "María Müller ?", false),
            ("María Müller", "Mar?a M?ller", true),
        ] {
            assert_eq!(is_lossy(old, new), lossy, "{old} -> {new}");
        }
    }
}
