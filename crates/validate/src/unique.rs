//! In-file uniqueness of key columns, streamed across chunks in bounded memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use rayon::prelude::*;

use userimport_schema::Profile;

use crate::codes;
use crate::issue::Issue;
use crate::row::{Cell, Row};
use crate::validator::is_key_purpose;

/// Key columns tracked at most (the tag lives in the fingerprint's low bits).
const MAX_KEY_COLUMNS: usize = 8;
const TAG_MASK: u64 = (MAX_KEY_COLUMNS as u64) - 1;
/// Set in [`Entry::at`] when the row's position lives in the overflow list.
const OVERFLOW: u64 = 1 << 63;
/// Entries per storage block (1 MiB): blocks never move once allocated.
const BLOCK: usize = 1 << 16;
/// Other lines named in one duplicate message at most.
const MAX_LINES_NAMED: usize = 10;

/// One key cell seen: its fingerprint and where it was.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// 61 bits of a keyed hash of the folded value, 3 bits of column tag.
    fp: u64,
    /// `line << 32 | row` when both fit (line < 2^31, row < 2^32), else
    /// [`OVERFLOW`] | index into the overflow list.
    at: u64,
}

/// Finds keys that occur on more than one row of a file, across chunks.
///
/// Tracks every column whose purpose is a key (member ID, login ID, e-mail),
/// whatever the profile's key order. Values compare after trimming and
/// lowercasing, so `Ann@Example.com` and ` ann@example.com` are the same key.
/// Feed it every row with [`Uniqueness::observe`] (valid or not, delete flag
/// or not: a delete row still names a user), then call
/// [`Uniqueness::finish`], which gives a `key.duplicate` error on every row
/// involved, the first occurrence too, each naming the other lines.
///
/// Memory: only a 64-bit fingerprint and the row's position are kept per key
/// cell (16 bytes), never the text: 32 to 48 bytes per row for two or three
/// keys, plus one 1 MiB block of slack. Entries are stored in fixed blocks
/// (never copied while growing) and merged in fingerprint order at the end.
/// Fingerprints are keyed with a random seed per instance, so a crafted file
/// cannot make two different keys collide on purpose; an accidental
/// collision among a million keys has odds around 10⁻⁷. Because the text is
/// not kept, duplicate issues carry no [`Issue::value`].
///
/// ```
/// use userimport_schema::Profile;
/// use userimport_validate::{Cell, Row, Uniqueness};
///
/// let profile = Profile::team();
/// let email = profile.column_index("primary_email").unwrap();
/// let row = |line: u64, address: &str| {
///     let mut cells = vec![Cell::Absent; profile.columns.len()];
///     cells[email] = Cell::Value(address.to_string());
///     Row { line, row: line - 1, cells, valid: true }
/// };
/// let mut unique = Uniqueness::new(&profile);
/// unique.observe(&row(2, "ann@example.com"));
/// unique.observe(&row(3, "bob@example.com"));
/// unique.observe(&row(9000, "ANN@example.com"));
/// let issues = unique.finish();
/// assert_eq!(issues.iter().map(|i| i.line).collect::<Vec<_>>(), [2, 9000]);
/// assert!(issues[0].message.contains("9000"));
/// ```
#[derive(Debug, Clone)]
pub struct Uniqueness {
    /// (profile column index, column key, label) per tag.
    columns: Vec<(usize, String, String)>,
    prints: Fingerprinter,
    buf: String,
    /// Full blocks of exactly [`BLOCK`] entries, then the one being filled.
    blocks: Vec<Vec<Entry>>,
    len: usize,
    overflow: Vec<(u64, u64)>,
}

