//! Export: the stored users as an import file, so export → edit → import
//! starts an update cycle (and export → import changes nothing).

use std::collections::BTreeSet;
use std::io::Write;

use rand::Rng;
use userimport_plan::{Directory, StoredUser, fold};
use userimport_schema::{FieldKind, Profile, Purpose};

use crate::Error;
use crate::csv_out::{CsvWriter, OutputCharset, Unencodable};

/// What to export.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExportOptions {
    /// Only users in at least one of these groups (case-insensitive).
    pub groups: Vec<String>,
    /// Only users whose column equals the value (`--where FIELD=VALUE`,
    /// case-insensitive); all filters must hold.
    pub filters: Vec<(String, String)>,
    /// A uniform random sample of this many users (reservoir sampling).
    pub random: Option<usize>,
    /// Only these columns (keys), in this order; empty = every exportable column.
    pub columns: Vec<String>,
    /// What happens to a character the charset cannot represent: refused
    /// with every such cell listed (default), or written as a marker the
    /// import refuses.
    pub unencodable: Unencodable,
}

/// The columns an export writes: every column but passwords, in profile order.
pub fn export_columns(profile: &Profile, wanted: &[String]) -> Result<Vec<usize>, Error> {
    let exportable = |i: usize| {
        !matches!(
            profile.columns[i].purpose,
            Purpose::Password | Purpose::PasswordHash
        )
    };
    if wanted.is_empty() {
        return Ok((0..profile.columns.len())
            .filter(|&i| exportable(i))
            .collect());
    }
    wanted
        .iter()
        .map(|key| {
            let index = profile
                .column_index(key.trim())
                .or_else(|| profile.column_for_header(key))
                .ok_or_else(|| Error::Refused(format!("export columns: unknown column {key:?}")))?;
            if exportable(index) {
                Ok(index)
            } else {
                Err(Error::Refused(format!(
                    "export columns: {key:?} is a password column and is never exported"
                )))
            }
        })
        .collect()
}

/// The canonical cell of one column for one stored user.
pub fn export_cell(profile: &Profile, column: usize, user: &StoredUser) -> String {
    let column = &profile.columns[column];
    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
    match column.purpose {
        Purpose::MemberId => user.id.to_string(),
        Purpose::Login => user.login.clone().unwrap_or_default(),
        Purpose::Email => user.email.clone().unwrap_or_default(),
        Purpose::Groups => join(&user.groups),
        Purpose::Roles => join(&user.roles),
        Purpose::Identities => join(&user.identities),
        Purpose::Password | Purpose::PasswordHash | Purpose::Delete => String::new(),
        _ => match (&column.kind, column.key.as_str()) {
            (FieldKind::ReadOnly, "first_login") => user.first_login.clone().unwrap_or_default(),
            (FieldKind::ReadOnly, "last_login") => user.last_login.clone().unwrap_or_default(),
            (FieldKind::ReadOnly, "created_at") => user.created_at.clone().unwrap_or_default(),
            (FieldKind::ReadOnly, "updated_at") => user.updated_at.clone().unwrap_or_default(),
            _ => user
                .attributes
                .get(&column.key)
                .cloned()
                .unwrap_or_default(),
        },
    }
}

fn selected(profile: &Profile, options: &ExportOptions, user: &StoredUser) -> bool {
    if !options.groups.is_empty() {
        let wanted: BTreeSet<String> = options.groups.iter().map(|g| fold(g)).collect();
        if !user.groups.iter().any(|g| wanted.contains(&fold(g))) {
            return false;
        }
    }
    options.filters.iter().all(|(key, value)| {
        profile.column_index(key).is_some_and(|i| {
            let cell = export_cell(profile, i, user);
            let value = value.trim();
            // Lists match when any member matches.
            cell.eq_ignore_ascii_case(value)
                || (matches!(
                    profile.columns[i].kind,
                    FieldKind::NameList | FieldKind::IdentityList
                ) && cell.split(',').any(|part| part.eq_ignore_ascii_case(value)))
        })
    })
}

/// Writes the users of `dir` as CSV: header of labels, one row per user,
/// formula-safe cells. Streams, except `random`, which keeps only the sample.
/// Returns the number of users written.
pub fn export<D: Directory, W: Write>(
    profile: &Profile,
    dir: &D,
    options: &ExportOptions,
    charset: OutputCharset,
    out: W,
) -> Result<u64, Error> {
    for (key, _) in &options.filters {
        if profile.column_index(key).is_none() {
            return Err(Error::Refused(format!(
                "export filter: unknown column {key:?}"
            )));
        }
    }
    let columns = export_columns(profile, &options.columns)?;
    let mut writer = CsvWriter::new(out, charset)?;
    writer.unencodable(options.unencodable);
    writer.write_row(columns.iter().map(|&i| profile.columns[i].label.as_str()))?;
    let mut written = 0u64;
    let mut failure: Option<Error> = None;
    let mut sample: Vec<StoredUser> = Vec::new();
    let mut seen = 0usize;
    let mut rng = rand::rng();
    let result = dir.for_each_user(&mut |user| {
        if !selected(profile, options, user) {
            return true;
        }
        if let Some(n) = options.random {
            // Algorithm R: every user ends in the sample with probability n/seen.
            seen += 1;
            if sample.len() < n {
                sample.push(user.clone());
            } else {
                let j = rng.random_range(0..seen);
                if j < n {
                    sample[j] = user.clone();
                }
            }
            return true;
        }
        match writer.write_row(columns.iter().map(|&i| export_cell(profile, i, user))) {
            Ok(()) => {
                written += 1;
                true
            }
            Err(e) => {
                failure = Some(e.into());
                false
            }
        }
    });
    result.map_err(|e| Error::Refused(format!("cannot read the store: {e}")))?;
    if let Some(e) = failure {
        return Err(e);
    }
    sample.sort_by_key(|u| u.id);
    for user in &sample {
        writer.write_row(columns.iter().map(|&i| export_cell(profile, i, user)))?;
        written += 1;
    }
    writer.finish()?;
    Ok(written)
}
