//! A created user's attributes: a small map from column key to value.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A new user's attributes: values by column key, kept in key order (the
/// order of the JSON object a store keeps, and of a `BTreeMap`).
///
/// It reads like a `BTreeMap<String, String>` but costs less to build and
/// drop, which a bulk load does once per created user: the entries sit in
/// one vector, and the keys are shared strings, so a [`Planner`] hands every
/// user the same key of a column instead of a copy of it.
/// It serialises as the map would.
///
/// ```
/// use userimport_plan::Attributes;
///
/// let mut attributes = Attributes::new();
/// attributes.insert("status", "Valid");
/// attributes.insert("name", "Hanako Tanaka");
/// assert_eq!(attributes.get("name").map(String::as_str), Some("Hanako Tanaka"));
/// assert_eq!(attributes.keys().collect::<Vec<_>>(), ["name", "status"]);
/// assert_eq!(
///     serde_json::to_string(&attributes)?,
///     r#"{"name":"Hanako Tanaka","status":"Valid"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Planner`]: crate::Planner
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// Sorted by key, each key once.
    entries: Vec<(Arc<str>, String)>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Attributes::default()
    }

    /// No attributes, with room for `capacity` without reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        Attributes {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: impl Into<Arc<str>>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        // Keys usually come in order: the last place is tried first.
        let at = match self.entries.last() {
            Some((last, _)) if **last < *key => Err(self.entries.len()),
            None => Err(0),
            Some(_) => self.position(&key),
        };
        match at {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value.into())),
            Err(i) => {
                self.entries.insert(i, (key, value.into()));
                None
            }
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        let i = self.position(key).ok()?;
        self.entries.get(i).map(|(_, value)| value)
    }

    /// True when `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.position(key).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// The attributes, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &String)> {
        self.entries.iter().map(|(key, value)| (&**key, value))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(key, _)| &**key)
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| (**k).cmp(key))
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Arc<str>, String)>,
        fn(&'a (Arc<str>, String)) -> (&'a str, &'a String),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(key, value)| (&**key, value))
    }
}

impl<K: Into<Arc<str>>, V: Into<String>> Extend<(K, V)> for Attributes {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: Into<Arc<str>>, V: Into<String>> FromIterator<(K, V)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut attributes = Attributes::new();
        attributes.extend(iter);
        attributes
    }
}

impl From<BTreeMap<String, String>> for Attributes {
    fn from(map: BTreeMap<String, String>) -> Self {
        Attributes {
            entries: map.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl From<&Attributes> for BTreeMap<String, String> {
    fn from(attributes: &Attributes) -> Self {
        attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl std::ops::Index<&str> for Attributes {
    type Output = String;

    /// The value of `key`; panics when there is none, as a map's index does.
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no attribute {key:?}"),
        }
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Attributes::from)
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
    }

    #[test]
    fn insert_replaces_and_remove_takes_out() {
        let mut attributes: Attributes = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(attributes.insert("a", "x").as_deref(), Some("1"));
        assert_eq!((attributes.len(), &attributes["a"][..]), (2, "x"));
        assert_eq!(attributes.remove("b").as_deref(), Some("2"));
        assert_eq!(attributes.remove("b"), None);
        assert!(!attributes.contains_key("b") && attributes.contains_key("a"));
    }

    #[test]
    fn reads_back_what_it_writes() {
        let attributes: Attributes = [("z", "1"), ("ライセンス", "B"), ("odd\"key", "y")]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&attributes).unwrap();
        let back: Attributes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, attributes);
    }
}
