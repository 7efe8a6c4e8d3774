//! Time-window aggregations (Kafka Streams' `KStreamWindowAggregate`) as
//! generated code runs them: timestamped window stores read and written in
//! place, and the windows a final-result aggregation emits once closed.

use crate::error::{store_error, ProcessError};
use crate::format::timestamped::{decode_timestamped, encode_timestamped, split_timestamped};
use crate::record::RecordContext;
use crate::serde::Serde;
use crate::store::{TaskStores, WindowStore};
use crate::time::Window;

/// Reads the aggregate and its timestamp of `key` in the window starting at `start`.
#[inline]
pub fn window_get<A: Serde>(
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    start: i64,
) -> Result<Option<(A, i64)>, ProcessError> {
    let store = stores.window(index, name)?;
    // Decoded in place: no copy of the stored bytes.
    store
        .fetch_with(key, start, |bytes| {
            bytes.map(|b| decode_timestamped(name, b)).transpose()
        })
        .map_err(|e| store_error(name, e))?
}

/// Stores `value` with timestamp `ts` for `key` in the window starting at
/// `start` (`None` deletes).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn window_put(
    stores: &mut TaskStores,
    index: usize,
    name: &'static str,
    key: &[u8],
    start: i64,
    ts: i64,
    value: Option<&[u8]>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProcessError> {
    let store = stores.window_mut(index, name)?;
    let value = value.map(|v| encode_timestamped(scratch, ts, v));
    store
        .put(key, start, value)
        .map_err(|e| store_error(name, e))
}

/// A closed window to emit: key bytes, start, aggregate bytes, timestamp.
pub type ClosedWindow = (Vec<u8>, i64, Vec<u8>, i64);

/// The windows with `lower <= start <= upper` of window store `index`, as
/// a final-result aggregation emits them: by start, then key bytes (Kafka
/// Streams' time-ordered order), each as (key bytes, start, aggregate
/// bytes, aggregate timestamp).
pub fn closed_windows(
    stores: &TaskStores,
    index: usize,
    name: &'static str,
    lower: i64,
    upper: i64,
) -> Result<Vec<ClosedWindow>, ProcessError> {
    let store = stores.window(index, name)?;
    let mut out = Vec::new();
    for (key, start, bytes) in store
        .fetch_all(lower, upper)
        .map_err(|e| store_error(name, e))?
    {
        let (ts, value) = split_timestamped(&bytes)
            .ok_or_else(|| store_error(name, "an entry without a timestamp"))?;
        out.push((key, start, value.to_vec(), ts));
    }
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(out)
}

/// A record for a window that has already closed (its end + grace is at or
/// before stream time): dropped, as Kafka Streams drops it, logged here and
/// counted by the generated code (`dropped_records`).
#[cold]
pub fn late_record(processor: &'static str, ctx: &RecordContext<'_>, window: Window) {
    tracing::debug!(
        processor,
        topic = ctx.topic,
        partition = ctx.partition,
        offset = ctx.offset,
        timestamp = ctx.timestamp,
        window_start = window.start,
        window_end = window.end,
        "skipping record for an expired window"
    );
}
