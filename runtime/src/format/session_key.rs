//! Kafka Streams' session key (`SessionKeySchema`): key bytes, then the
//! session end and start (8 bytes big-endian each). Session stores are
//! key-value stores keyed so, with plain aggregates as values, so their
//! changelogs are byte-compatible with Kafka Streams'.

use crate::time::Window;

/// Writes the session key of (`key`, `window`) into `out`.
pub fn session_key(key: &[u8], window: Window, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    out.extend_from_slice(&window.end.to_be_bytes());
    out.extend_from_slice(&window.start.to_be_bytes());
}

/// Splits a session key into the key bytes and the session.
pub fn split_session_key(bytes: &[u8]) -> Option<(&[u8], Window)> {
    let (rest, start) = bytes.split_last_chunk::<8>()?;
    let (key, end) = rest.split_last_chunk::<8>()?;
    Some((
        key,
        Window {
            start: i64::from_be_bytes(*start),
            end: i64::from_be_bytes(*end),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_comes_before_start() {
        let mut out = Vec::new();
        session_key(b"k", Window { start: 1, end: 2 }, &mut out);
        assert_eq!(out[1..9], 2i64.to_be_bytes());
        assert_eq!(
            split_session_key(&out),
            Some((&b"k"[..], Window { start: 1, end: 2 }))
        );
    }
}
