//! The row keys of issues found only once the whole file is read.
//!
//! A check compares the keys of every row of a file (member ID, login ID,
//! e-mail, card ID, identities) through 64-bit fingerprints, never their
//! text, so a million-row file costs no key text in memory. Its in-file
//! duplicates are therefore found after the rows are gone, and their issues
//! come without the row's keys or the value. A file that can be read again
//! gets them here, from a second read that stops at the last such row.

use std::collections::BTreeMap;
use std::io::Read;

use userimport_parse::{ColumnMapping, Record};
use userimport_plan::Mode;
use userimport_schema::{Profile, Purpose};
use userimport_validate::{Issue, codes};

use crate::{Error, Importer, workbook};

/// The issues [`userimport_validate::Uniqueness`] raises at the end of a
/// file: each is about one key cell of its row.
const END_OF_FILE_CODES: [&str; 4] = [
    codes::KEY_DUPLICATE,
    codes::KEY_CONFUSABLE,
    codes::CARD_ID_DUPLICATE,
    codes::IDENTITY_TAKEN,
];

impl Importer {
    /// Gives each in-file duplicate issue of `issues` (`key.duplicate`,
    /// `key.confusable`, `card_id.duplicate`, `identity.taken` without
    /// keys) its row's member ID, login ID and e-mail and its cell's value
    /// as typed, by reading `input`, the file just checked, again up to the
    /// last such row. Nothing is read when there is no such issue.
    ///
    /// ```
    /// use userimport::{Importer, plan::EmptyDirectory, schema::Profile};
    ///
    /// let file = "login_id,name,email,password\n\
    ///             ann,Ann,ann@example.com,Passw0rd!x\n\
    ///             ANN,Ann Two,ann2@example.com,Passw0rd!x\n";
    /// let importer = Importer::builder(&Profile::standard()).build();
    /// let mut checked = importer.check(file.as_bytes(), &EmptyDirectory::default())?;
    /// importer.fill_end_of_file_issues(file.as_bytes(), &mut checked.issues)?;
    /// let duplicate = &checked.issues[1];
    /// assert_eq!(duplicate.code, "key.duplicate");
    /// assert_eq!(duplicate.value.as_deref(), Some("ANN"));
    /// assert_eq!(duplicate.keys.email.as_deref(), Some("ann2@example.com"));
    /// # Ok::<(), userimport::Error>(())
    /// ```
    pub fn fill_end_of_file_issues<R: Read>(
        &self,
        input: R,
        issues: &mut [Issue],
    ) -> Result<(), Error> {
        let mut by_row: BTreeMap<u64, Vec<&mut Issue>> = BTreeMap::new();
        for issue in issues.iter_mut().filter(|i| needs_filling(i)) {
            by_row.entry(issue.row).or_default().push(issue);
        }
        let Some(&last) = by_row.keys().next_back() else {
            return Ok(());
        };
        let profile = self.profile();
        let mut reader = self.reader(input)?;
        let header = reader.header().clone();
        let options = self.options();
        let require_all = options.plan.mode == Mode::Create;
        let mapping = ColumnMapping::new(profile, &header, &options.maps, require_all)?;
        reader.set_date_formats(workbook::date_formats(profile, &mapping));
        let key_columns = [Purpose::MemberId, Purpose::Login, Purpose::Email]
            .map(|purpose| profile.index_for(purpose));
        let mut record = Record::new();
        let mut row = 0u64;
        while row < last && reader.read_record(&mut record)? {
            row += 1;
            let Some(row_issues) = by_row.get_mut(&row) else {
                continue;
            };
            for issue in row_issues.iter_mut() {
                fill_one(issue, &record, &mapping, key_columns, profile);
            }
        }
        Ok(())
    }
}

/// An end-of-file issue on a row, still without keys or value.
fn needs_filling(issue: &Issue) -> bool {
    issue.row > 0
        && issue.keys.is_empty()
        && issue.value.is_none()
        && END_OF_FILE_CODES.contains(&issue.code.as_str())
}

/// Fills `issue` from its row's `record`: the keys trimmed, as the chunk's
/// own issues get them, the value of its column as typed.
fn fill_one(
    issue: &mut Issue,
    record: &Record,
    mapping: &ColumnMapping,
    [id, login, email]: [Option<usize>; 3],
    profile: &Profile,
) {
    let cell = |column: Option<usize>| mapping.get(record, column?);
    let key = |column| {
        let text = cell(column)?.trim();
        (!text.is_empty()).then(|| text.to_string())
    };
    issue.keys.member_id = key(id);
    issue.keys.login_id = key(login);
    issue.keys.email = key(email);
    let column = issue
        .column
        .as_deref()
        .and_then(|c| profile.column_index(c));
    issue.value = cell(column)
        .filter(|text| !text.trim().is_empty())
        .map(str::to_string);
}
