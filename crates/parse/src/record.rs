//! The record type: one CSV record's fields in one buffer, reusable.

/// One parsed record: its fields (decoded to UTF-8) and the 1-based physical
/// line on which it starts. Fields live in one buffer, so reading into the
/// same `Record` again allocates nothing once it is large enough.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Record {
    line: u64,
    data: String,
    ends: Vec<usize>,
    stray_quotes: Vec<StrayQuote>,
}

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
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.data.get(start..end)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// Appends a field.
    pub fn push_field(&mut self, field: &str) {
        self.data.push_str(field);
        self.ends.push(self.data.len());
    }

    /// Removes every field and stray-quote note (keeping the allocation).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
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
        (&mut self.data, &mut self.ends)
    }

    /// True when every field is empty or whitespace (a blank line).
    pub fn is_blank(&self) -> bool {
        // Nearly every record starts with a visible ASCII character.
        match self.data.as_bytes().first() {
            Some(b) if b.is_ascii_graphic() => false,
            _ => self.data.trim().is_empty(),
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
}
