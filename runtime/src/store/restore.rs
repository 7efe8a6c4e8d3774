//! Rebuilding stores from changelog records: the Kafka runtime's restoration
//! and the test driver's simulated restart share this.

use super::{
    split_window_changelog_key, KeyValueStore, KvStore, StoreError, WinStore, WindowStore,
};
pub use crate::format::timestamped::store_value;

/// Entries restored per write batch.
pub const RESTORE_BATCH: usize = 1000;

/// A task's store of either kind, as restoration writes to it.
pub enum StoreMut<'a> {
    /// A key-value store: the changelog key is the store key.
    KeyValue(&'a mut KvStore),
    /// A session store: the changelog key is the store key, and its values
    /// are plain (not timestamped).
    Session(&'a mut KvStore),
    /// A window store: the changelog key is the windowed key
    /// ([`crate::store::window_changelog_key`]).
    Window(&'a mut WinStore),
}

impl StoreMut<'_> {
    /// Whether the store survives a restart on its own (RocksDB).
    pub fn persistent(&self) -> bool {
        match self {
            StoreMut::KeyValue(s) | StoreMut::Session(s) => s.persistent(),
            StoreMut::Window(s) => s.persistent(),
        }
    }

    /// Applies changelog entries (changelog key, timestamped value or
    /// `None` for a deletion), in order.
    pub fn apply(&mut self, batch: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        match self {
            StoreMut::KeyValue(s) => s.write_batch(batch),
            StoreMut::Session(s) => {
                // The entries come timestamped, as for every store: a
                // session store keeps the plain value.
                let plain: Vec<(Vec<u8>, Option<Vec<u8>>)> = batch
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_ref().map(|v| v[8.min(v.len())..].to_vec())))
                    .collect();
                s.write_batch(&plain)
            }
            StoreMut::Window(s) => {
                for (key, value) in batch {
                    let (key, start) =
                        split_window_changelog_key(key).ok_or_else(|| StoreError::Corrupt {
                            store: s.name().to_owned(),
                            reason: format!(
                                "a changelog key of {} bytes is not a windowed key",
                                key.len()
                            ),
                        })?;
                    s.put(key, start, value.as_deref())?;
                }
                Ok(())
            }
        }
    }

    /// Deletes every entry.
    pub fn clear(&mut self) -> Result<(), StoreError> {
        match self {
            StoreMut::KeyValue(s) | StoreMut::Session(s) => {
                let keys: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                    s.all()?.into_iter().map(|(k, _)| (k, None)).collect();
                for chunk in keys.chunks(RESTORE_BATCH) {
                    s.write_batch(chunk)?;
                }
                s.flush()
            }
            StoreMut::Window(s) => {
                for (key, start, _) in s.all()? {
                    s.put(&key, start, None)?;
                }
                s.flush()
            }
        }
    }
}
