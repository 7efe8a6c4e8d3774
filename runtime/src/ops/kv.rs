//! Timestamped key-value stores as aggregations and tables use them
//! without the record cache: Kafka Streams' `TimestampedKeyValueStore`.

use crate::error::{store_error, ProcessError};
use crate::format::timestamped::{decode_timestamped, encode_timestamped};
use crate::serde::Serde;
use crate::store::{KeyValueStore, TaskStores};

/// Reads the value and its timestamp stored under `key` in store `index`.
#[inline]
pub fn store_get<A: Serde>(
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
) -> Result<Option<(A, i64)>, ProcessError> {
    let store = stores.kv(index, name)?;
    let Some(bytes) = store.get(key).map_err(|e| store_error(name, e))? else {
        return Ok(None);
    };
    decode_timestamped(name, &bytes).map(Some)
}

/// Stores `value` with timestamp `ts` under `key` (`None` deletes).
#[inline]
pub fn store_put(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    ts: i64,
    value: Option<&[u8]>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProcessError> {
    let store = stores.kv_mut(index, name)?;
    let result = match value {
        Some(v) => store.put(key, encode_timestamped(scratch, ts, v)),
        None => store.delete(key).map(drop),
    };
    result.map_err(|e| store_error(name, e))
}
