//! The write side: the `Sink` trait, apply results and password preparation.

use std::borrow::Cow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use userimport_plan::{Change, Directory, PasswordSource, Plan, generate_password, hash_password};

use crate::Error;
use crate::invite::Invite;

/// What happened to one row (or one sync change) when a plan was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A user was created.
    Created,
    /// A user was updated (or suspended).
    Updated,
    /// A user was deleted.
    Deleted,
    /// The row matched a user and changed nothing.
    Unchanged,
    /// The row was not applied (another row failed, all-or-nothing).
    Skipped,
    /// The row could not be applied; `reason` says why.
    Failed,
}

/// The result of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    /// Physical line (0 for sync changes).
    pub line: u64,
    /// Data row (0 for sync changes).
    pub row: u64,
    /// What happened.
    pub outcome: Outcome,
    /// The member ID (assigned for created users when committed).
    pub id: Option<i64>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

/// Progress of an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Changes written so far.
    pub done: u64,
    /// Changes in the plan.
    pub total: u64,
}

/// The result of applying a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// True when the changes were committed; false when a failing row rolled
    /// everything back (all-or-nothing), or when they are held (`held`).
    pub committed: bool,
    /// True when the batch was written with [`Batch::hold`] and waits, in
    /// the open transaction, for a later write to commit it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// The store revision after the apply.
    pub revision: u64,
    /// Users created.
    pub created: u64,
    /// Users updated (suspensions included).
    pub updated: u64,
    /// Users deleted.
    pub deleted: u64,
    /// Rows that changed nothing.
    pub unchanged: u64,
    /// Rows not applied.
    pub skipped: u64,
    /// Rows that failed.
    pub failed: u64,
    /// Groups created.
    pub created_groups: Vec<String>,
    /// One result per change, in plan order.
    pub results: Vec<RowResult>,
}

impl ApplyOutcome {
    /// Counts `result` and records it.
    pub fn push(&mut self, result: RowResult) {
        match result.outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Deleted => self.deleted += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.results.push(result);
    }

    /// The first failed row, as "line N: reason", for job errors.
    pub fn first_failure(&self) -> String {
        self.results
            .iter()
            .find(|r| r.outcome == Outcome::Failed)
            .map(|r| {
                format!(
                    "line {}: {}",
                    r.line,
                    r.reason.as_deref().unwrap_or("failed")
                )
            })
            .unwrap_or_else(|| "a row failed".to_string())
    }

    /// Turns a failed all-or-nothing apply into its report: the failing rows
    /// stay failed, every other row is skipped, nothing counts as written.
    pub fn roll_back(&mut self, revision: u64) {
        let results = std::mem::take(&mut self.results);
        let failed: Vec<u64> = results
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .map(|r| r.line)
            .collect();
        let first = failed.first().copied().unwrap_or(0);
        *self = ApplyOutcome {
            committed: false,
            revision,
            ..ApplyOutcome::default()
        };
        for mut r in results {
            if r.outcome != Outcome::Failed {
                if r.outcome == Outcome::Created {
                    r.id = None; // the assigned ID was rolled back
                }
                r.outcome = Outcome::Skipped;
                if r.reason.is_none() {
                    r.reason = Some(format!(
                        "not applied: line {first} failed and nothing is written (all-or-nothing)"
                    ));
                }
            }
            self.push(r);
        }
    }
}

/// One applied plan (or group edit), as recorded by stores that keep history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The revision it produced.
    pub revision: u64,
    /// When (RFC 3339).
    pub at: String,
    /// Users created.
    pub created: u64,
    /// Users updated.
    pub updated: u64,
    /// Users deleted.
    pub deleted: u64,
    /// What it was (`apply`, `groups add Sales`).
    pub note: String,
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "revision {} at {}: {} ({} created, {} updated, {} deleted)",
            self.revision, self.at, self.note, self.created, self.updated, self.deleted
        )
    }
}

