//! What the stateful benchmarks share: the collector that takes every
//! produced record as a producer would, and a task directory of their own.

use std::path::PathBuf;
use weir::plan::SinkTopic;
use weir::{ProcessError, RecordCollector, RecordContext};

/// Takes every produced record (output and changelog) the way a producer
/// does: appends key, value and timestamp to a batch buffer (flushed every
/// 64 KiB), folding what it flushes into a checksum so no work can be
/// elided. As in `fused_chain.rs` (which folds 8-byte words).
pub struct Checksum {
    batch: Vec<u8>,
    pub records: u64,
    pub sum: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            batch: Vec::with_capacity(1 << 16),
            records: 0,
            sum: 0,
        }
    }
}

impl Checksum {
    #[inline]
    pub fn add(&mut self, key: Option<&[u8]>, value: Option<&[u8]>, timestamp: i64) {
        self.records += 1;
        self.batch.extend_from_slice(key.unwrap_or_default());
        self.batch.extend_from_slice(value.unwrap_or_default());
        self.batch.extend_from_slice(&timestamp.to_le_bytes());
        if self.batch.len() >= (1 << 16) - 64 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let words = self
            .batch
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()));
        self.sum = words.fold(self.sum, |a, w| a.rotate_left(7) ^ u64::from(w));
        self.batch.clear();
    }

    pub fn finish(mut self) -> Self {
        self.flush();
        self
    }
}

impl RecordCollector for Checksum {
    #[inline]
    fn send(
        &mut self,
        _topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        context: &RecordContext<'_>,
    ) -> Result<(), ProcessError> {
        self.add(key, value, context.timestamp);
        Ok(())
    }
    fn print(&mut self, _line: std::fmt::Arguments<'_>) {}
}

/// A task directory of its own under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `bench`.
    pub fn new(bench: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "weir-bench-{bench}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creates the task directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