impl Uniqueness {
    /// Tracks the key columns of `profile` (purposes member ID, login ID, e-mail).
    pub fn new(profile: &Profile) -> Uniqueness {
        let columns: Vec<(usize, String, String)> = profile
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| is_key_purpose(c.purpose))
            .take(MAX_KEY_COLUMNS)
            .map(|(i, c)| (i, c.key.clone(), c.label.clone()))
            .collect();
        let prints = Fingerprinter {
            columns: Arc::new(columns.iter().map(|(i, _, _)| *i).collect()),
            seed: RandomState::new(),
        };
        Uniqueness {
            columns,
            prints,
            buf: String::new(),
            blocks: Vec::new(),
            len: 0,
            overflow: Vec::new(),
        }
    }

    /// Records the key cells of one row (only [`Cell::Value`]s count).
    pub fn observe(&mut self, row: &Row) {
        let Uniqueness { prints, buf, .. } = self;
        let mut found = [KeyPrint::default(); MAX_KEY_COLUMNS];
        let mut n = 0;
        prints.row(row, buf, |print| {
            found[n] = print;
            n += 1;
        });
        self.observe_prints(&found[..n]);
    }

    /// A [`Fingerprinter`] with this instance's columns and seed: it computes
    /// the fingerprints of rows on any thread (in parallel), and
    /// [`Uniqueness::observe_prints`] records them, as if each row had gone
    /// through [`Uniqueness::observe`].
    pub fn fingerprinter(&self) -> Fingerprinter {
        self.prints.clone()
    }

    /// Records fingerprints made by this instance's [`Uniqueness::fingerprinter`].
    pub fn observe_prints(&mut self, prints: &[KeyPrint]) {
        for print in prints {
            let at = if print.line < (1 << 31) && print.row < (1 << 32) {
                (print.line << 32) | print.row
            } else {
                self.overflow.push((print.line, print.row));
                OVERFLOW | (self.overflow.len() - 1) as u64
            };
            let entry = Entry { fp: print.fp, at };
            match self.blocks.last_mut() {
                Some(block) if block.len() < BLOCK => block.push(entry),
                _ => {
                    // Small files get a small first block; then fixed blocks,
                    // so nothing is ever copied and the slack is one block.
                    let capacity = if self.blocks.is_empty() { 1024 } else { BLOCK };
                    let mut block = Vec::with_capacity(capacity);
                    block.push(entry);
                    self.blocks.push(block);
                }
            }
            if let Some(block) = self.blocks.last_mut()
                && block.len() == block.capacity()
                && block.capacity() < BLOCK
            {
                block.reserve_exact(BLOCK - block.capacity());
            }
            self.len += 1;
        }
    }

    /// Records every row of a chunk.
    pub fn observe_all<'a>(&mut self, rows: impl IntoIterator<Item = &'a Row>) {
        for row in rows {
            self.observe(row);
        }
    }

    /// Key cells recorded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key cell was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (capacity, not length), to check the memory bound.
    pub fn memory_bytes(&self) -> usize {
        self.blocks.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<Entry>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<Entry>>()
            + self.overflow.capacity() * std::mem::size_of::<(u64, u64)>()
            + self.buf.capacity()
    }

    /// Ends the file: a `key.duplicate` error for every row whose key is also
    /// on another row, sorted by line, row and column.
    pub fn finish(self) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.finish_into(|issue| issues.push(issue));
        issues.sort_by(|a, b| (a.line, a.row, &a.column).cmp(&(b.line, b.row, &b.column)));
        issues
    }

    /// Like [`Uniqueness::finish`], but hands each issue to `f` as it is
    /// found (in no particular order) instead of collecting them, so that a
    /// caller keeping only some of them (a check's bounded report) needs no
    /// memory per duplicate row.
    pub fn finish_into(self, mut f: impl FnMut(Issue)) {
        let Uniqueness {
            columns,
            mut blocks,
            overflow,
            ..
        } = self;
        blocks
            .par_iter_mut()
            .for_each(|block| block.sort_unstable_by_key(|e| e.fp));
        let position = |at: u64| -> (u64, u64) {
            if at & OVERFLOW != 0 {
                let index = (at & !OVERFLOW) as usize;
                overflow.get(index).copied().unwrap_or((0, 0))
            } else {
                (at >> 32, at & 0xFFFF_FFFF)
            }
        };
        let mut group: Vec<(u64, u64)> = Vec::new();
        let mut run: Vec<Entry> = Vec::new();
        let mut merged = merge_sorted(&blocks).peekable();
        while let Some(first) = merged.next() {
            run.clear();
            run.push(first);
            while let Some(next) = merged.next_if(|e| e.fp == first.fp) {
                run.push(next);
            }
            if run.len() < 2 {
                continue;
            }
            let tag = (first.fp & TAG_MASK) as usize;
            let Some((_, key, label)) = columns.get(tag) else {
                continue;
            };
            group.clear();
            group.extend(run.iter().map(|e| position(e.at)));
            group.sort_unstable();
            group.dedup();
            if group.len() < 2 {
                continue;
            }
            for (me, &(line, row)) in group.iter().enumerate() {
                let others: Vec<String> = group
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != me)
                    .take(MAX_LINES_NAMED)
                    .map(|(_, (l, _))| l.to_string())
                    .collect();
                let more = group.len() - 1 - others.len();
                let mut lines = others.join(", ");
                if more > 0 {
                    lines.push_str(&format!(" and {more} more"));
                }
                let plural = if group.len() > 2 { "s" } else { "" };
                f(Issue::error(
                    line,
                    row,
                    codes::KEY_DUPLICATE,
                    format!(
                        "the same {label} is also on line{plural} {lines} (compared ignoring \
                             case and surrounding spaces): each {label} must be unique in the \
                             file, so keep one row per user"
                    ),
                )
                .column(key));
            }
        }
    }
}

