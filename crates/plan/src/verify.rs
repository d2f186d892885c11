//! Checking a plan read back from a file before it is applied.
//!
//! A plan file may be edited between review and apply. [`Plan::verify`]
//! accepts it only when it was made with the profile given now (its
//! digest), on this store (its identity), and when every change passes
//! again, as if it came from a file: the validator's field rules, the
//! planner's rules (immutable login ID, passwords only for new users
//! unless `update_passwords`, PHC hashes, required fields), and the
//! actor's authority ([`Actor::judge`]).

use sha2::{Digest, Sha256};
use userimport_parse::Record;
use userimport_schema::{FieldKind, Profile, Purpose};
use userimport_validate::{ValidateOptions, Validator, codes as vcodes};

use crate::authority::{Actor, targets};
use crate::directory::Directory;
use crate::plan::Plan;
use crate::types::{Change, Field, Mode, NewUser, PasswordSource};
use crate::{Error, Result};

/// The SHA-256 of a profile's canonical JSON, hex: what a plan records of
/// the profile it was made with.
pub fn profile_digest(profile: &Profile) -> String {
    let json = serde_json::to_vec(profile).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// At most this many reasons are listed in a refusal.
const MAX_REASONS: usize = 20;

impl Plan {
    /// Checks a plan (read from a file, say) before it is applied to `dir`
    /// by `actor` (the operator's own `None`, or the importing actor):
    /// refused with [`Error::PlanRefused`] and every reason when it was made
    /// with another profile, on another store, for another actor, or when
    /// any change would not pass as a row of a file.
    pub fn verify<D: Directory + ?Sized>(
        &self,
        profile: &Profile,
        actor: Option<&str>,
        dir: &D,
    ) -> Result<()> {
        let mut reasons = Vec::new();
        self.check_origin(profile, dir, &mut reasons)?;
        if reasons.is_empty() {
            self.check_changes(profile, &mut reasons);
            self.check_actor(profile, actor, dir, &mut reasons)?;
        }
        if reasons.is_empty() {
            return Ok(());
        }
        let more = reasons.len().saturating_sub(MAX_REASONS);
        reasons.truncate(MAX_REASONS);
        if more > 0 {
            reasons.push(format!("and {more} more"));
        }
        Err(Error::PlanRefused(reasons))
    }

    fn check_origin<D: Directory + ?Sized>(
        &self,
        profile: &Profile,
        dir: &D,
        reasons: &mut Vec<String>,
    ) -> Result<()> {
        if self.profile_digest != profile_digest(profile) {
            reasons.push(format!(
                "it was made with another profile than {:?} (or the profile was edited since)",
                profile.name
            ));
        }
        let here = dir.store_id().map_err(Error::store)?;
        // A plan made before the store existed fits only a store nothing
        // was ever applied to.
        let pristine = self.store_id.is_none()
            && self.revision == 0
            && dir.revision().map_err(Error::store)? == 0;
        if self.store_id != here && !pristine {
            reasons.push(
                "it was made on another store (the store IDs differ): plan it again on this store"
                    .to_string(),
            );
        }
        Ok(())
    }

    fn check_actor<D: Directory + ?Sized>(
        &self,
        profile: &Profile,
        actor: Option<&str>,
        dir: &D,
        reasons: &mut Vec<String>,
    ) -> Result<()> {
        let made_for = self.options.actor.as_deref();
        let name = match (actor, made_for) {
            (None, None) => return Ok(()),
            (Some(name), None) | (None, Some(name)) => name,
            (Some(name), Some(made)) => {
                let a = Actor::resolve(dir, name)?;
                let b = Actor::resolve(dir, made)?;
                if a.user.id != b.user.id {
                    reasons.push(format!(
                        "it was made for actor {made:?}, not {name:?}: plan it again as {name:?}"
                    ));
                    return Ok(());
                }
                name
            }
        };
        let actor = Actor::resolve(dir, name)?;
        let stored = targets(dir, &self.changes)?;
        for change in &self.changes {
            for denial in actor.judge(profile, change, change.id().and_then(|id| stored.get(&id))) {
                reasons.push(at(change.line(), &denial.message));
            }
        }
        Ok(())
    }

    fn check_changes(&self, profile: &Profile, reasons: &mut Vec<String>) {
        let validator = FileRules::new(profile);
        for change in &self.changes {
            let line = change.line();
            let mut say = |what: String| reasons.push(at(line, &what));
            match change {
                Change::Create { user, .. } => {
                    check_new_user(profile, &self.options, user, &mut say);
                    validator.check(new_user_cells(profile, user), &mut say);
                }
                Change::Update {
                    diff,
                    password,
                    groups,
                    roles,
                    identities,
                    ..
                } => {
                    if password.is_some() && !self.options.update_passwords {
                        say("it sets an existing user's password, and the plan was made without update_passwords".into());
                    }
                    check_password(profile, password.as_ref(), false, &mut say);
                    let mut cells: Vec<(String, String)> = Vec::new();
                    for d in diff {
                        check_field(profile, &d.column, d.field, &mut say);
                        let value = match &d.new {
                            Some(v) => v.clone(),
                            None => clear_keyword(profile, &d.column),
                        };
                        cells.push((d.column.clone(), value));
                    }
                    for (purpose, list) in [
                        (Purpose::Groups, groups),
                        (Purpose::Roles, roles),
                        (Purpose::Identities, identities),
                    ] {
                        if let Some(c) = profile.column_for(purpose)
                            && !list.added.is_empty()
                        {
                            cells.push((c.key.clone(), list.added.join(",")));
                        }
                    }
                    validator.check_partial(cells, &mut say);
                }
                Change::Delete { line: 0, .. } | Change::Suspend { .. }
                    if self.options.mode != Mode::Sync =>
                {
                    say("it removes a user absent from the file, which only sync mode does".into());
                }
                Change::Suspend { status, .. } => {
                    if profile.column_for(Purpose::Status).map(|c| &c.key) != Some(&status.column) {
                        say(format!(
                            "it suspends through {:?}, which is not the profile's status column",
                            status.column
                        ));
                    }
                    let value = status.new.clone().unwrap_or_default();
                    validator.check_partial(vec![(status.column.clone(), value)], &mut say);
                }
                Change::Delete { .. } | Change::Unchanged { .. } => {}
            }
        }
    }
}

fn at(line: u64, what: &str) -> String {
    if line == 0 {
        what.to_string()
    } else {
        format!("line {line}: {what}")
    }
}

/// A created user must have every required value and an acceptable password.
fn check_new_user(
    profile: &Profile,
    options: &crate::types::PlanOptions,
    user: &NewUser,
    say: &mut dyn FnMut(String),
) {
    for column in &profile.columns {
        let defaulted = matches!(column.purpose, Purpose::Status)
            || matches!(column.kind, FieldKind::OnOff { .. });
        let skip = matches!(
            column.purpose,
            Purpose::MemberId | Purpose::Delete | Purpose::Password | Purpose::PasswordHash
        ) || matches!(column.kind, FieldKind::ReadOnly);
        if !column.required || defaulted || skip {
            continue;
        }
        let present = match column.purpose {
            Purpose::Login => user.login.as_deref().is_some_and(|v| !v.trim().is_empty()),
            Purpose::Email => user.email.as_deref().is_some_and(|v| !v.trim().is_empty()),
            Purpose::Groups => !user.groups.is_empty(),
            Purpose::Roles => !user.roles.is_empty(),
            Purpose::Identities => !user.identities.is_empty(),
            _ => user
                .attributes
                .get(&column.key)
                .is_some_and(|v| !v.trim().is_empty()),
        };
        if !present {
            say(format!("{} is required for a new user", column.label));
        }
    }
    if matches!(user.password, Some(PasswordSource::Generate)) && !options.generate_passwords {
        say("it generates a password, and the plan was made without generate_passwords".into());
    }
    check_password(profile, user.password.as_ref(), true, say);
}

/// A plan file carries passwords only as argon2id or bcrypt hashes.
fn check_password(
    profile: &Profile,
    password: Option<&PasswordSource>,
    new: bool,
    say: &mut dyn FnMut(String),
) {
    match password {
        None => {}
        Some(PasswordSource::Hash(hash)) => {
            if let Err(why) = userimport_validate::check_password_hash(hash, profile.hash_floor) {
                say(why);
            }
        }
        Some(PasswordSource::Generate) if new => {}
        Some(PasswordSource::Generate) => {
            say("it generates a password for an existing user".into());
        }
        Some(PasswordSource::Plain(_)) => say("it holds a plaintext password".into()),
    }
}

/// An update may change only importable columns, never the login ID.
fn check_field(profile: &Profile, column: &str, field: Field, say: &mut dyn FnMut(String)) {
    let Some(c) = profile.column(column) else {
        say(format!(
            "it changes {column:?}, which is not a column of the profile"
        ));
        return;
    };
    let immutable =
        matches!(c.purpose, Purpose::Login | Purpose::MemberId) || field == Field::Login;
    if immutable {
        say(format!(
            "it changes {}, which never changes once created",
            c.label
        ));
    } else if matches!(c.kind, FieldKind::ReadOnly)
        || matches!(
            c.purpose,
            Purpose::Delete | Purpose::Password | Purpose::PasswordHash
        )
    {
        say(format!(
            "it writes {}, which an import never writes",
            c.label
        ));
    }
}

fn clear_keyword(profile: &Profile, column: &str) -> String {
    profile
        .column(column)
        .and_then(|c| c.clear_keyword.clone())
        .unwrap_or_default()
}

/// A created user's values as the cells of a file row, by column key.
fn new_user_cells(profile: &Profile, user: &NewUser) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for column in &profile.columns {
        let value = match column.purpose {
            Purpose::Login => user.login.clone(),
            Purpose::Email => user.email.clone(),
            Purpose::Groups => join(&user.groups),
            Purpose::Roles => join(&user.roles),
            Purpose::Identities => join(&user.identities),
            Purpose::MemberId | Purpose::Delete | Purpose::Password | Purpose::PasswordHash => None,
            _ => user.attributes.get(&column.key).map(str::to_string),
        };
        if let Some(value) = value {
            cells.push((column.key.clone(), value));
        }
    }
    for key in user.attributes.keys() {
        if profile.column(key).is_none() {
            cells.push((key.to_string(), String::new()));
        }
    }
    cells
}

