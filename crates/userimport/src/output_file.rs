//! Files the project writes (exports, plans, reports, results, templates):
//! never half-written, never through a symlink, never over the store or the
//! input.
//!
//! [`OutputFile::create`] makes a temporary file beside the target (created
//! exclusively, mode 0600); [`OutputFile::commit`] renames it over the
//! target only once everything is written, so a failure (a character the
//! charset cannot hold, a full disk, a refused import) leaves the earlier
//! file as it was. [`refuse_clobber`] checks, before anything runs, that an
//! output names neither the store (nor its `-wal`, `-journal`, `-shm`) nor
//! the input file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why an output file cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The target is a symbolic link: outputs never follow one.
    #[error("{}: is a symbolic link; outputs do not follow links: name the file itself", .path.display())]
    Symlink {
        /// The target.
        path: PathBuf,
    },
    /// The target exists and is not a regular file (a folder, a device …).
    #[error("{}: is not a regular file", .path.display())]
    NotRegular {
        /// The target.
        path: PathBuf,
    },
    /// The output would overwrite a file the command reads or writes.
    #[error("{}: is {what}; write the output to another file", .path.display())]
    Clobbers {
        /// The target.
        path: PathBuf,
        /// What it is: "the store", "the store's journal", "the input file" …
        what: String,
    },
    /// Creating, writing or renaming failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The target.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
}

/// A file the project protects from being overwritten by an output.
#[derive(Debug, Clone, Copy)]
pub enum Protected<'a> {
    /// An SQLite store: its file and its `-wal`, `-journal` and `-shm`.
    Store(&'a Path),
    /// The file being imported.
    Input(&'a Path),
}

/// Refuses an output that names a protected file (compared by device and
/// inode when both exist, by canonical folder and name otherwise).
pub fn refuse_clobber(output: &Path, protected: &[Protected<'_>]) -> Result<(), OutputError> {
    for item in protected {
        let candidates: Vec<(PathBuf, &str)> = match item {
            Protected::Input(path) => vec![(path.to_path_buf(), "the input file")],
            Protected::Store(path) => {
                let mut list = vec![(path.to_path_buf(), "the store")];
                for suffix in ["-wal", "-journal", "-shm"] {
                    let mut name = path.as_os_str().to_owned();
                    name.push(suffix);
                    list.push((PathBuf::from(name), "a file of the store"));
                }
                list
            }
        };
        for (path, what) in candidates {
            if same_file(output, &path) {
                return Err(OutputError::Clobbers {
                    path: output.to_path_buf(),
                    what: format!("{what} ({})", path.display()),
                });
            }
        }
    }
    Ok(())
}

/// True when `a` and `b` name one file (or would, once created).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    match (canonical_place(a), canonical_place(b)) {
        (Some(pa), Some(pb)) => pa == pb,
        _ => false,
    }
}

/// The canonical folder plus the file name: where a file is or would be.
fn canonical_place(path: &Path) -> Option<PathBuf> {
    if let Ok(full) = std::fs::canonicalize(path) {
        return Some(full);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// Refuses a target that is a symbolic link or exists as anything but a
/// regular file.
fn check_target(path: &Path) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(OutputError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(meta) if !meta.is_file() => Err(OutputError::NotRegular {
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OutputError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// An output being written: a temporary file beside the target, renamed
/// over it by [`OutputFile::commit`]; dropped uncommitted, it is removed and
/// the target stays as it was.
#[derive(Debug)]
pub struct OutputFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl OutputFile {
    /// Creates the temporary file (exclusively, mode 0600) in the target's
    /// folder. Refused when the target is a symlink or not a regular file;
    /// an unwritable folder fails here, before any work is done.
    pub fn create(target: impl AsRef<Path>) -> Result<OutputFile, OutputError> {
        let target = target.as_ref().to_path_buf();
        check_target(&target)?;
        let io = |source| OutputError::Io {
            path: target.clone(),
            source,
        };
        let name = target
            .file_name()
            .ok_or_else(|| io(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut last = None;
        for _ in 0..16 {
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
            let temp = folder.join(temp_name);
            match create_new_private(&temp) {
                Ok(file) => {
                    return Ok(OutputFile {
                        target,
                        temp,
                        file: Some(BufWriter::new(file)),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(io(e)),
            }
        }
        Err(io(last.unwrap_or_else(|| {
            io::Error::other("no free temporary name")
        })))
    }

    /// The file the output will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes everything to disk and renames the temporary file over the
    /// target (refused if the target became a symlink or a non-regular
    /// file meanwhile).
    pub fn commit(mut self) -> Result<(), OutputError> {
        let io = |source| OutputError::Io {
            path: self.target.clone(),
            source,
        };
        let Some(writer) = self.file.take() else {
            return Err(io(io::Error::other("already committed")));
        };
        let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        check_target(&self.target)?;
        std::fs::rename(&self.temp, &self.target).map_err(io)?;
        // Committed: nothing left for `Drop` to remove.
        self.temp = PathBuf::new();
        Ok(())
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<File>> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("the output file was committed"))
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer()?.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Creates `path`, failing if anything (a file, a symlink) is there, with
/// mode 0600: outputs hold personal data.
fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_changes_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let mut out = OutputFile::create(&target).unwrap();
        out.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        drop(out);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut out = OutputFile::create(&target).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_store_and_the_input_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("r.db");
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x").unwrap();
        let protected = [Protected::Store(&store), Protected::Input(&input)];
        for name in ["r.db", "r.db-wal", "r.db-journal", "in.csv", "./in.csv"] {
            let path = dir.path().join(name);
            let err = refuse_clobber(&path, &protected).unwrap_err();
            assert!(matches!(err, OutputError::Clobbers { .. }), "{name}: {err}");
        }
        refuse_clobber(&dir.path().join("out.csv"), &protected).unwrap();
    }
}
