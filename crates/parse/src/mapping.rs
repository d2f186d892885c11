//! Column mapping: which record field feeds which profile column.

use userimport_schema::{Profile, fold_header};

use crate::Record;
use crate::error::{Error, Result};

/// Maps the header's cells onto a profile's columns, by key, label or alias
/// (case-insensitive, trimmed, full-width folded, `_`/`-`/space alike), with
/// `--map FIELD=HEADER` / `--map FIELD=none` overrides.
///
/// Field positions are 0-based indexes into a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    fields: Vec<Option<usize>>,
    unknown: Vec<(usize, String)>,
}

impl ColumnMapping {
    /// Builds the mapping for `header`.
    ///
    /// `overrides` are `(FIELD, Some(HEADER))` for `--map FIELD=HEADER` and
    /// `(FIELD, None)` for `--map FIELD=none` (the column is not imported,
    /// and a header cell naming it is ignored rather than reported). FIELD is
    /// a column key (or label or alias); HEADER a header cell, compared
    /// folded. An override takes precedence over automatic matching.
    ///
    /// Errors: an override naming an unknown field or a header the file does
    /// not have, two header cells naming one column, and, when
    /// `require_all`, required columns that end up unmapped.
    pub fn new(
        profile: &Profile,
        header: &Record,
        overrides: &[(String, Option<String>)],
        require_all: bool,
    ) -> Result<ColumnMapping> {
        let mut fields: Vec<Option<usize>> = vec![None; profile.columns.len()];
        let mut overridden = vec![false; profile.columns.len()];
        let mut claimed = vec![false; header.len()];
        let folded: Vec<String> = header.iter().map(fold_header).collect();
        for (field, target) in overrides {
            let column = profile
                .column_index(field.trim())
                .or_else(|| profile.column_for_header(field))
                .ok_or_else(|| Error::UnknownField {
                    field: field.clone(),
                })?;
            overridden[column] = true;
            fields[column] = match target {
                None => None,
                Some(name) => {
                    let want = fold_header(name);
                    let index = folded.iter().position(|h| *h == want).ok_or_else(|| {
                        Error::HeaderNotFound {
                            field: field.clone(),
                            header: name.clone(),
                        }
                    })?;
                    claimed[index] = true;
                    Some(index)
                }
            };
        }
        let mut unknown = Vec::new();
        for (index, cell) in header.iter().enumerate() {
            if claimed[index] {
                continue;
            }
            match profile.column_for_header(cell) {
                // Set aside by `--map FIELD=none`, or taken over by an
                // override: ignored when `none`, unknown otherwise.
                Some(column) if overridden[column] => {
                    if fields[column].is_some() {
                        unknown.push((index, cell.to_string()));
                    }
                }
                Some(column) => {
                    if let Some(first) = fields[column] {
                        return Err(Error::DuplicateColumn {
                            column: profile.columns[column].key.clone(),
                            first: first + 1,
                            first_header: header.get(first).unwrap_or_default().to_string(),
                            second: index + 1,
                            second_header: cell.to_string(),
                        });
                    }
                    fields[column] = Some(index);
                }
                None if cell.trim().is_empty() => {}
                None => unknown.push((index, cell.to_string())),
            }
        }
        if require_all {
            let missing: Vec<String> = profile
                .columns
                .iter()
                .zip(&fields)
                .filter(|(column, field)| column.required && field.is_none())
                .map(|(column, _)| column.key.clone())
                .collect();
            if !missing.is_empty() {
                return Err(Error::MissingColumns { columns: missing });
            }
        }
        Ok(ColumnMapping { fields, unknown })
    }

    /// The record field index for the profile column at `column` (an index
    /// into `profile.columns`), if the file has it.
    pub fn index(&self, column: usize) -> Option<usize> {
        self.fields.get(column).copied().flatten()
    }

    /// The header cells that name no profile column: (field index, header
    /// text). Blank header cells are left out.
    pub fn unknown(&self) -> &[(usize, String)] {
        &self.unknown
    }

