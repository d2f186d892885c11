//! The streaming planner: rows in, changes out, one batched look-up per chunk.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use userimport_schema::{Column, CrossRule, FieldKind, KeyKind, Profile, Purpose};
use userimport_validate::{Cell, Issue, ListEdit, Row};

use crate::attributes::Attributes;
use crate::authority::Actor;
use crate::directory::{Directory, Lookup, StoredUser, fold};
use crate::plan::Plan;
use crate::review::{Review, Reviewer, UserRef};
use crate::types::{
    Change, Field, FieldChange, ListChange, Merge, Mode, NewUser, PasswordSource, PlanOptions,
    Summary, SyncAction,
};
use crate::{Error, Result};

/// The issue codes the planner raises.
pub mod codes {
    /// A required column is blank on a row that creates a user.
    pub const FIELD_REQUIRED: &str = "field.required";
    /// The row's keys match two different users.
    pub const KEY_AMBIGUOUS: &str = "key.ambiguous";
    /// No user matches (update mode, a member ID not in the store, a delete).
    pub const KEY_UNKNOWN: &str = "key.unknown";
    /// Two rows of the file match the same stored user.
    pub const KEY_DUPLICATE: &str = "key.duplicate";
    /// Create mode and the user exists, or a new user's key is taken.
    pub const USER_EXISTS: &str = "user.exists";
    /// The row changes an existing user's login ID.
    pub const LOGIN_IMMUTABLE: &str = "login.immutable";
    /// A new user cannot start out suspended.
    pub const STATUS_SUSPENDED_NEW: &str = "status.suspended_new";
    /// The group does not exist and the profile does not create groups.
    pub const GROUP_UNKNOWN: &str = "group.unknown";
    /// The group does not exist and will be created (warning, on the row
    /// that first names it).
    pub const GROUP_NEW: &str = "group.new";
    /// The group will be created, but an existing group has a name close
    /// to it (warning, with the suggestion).
    pub const GROUP_SIMILAR: &str = "group.similar";
    /// The actor may not grant or revoke this role or group.
    pub const AUTHORITY_DENIED: &str = "authority.denied";
    /// A new user has no password and none is generated.
    pub const PASSWORD_MISSING: &str = "password.missing";
    /// Passwords of existing users are kept (one file-level warning).
    pub const PASSWORD_IGNORED: &str = "password.ignored";
    /// Sync would remove more users than allowed (file-level).
    pub const SYNC_THRESHOLD: &str = "sync.threshold";
    /// Sync removes nobody because some rows are invalid (file-level warning).
    pub const SYNC_INCOMPLETE: &str = "sync.incomplete";
    /// An update replaces a value holding non-ASCII characters by one with
    /// `?` or U+FFFD in their place (a lossy re-save; warning).
    pub const UPDATE_LOSSY: &str = "update.lossy_text";
    /// An update leaves a name without letters (warning).
    pub const UPDATE_NAME_WITHOUT_LETTERS: &str = "update.name_without_letters";
    /// One field changes on most rows that match existing users (file-level warning).
    pub const UPDATE_MASS_CHANGE: &str = "update.mass_change";
}

/// Changes of each kind listed by default in [`Finish::review`].
const DEFAULT_REVIEW_LIMIT: usize = 100;

/// What one chunk of rows produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    /// One change per valid row, in row order.
    pub changes: Vec<Change>,
    /// Issues raised by planning these rows (or earlier ones, for `key.duplicate`).
    pub issues: Vec<Issue>,
    /// Groups these rows create (not named by an earlier chunk): a streamed
    /// write creates them before the chunk's memberships.
    pub created_groups: Vec<String>,
    /// Refused rows (no change) that matched a stored user: (data row,
    /// member ID), so reports can name the user a failed row was about.
    pub matched: Vec<(u64, i64)>,
    /// With [`Planner::counts_only`]: the data rows that create a user, in
    /// row order, whose [`Change::Create`] is not kept in `changes`.
    pub created_rows: Vec<u64>,
}

/// What [`Planner::finish`] adds at the end of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The store revision planned against.
    pub revision: u64,
    /// The profile's name.
    pub profile: String,
    /// The SHA-256 of the profile ([`crate::profile_digest`]).
    pub profile_digest: String,
    /// The store's identity ([`Directory::store_id`]).
    pub store_id: Option<String>,
    /// The options planned with.
    pub options: PlanOptions,
    /// Sync's deletions or suspensions.
    pub changes: Vec<Change>,
    /// File-level issues (`sync.threshold`).
    pub issues: Vec<Issue>,
    /// The counts (planning issues included; add the validator's with
    /// [`Summary::count_issues`]).
    pub summary: Summary,
    /// Groups the plan creates.
    pub created_groups: Vec<String>,
    /// Data rows whose change, returned by an earlier chunk, must be dropped
    /// (a later row matched the same user).
    pub withdrawn_rows: Vec<u64>,
    /// The listing of who changes and how (withdrawn rows already dropped).
    pub review: Review,
}

impl Finish {
    /// Assembles the plan from the changes and issues of every chunk: drops
    /// withdrawn rows, appends sync changes and file-level issues.
    pub fn into_plan(self, mut changes: Vec<Change>, mut issues: Vec<Issue>) -> Plan {
        if !self.withdrawn_rows.is_empty() {
            let withdrawn: HashSet<u64> = self.withdrawn_rows.iter().copied().collect();
            changes.retain(|c| c.row() == 0 || !withdrawn.contains(&c.row()));
        }
        changes.extend(self.changes);
        issues.extend(self.issues);
        Plan {
            revision: self.revision,
            profile: self.profile,
            profile_digest: self.profile_digest,
            store_id: self.store_id,
            options: self.options,
            changes,
            summary: self.summary,
            created_groups: self.created_groups,
            issues,
            withdrawn_rows: Vec::new(),
        }
    }
}

/// Where a matched user was first seen, and how that row was counted.
#[derive(Debug, Clone, Copy)]
struct Seen {
    line: u64,
    row: u64,
    counted: Counted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Update,
    Delete,
    Unchanged,
    Skipped,
}

/// The streaming planner. Feed it chunks of rows with
/// [`Planner::plan_chunk`] (each costs one [`Directory::find`]), then call
/// [`Planner::finish`]. Memory per row is the member ID it matched, not the row.
#[derive(Debug)]
pub struct Planner {
    profile: std::sync::Arc<Profile>,
    options: PlanOptions,
    key_order: Vec<KeyKind>,
    revision: u64,
    /// Folded group name → the store's (or the file's, for new ones) spelling.
    /// Keyed by the folded name's bytes: a look-up from a name lowercased
    /// on the stack needs no UTF-8 check ([`Planner::known_group`]).
    groups: HashMap<Box<[u8]>, String, foldhash::quality::RandomState>,
    created: BTreeSet<String>,
    /// Groups first named by the chunk being planned.
    chunk_groups: Vec<String>,
    /// The importing actor, resolved once; `None` = the operator.
    actor: Option<Actor>,
    /// The store's identity, recorded in the plan.
    store_id: Option<String>,
    suspend_value: Option<(String, String)>,
    seen: HashMap<i64, Seen>,
    withdrawn: Vec<u64>,
    summary: Summary,
    has_password_column: bool,
    /// Column indices of the member ID, login and e-mail (in that order).
    key_index: [Option<usize>; 3],
    delete_index: Option<usize>,
    /// The store held no users when planning began: look-ups are skipped.
    empty_store: bool,
    /// Rows of existing users whose password was ignored, and the column.
    passwords_ignored: (u64, String),
    /// Set by [`Planner::counts_only`]: creates carry no user.
    counts_only: bool,
    /// The change listing and the suspicious-update warnings.
    reviewer: Reviewer,
    /// Each due-date rule's type and value columns: (index, index, value
    /// column's key), looked up once.
    due_dates: Vec<(Option<usize>, Option<usize>, String)>,
    /// The columns a new user's attributes come from, in key order.
    attribute_columns: Vec<usize>,
    /// The columns a new user is planned from (all but read-only ones), and
    /// those that can raise an issue when nothing is built: required ones,
    /// passwords, status and groups. In profile order.
    create_columns: CreateColumns,
}

