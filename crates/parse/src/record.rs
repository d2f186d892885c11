//! The record type: one CSV record's fields in one buffer, reusable.

/// One parsed record: its fields (decoded to UTF-8) and the 1-based physical
/// line on which it starts. Fields live in one buffer, so reading into the
/// same `Record` again allocates nothing once it is large enough.
///
/// Two records are equal when their lines, fields and stray quotes are,
/// however their buffers are laid out.
#[derive(Clone, Default)]
pub struct Record {
    line: u64,
    /// The fields' text: each field ends where `ends` says, and the next
    /// one starts `gap` bytes later (0: fields one after the other; 1: a
    /// quote-free line kept as it was read, a delimiter between fields).
    data: String,
    ends: Vec<usize>,
    gap: usize,
    stray_quotes: Vec<StrayQuote>,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
            && self.len() == other.len()
            && self.stray_quotes == other.stray_quotes
            && self.iter().eq(other.iter())
    }
}

impl Eq for Record {}

/// A quote inside an unquoted field (`O"Brien`, `Bob "The Builder" Smith`):
/// read as a literal quote, as Excel, LibreOffice and Python's csv module
/// read it. The reader keeps the record and notes where, so that a caller
/// can warn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrayQuote {
    /// The physical line of the (first) stray quote in the field.
    pub line: u64,
    /// The field's 0-based index in the record.
    pub field: usize,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// A record from fields, starting on `line` (for tests and callers that
    /// build records by hand).
    pub fn from_fields<I, S>(line: u64, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut record = Record::new();
        record.set_line(line);
        for field in fields {
            record.push_field(field.as_ref());
        }
        record
    }

    /// The 1-based physical line where the record starts (what Excel shows).
    #[inline]
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Sets the starting line.
    pub fn set_line(&mut self, line: u64) {
        self.line = line;
    }

    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The field at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(before) => self.ends.get(before)? + self.gap,
            None => 0,
        };
        self.data.get(start..end)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// Appends a field.
    pub fn push_field(&mut self, field: &str) {
        self.close_gaps();
        self.data.push_str(field);
        self.ends.push(self.data.len());
    }

    /// Removes every field and stray-quote note (keeping the allocation).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.gap = 0;
        self.stray_quotes.clear();
    }

    /// The fields that held a quote inside unquoted text, read literally
    /// (one entry per field, in field order).
    pub fn stray_quotes(&self) -> &[StrayQuote] {
        &self.stray_quotes
    }

    /// Notes a stray quote (for readers that fill a record in place).
    pub fn push_stray_quote(&mut self, quote: StrayQuote) {
        self.stray_quotes.push(quote);
    }

    /// The buffer and field ends, for readers that fill a record in place:
    /// push a field's text onto the buffer, then its end offset onto the ends.
    pub fn parts_mut(&mut self) -> (&mut String, &mut Vec<usize>) {
        self.close_gaps();
        (&mut self.data, &mut self.ends)
    }

    /// Sets the record to one quote-free line's fields without copying them
    /// one by one: `text` is the line (no line end), `ends` where each field
    /// ends in it, a one-byte delimiter after every field but the last.
    pub(crate) fn set_line_text(&mut self, line: u64, text: &str, ends: &[usize]) {
        self.clear();
        self.line = line;
        self.data.push_str(text);
        self.ends.extend_from_slice(ends);
        self.gap = 1;
    }

    /// Lays the fields out one after the other (for the readers that push
    /// fields), if they are not already.
    fn close_gaps(&mut self) {
        if self.gap == 0 {
            return;
        }
        let mut data = String::with_capacity(self.data.len());
        let mut ends = Vec::with_capacity(self.ends.len());
        for field in self.iter() {
            data.push_str(field);
            ends.push(data.len());
        }
        self.data = data;
        self.ends = ends;
        self.gap = 0;
    }

    /// True when every field is empty or whitespace (a blank line).
    pub fn is_blank(&self) -> bool {
        // Nearly every record starts with a visible ASCII character (in
        // its first field: with gaps, an empty first field starts with the
        // delimiter).
        match self.data.as_bytes().first() {
            Some(b) if b.is_ascii_graphic() && (self.gap == 0 || self.ends.first() > Some(&0)) => {
                false
            }
            _ if self.gap == 0 => self.data.trim().is_empty(),
            _ => self.iter().all(|field| field.trim().is_empty()),
        }
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("line", &self.line)
            .field("fields", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_one_buffer() {
        let mut r = Record::from_fields(3, ["a", "", "日本"]);
        assert_eq!(r.line(), 3);
        assert_eq!(r.len(), 3);
        assert_eq!(r.iter().collect::<Vec<_>>(), ["a", "", "日本"]);
        assert_eq!(r.get(3), None);
        r.clear();
        assert!(r.is_empty());
        assert!(Record::from_fields(1, ["", " "]).is_blank());
    }

    /// A line kept with its delimiters reads, compares and grows like the
    /// same fields pushed one by one.
    #[test]
    fn a_line_kept_whole_reads_as_its_fields() {
        let mut r = Record::new();
        r.set_line_text(4, "a,,日本,", &[1, 2, 9, 10]);
        assert_eq!(r.iter().collect::<Vec<_>>(), ["a", "", "日本", ""]);
        assert_eq!(r, Record::from_fields(4, ["a", "", "日本", ""]));
        assert!(!r.is_blank());
        r.push_field("x");
        assert_eq!(r, Record::from_fields(4, ["a", "", "日本", "", "x"]));
        for (text, ends, blank) in [
            (",,", &[0, 1, 2][..], true),
            (" ,\t", &[1, 3][..], true),
            (",b", &[0, 2][..], false),
            ("", &[0][..], true),
        ] {
            r.set_line_text(1, text, ends);
            assert_eq!(r.is_blank(), blank, "{text:?}");
        }
    }
}