/// A prepared batch for [`Sink::write`]: the plan's changes with every
/// password already hashed.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The revision the plan was made against; the store refuses any other.
    pub expected_revision: u64,
    /// The changes, in plan order.
    pub changes: &'a [Change],
    /// One PHC hash (or `None`) per change, aligned with `changes`. A
    /// change that carries a PHC hash itself (`PasswordSource::Hash`) may
    /// have `None` here: its own hash is written.
    pub passwords: &'a [Option<Cow<'a, str>>],
    /// Groups to create first.
    pub create_groups: &'a [String],
    /// True: one failing row rolls everything back. False (`skip_invalid`):
    /// failing rows are reported and the others committed.
    pub all_or_nothing: bool,
    /// The job this batch is a step of: its progress is recorded in the
    /// batch's transaction (and its results kept with the job).
    pub job: Option<JobStep>,
    /// Invitations: one message per created user (with an e-mail) is
    /// queued in the outbox in the batch's transaction.
    pub invite: Option<&'a Invite>,
    /// Each created user's [`PreparedCreate`], aligned with `changes`, or
    /// empty: the write engine prepares them itself.
    pub creates: &'a [Option<PreparedCreate>],
    /// Leave the transaction open after this batch (see [`Sink::write`]):
    /// a streamed apply holds its writes until the whole file is checked.
    pub hold: bool,
}

/// The job step a batch commits with: `rows_done` and the counts are
/// recorded in the batch's transaction; `last` marks the job done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobStep {
    /// The job.
    pub id: i64,
    /// Data rows done once this batch commits.
    pub rows_done: u64,
    /// True for the job's last batch.
    pub last: bool,
    /// The file's data rows, when this step learns them (a streamed job
    /// is created before its file is read to the end).
    pub rows_total: Option<u64>,
}

/// What a store writes for a created user beyond the change itself: its
/// attributes as the stored JSON object, its folded keys and their
/// confusable skeletons. A streamed apply prepares them on the planning
/// thread, where the change is fresh in the cache, rather than on the one
/// writing (the busier of the two).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreparedCreate {
    /// The attributes as a JSON object.
    pub attributes: String,
    /// The folded login ID.
    pub login_key: Option<String>,
    /// The folded e-mail address.
    pub email_key: Option<String>,
    /// The confusable skeleton of the folded login ID.
    pub login_skeleton: Option<String>,
    /// The confusable skeleton of the folded e-mail address.
    pub email_skeleton: Option<String>,
}

impl PreparedCreate {
    /// Prepares `user`.
    pub fn new(user: &userimport_plan::NewUser) -> Self {
        let login_key = user.login.as_deref().map(userimport_plan::fold);
        let email_key = user.email.as_deref().map(userimport_plan::fold);
        PreparedCreate {
            attributes: crate::json::object(user.attributes.iter()),
            login_skeleton: login_key.as_deref().map(userimport_validate::key_skeleton),
            email_skeleton: email_key.as_deref().map(userimport_validate::key_skeleton),
            login_key,
            email_key,
        }
    }
}

/// One [`PreparedCreate`] per created user of `changes` (`None` for other
/// changes), aligned with `changes`.
pub fn prepare_creates(changes: &[Change]) -> Vec<Option<PreparedCreate>> {
    changes
        .iter()
        .map(|change| match change {
            Change::Create { user, .. } => Some(PreparedCreate::new(user)),
            _ => None,
        })
        .collect()
}

/// Hashes every password of `changes` in parallel (argon2id, OWASP
/// parameters): plaintext is hashed, PHC strings pass as given, generated
/// passwords are drawn from the OS CSPRNG and hashed at once; the plaintext
/// is dropped. The result is aligned with `changes`.
pub fn prepare_passwords(changes: &[Change]) -> Result<Vec<Option<Cow<'_, str>>>, Error> {
    changes
        .par_iter()
        .map(|change| match change.password() {
            None => Ok(None),
            Some(PasswordSource::Hash(hash)) => Ok(Some(Cow::Borrowed(hash.as_str()))),
            Some(PasswordSource::Plain(secret)) => {
                Ok(Some(Cow::Owned(hash_password(secret.expose())?)))
            }
            Some(PasswordSource::Generate) => {
                let password = generate_password()?;
                Ok(Some(Cow::Owned(hash_password(&password)?)))
            }
        })
        .collect()
}

