//! Kafka Streams' `ValueAndTimestamp` layout of timestamped stores:
//! `[timestamp: 8 bytes, big-endian][value]`. Changelog records carry the
//! plain value and the timestamp as the record's; restoration joins them.

use crate::error::{store_error, ProcessError};
use crate::serde::Serde;

/// Splits a timestamped store value into timestamp and plain value.
#[inline]
pub fn split_timestamped(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let (ts, value) = bytes.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*ts), value))
}

/// [`split_timestamped`], a store error when the entry has no timestamp.
pub fn split_stored<'b>(name: &str, bytes: &'b [u8]) -> Result<(i64, &'b [u8]), ProcessError> {
    split_timestamped(bytes).ok_or_else(|| {
        store_error(
            name,
            format!("entry of {} bytes has no timestamp", bytes.len()),
        )
    })
}

/// Decodes a timestamped store value into the value and its timestamp.
pub fn decode_timestamped<A: Serde>(name: &str, bytes: &[u8]) -> Result<(A, i64), ProcessError> {
    let (ts, value) = split_stored(name, bytes)?;
    let value = A::deserialize(Some(value))
        .map_err(|e| store_error(name, format!("cannot deserialize a stored value: {e}")))?;
    Ok((value, ts))
}

/// Encodes `[ts][value]` into `scratch`.
#[inline]
pub fn encode_timestamped<'s>(scratch: &'s mut Vec<u8>, ts: i64, value: &[u8]) -> &'s [u8] {
    scratch.clear();
    scratch.extend_from_slice(&ts.to_be_bytes());
    scratch.extend_from_slice(value);
    scratch
}

/// `[ts][value]` as a new buffer (a cache entry, a restored value).
#[inline]
pub fn timestamped(ts: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// A changelog record as a store value: its timestamp then its value; a
/// null value is a deletion (`None`).
pub fn store_value(timestamp: i64, value: Option<&[u8]>) -> Option<Vec<u8>> {
    value.map(|v| timestamped(timestamp, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut scratch = Vec::new();
        let bytes = encode_timestamped(&mut scratch, 42, b"v").to_vec();
        assert_eq!(bytes, [0, 0, 0, 0, 0, 0, 0, 42, b'v']);
        assert_eq!(split_timestamped(&bytes), Some((42, &b"v"[..])));
        assert_eq!(store_value(42, Some(b"v")), Some(bytes));
        assert_eq!(store_value(42, None), None);
        assert!(split_timestamped(&[1, 2]).is_none());
        assert!(split_stored("s", &[1, 2]).is_err());
    }
}
