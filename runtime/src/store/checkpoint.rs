//! A task's `.checkpoint` file: the changelog offsets up to which its
//! persistent stores are on disk, in Kafka Streams' `OffsetCheckpoint`
//! format, so that a restart restores from there instead of from the start:
//!
//! ```text
//! 0
//! 2
//! app-counts-changelog 0 1234
//! app-counts-changelog 1 99
//! ```
//!
//! Line 1 is the format version (`0`), line 2 the number of entries, then one
//! `topic partition offset` line per entry, separated by spaces.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The only format version (Kafka Streams' `OffsetCheckpoint.VERSION`).
const VERSION: i32 = 0;

/// Changelog offsets by `(topic, partition)`.
pub type Offsets = BTreeMap<(String, i32), i64>;

/// Reads a checkpoint file. A missing file is an empty map (no checkpoint
/// yet); a file not in the format is [`StoreError::Corrupt`].
pub fn read(path: &Path) -> Result<Offsets, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Offsets::new()),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(corrupt(path, "not UTF-8 text".to_owned()))
        }
        Err(source) => return Err(io_error(path, source)),
    };
    parse(&text).map_err(|reason| corrupt(path, reason))
}

fn parse(text: &str) -> Result<Offsets, String> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let mut next_line = |what: &str| {
        lines
            .next()
            .ok_or_else(|| format!("file ended before the {what}"))
    };
    let (n, line) = next_line("version")?;
    let version: i32 = number(n, line.trim(), "version")?;
    if version != VERSION {
        return Err(format!("line {n}: unknown version {version}"));
    }
    let (n, line) = next_line("entry count")?;
    let count: usize = number(n, line.trim(), "entry count")?;
    let mut offsets = Offsets::new();
    for _ in 0..count {
        let (n, line) = next_line("last entry")
            .map_err(|_| format!("expected {count} entries, found {}", offsets.len()))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [topic, partition, offset] = fields[..] else {
            return Err(format!(
                "line {n}: expected `topic partition offset`, found {line:?}"
            ));
        };
        let partition: i32 = number(n, partition, "partition")?;
        let offset: i64 = number(n, offset, "offset")?;
        if offsets
            .insert((topic.to_owned(), partition), offset)
            .is_some()
        {
            return Err(format!("line {n}: duplicate entry for {topic}-{partition}"));
        }
    }
    if let Some((n, line)) = lines.find(|(_, line)| !line.trim().is_empty()) {
        return Err(format!(
            "line {n}: more than the {count} entries announced: {line:?}"
        ));
    }
    Ok(offsets)
}

fn number<T: std::str::FromStr>(line_no: usize, text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("line {line_no}: {what} is not a number: {text:?}"))
}

/// Writes a checkpoint file atomically: to `<path>.tmp` first, synced to
/// disk, then renamed over `path` (and the directory synced), so a crash
/// leaves the old file or the new one, never a partial one.
pub fn write(path: &Path, offsets: &Offsets) -> Result<(), StoreError> {
    let mut text = format!("{VERSION}\n{}\n", offsets.len());
    for ((topic, partition), offset) in offsets {
        if topic.is_empty() || topic.contains(char::is_whitespace) {
            return Err(StoreError::Backend {
                store: label(path),
                reason: format!("cannot checkpoint topic {topic:?}: not a valid topic name"),
            });
        }
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    let tmp = tmp_path(path);
    let write_tmp = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    write_tmp().map_err(|source| io_error(&tmp, source))?;
    fs::rename(&tmp, path).map_err(|source| io_error(path, source))?;
    // Make the rename itself durable.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| io_error(dir, source))?;
    }
    Ok(())
}

/// `<path>.tmp`, as Kafka Streams names it.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

fn label(path: &Path) -> String {
    path.display().to_string()
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::Corrupt {
        store: label(path),
        reason,
    }
}

fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        store: label(path),
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kv::tests::TempDir;

    fn offsets(entries: &[(&str, i32, i64)]) -> Offsets {
        entries
            .iter()
            .map(|&(t, p, o)| ((t.to_owned(), p), o))
            .collect()
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = TempDir::new("checkpoint-missing");
        assert_eq!(
            read(&dir.path().join(".checkpoint")).unwrap(),
            Offsets::new()
        );
    }

    #[test]
    fn round_trip_in_kafka_format() {
        let dir = TempDir::new("checkpoint-round-trip");
        let path = dir.path().join(".checkpoint");
        let map = offsets(&[("app-b-changelog", 1, 99), ("app-a-changelog", 0, 1234)]);
        write(&path, &map).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "0\n2\napp-a-changelog 0 1234\napp-b-changelog 1 99\n"
        );
        assert_eq!(read(&path).unwrap(), map);
        assert!(!tmp_path(&path).exists(), "the temporary file is renamed");

        // Overwrite, and an empty map.
        let map = offsets(&[("app-a-changelog", 0, 2000)]);
        write(&path, &map).unwrap();
        assert_eq!(read(&path).unwrap(), map);
        write(&path, &Offsets::new()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n0\n");
        assert_eq!(read(&path).unwrap(), Offsets::new());
    }

    #[test]
    fn reads_what_kafka_streams_writes() {
        let dir = TempDir::new("checkpoint-kafka");
        let path = dir.path().join(".checkpoint");
        // Extra spaces and no final newline are accepted.
        fs::write(&path, "0\n2\nt 0 5\nt  1   -4").unwrap();
        assert_eq!(read(&path).unwrap(), offsets(&[("t", 0, 5), ("t", 1, -4)]));
    }

    #[test]
    fn malformed_files_are_corrupt() {
        let dir = TempDir::new("checkpoint-malformed");
        let path = dir.path().join(".checkpoint");
        for (text, expected) in [
            ("", "file ended before the version"),
            ("1\n0\n", "unknown version 1"),
            ("x\n0\n", "version is not a number"),
            ("0\n", "file ended before the entry count"),
            ("0\n-1\n", "entry count is not a number"),
            ("0\n2\nt 0 5\n", "expected 2 entries, found 1"),
            ("0\n1\nt 0\n", "expected `topic partition offset`"),
            ("0\n1\nt 0 5 6\n", "expected `topic partition offset`"),
            ("0\n1\n\n", "expected `topic partition offset`"),
            ("0\n1\nt x 5\n", "partition is not a number"),
            ("0\n1\nt 0 5x\n", "offset is not a number"),
            ("0\n2\nt 0 5\nt 0 6\n", "duplicate entry for t-0"),
            ("0\n1\nt 0 5\nt 1 6\n", "more than the 1 entries announced"),
        ] {
            fs::write(&path, text).unwrap();
            match read(&path) {
                Err(StoreError::Corrupt { store, reason }) => {
                    assert!(reason.contains(expected), "{text:?}: {reason}");
                    assert_eq!(store, path.display().to_string());
                }
                other => panic!("{text:?}: expected Corrupt, got {other:?}"),
            }
        }
        fs::write(&path, [0xff, 0xfe, b'\n']).unwrap();
        assert!(matches!(read(&path), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn io_errors_are_reported() {
        let dir = TempDir::new("checkpoint-io");
        // A directory where the file should be: reading fails (not NotFound).
        let path = dir.path().join(".checkpoint");
        fs::create_dir(&path).unwrap();
        assert!(matches!(read(&path), Err(StoreError::Io { .. })));
        // Writing into a missing directory fails cleanly.
        let path = dir.path().join("missing").join(".checkpoint");
        let err = write(&path, &offsets(&[("t", 0, 1)])).unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
    }

    #[test]
    fn invalid_topic_names_are_refused() {
        let dir = TempDir::new("checkpoint-topic");
        let path = dir.path().join(".checkpoint");
        for topic in ["", "a b", "a\nb"] {
            let err = write(&path, &offsets(&[(topic, 0, 1)])).unwrap_err();
            assert!(matches!(err, StoreError::Backend { .. }), "{err}");
        }
        assert!(!path.exists());
    }
}