/// The columns a new user is planned from.
#[derive(Debug)]
struct CreateColumns {
    /// Every column but read-only ones, for a user that is built.
    built: std::sync::Arc<[usize]>,
    /// Those that can raise an issue when nothing is built: required ones,
    /// passwords, status and groups.
    checked: std::sync::Arc<[usize]>,
}

/// The per-chunk index of found users.
struct Found {
    users: Vec<StoredUser>,
    by_id: HashMap<i64, usize>,
    by_login: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
}

impl Found {
    fn lookup(&self, key: &Lookup) -> Option<usize> {
        match key {
            Lookup::Id(id) => self.by_id.get(id).copied(),
            Lookup::Login(l) => self.by_login.get(l).copied(),
            Lookup::Email(e) => self.by_email.get(e).copied(),
            // Never a row's own key: look-alikes, identities and attributes
            // are checked against every user found.
            Lookup::Skeleton(_) | Lookup::Identity(_) | Lookup::Attribute { .. } => None,
        }
    }
}

fn key_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Id => "member ID",
        KeyKind::Login => "login ID",
        KeyKind::Email => "e-mail",
    }
}

fn describe(user: &StoredUser) -> String {
    match (&user.login, &user.email) {
        (Some(login), _) => format!("user {} (login {login:?})", user.id),
        (None, Some(email)) => format!("user {} (e-mail {email:?})", user.id),
        (None, None) => format!("user {}", user.id),
    }
}

/// `describe`, or for an import with an actor (whose authority may not
/// reach the user) a neutral "another user": a message never tells a
/// restricted actor who holds a key.
fn describe_to(actor: Option<&str>, user: &StoredUser) -> String {
    match actor {
        Some(_) => "another user".to_string(),
        None => describe(user),
    }
}

fn is_suspended(value: &str) -> bool {
    value.eq_ignore_ascii_case("suspended")
}

/// The indexes of `profile`'s attribute columns, in key order.
fn attribute_columns(profile: &Profile) -> Vec<usize> {
    let mut keyed: Vec<(&str, usize)> = (profile.columns.iter().enumerate())
        .filter(|(_, column)| is_attribute(column))
        .map(|(index, column)| (column.key.as_str(), index))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, index)| index).collect()
}

/// The [`CreateColumns`] of `profile`, in profile order.
fn create_columns(profile: &Profile) -> CreateColumns {
    let planned = |column: &Column| !matches!(column.kind, FieldKind::ReadOnly);
    let checked = |column: &Column| {
        planned(column)
            && (column.required
                || matches!(
                    column.purpose,
                    Purpose::Password | Purpose::PasswordHash | Purpose::Status | Purpose::Groups
                ))
    };
    let indices = |keep: &dyn Fn(&Column) -> bool| -> std::sync::Arc<[usize]> {
        (profile.columns.iter().enumerate())
            .filter(|(_, column)| keep(column))
            .map(|(i, _)| i)
            .collect()
    };
    CreateColumns {
        built: indices(&planned),
        checked: indices(&checked),
    }
}

/// True for a column whose value a user keeps as an attribute (status
/// included), rather than as a key, password, list or flag.
fn is_attribute(column: &Column) -> bool {
    !matches!(column.kind, FieldKind::ReadOnly)
        && !matches!(
            column.purpose,
            Purpose::MemberId
                | Purpose::Delete
                | Purpose::Login
                | Purpose::Email
                | Purpose::Password
                | Purpose::PasswordHash
                | Purpose::Groups
                | Purpose::Roles
                | Purpose::Identities
        )
}

/// The value a new user gets from `cell` of the attribute column `column`:
/// the cell's value, else the column's default (a status column's first
/// value, an On/Off column's default for a blank cell).
fn created_attribute<'a>(column: &'a Column, cell: &'a Cell) -> Option<&'a str> {
    match (cell, &column.kind) {
        (Cell::Value(v), _) => Some(v),
        (_, FieldKind::Enum { values }) if column.purpose == Purpose::Status => {
            values.first().map(|v| v.canonical.as_str())
        }
        (_, _) if column.purpose == Purpose::Status => None,
        (Cell::Blank | Cell::Absent, FieldKind::OnOff { default }) => {
            Some(if *default { "On" } else { "Off" })
        }
        _ => None,
    }
}

impl Planner {
    /// Starts a plan against `dir`: reads its revision, its groups and, when
    /// `options.actor` is set, the actor's authority.
    pub fn new<D: Directory>(profile: &Profile, options: PlanOptions, dir: &D) -> Result<Self> {
        let revision = dir.revision().map_err(Error::store)?;
        let groups = dir
            .groups()
            .map_err(Error::store)?
            .into_iter()
            .map(|g| (fold(&g).into_bytes().into_boxed_slice(), g))
            .collect();
        let actor = match &options.actor {
            Some(name) => Some(Actor::resolve(dir, name)?),
            None => None,
        };
        let suspend_value =
            if options.mode == Mode::Sync && options.sync_action == SyncAction::Suspend {
                let column = profile
                    .column_for(Purpose::Status)
                    .ok_or_else(|| Error::NoStatusColumn(profile.name.clone()))?;
                let value = match &column.kind {
                    FieldKind::Enum { values } => values
                        .iter()
                        .find(|v| is_suspended(&v.canonical))
                        .or(values.last())
                        .map(|v| v.canonical.clone()),
                    _ => None,
                }
                .unwrap_or_else(|| "Suspended".to_string());
                Some((column.key.clone(), value))
            } else {
                None
            };
        let key_order = if options.key_order.is_empty() {
            profile.key_order.clone()
        } else {
            options.key_order.clone()
        };
        let has_password_column = profile.index_for(Purpose::Password).is_some()
            || profile.index_for(Purpose::PasswordHash).is_some();
        Ok(Planner {
            profile: std::sync::Arc::new(profile.clone()),
            options,
            key_order,
            revision,
            groups,
            created: BTreeSet::new(),
            chunk_groups: Vec::new(),
            actor,
            store_id: dir.store_id().map_err(Error::store)?,
            suspend_value,
            seen: HashMap::new(),
            withdrawn: Vec::new(),
            summary: Summary::default(),
            has_password_column,
            key_index: [
                profile.index_for(Purpose::MemberId),
                profile.index_for(Purpose::Login),
                profile.index_for(Purpose::Email),
            ],
            delete_index: profile.index_for(Purpose::Delete),
            empty_store: dir.user_count().map_err(Error::store)? == 0,
            passwords_ignored: (0, String::new()),
            counts_only: false,
            reviewer: Reviewer::new(profile, DEFAULT_REVIEW_LIMIT),
            due_dates: profile
                .rules
                .iter()
                .filter_map(|rule| match rule {
                    CrossRule::DueDate {
                        type_column,
                        value_column,
                    } => Some((
                        profile.column_index(type_column),
                        profile.column_index(value_column),
                        value_column.clone(),
                    )),
                    _ => None,
                })
                .collect(),
            attribute_columns: attribute_columns(profile),
            create_columns: create_columns(profile),
        })
    }