/// The write side of a user store (ripgrep's `Sink` is the model): an
/// associated error type (the [`Directory`] one, which must absorb this
/// crate's [`Error`]), hooks returning `Result<bool, _>` where `false` stops,
/// with default no-op bodies, and a provided [`Sink::apply`] that does the
/// shared work (refusals, drift check, parallel hashing) before the backend's
/// single-transaction [`Sink::write`].
pub trait Sink: Directory<Error: From<Error>> {
    /// Writes a prepared batch in one transaction: creates `create_groups`,
    /// applies every change, bumps the revision once (only when something
    /// was written) and commits, or rolls back. Refuses with
    /// [`Error::Drift`] when the revision is not `expected_revision`.
    /// `progress` returning `false` cancels (rolls back).
    ///
    /// With [`Batch::hold`] the transaction stays open instead of
    /// committing: the next `write` continues it, the first one without
    /// `hold` commits every held batch with its own, and
    /// [`Sink::rollback`] (or any failure) discards them all. A held write
    /// returns `committed: false, held: true`.
    fn write(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, Self::Error>;

    /// Discards the batches written with [`Batch::hold`] since the last
    /// commit (nothing when none is held).
    fn rollback(&mut self) -> Result<(), Self::Error>;

    /// Readies an *empty* store for one large load of held batches that no
    /// other connection needs to read until it commits; returns whether
    /// the store changed how it writes. When it did, the load's transaction
    /// is open, as if a batch had been held: the next [`Sink::write`]
    /// continues it, and the load ends with its commit or rollback
    /// ([`Sink::rollback`] if nothing is written after all).
    ///
    /// The SQLite store then writes through its rollback journal rather
    /// than its WAL, so each page is written once instead of twice, and is
    /// locked for other connections until the load commits. It agrees only
    /// when it holds no users and has no other connection open, so plan
    /// such a load against an [`EmptyDirectory`](userimport_plan::EmptyDirectory)
    /// taken from it rather than through a second connection. The
    /// PostgreSQL store agrees on the same terms (no users, and no other
    /// connection holding `users` or `identities`), and holds those tables
    /// until the load commits. Both leave out the indexes that refuse no
    /// row (look-alike skeletons, card ID, folded identities) for the load
    /// and build them from its rows just before it commits; PostgreSQL
    /// also adds `users`' unique keys back then rather than keeping them
    /// row by row, so a key two loaded users share refuses the whole load
    /// at its commit (the validator refuses such a file long before).
    /// Other stores write as before (`false`).
    fn begin_bulk_load(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }

    /// Creates groups (existing ones are left alone); returns how many were new.
    fn add_groups(&mut self, names: &[String]) -> Result<usize, Self::Error>;

    /// Removes groups and their memberships; returns how many existed.
    fn remove_groups(&mut self, names: &[String]) -> Result<usize, Self::Error>;

    /// Applied revisions after `revision`, for drift messages. Default: none known.
    fn history_since(&self, revision: u64) -> Result<Vec<Revision>, Self::Error> {
        let _ = revision;
        Ok(Vec::new())
    }

    /// Hook called before a plan is written; `false` cancels. Default: go on.
    fn begin_apply(&mut self, plan: &Plan) -> Result<bool, Self::Error> {
        let _ = plan;
        Ok(true)
    }

    /// Hook called after a plan is written or rolled back. Default: nothing.
    fn end_apply(&mut self, outcome: &ApplyOutcome) -> Result<(), Self::Error> {
        let _ = outcome;
        Ok(())
    }

    /// Applies exactly `plan`: refused when it has a file-level error, when
    /// it has row errors and was not made with `skip_invalid`, or when the
    /// store moved since it was made (drift, naming what changed). Passwords
    /// are hashed in parallel before the write transaction.
    fn apply(
        &mut self,
        plan: &Plan,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, Self::Error> {
        self.apply_inviting(plan, None, progress)
    }

    /// [`Sink::apply`], and with `invite`, one invitation per created user
    /// queued in the outbox in the same transaction.
    fn apply_inviting(
        &mut self,
        plan: &Plan,
        invite: Option<&Invite>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, Self::Error> {
        crate::writer::write_at_once(self, plan, invite, progress)
    }
}

/// Forwards every method of a [`Sink`] behind a pointer (provided ones
/// too, so a store's own `apply` is the one that runs).
macro_rules! forward_sink {
    ($($ptr:ty),*) => {$(
        impl<S: Sink + ?Sized> Sink for $ptr {
            fn write(
                &mut self,
                batch: &Batch<'_>,
                progress: &mut dyn FnMut(&Progress) -> bool,
            ) -> Result<ApplyOutcome, Self::Error> {
                (**self).write(batch, progress)
            }
            fn rollback(&mut self) -> Result<(), Self::Error> {
                (**self).rollback()
            }
            fn begin_bulk_load(&mut self) -> Result<bool, Self::Error> {
                (**self).begin_bulk_load()
            }
            fn add_groups(&mut self, names: &[String]) -> Result<usize, Self::Error> {
                (**self).add_groups(names)
            }
            fn remove_groups(&mut self, names: &[String]) -> Result<usize, Self::Error> {
                (**self).remove_groups(names)
            }
            fn history_since(&self, revision: u64) -> Result<Vec<Revision>, Self::Error> {
                (**self).history_since(revision)
            }
            fn begin_apply(&mut self, plan: &Plan) -> Result<bool, Self::Error> {
                (**self).begin_apply(plan)
            }
            fn end_apply(&mut self, outcome: &ApplyOutcome) -> Result<(), Self::Error> {
                (**self).end_apply(outcome)
            }
            fn apply(
                &mut self,
                plan: &Plan,
                progress: &mut dyn FnMut(&Progress) -> bool,
            ) -> Result<ApplyOutcome, Self::Error> {
                (**self).apply(plan, progress)
            }
            fn apply_inviting(
                &mut self,
                plan: &Plan,
                invite: Option<&Invite>,
                progress: &mut dyn FnMut(&Progress) -> bool,
            ) -> Result<ApplyOutcome, Self::Error> {
                (**self).apply_inviting(plan, invite, progress)
            }
        }
    )*};
}

forward_sink!(&mut S, Box<S>);

/// A store that runs a write inside a transaction it opens and ends with
/// plain statements (`BEGIN`, `COMMIT`, `ROLLBACK`): [`write_held`] gives it
/// [`Batch::hold`].
pub(crate) trait Transactional {
    /// Runs one transaction-control statement.
    fn control(&mut self, sql: &str) -> Result<(), Error>;
    /// True while batches are held in an open transaction.
    fn held(&mut self) -> &mut bool;
    /// The body of a write, inside the open transaction: `committed` when
    /// every change was written, rolled back (reported) when an
    /// all-or-nothing row failed.
    fn write_open(
        &mut self,
        batch: &Batch<'_>,
        progress: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<ApplyOutcome, Error>;
    /// The revision as committed (read after a rollback).
    fn committed_revision(&mut self) -> Result<u64, Error>;
    /// Called when the open transaction has committed or rolled back.
    fn transaction_ended(&mut self) {}
    /// Runs inside the open transaction just before it commits (a bulk
    /// load builds the indexes it left out here); a failure rolls it back.
    fn before_commit(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Refuses `what` (a write with its own transaction, such as a group
    /// edit) while batches are held in the open one.
    fn refuse_if_held(&mut self, what: &str) -> Result<(), Error> {
        if *self.held() {
            return Err(Error::Unsupported(format!(
                "{what}: a batch is held in the open transaction; commit or roll it back first"
            )));
        }
        Ok(())
    }
}

/// [`Sink::write`] for a [`Transactional`] store: opens the transaction
/// with `begin` unless batches are held, then commits, keeps it open
/// (`hold`), or rolls back — the held batches with it — on any failure.
pub(crate) fn write_held<T: Transactional>(
    store: &mut T,
    begin: &str,
    batch: &Batch<'_>,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<ApplyOutcome, Error> {
    if !*store.held() {
        store.control(begin)?;
    }
    // Any way out but success rolls back the held batches too.
    *store.held() = false;
    let written = match store.write_open(batch, progress) {
        Ok(mut outcome) if outcome.committed => {
            if batch.hold {
                *store.held() = true;
                outcome.committed = false;
                outcome.held = true;
                return Ok(outcome);
            }
            match store.before_commit().and_then(|()| store.control("COMMIT")) {
                Ok(()) => Ok(outcome),
                Err(e) => {
                    let _ = store.control("ROLLBACK");
                    Err(e)
                }
            }
        }
        Ok(mut outcome) => store.control("ROLLBACK").and_then(|()| {
            outcome.revision = store.committed_revision()?;
            Ok(outcome)
        }),
        Err(e) => {
            let _ = store.control("ROLLBACK");
            Err(e)
        }
    };
    store.transaction_ended();
    written
}

/// [`Sink::rollback`] for a [`Transactional`] store.
pub(crate) fn rollback_held<T: Transactional>(store: &mut T) -> Result<(), Error> {
    if std::mem::take(store.held()) {
        let rolled_back = store.control("ROLLBACK");
        store.transaction_ended();
        rolled_back?;
    }
    Ok(())
}

/// The stores name the clock through here.
pub(crate) use crate::clock::now;

/// Puts a name read from a store's membership tables onto the user: `which`
/// is the list's place in the look-up order both stores use (0 groups,
/// 1 roles, 2 identities).
pub(crate) fn attach_member(user: &mut userimport_plan::StoredUser, which: usize, name: String) {
    match which {
        0 => user.groups.insert(name),
        1 => user.roles.insert(name),
        _ => user.identities.insert(name),
    };
}
