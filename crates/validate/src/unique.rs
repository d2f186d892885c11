//! In-file uniqueness of key columns, streamed across chunks in bounded memory.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::quality::SeedableRandomState;
use std::sync::Arc;

use rayon::prelude::*;

use userimport_schema::{FieldKind, Profile, Purpose};

use crate::codes;
use crate::issue::Issue;
use crate::row::{Cell, Row};
use crate::validator::is_key_purpose;

/// Key columns tracked at most (the tag lives in the fingerprint's low bits).
const MAX_KEY_COLUMNS: usize = 8;
const TAG_MASK: u64 = (MAX_KEY_COLUMNS as u64) - 1;
/// Set in the low half of [`Entry::at`] when the row's position lives in
/// the overflow list rather than in the low 31 bits.
const OVERFLOW: u64 = 1 << 31;
/// Rows numbered below this are kept in [`Entry::at`] itself.
const ROW_LIMIT: u64 = 1 << 31;
/// Entries per storage block (1 MiB): blocks never move once allocated.
const BLOCK: usize = 1 << 16;
/// Other lines named in one duplicate message at most.
const MAX_LINES_NAMED: usize = 10;

/// One key cell seen: its fingerprint and where it was.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// 61 bits of a keyed hash, 3 bits of column tag. In a login ID or
    /// e-mail column the hash is of the key's confusable skeleton (look-alike
    /// keys share it); in other columns, of the folded key itself.
    fp: u64,
    /// In the high 32 bits, a second hash of the folded key in a login ID or
    /// e-mail column (equal keys share it, look-alikes do not), 0 elsewhere.
    /// In the low 32, the row number when below [`ROW_LIMIT`] (its line comes
    /// from [`LineRuns`]), else [`OVERFLOW`] | index into the overflow list.
    at: u64,
}

impl Entry {
    /// The second hash of a login ID's or e-mail's folded key.
    fn exact(&self) -> u64 {
        self.at >> 32
    }
}

/// The line of every row, kept as runs: the line of row `r` is `r` plus the
/// offset of the last run starting at or before `r`. A file's offset changes
/// only at a record spanning lines or a blank line, so a million-row file
/// usually needs one run.
#[derive(Debug, Clone, Default)]
struct LineRuns {
    /// (first row, line − row), sorted by row.
    runs: Vec<(u64, u64)>,
}

impl LineRuns {
    /// Records that `row` is on `line`; false when the runs cannot say so
    /// (a row too large, a line before its row, or a row seen out of order
    /// whose line differs from the run's), and it must be kept elsewhere.
    fn record(&mut self, line: u64, row: u64) -> bool {
        let Some(offset) = line.checked_sub(row).filter(|_| row < ROW_LIMIT) else {
            return false;
        };
        match self.runs.last() {
            Some(&(from, last)) if row >= from => {
                if last != offset {
                    if row == from {
                        return false;
                    }
                    self.runs.push((row, offset));
                }
                true
            }
            Some(_) => self.line_of(row) == line,
            None => {
                self.runs.push((row, offset));
                true
            }
        }
    }

    /// The line of a row recorded with [`LineRuns::record`].
    fn line_of(&self, row: u64) -> u64 {
        let run = self.runs.partition_point(|&(from, _)| from <= row);
        let offset = run
            .checked_sub(1)
            .and_then(|i| self.runs.get(i))
            .map_or(0, |&(_, offset)| offset);
        row + offset
    }

    fn memory_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<(u64, u64)>()
    }
}

/// Where each entry was: the line runs, and the rows they cannot hold.
#[derive(Debug, Clone, Default)]
struct Positions {
    lines: LineRuns,
    /// (line, row) of entries whose `at` names an index here.
    overflow: Vec<(u64, u64)>,
}

impl Positions {
    /// The low 32 bits of [`Entry::at`] for a key cell on `line`, `row`.
    fn encode(&mut self, line: u64, row: u64) -> u64 {
        if self.lines.record(line, row) {
            return row;
        }
        self.overflow.push((line, row));
        // Past 2^31 overflowing rows (a file of tens of gigabytes whose
        // rows all overflow) the index no longer fits: the position then
        // reads as an earlier overflowing row's, never a crash.
        OVERFLOW | ((self.overflow.len() - 1) as u64 & (OVERFLOW - 1))
    }

