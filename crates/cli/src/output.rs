//! Where command output goes: stdout, or a file written through
//! [`userimport::OutputFile`] (a private temporary file renamed over the
//! target when complete; never through a symlink, never over the store or
//! the input file).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use userimport::{OutputFile, Protected, StoreUrl, refuse_clobber};

use crate::Failure;

/// A command's output: standard output, or a file that appears (replacing
/// the old one) only at [`Output::finish`].
pub enum Output {
    /// Standard output.
    Stdout(io::BufWriter<io::StdoutLock<'static>>),
    /// A file.
    File(OutputFile),
}

impl Output {
    /// Flushes standard output, or renames the finished file over its target.
    pub fn finish(self) -> Result<(), Failure> {
        match self {
            Output::Stdout(mut out) => out.flush()?,
            Output::File(file) => file.commit()?,
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            // A file is flushed at `finish`; flushing here changes nothing
            // a reader could see.
            Output::File(file) => file.flush(),
        }
    }
}

/// Opens `-o FILE` or stdout (`-` or none), with nothing to protect.
pub fn open_output(path: Option<&Path>) -> Result<Output, Failure> {
    open_guarded(path, None, None)
}

/// Opens `-o FILE` or stdout, refusing a file that is the store `db` (or its
/// `-wal`, `-journal`, `-shm`) or the `input` file.
pub fn open_guarded(
    path: Option<&Path>,
    db: Option<&str>,
    input: Option<&Path>,
) -> Result<Output, Failure> {
    match path {
        Some(p) if p != Path::new("-") => Ok(Output::File(create_file(p, db, input)?)),
        _ => Ok(Output::Stdout(io::BufWriter::new(io::stdout().lock()))),
    }
}

/// Creates the temporary file of an output after checking it against the
/// store and the input.
pub fn create_file(
    path: &Path,
    db: Option<&str>,
    input: Option<&Path>,
) -> Result<OutputFile, Failure> {
    let store = db.and_then(|url| match url.parse::<StoreUrl>() {
        Ok(StoreUrl::Sqlite(path)) => Some(path),
        _ => None,
    });
    let mut protected = Vec::new();
    if let Some(store) = &store {
        protected.push(Protected::Store(store));
    }
    if let Some(input) = input.filter(|p| p.as_os_str() != "-") {
        protected.push(Protected::Input(input));
    }
    refuse_clobber(path, &protected)?;
    Ok(OutputFile::create(path)?)
}

/// Files opened before the work that fills them (`apply --results`: an
/// unwritable results file is found before the import commits).
static RESERVED: Mutex<Option<HashMap<PathBuf, OutputFile>>> = Mutex::new(None);

/// Opens `path` now (checked against the store `db` and the `input` file)
/// and keeps it for [`reserved`]; nothing when `path` is `None`.
pub fn reserve(path: Option<&Path>, db: &str, input: &Path) -> Result<(), Failure> {
    let Some(path) = path else {
        return Ok(());
    };
    let file = create_file(path, Some(db), Some(input))?;
    let mut reserved = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    reserved
        .get_or_insert_with(HashMap::new)
        .insert(path.to_path_buf(), file);
    Ok(())
}

/// The file [`reserve`] opened for `path` (or a new one): write it, then
/// [`OutputFile::commit`] it.
pub fn reserved(path: &Path) -> Result<OutputFile, Failure> {
    let taken = RESERVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|files| files.remove(path));
    match taken {
        Some(file) => Ok(file),
        None => create_file(path, None, None),
    }
}
