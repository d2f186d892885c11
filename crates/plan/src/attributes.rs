//! A created user's attributes: a small map from column key to value.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A new user's attributes: values by column key, in key order (the order
/// of the JSON object a store keeps, and of a `BTreeMap`).
///
/// It reads like a `BTreeMap<String, String>` but costs a bulk load, which
/// builds and drops one per created user, two allocations instead of one
/// or two per attribute: the keys and values are kept in one string, and
/// an index of their places in key order. It serialises as the map would.
///
/// ```
/// use userimport_plan::Attributes;
///
/// let mut attributes = Attributes::new();
/// attributes.insert("status", "Valid");
/// attributes.insert("name", "Hanako Tanaka");
/// assert_eq!(attributes.get("name"), Some("Hanako Tanaka"));
/// assert_eq!(attributes.keys().collect::<Vec<_>>(), ["name", "status"]);
/// assert_eq!(
///     serde_json::to_string(&attributes)?,
///     r#"{"name":"Hanako Tanaka","status":"Valid"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Attributes {
    /// Every key and value, one after the other (a replaced or removed
    /// value's text stays until the map is dropped).
    text: String,
    /// Where each key and its value are in `text`, sorted by key, each key
    /// once.
    entries: Vec<Entry>,
}

/// The places of one attribute's key and value in [`Attributes::text`].
#[derive(Debug, Clone)]
struct Entry {
    key: Range<usize>,
    value: Range<usize>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Attributes::default()
    }

    /// No attributes, with room for `entries` of them holding `bytes` bytes
    /// of keys and values in all, before anything is reallocated.
    pub fn with_capacity(entries: usize, bytes: usize) -> Self {
        Attributes {
            text: String::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
        }
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: &str, value: &str) -> Option<String> {
        // Keys usually come in order: the last place is tried first.
        let at = match self.entries.last() {
            None => Err(0),
            Some(last) if self.slice(&last.key) < key => Err(self.entries.len()),
            Some(_) => self.position(key),
        };
        let value = self.push(value);
        match at {
            Ok(i) => {
                let entry = self.entries.get_mut(i)?;
                let old = std::mem::replace(&mut entry.value, value);
                Some(self.slice(&old).to_string())
            }
            Err(i) => {
                let key = self.push(key);
                self.entries.insert(i, Entry { key, value });
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = self.position(key).ok()?;
        self.entries.get(i).map(|entry| self.slice(&entry.value))
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.position(key).ok()?;
        let entry = self.entries.remove(i);
        Some(self.slice(&entry.value).to_string())
    }

    /// The keys and values, in key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            text: &self.text,
            entries: self.entries.iter(),
        }
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.iter().map(|(key, _)| key)
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends `s` to the text; returns its place.
    fn push(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    /// The text at `range` (always a place [`Attributes::push`] returned).
    fn slice(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or_default()
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|entry| self.slice(&entry.key).cmp(key))
    }
}

/// The keys and values of [`Attributes`], in key order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    text: &'a str,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        let at = |range: &Range<usize>| self.text.get(range.clone()).unwrap_or_default();
        Some((at(&entry.key), at(&entry.value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Attributes {}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Extend<(K, V)> for Attributes {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key.as_ref(), value.as_ref());
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut attributes = Attributes::new();
        attributes.extend(iter);
        attributes
    }
}

impl From<&BTreeMap<String, String>> for Attributes {
    fn from(map: &BTreeMap<String, String>) -> Self {
        map.iter().collect()
    }
}

impl From<&Attributes> for BTreeMap<String, String> {
    fn from(attributes: &Attributes) -> Self {
        attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(|map| Attributes::from(&map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_whatever_the_insertion_order() {
        let pairs = [("status", "Valid"), ("b", "2"), ("name", "N"), ("a", "1")];
        let mut map = BTreeMap::new();
        let mut attributes = Attributes::new();
        for (k, v) in pairs {
            map.insert(k.to_string(), v.to_string());
            attributes.insert(k, v);
        }
        assert_eq!(BTreeMap::from(&attributes), map);
        assert_eq!(
            attributes.keys().collect::<Vec<_>>(),
            ["a", "b", "name", "status"]
        );
        assert_eq!(
            serde_json::to_string(&attributes).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(format!("{attributes:?}"), format!("{map:?}"));
    }

    #[test]
    fn insert_replaces_and_remove_takes_out() {
        let mut attributes: Attributes = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(attributes.insert("a", "x").as_deref(), Some("1"));
        assert_eq!((attributes.len(), attributes.get("a")), (2, Some("x")));
        assert_eq!(attributes.remove("b").as_deref(), Some("2"));
        assert_eq!(attributes.remove("b"), None);
        assert!(!attributes.contains_key("b") && attributes.contains_key("a"));
        // What was replaced or removed does not count in comparisons.
        assert_eq!(attributes, [("a", "x")].into_iter().collect());
        assert_ne!(attributes, [("a", "1")].into_iter().collect());
    }

    #[test]
    fn reads_back_what_it_writes() {
        let attributes: Attributes = [("z", "1"), ("ライセンス", "B"), ("odd\"key", "y"), ("", "")]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&attributes).unwrap();
        let back: Attributes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, attributes);
        assert_eq!(back.get(""), Some(""));
    }
}