    /// The value of the profile column at `column` in `record`: `None` when
    /// the file has no such column or the record is too short.
    pub fn get<'r>(&self, record: &'r Record, column: usize) -> Option<&'r str> {
        record.get(self.index(column)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Record {
        Record::from_fields(1, cells)
    }

    fn map(
        profile: &Profile,
        cells: &[&str],
        overrides: &[(&str, Option<&str>)],
    ) -> Result<ColumnMapping> {
        let overrides: Vec<(String, Option<String>)> = overrides
            .iter()
            .map(|(f, h)| (f.to_string(), h.map(str::to_string)))
            .collect();
        ColumnMapping::new(profile, &header(cells), &overrides, true)
    }

    #[test]
    fn matches_keys_labels_and_aliases_folded() {
        let p = Profile::access();
        let m = map(
            &p,
            &[" ＵＳＥＲ＿ＩＤ ", "name", "E-MAIL", "Shoe size", ""],
            &[],
        )
        .unwrap();
        assert_eq!(m.index(p.column_index("user_id").unwrap()), Some(0));
        assert_eq!(m.index(p.column_index("name").unwrap()), Some(1));
        assert_eq!(m.index(p.column_index("email").unwrap()), Some(2));
        assert_eq!(m.index(p.column_index("card_id").unwrap()), None);
        assert_eq!(m.unknown(), &[(3, "Shoe size".to_string())]);
        let r = Record::from_fields(2, ["E1", "Ann"]);
        assert_eq!(m.get(&r, 1), Some("Ann"));
        assert_eq!(m.get(&r, 2), None);
    }

    #[test]
    fn duplicates_and_missing_columns_are_errors_naming_them() {
        let p = Profile::access();
        let e = map(&p, &["User ID", "Name", "Employee ID"], &[]).unwrap_err();
        assert!(
            matches!(&e, Error::DuplicateColumn { column, first: 1, second: 3, .. } if column == "user_id"),
            "{e}"
        );
        assert!(e.to_string().contains("user_id"));
        let e = map(&p, &["Email"], &[]).unwrap_err();
        assert!(
            matches!(&e, Error::MissingColumns { columns } if columns == &["user_id", "name"]),
            "{e}"
        );
        let e = map(&p, &["Email"], &[]);
        assert!(e.is_err());
        let ok = ColumnMapping::new(&p, &header(&["Email"]), &[], false).unwrap();
        assert_eq!(ok.index(2), Some(0));
    }

    #[test]
    fn overrides_map_rename_and_drop() {
        let p = Profile::access();
        let m = map(
            &p,
            &["Staff no", "Full name", "Card", "Email"],
            &[
                ("user_id", Some("staff NO")),
                ("Name", Some("Full name")),
                ("card_id", None),
            ],
        )
        .unwrap();
        assert_eq!(m.index(0), Some(0));
        assert_eq!(m.index(1), Some(1));
        assert_eq!(m.index(p.column_index("card_id").unwrap()), None);
        assert_eq!(m.index(p.column_index("email").unwrap()), Some(3));
        assert!(m.unknown().is_empty(), "{:?}", m.unknown());

        // An override beats a matching header, which becomes unknown.
        let m = map(
            &p,
            &["User ID", "Login", "Name"],
            &[("user_id", Some("Login"))],
        )
        .unwrap();
        assert_eq!(m.index(0), Some(1));
        assert_eq!(m.unknown(), &[(0, "User ID".to_string())]);

        let e = map(&p, &["User ID", "Name"], &[("shoe", Some("x"))]).unwrap_err();
        assert!(
            matches!(&e, Error::UnknownField { field } if field == "shoe"),
            "{e}"
        );
        let e = map(&p, &["User ID", "Name"], &[("email", Some("Mail"))]).unwrap_err();
        assert!(
            matches!(&e, Error::HeaderNotFound { header, .. } if header == "Mail"),
            "{e}"
        );
        // Mapping a required column to none makes it missing.
        let e = map(&p, &["User ID", "Name"], &[("name", None)]).unwrap_err();
        assert!(
            matches!(&e, Error::MissingColumns { columns } if columns == &["name"]),
            "{e}"
        );
    }

    #[test]
    fn standard_profile_matches_japanese_labels() {
        let p = Profile::standard();
        let m =
            ColumnMapping::new(&p, &header(&["ログインID", "メールアドレス"]), &[], false).unwrap();
        assert_eq!(m.index(p.column_index("login_id").unwrap()), Some(0));
        assert_eq!(m.index(p.column_index("email").unwrap()), Some(1));
    }
}