    /// The (line, row) of an entry.
    fn decode(&self, at: u64) -> (u64, u64) {
        let low = at & 0xFFFF_FFFF;
        if low & OVERFLOW != 0 {
            let index = (low & (OVERFLOW - 1)) as usize;
            self.overflow.get(index).copied().unwrap_or((0, 0))
        } else {
            (self.lines.line_of(low), low)
        }
    }
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
/// Memory: only fingerprints and the row number are kept per key cell (16
/// bytes), never the text: 32 to 48 bytes per row for two or three keys,
/// plus one 1 MiB block of slack; a row's line is kept once per run of rows
/// whose line is the row plus the same offset. Entries are stored in fixed
/// blocks (never copied while growing) and merged in fingerprint order at
/// the end. Fingerprints are keyed with a random seed per instance, so a
/// crafted file cannot make two different keys collide on purpose. By
/// chance, two different keys among a million share a 61-bit print (a
/// false `key.duplicate`, or in a login ID or e-mail column a false
/// `key.confusable`, whose print is of the skeleton) with odds around
/// 2·10⁻⁷ per column; two keys that truly look alike share their second,
/// 32-bit print too (and are called duplicates, not look-alikes) with odds
/// of 2·10⁻¹⁰ per pair (see `fingerprint_key` in the source for the hash
/// and its key). Because the text is
/// not kept, duplicate issues carry no [`Issue::value`] and no row keys; the
/// facade's `Importer::fill_end_of_file_issues` gives them both from a
/// second read of a file that can be read again.
///
/// ```
/// use userimport_schema::{FieldKind, Profile, Purpose};
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
    buf: Vec<u8>,
    /// Full blocks of exactly [`BLOCK`] entries, then the one being filled.
    blocks: Vec<Vec<Entry>>,
    len: usize,
    positions: Positions,
}

/// What a tracked column holds, and so which rule a repeat breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unique {
    /// A key (member ID, login ID, e-mail): `key.duplicate`; login IDs and
    /// e-mails are also compared by confusable skeleton (`key.confusable`).
    Key { skeleton: bool },
    /// An access card number (stored in one notation): `card_id.duplicate`.
    Card,
    /// `source:username` identities, one user each: `identity.taken`.
    Identity,
}

