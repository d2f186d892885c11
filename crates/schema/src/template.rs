//! Templates: the header row and one valid example row an administrator
//! downloads to start editing.

use crate::kind::FieldKind;
use crate::profile::{Column, KeyKind, Profile, Purpose};

/// The cells of a template: the header row (column labels) and example rows.
/// Encoding and CSV quoting are the writer's job (`userimport::write_csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Column labels in profile order.
    pub header: Vec<String>,
    /// Example rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Template {
    /// The template of a profile: every importable column (read-only columns
    /// and the pre-hashed password column are left out, as is the
    /// store-assigned member ID unless it is the profile's only key: blank
    /// there means a new member) with one example row that passes `check`
    /// against an empty store (so no example groups where the profile does
    /// not create groups: none exists yet).
    pub fn for_profile(profile: &Profile) -> Template {
        Template::for_profile_in(profile, crate::Lang::En)
    }

    /// [`Template::for_profile`] with the header in `lang` (`--lang ja`).
    pub fn for_profile_in(profile: &Profile, lang: crate::Lang) -> Template {
        let id_only = profile.key_order.iter().all(|k| *k == KeyKind::Id);
        let columns: Vec<_> = profile
            .columns
            .iter()
            .filter(|c| {
                !matches!(c.kind, FieldKind::ReadOnly)
                    && c.purpose != Purpose::PasswordHash
                    && (c.purpose != Purpose::MemberId || id_only)
            })
            .collect();
        let example = |c: &Column| match c.purpose {
            Purpose::Groups if !profile.groups.create_unknown => String::new(),
            Purpose::MemberId => String::new(),
            _ => c.example.clone().unwrap_or_default(),
        };
        Template {
            header: columns.iter().map(|c| lang.label(c).to_string()).collect(),
            rows: vec![columns.iter().map(|c| example(c)).collect()],
        }
    }
}