    /// For callers that keep only counts and issues (upload and check): no
    /// [`NewUser`] is built just to be thrown away, and a chunk lists the
    /// rows that create a user in [`Chunk::created_rows`] instead of their
    /// [`Change::Create`]. Issues, counts and created groups are the same
    /// either way. Updates, deletes and the rest are unchanged.
    pub fn counts_only(&mut self, yes: bool) -> &mut Self {
        self.counts_only = yes;
        self
    }

    /// Lists at most `limit` changes of each kind in [`Finish::review`]
    /// (default 100; `usize::MAX` lists every change). Counts are complete
    /// whatever the limit.
    pub fn review_limit(&mut self, limit: usize) -> &mut Self {
        self.reviewer.set_limit(limit);
        self
    }

    /// The counts so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The keys a row carries, in member ID, login, e-mail order, with the
    /// folded look-up unless the store is empty.
    /// Appends them to `keys` (one flat list per chunk: no allocation per row).
    fn row_keys<'r>(&self, row: &'r Row, keys: &mut Vec<(KeyKind, Option<Lookup>, &'r str)>) {
        for (kind, index) in [KeyKind::Id, KeyKind::Login, KeyKind::Email]
            .into_iter()
            .zip(self.key_index)
        {
            let Some(index) = index else {
                continue;
            };
            let Some(value) = row.value(index) else {
                continue;
            };
            let lookup = match kind {
                KeyKind::Id => match value.trim().parse::<i64>() {
                    Ok(id) => Lookup::Id(id),
                    Err(_) => continue,
                },
                _ if self.empty_store => {
                    keys.push((kind, None, value));
                    continue;
                }
                KeyKind::Login => Lookup::login(value),
                KeyKind::Email => Lookup::email(value),
            };
            keys.push((kind, Some(lookup), value));
        }
    }

    /// Plans one chunk of rows with one batched look-up.
    pub fn plan_chunk<D: Directory>(&mut self, rows: &[Row], dir: &D) -> Result<Chunk> {
        // Every row's keys in one list; `ranges[i]` is row i's part.
        let mut all_keys: Vec<(KeyKind, Option<Lookup>, &str)> = Vec::with_capacity(rows.len() * 3);
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(rows.len());
        for row in rows {
            let start = all_keys.len();
            self.row_keys(row, &mut all_keys);
            ranges.push(start..all_keys.len());
        }
        let users = if self.empty_store {
            Vec::new()
        } else {
            self.find_users(rows, &all_keys, dir)?
        };
        let mut found = Found {
            by_id: HashMap::with_capacity(users.len()),
            by_login: HashMap::with_capacity(users.len()),
            by_email: HashMap::with_capacity(users.len()),
            users: Vec::new(),
        };
        for (i, user) in users.iter().enumerate() {
            found.by_id.insert(user.id, i);
            if let Some(login) = &user.login {
                found.by_login.insert(fold(login), i);
            }
            if let Some(email) = &user.email {
                found.by_email.insert(fold(email), i);
            }
        }
        found.users = users;

        // One change per row at most: the vector never grows (a change is
        // a few hundred bytes, and each doubling copied all of them).
        let mut chunk = Chunk {
            changes: Vec::with_capacity(if self.counts_only { 0 } else { rows.len() }),
            ..Chunk::default()
        };
        let groups_before = self.created.len();
        for (row, range) in rows.iter().zip(ranges) {
            let keys = &all_keys[range];
            self.summary.rows += 1;
            let before = chunk.issues.len();
            let change = self
                .plan_row(row, keys, &found, &mut chunk.issues)
                .filter(|change| !self.held_by_others(row, change, &found, &mut chunk.issues));
            if let Some(change) = &change {
                let stored = change.id().and_then(|id| found.by_id.get(&id));
                let stored = stored.and_then(|&i| found.users.get(i));
                self.reviewer.note(change, row, stored, &mut chunk.issues);
            }
            // A refused row names the user it matched, for the results file.
            let matched = keys.iter().find_map(|(_, l, _)| found.lookup(l.as_ref()?));
            if let (None, Some(user)) = (&change, matched.and_then(|i| found.users.get(i))) {
                chunk.matched.push((row.row, user.id));
            }
            let new_issues = &chunk.issues[before..];
            self.summary.count_issues(new_issues);
            match change {
                Some(change) => {
                    self.summary.valid += 1;
                    match &change {
                        Change::Create { .. } => self.summary.create += 1,
                        Change::Update { .. } | Change::Suspend { .. } => self.summary.update += 1,
                        Change::Delete { .. } => self.summary.delete += 1,
                        Change::Unchanged { .. } => self.summary.unchanged += 1,
                    }
                    match change {
                        // Counts only: a row number, not a change of 224 bytes.
                        Change::Create { row, .. } if self.counts_only => {
                            chunk.created_rows.push(row)
                        }
                        change => chunk.changes.push(change),
                    }
                }
                None => {
                    self.summary.invalid += 1;
                    self.summary.skipped += 1;
                }
            }
        }
        if self.created.len() > groups_before {
            chunk.created_groups = std::mem::take(&mut self.chunk_groups);
        }
        Ok(chunk)
    }