impl Uniqueness {
    /// Tracks the key columns of `profile` (purposes member ID, login ID,
    /// e-mail), its card ID columns and its identity column.
    pub fn new(profile: &Profile) -> Uniqueness {
        let tracked: Vec<(usize, String, String, Unique)> = profile
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let unique = match (&c.kind, c.purpose) {
                    (_, p) if is_key_purpose(p) => Unique::Key {
                        skeleton: matches!(p, Purpose::Login | Purpose::Email),
                    },
                    (FieldKind::CardId, _) => Unique::Card,
                    (_, Purpose::Identities) => Unique::Identity,
                    _ => return None,
                };
                Some((i, c.key.clone(), c.label.clone(), unique))
            })
            .take(MAX_KEY_COLUMNS)
            .collect();
        let prints = Fingerprinter {
            columns: Arc::new(tracked.iter().map(|(i, _, _, u)| (*i, *u)).collect()),
            seed: fingerprint_key(),
        };
        Uniqueness {
            columns: tracked
                .into_iter()
                .map(|(i, key, label, _)| (i, key, label))
                .collect(),
            prints,
            buf: Vec::new(),
            blocks: Vec::new(),
            len: 0,
            positions: Positions::default(),
        }
    }

    /// Records the key cells of one row (only [`Cell::Value`]s count).
    pub fn observe(&mut self, row: &Row) {
        let Uniqueness { prints, buf, .. } = self;
        let mut found = Vec::with_capacity(MAX_KEY_COLUMNS);
        prints.row(row, buf, |print| found.push(print));
        self.observe_prints(&found);
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
            let at = (u64::from(print.exact) << 32) | self.positions.encode(print.line, print.row);
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
            + self.positions.overflow.capacity() * std::mem::size_of::<(u64, u64)>()
            + self.positions.lines.memory_bytes()
            + self.buf.capacity()
    }

    /// Ends the file: a `key.duplicate` error for every row whose key is also
    /// on another row, sorted by line, row and column.
    pub fn finish(self) -> Vec<Issue> {
        let mut issues = Vec::new();
        self.finish_into(|issue| issues.push(issue));
        issues.sort_by(|a, b| {
            (a.line, a.row, &a.column, &a.code, &a.message)
                .cmp(&(b.line, b.row, &b.column, &b.code, &b.message))
        });
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
            positions,
            prints,
            ..
        } = self;
        blocks
            .par_iter_mut()
            .for_each(|block| block.sort_unstable_by_key(|e| e.fp));
        let position = |at: u64| positions.decode(at);
        // Entries with one fingerprint (the same key, or in a login or
        // e-mail column the same confusable skeleton) agree in their top
        // RANGE_BITS too. Each range of fingerprints is gathered from every
        // block and sorted on its own, in parallel, keeping only the
        // entries that share their fingerprint with another; those groups
        // become issues here, in fingerprint order, as one merge of the
        // blocks would give them.
        let found: Vec<Vec<Entry>> = (0..1u64 << RANGE_BITS)
            .into_par_iter()
            .map(|range| {
                let mut entries = Vec::new();
                for block in &blocks {
                    let from = block.partition_point(|e| e.fp >> (64 - RANGE_BITS) < range);
                    let to = block.partition_point(|e| e.fp >> (64 - RANGE_BITS) <= range);
                    entries.extend_from_slice(block.get(from..to).unwrap_or_default());
                }
                entries.sort_unstable_by_key(|e| e.fp);
                entries
                    .chunk_by(|a, b| a.fp == b.fp)
                    .filter(|same_print| same_print.len() > 1)
                    .flatten()
                    .copied()
                    .collect()
            })
            .collect();
        drop(blocks);
        let mut group: Vec<Entry> = Vec::new();
        for shared in &found {
            for same_print in shared.chunk_by(|a, b| a.fp == b.fp) {
                let tag = (same_print[0].fp & TAG_MASK) as usize;
                let Some((_, key, label)) = columns.get(tag) else {
                    continue;
                };
                // By second print, then row: the same issues in the same
                // words whatever order the blocks held them in.
                group.clear();
                group.extend_from_slice(same_print);
                group.sort_unstable_by_key(|e| (e.exact(), position(e.at)));
                let kind = prints.kind(tag);
                for same in group.chunk_by(|a, b| a.exact() == b.exact()) {
                    duplicates(same, kind, key, label, &position, &mut f);
                }
                if kind == Some(Unique::Key { skeleton: true }) {
                    confusables(&group, key, label, &position, &mut f);
                }
            }
        }
    }
}

/// Fingerprint ranges sorted apart at the end of a file (by their top bits).
const RANGE_BITS: u32 = 8;

/// The issue of every row in `same` (entries of one column with one
/// fingerprint) when they are on two rows or more.
fn duplicates(
    same: &[Entry],
    kind: Option<Unique>,
    key: &str,
    label: &str,
    position: &impl Fn(u64) -> (u64, u64),
    f: &mut impl FnMut(Issue),
) {
    let mut group: Vec<(u64, u64)> = same.iter().map(|e| position(e.at)).collect();
    group.sort_unstable();
    group.dedup();
    if group.len() < 2 {
        return;
    }
    for (me, &(line, row)) in group.iter().enumerate() {
        // At most MAX_LINES_NAMED are named: never a list per row of a
        // group of every row in the file.
        let others = group
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != me)
            .map(|(_, (l, _))| *l);
        let lines = name_lines(others, group.len() - 1);
        let plural = if group.len() > 2 { "s" } else { "" };
        let (code, message) = match kind {
            Some(Unique::Card) => (
                codes::CARD_ID_DUPLICATE,
                format!(
                    "the same card is also on line{plural} {lines} (card IDs compare as \
                     numbers, in any notation): a card belongs to one user"
                ),
            ),
            Some(Unique::Identity) => (
                codes::IDENTITY_TAKEN,
                format!(
                    "an identity of this row is also on line{plural} {lines}: a source \
                     identity belongs to one user"
                ),
            ),
            _ => (
                codes::KEY_DUPLICATE,
                format!(
                    "the same {label} is also on line{plural} {lines} (compared ignoring \
                     case, width and surrounding spaces): each {label} must be unique in the \
                     file, so keep one row per user"
                ),
            ),
        };
        f(Issue::error(line, row, code, message).column(key));
    }
}

/// Up to [`MAX_LINES_NAMED`] of `total` lines, then how many more.
fn name_lines(lines: impl Iterator<Item = u64>, total: usize) -> String {
    let named: Vec<String> = lines.take(MAX_LINES_NAMED).map(|l| l.to_string()).collect();
    let mut text = named.join(", ");
    if total > named.len() {
        text.push_str(&format!(" and {} more", total - named.len()));
    }
    text
}

