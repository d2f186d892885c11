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
/// Prints of login IDs and e-mails carry 48 bits of the confusable
/// skeleton's hash above this shift and 13 bits of the key's own below it
/// (above the tag): look-alike keys agree above it, equal keys everywhere.
/// Other columns' prints are one 61-bit hash.
const EXACT_SHIFT: u32 = 16;
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
/// cannot make two different keys collide on purpose. By chance, two
/// different keys among a million share a 61-bit print (a false
/// `key.duplicate`) with odds around 2·10⁻⁷, but the 48 bits of skeleton
/// in a login ID's or e-mail's print (a false `key.confusable`) with odds
/// around 0.2% per key column: a known weakness, to be closed by keeping
/// more of the skeleton (see `fingerprint_key` in the source for the hash
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
    overflow: Vec<(u64, u64)>,
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
            overflow: Vec::new(),
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
            overflow,
            prints,
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
        // Entries that agree above the exact bits (the same key, or in a
        // login or e-mail column the same confusable skeleton) agree in
        // their top RANGE_BITS too. Each range of fingerprints is gathered
        // from every block and sorted on its own, in parallel, keeping only
        // the entries that share their high bits with another; those groups
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
                // Stable: equal prints stay in block order, then block position.
                entries.sort_by_key(|e| e.fp);
                entries
                    .chunk_by(|a, b| a.fp >> EXACT_SHIFT == b.fp >> EXACT_SHIFT)
                    .filter(|same_high| same_high.len() > 1)
                    .flatten()
                    .copied()
                    .collect()
            })
            .collect();
        drop(blocks);
        let mut coarse: Vec<Entry> = Vec::new();
        for shared in &found {
            for same_high in shared.chunk_by(|a, b| a.fp >> EXACT_SHIFT == b.fp >> EXACT_SHIFT) {
                coarse.clear();
                coarse.extend_from_slice(same_high);
                coarse.sort_unstable_by_key(|e| (e.fp & TAG_MASK, e.fp));
                for same_column in coarse.chunk_by(|a, b| a.fp & TAG_MASK == b.fp & TAG_MASK) {
                    let tag = (same_column[0].fp & TAG_MASK) as usize;
                    let Some((_, key, label)) = columns.get(tag) else {
                        continue;
                    };
                    let kind = prints.kind(tag);
                    for same in same_column.chunk_by(|a, b| a.fp == b.fp) {
                        duplicates(same, kind, key, label, &position, &mut f);
                    }
                    if kind == Some(Unique::Key { skeleton: true }) {
                        confusables(same_column, key, label, &position, &mut f);
                    }
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
    if same_column.iter().all(|e| e.fp == same_column[0].fp) {
        return;
    }
    for same in same_column.chunk_by(|a, b| a.fp == b.fp) {
        // The lines of the other keys, at most MAX_LINES_NAMED of them.
        let mut others: Vec<u64> = same_column
            .iter()
            .filter(|e| e.fp != same[0].fp)
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
                    let exact = print(folded.as_bytes());
                    if !*skeleton {
                        found(at(exact));
                        continue;
                    }
                    buf.clear();
                    crate::key::skeleton_bytes_into(&folded, buf);
                    let high = print(buf) & !((1 << EXACT_SHIFT) - 1);
                    found(at(high | (exact >> (64 - 13) << 3) | tag as u64));
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
}
