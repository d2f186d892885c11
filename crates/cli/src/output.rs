//! Where command output goes: stdout or a file created with mode 0600.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates (or truncates) a file readable only by its owner: reports,
/// results, plans and exports can hold personal data.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        // An existing file keeps its old mode through open(): tighten it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Opens `-o FILE` (private) or stdout.
pub fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p != Path::new("-") => Box::new(io::BufWriter::new(create_private(p)?)),
        _ => Box::new(io::BufWriter::new(io::stdout().lock())),
    })
}

/// Whether `template` and `export` write an .xlsx workbook: `--format xlsx`,
/// or no `--format` and an output file named `*.xlsx`. A workbook is not
/// written to a terminal.
pub fn wants_xlsx(format: Option<&str>, output: Option<&Path>) -> Result<bool, crate::Failure> {
    let by_name = output.is_some_and(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    });
    let xlsx = match format.map(str::to_ascii_lowercase).as_deref() {
        None => by_name,
        Some("xlsx") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(crate::Failure(format!(
                "unknown --format {other:?}: use csv or xlsx"
            )));
        }
    };
    let to_stdout = output.is_none_or(|p| p == Path::new("-"));
    if xlsx && to_stdout && std::io::IsTerminal::is_terminal(&io::stdout()) {
        return Err(crate::Failure(
            "an .xlsx workbook is not written to a terminal: name a file with -o FILE.xlsx".into(),
        ));
    }
    Ok(xlsx)
}
