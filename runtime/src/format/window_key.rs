//! Kafka Streams' window key (`WindowKeySchema.toStoreKeyBinary`): key
//! bytes, the window start (8 bytes, big-endian), a sequence number (4
//! bytes, 0 without duplicates). Window changelogs are keyed so, and so are
//! a window store's cache entries.

/// Writes the window key of (`key`, `window_start`) into `out`.
pub fn window_changelog_key(key: &[u8], window_start: i64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    out.extend_from_slice(&window_start.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
}

/// Splits a window key into (key, window start).
pub fn split_window_changelog_key(bytes: &[u8]) -> Option<(&[u8], i64)> {
    let (rest, _seq) = bytes.split_last_chunk::<4>()?;
    let (key, start) = rest.split_last_chunk::<8>()?;
    Some((key, i64::from_be_bytes(*start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        window_changelog_key(b"k", 7, &mut out);
        assert_eq!(out, [b'k', 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(split_window_changelog_key(&out), Some((&b"k"[..], 7)));
        assert_eq!(split_window_changelog_key(&out[..5]), None);
    }
}