    /// Plans one row: `None` when it is invalid (issues say why).
    fn plan_row(
        &mut self,
        row: &Row,
        keys: &[(KeyKind, Option<Lookup>, &str)],
        found: &Found,
        issues: &mut Vec<Issue>,
    ) -> Option<Change> {
        let err = |code: &str, msg: String| Issue::error(row.line, row.row, code, msg);
        let column_key = |kind: KeyKind| {
            self.profile
                .column_for(kind.purpose())
                .map(|c| c.key.clone())
                .unwrap_or_default()
        };

        // Every present key is looked up; two different users is an error.
        // At most one key of each kind: kept on the stack.
        let mut matched = [(KeyKind::Id, "", None::<usize>); 3];
        for (slot, (kind, lookup, value)) in matched.iter_mut().zip(keys) {
            *slot = (*kind, *value, lookup.as_ref().and_then(|l| found.lookup(l)));
        }
        let matches = &matched[..keys.len().min(3)];
        let mut distinct: Vec<(usize, KeyKind)> = Vec::new();
        for (kind, _, m) in matches {
            if let Some(i) = m
                && !distinct.iter().any(|(j, _)| j == i)
            {
                distinct.push((*i, *kind));
            }
        }
        if !row.valid {
            // The validator already said why; the users it names still count
            // as present for sync.
            for (i, _) in &distinct {
                self.mark_seen(found.users[*i].id, row, Counted::Skipped, issues);
            }
            return None;
        }
        if distinct.len() > 1 {
            let names: Vec<String> = distinct
                .iter()
                .map(|(i, kind)| {
                    let user = describe_to(self.options.actor.as_deref(), &found.users[*i]);
                    format!("{user} by {}", key_name(*kind))
                })
                .collect();
            issues.push(err(
                crate::codes::KEY_AMBIGUOUS,
                format!(
                    "the row matches two different users: {}",
                    names.join(" and ")
                ),
            ));
            for (i, _) in &distinct {
                self.mark_seen(found.users[*i].id, row, Counted::Skipped, issues);
            }
            return None;
        }

        // The identifying key: the first of the key order the row has.
        let primary = self
            .key_order
            .iter()
            .find_map(|kind| matches.iter().find(|(k, _, _)| k == kind).copied());
        let target = match primary {
            Some((_, _, Some(i))) => Some(&found.users[i]),
            Some((KeyKind::Id, value, None)) => {
                issues.push(
                    err(
                        crate::codes::KEY_UNKNOWN,
                        format!("no user has member ID {value}"),
                    )
                    .column(&column_key(KeyKind::Id)),
                );
                return None;
            }
            _ => {
                // No identifying match: a new user, unless another key is taken.
                if let Some((i, kind)) = distinct.first() {
                    let user = &found.users[*i];
                    issues.push(
                        err(
                            crate::codes::USER_EXISTS,
                            format!(
                                "the row names a new user but its {} belongs to {}",
                                key_name(*kind),
                                describe_to(self.options.actor.as_deref(), user)
                            ),
                        )
                        .column(&column_key(*kind)),
                    );
                    self.mark_seen(user.id, row, Counted::Skipped, issues);
                    return None;
                }
                None
            }
        };

        let delete = self
            .delete_index
            .and_then(|i| row.value(i))
            .is_some_and(|v| v.trim() == "1");

        match target {
            Some(user) => {
                if self.options.mode == Mode::Create {
                    issues.push(err(
                        crate::codes::USER_EXISTS,
                        format!(
                            "{} already exists (create mode)",
                            describe_to(self.options.actor.as_deref(), user)
                        ),
                    ));
                    self.mark_seen(user.id, row, Counted::Skipped, issues);
                    return None;
                }
                if delete {
                    let change = Change::Delete {
                        line: row.line,
                        row: row.row,
                        id: user.id,
                    };
                    if self.denied(&change, Some(user), row, issues) {
                        self.mark_seen(user.id, row, Counted::Skipped, issues);
                        return None;
                    }
                    if !self.mark_seen(user.id, row, Counted::Delete, issues) {
                        return None;
                    }
                    return Some(change);
                }
                let before = issues.len();
                let change = self.plan_update(row, user, issues);
                self.denied(&change, Some(user), row, issues);
                if issues[before..].iter().any(Issue::is_error) {
                    self.mark_seen(user.id, row, Counted::Skipped, issues);
                    return None;
                }
                let counted = if matches!(change, Change::Unchanged { .. }) {
                    Counted::Unchanged
                } else {
                    Counted::Update
                };
                if !self.mark_seen(user.id, row, counted, issues) {
                    return None;
                }
                Some(change)
            }
            None => {
                if self.options.mode == Mode::Update || delete {
                    let what = match primary {
                        Some((kind, value, _)) => format!("{} {value:?}", key_name(kind)),
                        None => "its keys".to_string(),
                    };
                    let why = if delete {
                        "cannot delete"
                    } else {
                        "update mode creates no users"
                    };
                    issues.push(err(
                        crate::codes::KEY_UNKNOWN,
                        format!("no user matches {what}: {why}"),
                    ));
                    return None;
                }
                let before = issues.len();
                let user = self.plan_create(row, issues);
                self.check_new_due_date(row, issues);
                let change = Change::Create {
                    line: row.line,
                    row: row.row,
                    user,
                };
                self.denied(&change, None, row, issues);
                if issues[before..].iter().any(Issue::is_error) {
                    return None;
                }
                Some(change)
            }
        }
    }

    /// Records that `row` matched user `id`. When an earlier row matched it
    /// too, both rows get an error, the earlier row's change is withdrawn,
    /// and `false` is returned.
    fn mark_seen(&mut self, id: i64, row: &Row, counted: Counted, issues: &mut Vec<Issue>) -> bool {
        match self.seen.get_mut(&id) {
            None => {
                self.seen.insert(
                    id,
                    Seen {
                        line: row.line,
                        row: row.row,
                        counted,
                    },
                );
                true
            }
            Some(seen) if seen.row == row.row => true,
            Some(seen) => {
                let (first_line, first_row) = (seen.line, seen.row);
                if counted != Counted::Skipped {
                    issues.push(Issue::error(
                        row.line,
                        row.row,
                        crate::codes::KEY_DUPLICATE,
                        format!("user {id} is also matched by line {first_line}"),
                    ));
                }
                if seen.counted != Counted::Skipped {
                    issues.push(Issue::error(
                        first_line,
                        first_row,
                        crate::codes::KEY_DUPLICATE,
                        format!("user {id} is also matched by line {}", row.line),
                    ));
                    match seen.counted {
                        Counted::Update => {
                            self.summary.update = self.summary.update.saturating_sub(1)
                        }
                        Counted::Delete => {
                            self.summary.delete = self.summary.delete.saturating_sub(1)
                        }
                        Counted::Unchanged => {
                            self.summary.unchanged = self.summary.unchanged.saturating_sub(1)
                        }
                        Counted::Skipped => {}
                    }
                    self.summary.valid = self.summary.valid.saturating_sub(1);
                    self.summary.invalid += 1;
                    self.summary.skipped += 1;
                    seen.counted = Counted::Skipped;
                    self.withdrawn.push(first_row);
                }
                // The caller counts both issues (they are in `issues`).
                false
            }
        }
    }

    /// Resolves a group name: the stored spelling, or a new group (created
    /// when the profile allows, with a `group.new` or `group.similar`
    /// warning on the row that first names it; the profile's default group
    /// always), or `None` with a `group.unknown` error that suggests the
    /// nearest existing groups.
    fn resolve_group(
        &mut self,
        name: &str,
        row: &Row,
        column: &str,
        issues: &mut Vec<Issue>,
    ) -> Option<String> {
        if let Some(existing) = self.known_group(name) {
            return Some(existing.clone());
        }
        let folded = fold(name);
        if let Some(existing) = self.groups.get(folded.as_bytes()) {
            return Some(existing.clone());
        }
        let similar = self.similar_groups(&folded);
        let name = name.trim();
        // The profile's default group is named by the profile, not typed in
        // the file: it is created when missing.
        let is_default = self
            .profile
            .groups
            .default_group
            .as_deref()
            .is_some_and(|g| fold(g) == folded);
        if !self.profile.groups.create_unknown && !is_default {
            let hint = match similar.as_slice() {
                [] => "create it first, or allow the profile to create groups".to_string(),
                [one] => format!("did you mean {one:?}?"),
                more => format!("did you mean one of {more:?}?"),
            };
            issues.push(
                Issue::error(
                    row.line,
                    row.row,
                    crate::codes::GROUP_UNKNOWN,
                    format!("group {name:?} does not exist: {hint}"),
                )
                .column(column)
                .value(name),
            );
            return None;
        }
        self.groups
            .insert(folded.into_bytes().into_boxed_slice(), name.to_string());
        if self.created.insert(name.to_string()) {
            self.chunk_groups.push(name.to_string());
            let issue = match similar.first() {
                Some(near) => Issue::warning(
                    row.line,
                    row.row,
                    crate::codes::GROUP_SIMILAR,
                    format!(
                        "group {name:?} does not exist and will be created, but group {near:?} \
                         exists: did you mean {near:?}?"
                    ),
                ),
                None => Issue::warning(
                    row.line,
                    row.row,
                    crate::codes::GROUP_NEW,
                    format!("group {name:?} does not exist: it will be created"),
                ),
            };
            issues.push(issue.column(column).value(name));
        }
        Some(name.to_string())
    }

    /// The stored spelling of a known group in the usual case, an ASCII
    /// name, looked up without folding into a new string (ASCII lowercasing
    /// is what `fold` does to it). `None`: not known, or not that case.
    fn known_group(&self, name: &str) -> Option<&String> {
        // A name the validator trimmed (nearly every one) is not trimmed again.
        let trimmed = match name.as_bytes() {
            [first, .., last] | [first @ last]
                if first.is_ascii_graphic() && last.is_ascii_graphic() =>
            {
                name
            }
            _ => name.trim(),
        };
        if !trimmed.is_ascii() || trimmed.len() > 64 {
            return None;
        }
        let mut buf = [0u8; 64];
        let bytes = &mut buf[..trimmed.len()];
        bytes.copy_from_slice(trimmed.as_bytes());
        bytes.make_ascii_lowercase();
        self.groups.get(&*bytes)
    }