/// `key.confusable` for the rows of one login or e-mail column whose keys
/// share a confusable skeleton but are not the same key (those are
/// duplicates).
fn confusables(
    same_column: &[Entry],
    key: &str,
    label: &str,
    position: &impl Fn(u64) -> (u64, u64),
    f: &mut impl FnMut(Issue),
) {
    if same_column
        .iter()
        .all(|e| e.exact() == same_column[0].exact())
    {
        return;
    }
    for same in same_column.chunk_by(|a, b| a.exact() == b.exact()) {
        // The lines of the other keys, at most MAX_LINES_NAMED of them.
        let mut others: Vec<u64> = same_column
            .iter()
            .filter(|e| e.exact() != same[0].exact())
            .take(MAX_LINES_NAMED)
            .map(|e| position(e.at).0)
            .collect();
        others.sort_unstable();
        others.dedup();
        let total = same_column.len() - same.len();
        for me in same {
            confusable(me, &others, total, key, label, position, f);
        }
    }
}

/// The `key.confusable` issue of one row.
fn confusable(
    me: &Entry,
    others: &[u64],
    total: usize,
    key: &str,
    label: &str,
    position: &impl Fn(u64) -> (u64, u64),
    f: &mut impl FnMut(Issue),
) {
    {
        let (line, row) = position(me.at);
        f(Issue::error(
            line,
            row,
            codes::KEY_CONFUSABLE,
            format!(
                "this {label} looks the same as the {label} on line {} (they differ only in \
                 look-alike characters, such as a Cyrillic о for a Latin o): each user needs \
                 a {label} that reads differently",
                name_lines(others.iter().copied(), total.max(others.len()))
            ),
        )
        .column(key));
    }
}

/// One key cell's fingerprint and where it is, made by a [`Fingerprinter`]
/// for [`Uniqueness::observe_prints`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyPrint {
    fp: u64,
    /// The second print of a login ID or e-mail (see [`Entry::at`]).
    exact: u32,
    line: u64,
    row: u64,
}

/// Computes the key fingerprints of rows for one [`Uniqueness`] (its columns
/// and its seed), on any thread: cheap to clone, `Send` and `Sync`.
#[derive(Debug, Clone)]
pub struct Fingerprinter {
    /// Profile column index and what it holds, per tag.
    columns: Arc<Vec<(usize, Unique)>>,
    seed: SeedableRandomState,
}

/// The keyed hash of one [`Uniqueness`]: foldhash's quality variant (a
/// well-kept crate, the hash of hashbrown and so of std's `HashMap` tables
/// in many programs), keyed with seeds drawn from the operating system's
/// randomness through std's `RandomState` (SipHash keyed per process, used
/// here as a random-number generator): a process-wide shared seed and a
/// per-instance seed. It replaces SipHash-1-3 for the two or three
/// fingerprints of every row (3% of a 1M-row check's CPU).
///
/// Why that is enough. A collision of two different keys makes a false
/// `key.duplicate` error: never a false "clean", never a write, and only
/// on the file that holds both keys. Whoever crafts such a file is the
/// administrator importing it. By chance, the odds are those of any hash
/// that mixes its bits well (the figure above), which foldhash's quality
/// variant does (it passes SMHasher). On purpose, a collision needs the
/// key, which is random per run and never shown: the prints are never
/// written out. Foldhash is not a cryptographic hash, so a program that
/// showed its hashes could be studied for its key; this one shows none,
/// and draws a new key every run.
fn fingerprint_key() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let random = || std::hash::RandomState::new().hash_one(0u64);
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(random()));
    SeedableRandomState::with_seed(random(), shared)
}

