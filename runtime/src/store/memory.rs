//! The in-memory key-value store: Kafka Streams' `InMemoryKeyValueStore`, a
//! sorted map of bytes. Nothing survives a restart; the store is rebuilt from
//! its changelog.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{Entries, KeyValueStore, StoreError};

/// A key-value store in memory: a `BTreeMap` ordered by unsigned
/// lexicographic byte order (the order of `Vec<u8>`'s `Ord`).
#[derive(Debug, Clone, Default)]
pub struct InMemoryKeyValueStore {
    name: String,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl InMemoryKeyValueStore {
    /// An empty store called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            map: BTreeMap::new(),
        }
    }

    /// The exact number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl KeyValueStore for InMemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        match self.map.get_mut(key) {
            Some(old) => {
                old.clear();
                old.extend_from_slice(value);
            }
            None => {
                self.map.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.remove(key))
    }

    fn write_batch(&mut self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        for (key, value) in entries {
            match value {
                Some(value) => self.put(key, value)?,
                None => {
                    self.map.remove(key.as_slice());
                }
            }
        }
        Ok(())
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<Entries, StoreError> {
        // `BTreeMap::range` panics on `from > to`: that range is empty.
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Ok(Vec::new());
            }
        }
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        Ok(self
            .map
            .range::<[u8], _>((lower, upper))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn approximate_num_entries(&self) -> Result<u64, StoreError> {
        Ok(self.map.len() as u64)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
