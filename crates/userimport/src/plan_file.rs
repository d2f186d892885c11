//! Writing a plan file as the file is planned, in bounded memory.

use std::io::{Read, Write};

use serde::Serialize;
use userimport_plan::{Directory, PlanOptions, Summary, hash_passwords, profile_digest};
use userimport_validate::Issue;

use crate::pipeline::{Keep, Streamed};
use crate::{Checked, Error, Importer};

/// The fields of a plan file that follow its changes (the same names as
/// [`userimport_plan::Plan`]'s, so [`userimport_plan::Plan::from_json`]
/// reads the file back).
#[derive(Serialize)]
struct Tail<'a> {
    revision: u64,
    profile: &'a str,
    profile_digest: String,
    store_id: Option<String>,
    options: &'a PlanOptions,
    summary: &'a Summary,
    created_groups: &'a [String],
    issues: &'a [Issue],
    withdrawn_rows: &'a [u64],
}

impl Importer {
    /// Plans `input` against `dir` and writes the plan file to `out` as it
    /// goes: each chunk's passwords hashed (argon2id, in parallel) and its
    /// changes written, then dropped, so memory does not grow with the
    /// file. Changes of rows found at the end to be in-file duplicates are
    /// listed as withdrawn, and dropped when the plan is read back. The
    /// returned check is the report of [`Importer::check`] (its issues
    /// capped the same way).
    pub fn write_plan<R: Read, D: Directory, W: Write>(
        &self,
        input: R,
        dir: &D,
        mut out: W,
    ) -> Result<Checked, Error> {
        let store_id = dir
            .store_id()
            .map_err(|e| Error::Plan(userimport_plan::Error::store(e)))?;
        out.write_all(b"{\"changes\":[")?;
        let mut first = true;
        let mut created_groups: Vec<String> = Vec::new();
        let mut ending: Option<(u64, Vec<u64>)> = None;
        let mut stream = |streamed: Streamed, _clean: bool| -> Result<(), Error> {
            match streamed {
                Streamed::Chunk { mut chunk, .. } => {
                    hash_passwords(&mut chunk.changes)?;
                    created_groups.append(&mut chunk.created_groups);
                    for change in &chunk.changes {
                        if !first {
                            out.write_all(b",")?;
                        }
                        first = false;
                        out.write_all(b"\n")?;
                        serde_json::to_writer(&mut out, change).map_err(std::io::Error::from)?;
                    }
                }
                Streamed::Checked {
                    revision,
                    withdrawn,
                    ..
                } => ending = Some((revision, withdrawn)),
            }
            Ok(())
        };
        let checked = self.run(input, dir, Keep::Stream(&mut stream))?;
        let (revision, withdrawn) = ending.unwrap_or_default();
        let tail = Tail {
            revision,
            profile: &self.profile().name,
            profile_digest: profile_digest(self.profile()),
            store_id,
            options: &self.options().plan,
            summary: &checked.summary,
            created_groups: &created_groups,
            issues: &checked.issues,
            withdrawn_rows: &withdrawn,
        };
        let tail = serde_json::to_string(&tail).map_err(std::io::Error::from)?;
        out.write_all(b"\n],")?;
        // The tail object without its opening brace continues this one.
        out.write_all(tail.get(1..).unwrap_or_default().as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(checked)
    }
}