fn join(names: &std::collections::BTreeSet<String>) -> Option<String> {
    (!names.is_empty()).then(|| names.iter().cloned().collect::<Vec<_>>().join(","))
}

/// The validator's field rules, run on values taken from a plan.
struct FileRules<'p> {
    profile: &'p Profile,
}

impl<'p> FileRules<'p> {
    fn new(profile: &'p Profile) -> Self {
        FileRules { profile }
    }

    /// Validates `cells` (column key, value) as one row of a file.
    fn check(&self, cells: Vec<(String, String)>, say: &mut dyn FnMut(String)) {
        self.run(cells, false, say);
    }

    /// As [`FileRules::check`], for an update's changed columns only: rules
    /// that join two columns are left to the full row the plan came from.
    fn check_partial(&self, cells: Vec<(String, String)>, say: &mut dyn FnMut(String)) {
        self.run(cells, true, say);
    }

    fn run(&self, cells: Vec<(String, String)>, partial: bool, say: &mut dyn FnMut(String)) {
        if cells.is_empty() {
            return;
        }
        let mut fields = vec![None; self.profile.columns.len()];
        for (i, (key, _)) in cells.iter().enumerate() {
            match self.profile.column_index(key) {
                Some(index) => fields[index] = Some(i),
                None => say(format!(
                    "it sets {key:?}, which is not a column of the profile"
                )),
            }
        }
        let header = Record::from_fields(1, cells.iter().map(|(k, _)| k.as_str()));
        let record = Record::from_fields(2, cells.iter().map(|(_, v)| v.as_str()));
        let validator = Validator::new(self.profile, fields, &header, ValidateOptions::default());
        let (_, issues) = validator.validate_record(&record, 1);
        for issue in issues.iter().filter(|i| i.is_error()) {
            if partial && is_cross_field(&issue.code) {
                continue;
            }
            let column = issue.column.as_deref().unwrap_or("");
            say(format!("{column}: {}", issue.message));
        }
    }
}

fn is_cross_field(code: &str) -> bool {
    code.starts_with("due_date.") || code == vcodes::DATE_RANGE_REVERSED
}