/// Walks sorted blocks in fingerprint order (a k-way merge: no copy of the
/// entries is made).
fn merge_sorted(blocks: &[Vec<Entry>]) -> impl Iterator<Item = Entry> + '_ {
    let mut heads: BinaryHeap<Reverse<(u64, usize, usize)>> = blocks
        .iter()
        .enumerate()
        .filter_map(|(b, block)| block.first().map(|e| Reverse((e.fp, b, 0))))
        .collect();
    std::iter::from_fn(move || {
        let Reverse((_, b, i)) = heads.pop()?;
        let block = blocks.get(b)?;
        if let Some(next) = block.get(i + 1) {
            heads.push(Reverse((next.fp, b, i + 1)));
        }
        block.get(i).copied()
    })
}

/// One key cell's fingerprint and where it is, made by a [`Fingerprinter`]
/// for [`Uniqueness::observe_prints`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyPrint {
    fp: u64,
    line: u64,
    row: u64,
}

/// Computes the key fingerprints of rows for one [`Uniqueness`] (its columns
/// and its seed), on any thread: cheap to clone, `Send` and `Sync`.
#[derive(Debug, Clone)]
pub struct Fingerprinter {
    /// Profile column index per tag.
    columns: Arc<Vec<usize>>,
    seed: RandomState,
}

impl Fingerprinter {
    /// Appends the fingerprints of every key cell of `rows`, in row order,
    /// computed in parallel.
    pub fn fingerprint_into(&self, rows: &[Row], out: &mut Vec<KeyPrint>) {
        const ROWS_PER_TASK: usize = 512;
        let parts: Vec<Vec<KeyPrint>> = rows
            .par_chunks(ROWS_PER_TASK)
            .map(|rows| {
                let mut buf = String::new();
                let mut prints = Vec::with_capacity(rows.len() * self.columns.len());
                for row in rows {
                    self.row(row, &mut buf, |print| prints.push(print));
                }
                prints
            })
            .collect();
        for part in parts {
            out.extend(part);
        }
    }

    /// The fingerprints of one row's key cells (only [`Cell::Value`]s count).
    fn row(&self, row: &Row, buf: &mut String, mut found: impl FnMut(KeyPrint)) {
        for (tag, index) in self.columns.iter().enumerate() {
            let Cell::Value(value) = row.cell(*index) else {
                continue;
            };
            let value = crate::field::trim(value);
            if value.is_empty() {
                continue;
            }
            buf.clear();
            if value.is_ascii() {
                buf.push_str(value);
                buf.make_ascii_lowercase();
            } else {
                buf.extend(value.chars().flat_map(char::to_lowercase));
            }
            let fp = (self.seed.hash_one(buf.as_str()) & !TAG_MASK) | tag as u64;
            found(KeyPrint {
                fp,
                line: row.line,
                row: row.row,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_made_elsewhere_find_the_same_duplicates() {
        let profile = Profile::standard();
        let login = profile.column_index("login_id").unwrap();
        let email = profile.column_index("email").unwrap();
        let rows: Vec<Row> = (0..3_000u64)
            .map(|i| {
                let mut cells = vec![Cell::Absent; profile.columns.len()];
                cells[login] = Cell::Value(format!("user{}", i % 1_400));
                cells[email] = Cell::Value(format!(" U{i}@Example.com"));
                if i == 2_999 {
                    cells[email] = Cell::Value("u7@example.COM".into());
                }
                Row {
                    line: i + 2,
                    row: i + 1,
                    cells,
                    valid: true,
                }
            })
            .collect();
        let mut one_by_one = Uniqueness::new(&profile);
        one_by_one.observe_all(&rows);
        let mut batched = one_by_one.clone();
        batched.blocks.clear();
        batched.len = 0;
        let mut prints = Vec::new();
        for chunk in rows.chunks(700) {
            prints.clear();
            batched.fingerprinter().fingerprint_into(chunk, &mut prints);
            batched.observe_prints(&prints);
        }
        assert_eq!(batched.len(), one_by_one.len());
        let (a, b) = (one_by_one.finish(), batched.finish());
        assert_eq!(a, b);
        assert!(
            a.iter()
                .any(|i| i.line == 3_000 + 1 && i.column.as_deref() == Some("email"))
        );
        assert_eq!(
            a.iter()
                .filter(|i| i.column.as_deref() == Some("login_id"))
                .count(),
            3_000
        );
    }
}