impl Fingerprinter {
    /// Appends the fingerprints of every key cell of `rows`, in row order,
    /// computed in parallel.
    pub fn fingerprint_into(&self, rows: &[Row], out: &mut Vec<KeyPrint>) {
        const ROWS_PER_TASK: usize = 512;
        let parts: Vec<Vec<KeyPrint>> = rows
            .par_chunks(ROWS_PER_TASK)
            .map(|rows| {
                let mut buf = Vec::new();
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

    /// The fingerprints of `rows`, in row order, on this thread.
    pub(crate) fn fingerprint_rows(&self, rows: &[Row], out: &mut Vec<KeyPrint>) {
        let mut buf = Vec::new();
        out.reserve(rows.len() * self.columns.len());
        for row in rows {
            self.row(row, &mut buf, |print| out.push(print));
        }
    }

    fn kind(&self, tag: usize) -> Option<Unique> {
        self.columns.get(tag).map(|c| c.1)
    }

    /// The fingerprints of one row's tracked cells (only [`Cell::Value`]s
    /// count, and the identities a list adds).
    fn row(&self, row: &Row, buf: &mut Vec<u8>, mut found: impl FnMut(KeyPrint)) {
        let at = |fp: u64| KeyPrint {
            fp,
            exact: 0,
            line: row.line,
            row: row.row,
        };
        for (tag, (index, unique)) in self.columns.iter().enumerate() {
            // Bytes, not `str`: a skeleton is built as bytes, and a value
            // and its skeleton must hash alike when they are the same text.
            let print = |text: &[u8]| (self.seed.hash_one(text) & !TAG_MASK) | tag as u64;
            match (row.cell(*index), unique) {
                (Cell::Value(value), Unique::Key { skeleton }) => {
                    let folded = crate::key::fold_key(value);
                    if folded.is_empty() {
                        continue;
                    }
                    if !*skeleton {
                        found(at(print(folded.as_bytes())));
                        continue;
                    }
                    buf.clear();
                    crate::key::skeleton_bytes_into(&folded, buf);
                    let skeleton = print(buf);
                    // A key that is its own skeleton needs no second hash:
                    // the skeleton's is the key's.
                    let exact = if buf.as_slice() == folded.as_bytes() {
                        skeleton
                    } else {
                        print(folded.as_bytes())
                    };
                    found(KeyPrint {
                        exact: (exact >> 32) as u32,
                        ..at(skeleton)
                    });
                }
                (Cell::Value(value), Unique::Card) => {
                    let value = crate::field::trim(value);
                    if !value.is_empty() {
                        found(at(print(value.as_bytes())));
                    }
                }
                (Cell::List(edit), Unique::Identity) => {
                    for identity in &edit.add {
                        buf.clear();
                        for c in identity.trim().chars().flat_map(char::to_lowercase) {
                            buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        found(at(print(buf)));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past one block of entries, duplicates and look-alikes are found
    /// across blocks, each row once, whatever range of prints they fall in.
    #[test]
    fn repeats_are_found_across_blocks() {
        let profile = Profile::standard();
        let login = profile.column_index("login_id").unwrap();
        let email = profile.column_index("email").unwrap();
        let rows = 40_000u64;
        let mut unique = Uniqueness::new(&profile);
        for i in 0..rows {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            let name = match i {
                39_000 => "user5".to_string(),
                _ => format!("user{i}"),
            };
            cells[login] = Cell::Value(name);
            let address = match i {
                7 => "boss@example.com".to_string(),
                // A Cyrillic о: looks the same as row 7's.
                38_000 => "bоss@example.com".to_string(),
                _ => format!("u{i}@example.com"),
            };
            cells[email] = Cell::Value(address);
            unique.observe(&Row {
                line: i + 2,
                row: i + 1,
                cells,
                valid: true,
            });
        }
        assert!(unique.blocks.len() > 1, "{} blocks", unique.blocks.len());
        let found: Vec<(u64, String, String)> = unique
            .finish()
            .into_iter()
            .map(|i| (i.line, i.code, i.column.unwrap_or_default()))
            .collect();
        let expect =
            |line: u64, code: &str, column: &str| (line, code.to_string(), column.to_string());
        assert_eq!(
            found,
            [
                expect(7, codes::KEY_DUPLICATE, "login_id"),
                expect(9, codes::KEY_CONFUSABLE, "email"),
                expect(38_002, codes::KEY_CONFUSABLE, "email"),
                expect(39_002, codes::KEY_DUPLICATE, "login_id"),
            ]
        );
    }

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

    /// The tag of the profile's login ID column.
    fn login_tag(unique: &Uniqueness, profile: &Profile) -> u64 {
        let login = profile.column_index("login_id").unwrap();
        unique.columns.iter().position(|c| c.0 == login).unwrap() as u64
    }

    fn lines_and_codes(issues: Vec<Issue>) -> Vec<(u64, String)> {
        issues.into_iter().map(|i| (i.line, i.code)).collect()
    }

    /// Two login IDs are look-alikes only when every one of the 61 bits of
    /// their skeletons' prints agrees: a print that keeps fewer (it kept 48)
    /// calls about one clean million-row file in 500 a file of look-alikes.
    #[test]
    fn look_alikes_share_every_bit_of_the_skeleton_print() {
        let profile = Profile::standard();
        let fresh = Uniqueness::new(&profile);
        let tag = login_tag(&fresh, &profile);
        let skeleton = 0x9E37_79B9_7F4A_7C15 & !TAG_MASK;
        let print = |fp: u64, exact: u32, line: u64| KeyPrint {
            fp: fp | tag,
            exact,
            line,
            row: line - 1,
        };
        for bit in 3..64 {
            let mut unique = fresh.clone();
            unique.observe_prints(&[print(skeleton, 1, 2), print(skeleton ^ (1 << bit), 2, 3)]);
            assert_eq!(
                unique.finish(),
                [],
                "skeleton prints differing in bit {bit}"
            );
        }
        let mut unique = fresh.clone();
        let rows = [
            print(skeleton, 1, 2),
            print(skeleton, 2, 3),
            print(skeleton, 1, 4),
        ];
        unique.observe_prints(&rows);
        let confusable = codes::KEY_CONFUSABLE.to_string();
        let duplicate = codes::KEY_DUPLICATE.to_string();
        assert_eq!(
            lines_and_codes(unique.finish()),
            [
                (2, confusable.clone()),
                (2, duplicate.clone()),
                (3, confusable.clone()),
                (4, confusable),
                (4, duplicate),
            ]
        );
    }

    /// Real keys: a Cyrillic look-alike, the same key in capitals, and keys
    /// that share a skeleton only by the TR39 table (`rn` and `m`).
    #[test]
    fn look_alikes_and_duplicates_of_real_login_ids() {
        let profile = Profile::standard();
        let login = profile.column_index("login_id").unwrap();
        let mut unique = Uniqueness::new(&profile);
        for (i, name) in ["boss", "bоss", "BOSS", "modern", "rnodern", "ann"]
            .into_iter()
            .enumerate()
        {
            let mut cells = vec![Cell::Absent; profile.columns.len()];
            cells[login] = Cell::Value(name.to_string());
            let row = i as u64 + 1;
            unique.observe(&Row {
                line: row + 1,
                row,
                cells,
                valid: true,
            });
        }
        let found = lines_and_codes(unique.finish());
        let has = |line: u64, code: &str| found.contains(&(line, code.to_string()));
        assert!(
            has(2, codes::KEY_DUPLICATE) && has(4, codes::KEY_DUPLICATE),
            "{found:?}"
        );
        assert!(
            has(2, codes::KEY_CONFUSABLE) && has(3, codes::KEY_CONFUSABLE),
            "{found:?}"
        );
        assert!(
            has(5, codes::KEY_CONFUSABLE) && has(6, codes::KEY_CONFUSABLE),
            "{found:?}"
        );
        assert!(!found.iter().any(|(line, _)| *line == 7), "{found:?}");
        assert!(!has(3, codes::KEY_DUPLICATE), "{found:?}");
    }

    /// Lines come back as they went in: records over several lines, blank
    /// lines, rows given out of order, rows and lines too large for an
    /// entry, and a line before its row.
    #[test]
    fn every_position_reads_back() {
        let positions = [
            (2, 1),
            (3, 2),
            (5, 3),
            (6, 4),
            (9, 5),
            (4, 2),
            (7, 3),
            (6, 3),
            (12, 6),
            (1, 7),
            (u64::MAX, ROW_LIMIT),
            (ROW_LIMIT + 5, ROW_LIMIT - 1),
            (13, 7),
        ];
        let mut kept = Positions::default();
        let at: Vec<u64> = positions.iter().map(|&(l, r)| kept.encode(l, r)).collect();
        let back: Vec<(u64, u64)> = at.iter().map(|&a| kept.decode(a)).collect();
        assert_eq!(back, positions);
        assert!(kept.overflow.len() < positions.len(), "{:?}", kept.overflow);
    }

    /// A million rows of one-line records cost one run of lines.
    #[test]
    fn one_line_records_need_one_run() {
        let mut kept = Positions::default();
        for row in 1..=1_000_000u64 {
            kept.encode(row + 1, row);
        }
        assert_eq!(kept.lines.runs.len(), 1);
        assert!(kept.overflow.is_empty());
    }
}
