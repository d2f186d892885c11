//! The change listing options shared by `check`, `plan` and `apply`.

use std::io::Write;
use std::path::{Path, PathBuf};

use userimport::{Checked, Format, Importer, write_changes_csv};

use crate::Failure;
use crate::output::create_file;

/// Changes listed per kind when no option says otherwise.
const DEFAULT_CHANGES: usize = 20;

#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// List at most N changes of each kind (created, updated, deleted and
    /// suspended users, groups to create) in the report [default: 20; with
    /// --changes-csv alone: every change]. The counts are always complete.
    #[arg(long, value_name = "N")]
    changes: Option<usize>,
    /// List every change (memory then grows with the file).
    #[arg(long, conflicts_with = "changes")]
    all_changes: bool,
    /// Also write the listed changes to FILE as CSV for a spreadsheet (one
    /// row per changed field; UTF-8 with BOM, formula-safe).
    #[arg(long, value_name = "FILE")]
    changes_csv: Option<PathBuf>,
}

impl ChangeArgs {
    /// How many changes of each kind to list.
    pub fn limit(&self) -> usize {
        match (self.all_changes, self.changes, &self.changes_csv) {
            (true, _, _) => usize::MAX,
            (false, Some(n), _) => n,
            (false, None, Some(_)) => usize::MAX,
            (false, None, None) => DEFAULT_CHANGES,
        }
    }

    /// `importer` with this listing limit.
    pub fn apply_to(&self, importer: Importer) -> Importer {
        let mut options = importer.options().clone();
        options.max_changes = self.limit();
        Importer::builder(importer.profile())
            .options(options)
            .build()
    }

    /// The `--changes-csv` file, if one is asked for.
    pub fn csv_path(&self) -> Option<&Path> {
        self.changes_csv.as_deref()
    }

    /// After a text report, says how to see the changes it left out.
    pub fn write_note(
        &self,
        checked: &Checked,
        format: Format,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        let omitted = userimport::changes_omitted(checked);
        if format == Format::Text && !omitted.is_empty() {
            writeln!(
                out,
                "  (the first {} of each kind are listed: --changes N or --all-changes lists more, --changes-csv FILE writes them for a spreadsheet)",
                self.limit()
            )?;
        }
        Ok(())
    }

    /// Writes `--changes-csv` (never over the store `db` or the `input`
    /// file), and after a text report says how to see the changes it left out.
    pub fn finish(
        &self,
        checked: &Checked,
        format: Format,
        (db, input): (&str, &Path),
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        if let Some(path) = &self.changes_csv {
            let mut file = create_file(path, Some(db), Some(input))?;
            write_changes_csv(checked, &mut file)?;
            file.commit()?;
        }
        self.write_note(checked, format, out)
    }
}