    /// Existing groups whose names are close to `folded` (a typo of one of
    /// them), closest first, at most three.
    fn similar_groups(&self, folded: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &String)> = self
            .groups
            .iter()
            .filter(|(key, name)| key[..] != *folded.as_bytes() && !self.created.contains(*name))
            .filter_map(|(key, name)| {
                let key = std::str::from_utf8(key).ok()?;
                Some((strsim::jaro_winkler(folded, key), name))
            })
            .filter(|(score, _)| *score >= 0.85)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
    }

    /// The stored users a chunk names or may clash with, in at most two
    /// look-ups: first by the rows' keys, identities and cards; then by the
    /// confusable skeletons of the login IDs and e-mails that may be new to
    /// their user. A row whose own key found a user holding that very login
    /// ID (folded) or e-mail (as written) cannot change it, and look-alikes
    /// are checked only for new users and changed keys: its skeleton is not
    /// looked up (on a re-import, none is).
    fn find_users<D: Directory>(
        &self,
        rows: &[Row],
        all_keys: &[(KeyKind, Option<Lookup>, &str)],
        dir: &D,
    ) -> Result<Vec<StoredUser>> {
        let mut wanted: Vec<Lookup> = Vec::new();
        let mut dedup: HashSet<Lookup> = HashSet::new();
        let lookups = all_keys.iter().filter_map(|(_, l, _)| l.as_ref()).cloned();
        for lookup in lookups.chain(rows.iter().flat_map(|r| self.related_lookups(r))) {
            if dedup.insert(lookup.clone()) {
                wanted.push(lookup);
            }
        }
        let mut users = match wanted.is_empty() {
            true => Vec::new(),
            false => dir.find(&wanted).map_err(Error::store)?,
        };
        let logins: HashSet<String> = users
            .iter()
            .filter_map(|u| u.login.as_deref())
            .map(fold)
            .collect();
        let emails: HashSet<&str> = users.iter().filter_map(|u| u.email.as_deref()).collect();
        let mut skeletons: Vec<Lookup> = Vec::new();
        for row in rows.iter().filter(|r| r.valid) {
            for (index, column) in self.profile.columns.iter().enumerate() {
                let Cell::Value(v) = row.cell(index) else {
                    continue;
                };
                // Only the key columns' values are looked up by the row.
                let held = match column.purpose {
                    Purpose::Login => self.key_index[1] == Some(index) && logins.contains(&fold(v)),
                    Purpose::Email => {
                        self.key_index[2] == Some(index) && emails.contains(v.as_str())
                    }
                    _ => continue,
                };
                if held || v.trim().is_empty() {
                    continue;
                }
                let lookup = Lookup::Skeleton(crate::directory::skeleton(v));
                if dedup.insert(lookup.clone()) {
                    skeletons.push(lookup);
                }
            }
        }
        if !skeletons.is_empty() {
            let known: HashSet<i64> = users.iter().map(|u| u.id).collect();
            let more = dir.find(&skeletons).map_err(Error::store)?;
            users.extend(more.into_iter().filter(|u| !known.contains(&u.id)));
        }
        Ok(users)
    }

    /// The look-ups that find other users holding what a row claims: its
    /// identities and its card IDs (the skeletons of its login ID and
    /// e-mail: [`Planner::find_users`]).
    fn related_lookups(&self, row: &Row) -> Vec<Lookup> {
        let mut out = Vec::new();
        if !row.valid {
            return out;
        }
        for (index, column) in self.profile.columns.iter().enumerate() {
            match (column.purpose, &column.kind, row.cell(index)) {
                (Purpose::Identities, _, Cell::List(edit)) => {
                    out.extend(
                        edit.add
                            .iter()
                            .map(|i| Lookup::Identity(i.trim().to_lowercase())),
                    );
                }
                (_, FieldKind::CardId, Cell::Value(v)) => out.push(Lookup::Attribute {
                    column: column.key.clone(),
                    value: v.clone(),
                }),
                _ => {}
            }
        }
        out
    }

    /// True (with an error per clash) when a row would give its user what
    /// another user holds: a login ID or e-mail that looks the same as
    /// another's (TR39 confusable skeleton), a source identity, or a card.
    /// Look-alikes are checked for new users and changed keys only.
    fn held_by_others(
        &self,
        row: &Row,
        change: &Change,
        found: &Found,
        issues: &mut Vec<Issue>,
    ) -> bool {
        let (owner, new_keys) = match change {
            Change::Create { .. } => (None, None),
            Change::Update { id, diff, .. } => (
                Some(*id),
                Some(
                    diff.iter()
                        .filter(|c| matches!(c.field, Field::Login | Field::Email))
                        .map(|c| c.column.as_str())
                        .collect::<Vec<_>>(),
                ),
            ),
            Change::Unchanged { id, .. } => (Some(*id), Some(Vec::new())),
            Change::Delete { .. } | Change::Suspend { .. } => return false,
        };
        let others = || found.users.iter().filter(move |u| Some(u.id) != owner);
        // Every clash is with another user the chunk's look-up found: with
        // none (an empty store, nearly every row of a first import), there
        // is nothing to fold or compare.
        if others().next().is_none() {
            return false;
        }
        let before = issues.len();
        for (index, column) in self.profile.columns.iter().enumerate() {
            let err = |code: &str, message: String| {
                Issue::error(row.line, row.row, code, message).column(&column.key)
            };
            match (column.purpose, &column.kind, row.cell(index)) {
                (Purpose::Login | Purpose::Email, _, Cell::Value(v))
                    if new_keys
                        .as_ref()
                        .is_none_or(|k| k.contains(&column.key.as_str())) =>
                {
                    let (mine, folded) = (crate::directory::skeleton(v), fold(v));
                    let stored = |u: &StoredUser| match column.purpose {
                        Purpose::Login => u.login.clone(),
                        _ => u.email.clone(),
                    };
                    for user in others() {
                        let Some(theirs) = stored(user) else { continue };
                        if fold(&theirs) != folded && crate::directory::skeleton(&theirs) == mine {
                            issues.push(err(
                                userimport_validate::codes::KEY_CONFUSABLE,
                                format!(
                                    "{} {v:?} looks the same as {theirs:?}, the {} of {} (they \
                                     differ only in look-alike characters): choose one that \
                                     reads differently",
                                    column.label,
                                    column.label,
                                    describe(user)
                                ),
                            ));
                        }
                    }
                }
                (Purpose::Identities, _, Cell::List(edit)) => {
                    for name in &edit.add {
                        let folded = name.trim().to_lowercase();
                        if let Some(user) = others()
                            .find(|u| u.identities.iter().any(|i| i.to_lowercase() == folded))
                        {
                            issues.push(err(
                                userimport_validate::codes::IDENTITY_TAKEN,
                                format!(
                                    "identity {name:?} belongs to {}: a source identity \
                                     belongs to one user",
                                    describe(user)
                                ),
                            ));
                        }
                    }
                }
                (_, FieldKind::CardId, Cell::Value(v)) => {
                    if let Some(user) = others().find(|u| u.attributes.get(&column.key) == Some(v))
                    {
                        issues.push(err(
                            userimport_validate::codes::CARD_ID_DUPLICATE,
                            format!(
                                "card {v} (decimal) is the card of {}: a card belongs to one user",
                                describe(user)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        issues.len() > before
    }

    /// The due-date rule for a new user: a `From…` or `ExpirationDate` type
    /// needs its value in the row, even when the file has no value column
    /// (the row-level rule judges a row that has both columns).
    fn check_new_due_date(&self, row: &Row, issues: &mut Vec<Issue>) {
        for (type_index, value_index, value_column) in &self.due_dates {
            let cell =
                |index: Option<usize>| index.and_then(|i| row.value(i)).filter(|v| !v.is_empty());
            let value = cell(*value_index);
            let (fits, what) = match cell(*type_index) {
                Some("FromFirstLogin" | "FromCreation") => {
                    (value.is_some_and(is_day_count), "a number of valid days")
                }
                Some("ExpirationDate") => {
                    (value.is_some_and(is_due_date), "a due date (YYYY/MM/DD)")
                }
                _ => (true, ""),
            };
            let absent = value_index.is_none_or(|i| matches!(row.cell(i), Cell::Absent));
            if !fits && absent {
                issues.push(
                    Issue::error(
                        row.line,
                        row.row,
                        userimport_validate::codes::DUE_DATE_VALUE_MISSING,
                        format!(
                            "due date type {} needs {what} for a new user, and the row gives none",
                            cell(*type_index).unwrap_or_default()
                        ),
                    )
                    .column(value_column),
                );
            }
        }
    }

    /// The due-date rule on the user as it will be stored, not only the
    /// row: a type set to `Unlimited` clears a stored value; a `From…` or
    /// `ExpirationDate` type whose value (from the row, else the store) is
    /// missing or of the wrong kind is an error. So a stored user is always
    /// consistent, and an export of the store always passes a check.
    fn settle_due_date(
        &self,
        row: &Row,
        stored: &StoredUser,
        diff: &mut Vec<FieldChange>,
        issues: &mut Vec<Issue>,
    ) {
        for rule in &self.profile.rules {
            let CrossRule::DueDate {
                type_column,
                value_column,
            } = rule
            else {
                continue;
            };
            let changed = |key: &str| diff.iter().any(|c| c.column == key);
            if !changed(type_column) && !changed(value_column) {
                continue;
            }
            let after = |key: &str| {
                match diff.iter().find(|c| c.column == key) {
                    Some(c) => c.new.clone(),
                    None => stored.attributes.get(key).cloned(),
                }
                .filter(|v| !v.is_empty())
            };
            let (due_type, value) = (after(type_column), after(value_column));
            let fits = match due_type.as_deref() {
                Some("FromFirstLogin" | "FromCreation") => {
                    value.as_deref().is_some_and(is_day_count)
                }
                Some("ExpirationDate") => value.as_deref().is_some_and(is_due_date),
                _ => true,
            };
            if due_type.as_deref() == Some("Unlimited") && !changed(value_column) {
                if let Some(old) = value {
                    diff.push(FieldChange {
                        column: value_column.clone(),
                        field: Field::Attribute,
                        old: Some(old),
                        new: None,
                    });
                }
            } else if !fits {
                let (what, shown) = match (due_type.as_deref(), value.as_deref()) {
                    (Some("ExpirationDate"), _) => ("a due date (YYYY/MM/DD)", value.as_deref()),
                    _ => ("a number of valid days", value.as_deref()),
                };
                let stored_text = match shown {
                    Some(v) => format!("the stored value is {v:?}"),
                    None => "no value is stored".to_string(),
                };
                issues.push(
                    Issue::error(
                        row.line,
                        row.row,
                        userimport_validate::codes::DUE_DATE_VALUE_MISSING,
                        format!(
                            "due date type {} of {} needs {what}, but {stored_text}: give the \
                             value in this row",
                            due_type.as_deref().unwrap_or_default(),
                            describe(stored)
                        ),
                    )
                    .column(value_column),
                );
            }
        }
    }

    /// Pushes an `authority.denied` issue for everything `change` would do
    /// that the importing actor may not ([`Actor::judge`], the one check
    /// every path shares); true when there was any.
    fn denied(
        &self,
        change: &Change,
        target: Option<&StoredUser>,
        row: &Row,
        issues: &mut Vec<Issue>,
    ) -> bool {
        let Some(actor) = &self.actor else {
            return false;
        };
        let denials = actor.judge(&self.profile, change, target);
        for d in &denials {
            let issue = Issue::error(
                row.line,
                row.row,
                crate::codes::AUTHORITY_DENIED,
                d.message.clone(),
            );
            issues.push(match &d.column {
                Some(column) => issue.column(column),
                None => issue,
            });
        }
        !denials.is_empty()
    }

    /// The attributes of the user `row` creates, set in key order (each
    /// one an append to the map).
    fn created_attributes(&self, row: &Row, attributes: &mut Attributes) {
        let columns = &self.profile.columns;
        for &index in &self.attribute_columns {
            let Some(column) = columns.get(index) else {
                continue;
            };
            if let Some(value) = created_attribute(column, row.cell(index)) {
                attributes.insert(&column.key, value);
            }
        }
    }

    fn plan_create(&mut self, row: &Row, issues: &mut Vec<Issue>) -> NewUser {
        let profile = std::sync::Arc::clone(&self.profile);
        let columns = &profile.columns;
        // Counts only: check every rule, build nothing.
        // The actor's authority is judged on the built user.
        let build = !self.counts_only || self.actor.is_some();
        let mut user = NewUser::default();
        if build {
            // Room for every attribute's key and a value of average length.
            let attributes = self.attribute_columns.len();
            user.attributes = Attributes::with_capacity(attributes, 32 * attributes);
        }
        let mut password_column: Option<&str> = None;
        let mut has_password = false;
        // Counts only: the columns that can raise an issue, not all.
        let indices = std::sync::Arc::clone(match build {
            true => &self.create_columns.built,
            false => &self.create_columns.checked,
        });
        for &index in indices.iter() {
            let Some(column) = columns.get(index) else {
                continue;
            };
            let cell = row.cell(index);
            let blank = matches!(cell, Cell::Blank | Cell::Absent);
            let defaulted = matches!(column.purpose, Purpose::Status)
                || matches!(column.kind, FieldKind::OnOff { .. });
            if column.required && blank && !defaulted && column.purpose != Purpose::MemberId {
                issues.push(
                    Issue::error(
                        row.line,
                        row.row,
                        crate::codes::FIELD_REQUIRED,
                        format!("{} is required for a new user", column.label),
                    )
                    .column(&column.key),
                );
                continue;
            }
            match column.purpose {
                Purpose::MemberId | Purpose::Delete => {}
                Purpose::Login => {
                    if let (true, Cell::Value(v)) = (build, cell) {
                        user.login = Some(v.clone());
                    }
                }
                Purpose::Email => {
                    if let (true, Cell::Value(v)) = (build, cell) {
                        user.email = Some(v.clone());
                    }
                }
                Purpose::Password | Purpose::PasswordHash => {
                    if password_column.is_none() || column.purpose == Purpose::Password {
                        password_column = Some(&column.key);
                    }
                    let text = match cell {
                        Cell::Secret(s) => Some(s.expose()),
                        Cell::Value(v) => Some(v.as_str()),
                        _ => None,
                    };
                    has_password |= text.is_some();
                    if let (true, Some(text)) = (build, text) {
                        let text = text.to_string();
                        user.password = Some(if column.purpose == Purpose::Password {
                            PasswordSource::Plain(userimport_validate::Secret::new(text))
                        } else {
                            PasswordSource::Hash(text)
                        });
                    }
                }
                Purpose::Status => {
                    if let Some(value) = created_attribute(column, cell)
                        && is_suspended(value)
                    {
                        issues.push(
                            Issue::error(
                                row.line,
                                row.row,
                                crate::codes::STATUS_SUSPENDED_NEW,
                                format!("{value} is only for existing users; a new user starts Valid or Invalid"),
                            )
                            .column(&column.key),
                        );
                    }
                }
                Purpose::Groups => {
                    let names: std::borrow::Cow<'_, [String]> = match cell {
                        Cell::List(edit) => std::borrow::Cow::Borrowed(&edit.add),
                        Cell::Value(v) => split_names(v).add.into(),
                        Cell::Blank | Cell::Absent => self
                            .profile
                            .groups
                            .default_group
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .into(),
                        _ => Vec::new().into(),
                    };
                    for name in names.iter() {
                        // Counts only: a known group raises nothing and is
                        // not kept, so its name is not copied.
                        if !build && self.known_group(name).is_some() {
                            continue;
                        }
                        if let Some(g) = self.resolve_group(name, row, &column.key, issues)
                            && build
                        {
                            user.groups.insert(g);
                        }
                    }
                }
                Purpose::Roles => {
                    for name in list_adds(cell) {
                        if build {
                            user.roles.insert(name);
                        }
                    }
                }
                Purpose::Identities if build => user.identities.extend(list_adds(cell)),
                // Attributes: set below, in key order.
                _ => {}
            }
        }
        if build {
            self.created_attributes(row, &mut user.attributes);
        }
        if !has_password && self.has_password_column {
            if self.options.generate_passwords {
                user.password = Some(PasswordSource::Generate);
            } else {
                issues.push(
                    Issue::error(
                        row.line,
                        row.row,
                        crate::codes::PASSWORD_MISSING,
                        "a new user needs a password: fill it, give a password hash, or have passwords generated",
                    )
                    .column(password_column.unwrap_or("password")),
                );
            }
        }
        user
    }

    fn plan_update(&mut self, row: &Row, stored: &StoredUser, issues: &mut Vec<Issue>) -> Change {
        let keep = self.options.merge == Merge::KeepExisting;
        let mut diff: Vec<FieldChange> = Vec::new();
        let mut groups = ListChange::default();
        let mut roles = ListChange::default();
        let mut identities = ListChange::default();
        let mut password = None;
        let profile = std::sync::Arc::clone(&self.profile);
        let columns = &profile.columns;
        for (index, column) in columns.iter().enumerate() {
            if matches!(column.kind, FieldKind::ReadOnly) {
                continue;
            }
            let cell = row.cell(index);
            if matches!(cell, Cell::Blank | Cell::Absent) {
                continue;
            }
            let change = |field: Field, old: Option<&String>, new: Option<&String>| FieldChange {
                column: column.key.clone(),
                field,
                old: old.cloned(),
                new: new.cloned(),
            };
            match column.purpose {
                Purpose::MemberId | Purpose::Delete => {}
                Purpose::Login => {
                    if let Cell::Value(v) = cell {
                        match &stored.login {
                            None => diff.push(change(Field::Login, None, Some(v))),
                            Some(old) if fold(old) != fold(v) => issues.push(
                                Issue::error(
                                    row.line,
                                    row.row,
                                    crate::codes::LOGIN_IMMUTABLE,
                                    format!(
                                        "the login ID of user {} is {old:?} and cannot be changed to {v:?}",
                                        stored.id
                                    ),
                                )
                                .column(&column.key),
                            ),
                            Some(_) => {}
                        }
                    }
                }
                Purpose::Email => match cell {
                    Cell::Value(v)
                        if stored.email.as_ref() != Some(v)
                            && (!keep || stored.email.is_none()) =>
                    {
                        diff.push(change(Field::Email, stored.email.as_ref(), Some(v)));
                    }
                    Cell::Clear if stored.email.is_some() && !keep => {
                        diff.push(change(Field::Email, stored.email.as_ref(), None));
                    }
                    _ => {}
                },
                Purpose::Password | Purpose::PasswordHash => {
                    let text = match cell {
                        Cell::Secret(s) => Some(s.expose().to_string()),
                        Cell::Value(v) => Some(v.clone()),
                        _ => None,
                    };
                    let Some(text) = text else { continue };
                    if self.options.update_passwords && password.is_none() {
                        password = Some(if column.purpose == Purpose::Password {
                            PasswordSource::Plain(userimport_validate::Secret::new(text))
                        } else {
                            PasswordSource::Hash(text)
                        });
                        diff.push(FieldChange {
                            column: column.key.clone(),
                            field: Field::Password,
                            old: None,
                            new: Some("set".to_string()),
                        });
                    } else if !self.options.update_passwords {
                        // One file-level warning at the end, not one per row.
                        if self.passwords_ignored.0 == 0 {
                            self.passwords_ignored.1 = column.key.clone();
                        }
                        self.passwords_ignored.0 += 1;
                    }
                }
                Purpose::Groups => {
                    let edit = list_edit(cell);
                    let mut added = Vec::new();
                    for name in &edit.add {
                        if contains_folded(&stored.groups, name) {
                            continue;
                        }
                        if let Some(g) = self.resolve_group(name, row, &column.key, issues)
                            && !added.contains(&g)
                        {
                            added.push(g);
                        }
                    }
                    let removed = removals(&stored.groups, &edit, matches!(cell, Cell::Clear));
                    groups = ListChange { added, removed };
                }
                Purpose::Roles => {
                    let edit = list_edit(cell);
                    let mut added = Vec::new();
                    for name in &edit.add {
                        if contains_folded(&stored.roles, name) || added.contains(name) {
                            continue;
                        }
                        added.push(name.clone());
                    }
                    let removed = removals(&stored.roles, &edit, matches!(cell, Cell::Clear));
                    roles = ListChange { added, removed };
                }
                Purpose::Identities => {
                    let edit = list_edit(cell);
                    let mut added = Vec::new();
                    for name in &edit.add {
                        if !contains_folded(&stored.identities, name) && !added.contains(name) {
                            added.push(name.clone());
                        }
                    }
                    let removed = removals(&stored.identities, &edit, matches!(cell, Cell::Clear));
                    identities = ListChange { added, removed };
                }
                _ => {
                    let old = stored.attributes.get(&column.key);
                    let new = match cell {
                        Cell::Value(v)
                            if old != Some(v) && (!keep || old.is_none_or(|o| o.is_empty())) =>
                        {
                            Some(Some(v))
                        }
                        Cell::Clear if old.is_some() && !keep => Some(None),
                        _ => None,
                    };
                    let Some(new) = new else { continue };
                    diff.push(change(Field::Attribute, old, new));
                }
            }
        }
        self.settle_due_date(row, stored, &mut diff, issues);
        if diff.is_empty()
            && groups.is_empty()
            && roles.is_empty()
            && identities.is_empty()
            && password.is_none()
        {
            Change::Unchanged {
                line: row.line,
                row: row.row,
                id: stored.id,
            }
        } else {
            Change::Update {
                line: row.line,
                row: row.row,
                id: stored.id,
                diff,
                groups,
                roles,
                identities,
                password,
            }
        }
    }

    /// Ends the plan: sync's deletions or suspensions (refused above the
    /// threshold with a file-level `sync.threshold` error) and the summary.
    pub fn finish<D: Directory>(mut self, dir: &D) -> Result<Finish> {
        let mut changes = Vec::new();
        let mut issues = Vec::new();
        if self.passwords_ignored.0 > 0 {
            let (count, column) = &self.passwords_ignored;
            issues.push(
                Issue::warning(
                    0,
                    0,
                    crate::codes::PASSWORD_IGNORED,
                    format!(
                        "{count} row(s) of existing users have a password: existing passwords are kept unless the import updates passwords"
                    ),
                )
                .column(column),
            );
            self.summary.warnings += 1;
        }
        if self.options.mode == Mode::Sync {
            let suspend = self.suspend_value.clone();
            let mut absent: Vec<Change> = Vec::new();
            let seen = &self.seen;
            let actor_id = self.actor.as_ref().map(|a| a.user.id);
            let mut actor_absent = false;
            let mut outranking: Vec<String> = Vec::new();
            let this = &self;
            let mut absent_users: Vec<UserRef> = Vec::new();
            dir.for_each_user(&mut |user| {
                if seen.contains_key(&user.id) {
                    return true;
                }
                if Some(user.id) == actor_id {
                    actor_absent = true;
                    return true;
                }
                if this
                    .actor
                    .as_ref()
                    .is_some_and(|a| !a.outranked_by(&this.profile, user).is_empty())
                {
                    outranking.push(describe(user));
                    return true;
                }
                let before = absent.len();
                match &suspend {
                    None => absent.push(Change::Delete {
                        line: 0,
                        row: 0,
                        id: user.id,
                    }),
                    Some((column, value)) => {
                        let old = user.attributes.get(column);
                        if old != Some(value) {
                            absent.push(Change::Suspend {
                                id: user.id,
                                status: FieldChange {
                                    column: column.clone(),
                                    field: Field::Attribute,
                                    old: old.cloned(),
                                    new: Some(value.clone()),
                                },
                            });
                        }
                    }
                }
                if absent.len() > before && absent_users.len() < this.reviewer.review.limit {
                    absent_users.push(this.reviewer.stored_ref(user));
                }
                true
            })
            .map_err(Error::store)?;
            let total = dir.user_count().map_err(Error::store)?;
            if self.summary.invalid > 0 && !absent.is_empty() {
                // An invalid row may name a user its key failed to match:
                // removing "absent" users now could remove that one.
                issues.push(Issue::warning(
                    0,
                    0,
                    crate::codes::SYNC_INCOMPLETE,
                    format!(
                        "sync removes none of the {} users absent from the file while {} row(s) are invalid: fix them and sync again",
                        absent.len(),
                        self.summary.invalid
                    ),
                ));
                self.summary.warnings += 1;
                absent.clear();
            }
            let removed = absent.len() as u64 + self.summary.delete;
            let percent = if total == 0 {
                0.0
            } else {
                removed as f64 * 100.0 / total as f64
            };
            if !outranking.is_empty() {
                let verb = if suspend.is_some() {
                    "suspend"
                } else {
                    "delete"
                };
                let more = if outranking.len() > 5 {
                    format!(" and {} more", outranking.len() - 5)
                } else {
                    String::new()
                };
                outranking.truncate(5);
                issues.push(Issue::error(
                    0,
                    0,
                    crate::codes::AUTHORITY_DENIED,
                    format!(
                        "sync would {verb} {}{more}, who hold roles actor {:?} does not hold; nothing is applied",
                        outranking.join(", "),
                        self.options.actor.as_deref().unwrap_or_default()
                    ),
                ));
                self.summary.errors += 1;
            }
            if actor_absent {
                let verb = if suspend.is_some() {
                    "suspend"
                } else {
                    "delete"
                };
                issues.push(Issue::error(
                    0,
                    0,
                    crate::codes::AUTHORITY_DENIED,
                    format!(
                        "sync would {verb} the importing actor {:?} itself (it is not in the file): add its row; nothing is applied",
                        self.options.actor.as_deref().unwrap_or_default()
                    ),
                ));
                self.summary.errors += 1;
            } else if !absent.is_empty() && percent > self.options.max_delete_percent {
                let verb = if suspend.is_some() {
                    "suspend"
                } else {
                    "delete"
                };
                issues.push(Issue::error(
                    0,
                    0,
                    crate::codes::SYNC_THRESHOLD,
                    format!(
                        "sync would {verb} {removed} of {total} users ({percent:.1}%), more than the {}% the sync threshold allows; nothing is applied",
                        self.options.max_delete_percent
                    ),
                ));
                self.summary.errors += 1;
            } else {
                for change in &absent {
                    match change {
                        Change::Delete { .. } => self.summary.delete += 1,
                        _ => self.summary.update += 1,
                    }
                }
                self.reviewer.note_sync(&absent, absent_users);
                changes = absent;
            }
        }
        let mass = self.reviewer.finish_issues(&self.summary);
        self.summary.count_issues(&mass);
        issues.extend(mass);
        let created_groups: Vec<String> = self.created.into_iter().collect();
        let mut review = self.reviewer.review;
        review.note_groups(&created_groups);
        review.withdraw(&self.withdrawn.iter().copied().collect());
        Ok(Finish {
            revision: self.revision,
            profile: self.profile.name.clone(),
            profile_digest: crate::profile_digest(&self.profile),
            store_id: self.store_id,
            options: self.options,
            changes,
            issues,
            summary: self.summary,
            created_groups,
            withdrawn_rows: self.withdrawn,
            review,
        })
    }

    /// Plans a whole file in chunks of 1,000 rows: the convenience form of
    /// [`Planner::new`], [`Planner::plan_chunk`] and [`Planner::finish`].
    pub fn plan_rows<D: Directory>(
        profile: &Profile,
        options: PlanOptions,
        rows: impl IntoIterator<Item = Row>,
        dir: &D,
    ) -> Result<Plan> {
        const CHUNK: usize = 1_000;
        let mut planner = Planner::new(profile, options, dir)?;
        let mut changes = Vec::new();
        let mut issues = Vec::new();
        let mut buffer = Vec::with_capacity(CHUNK);
        for row in rows {
            buffer.push(row);
            if buffer.len() == CHUNK {
                let chunk = planner.plan_chunk(&buffer, dir)?;
                changes.extend(chunk.changes);
                issues.extend(chunk.issues);
                buffer.clear();
            }
        }
        if !buffer.is_empty() {
            let chunk = planner.plan_chunk(&buffer, dir)?;
            changes.extend(chunk.changes);
            issues.extend(chunk.issues);
        }
        Ok(planner.finish(dir)?.into_plan(changes, issues))
    }
}

/// A stored day count of the `From…` due-date types: 1 to 36,500.
fn is_day_count(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit())
        && value
            .parse::<u32>()
            .is_ok_and(|n| (1..=36_500).contains(&n))
}

/// A stored due date: `YYYY/MM/DD`.
fn is_due_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'/',
            _ => c.is_ascii_digit(),
        })
}

fn contains_folded(set: &BTreeSet<String>, name: &str) -> bool {
    let folded = fold(name);
    set.iter().any(|s| fold(s) == folded)
}

fn split_names(text: &str) -> ListEdit {
    let mut edit = ListEdit::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.strip_prefix('-') {
            Some(name) => edit.remove.push(name.trim().to_string()),
            None => edit.add.push(part.to_string()),
        }
    }
    edit
}

fn list_edit(cell: &Cell) -> ListEdit {
    match cell {
        Cell::List(edit) => edit.clone(),
        Cell::Value(v) => split_names(v),
        _ => ListEdit::default(),
    }
}

fn list_adds(cell: &Cell) -> Vec<String> {
    list_edit(cell).add
}

/// Stored names removed by an edit (all of them for a clear).
fn removals(stored: &BTreeSet<String>, edit: &ListEdit, clear: bool) -> Vec<String> {
    if clear {
        return stored.iter().cloned().collect();
    }
    let wanted: BTreeMap<String, ()> = edit.remove.iter().map(|n| (fold(n), ())).collect();
    stored
        .iter()
        .filter(|s| wanted.contains_key(&fold(s)))
        .cloned()
        .collect()
}
