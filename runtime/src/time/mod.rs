//! Event time: windows and windowed keys, with Kafka Streams' semantics.
//!
//! Time windows are aligned to the epoch and half-open, `[start, end)`; a
//! window closes when the task's stream time (the largest timestamp seen)
//! reaches `end + grace`, and records for closed windows are dropped.

pub mod session;
pub mod sliding;

pub use session::SessionWindows;
pub use sliding::{SlidingStep, SlidingWindows};

use crate::serde::{Serde, SerdeError};
use std::time::Duration;

/// A window: `[start, end)` in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// Inclusive start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

/// A key in a window: the key of windowed aggregations' results
/// (Kafka Streams' `Windowed<K>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Windowed<K> {
    /// The record key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// A windowed key.
    pub fn new(key: K, start: i64, end: i64) -> Self {
        Windowed {
            key,
            window: Window { start, end },
        }
    }

    /// Sets the window's end from its size: the wire format of time windows
    /// carries only the start, so a reader that knows the size restores the
    /// end with this (Kafka Streams' `TimeWindowedDeserializer(windowSize)`).
    pub fn with_window_size(mut self, size: Duration) -> Self {
        self.window.end = end_of(self.window.start, millis(size));
        self
    }
}

fn end_of(start: i64, size: i64) -> i64 {
    // As Kafka Streams: an overflowing end is Long.MAX_VALUE.
    start.checked_add(size).unwrap_or(i64::MAX)
}

/// Time-windowed keys on the wire, as Kafka Streams'
/// `TimeWindowedSerializer`: key bytes, then the start (8 bytes,
/// big-endian). Reading cannot know the window size, so the end is
/// `i64::MAX` (Kafka Streams' default) until [`Windowed::with_window_size`].
impl<K: Serde> Serde for Windowed<K> {
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        if !self.key.serialize(out)? {
            return Ok(false);
        }
        out.extend_from_slice(&self.window.start.to_be_bytes());
        Ok(true)
    }

    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        let bytes = data.ok_or(SerdeError::UnexpectedNull {
            type_name: "Windowed",
        })?;
        let (key, start) = bytes.split_last_chunk::<8>().ok_or(SerdeError::WrongSize {
            type_name: "Windowed",
            expected: 8,
            actual: bytes.len(),
        })?;
        Ok(Windowed::new(
            K::deserialize(Some(key))?,
            i64::from_be_bytes(*start),
            i64::MAX,
        ))
    }

    fn is_null(&self) -> bool {
        self.key.is_null()
    }
}

/// A session-windowed key on the wire, as Kafka Streams'
/// `SessionWindowedSerializer`: key bytes, then the session's end and start
/// (8 bytes each, big-endian). Session aggregations produce [`Windowed`]
/// keys; wrap them to write a topic that Kafka Streams (or another weir
/// application) reads with `WindowedSerdes.sessionWindowedSerdeFrom(..)`:
/// `.to_stream().map(|k, v| (SessionWindowed(k), v)).to("sessions")`.
/// ([`Windowed`]'s own format is the time-windowed one, which carries only
/// the start.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionWindowed<K>(pub Windowed<K>);

impl<K> From<Windowed<K>> for SessionWindowed<K> {
    fn from(windowed: Windowed<K>) -> Self {
        SessionWindowed(windowed)
    }
}

impl<K: Serde> Serde for SessionWindowed<K> {
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        if !self.0.key.serialize(out)? {
            return Ok(false);
        }
        out.extend_from_slice(&self.0.window.end.to_be_bytes());
        out.extend_from_slice(&self.0.window.start.to_be_bytes());
        Ok(true)
    }

    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        let bytes = data.ok_or(SerdeError::UnexpectedNull {
            type_name: "SessionWindowed",
        })?;
        let (key, times) = bytes
            .split_last_chunk::<16>()
            .ok_or(SerdeError::WrongSize {
                type_name: "SessionWindowed",
                expected: 16,
                actual: bytes.len(),
            })?;
        let (end, start) = times.split_at(8);
        let be = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        Ok(SessionWindowed(Windowed::new(
            K::deserialize(Some(key))?,
            be(start),
            be(end),
        )))
    }

    fn is_null(&self) -> bool {
        self.0.key.is_null()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Tumbling and hopping windows: Kafka Streams' `TimeWindows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size_ms: i64,
    advance_ms: i64,
    grace_ms: i64,
    retention_ms: Option<i64>,
}

impl TimeWindows {
    /// Tumbling windows of `size` that close as soon as stream time passes
    /// their end. Panics if `size` is zero (Kafka Streams throws
    /// `IllegalArgumentException`); with a literal the compiler reports it.
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept out-of-order records until
    /// stream time passes `end + grace`.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size_ms = millis(size);
        assert!(size_ms > 0, "window size must be larger than zero");
        TimeWindows {
            size_ms,
            advance_ms: size_ms,
            grace_ms: millis(grace),
            retention_ms: None,
        }
    }

    /// Keeps windows in the store for `retention` instead of the default
    /// (window size + grace): Kafka Streams' `Materialized.withRetention`. Longer
    /// retention lets `emit_strategy(EmitStrategy::on_window_close())` find
    /// windows after they close (with the default, a store expires them as
    /// they close). Panics if shorter than the default (Kafka Streams throws
    /// `IllegalArgumentException`).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        let ms = millis(retention);
        assert!(
            ms >= self.default_retention_ms(),
            "the retention must be at least window size + grace"
        );
        self.retention_ms = Some(ms);
        self
    }

    /// Hopping windows: a new window every `advance` (0 < advance <= size).
    pub fn advance_by(self, advance: Duration) -> Self {
        let advance_ms = millis(advance);
        assert!(
            advance_ms > 0 && advance_ms <= self.size_ms,
            "window advance must be larger than zero and at most the window size"
        );
        TimeWindows { advance_ms, ..self }
    }

    /// Window size in ms.
    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// Advance in ms (= size for tumbling windows).
    pub fn advance_ms(&self) -> i64 {
        self.advance_ms
    }

    /// Grace period in ms.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// How long the window store keeps windows: size + grace (Kafka
    /// Streams' default retention for windowed aggregations), or what
    /// [`TimeWindows::with_retention`] set.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
            .unwrap_or_else(|| self.default_retention_ms())
    }

    fn default_retention_ms(&self) -> i64 {
        self.size_ms.saturating_add(self.grace_ms)
    }

    /// The window that starts at `start` (a window store key's window).
    pub fn window_at(&self, start: i64) -> Window {
        Window {
            start,
            end: end_of(start, self.size_ms),
        }
    }

    /// The windows containing `timestamp`, by ascending start, aligned to
    /// the epoch (Kafka Streams' `TimeWindows.windowsFor`).
    pub fn windows_for(&self, timestamp: i64) -> impl Iterator<Item = Window> + '_ {
        let first =
            (timestamp - self.size_ms + self.advance_ms).max(0) / self.advance_ms * self.advance_ms;
        let size = self.size_ms;
        let advance = self.advance_ms;
        (0..)
            .map(move |i: i64| first + i * advance)
            .take_while(move |&start| start <= timestamp)
            .map(move |start| Window {
                start,
                end: end_of(start, size),
            })
    }
}

/// When a windowed aggregation emits (Kafka Streams' `EmitStrategy`):
/// written inside a topology, `windowed_by(..).emit_strategy(..)`, and read
/// by the compiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitStrategy {
    /// Every update (the default).
    OnWindowUpdate,
    /// Only the final result, once the window has closed.
    OnWindowClose,
}

impl EmitStrategy {
    /// Only final results, once windows close.
    pub fn on_window_close() -> Self {
        EmitStrategy::OnWindowClose
    }

    /// Every update (the default).
    pub fn on_window_update() -> Self {
        EmitStrategy::OnWindowUpdate
    }
}

/// When a punctuation fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PunctuationType {
    /// As stream time (the largest record timestamp the task has seen)
    /// passes each multiple of the interval; the first as soon as there is
    /// data.
    StreamTime,
    /// Every interval of wall-clock time, from when it was scheduled.
    WallClockTime,
}

/// The system's wall-clock time in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(w: &TimeWindows, ts: i64) -> Vec<(i64, i64)> {
        w.windows_for(ts).map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_are_aligned_and_half_open() {
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(10));
        assert_eq!(starts(&w, 0), [(0, 10)]);
        assert_eq!(starts(&w, 9), [(0, 10)]);
        assert_eq!(starts(&w, 10), [(10, 20)]);
        assert_eq!(starts(&w, 25), [(20, 30)]);
    }

    #[test]
    fn hopping_windows_overlap() {
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(10))
            .advance_by(Duration::from_millis(5));
        assert_eq!(starts(&w, 3), [(0, 10)]);
        assert_eq!(starts(&w, 7), [(0, 10), (5, 15)]);
        assert_eq!(starts(&w, 10), [(5, 15), (10, 20)]);
        let w = TimeWindows::of_size_and_grace(Duration::from_millis(10), Duration::from_millis(3))
            .advance_by(Duration::from_millis(3));
        assert_eq!(starts(&w, 12), [(3, 13), (6, 16), (9, 19), (12, 22)]);
        assert_eq!(w.retention_ms(), 13);
    }

    #[test]
    #[should_panic(expected = "window size must be larger than zero")]
    fn zero_size_is_refused() {
        let _ = TimeWindows::of_size_with_no_grace(Duration::ZERO);
    }

    #[test]
    fn windowed_keys_match_kafka_streams_wire_format() {
        let w = Windowed::new("k".to_string(), 1000, 2000);
        let bytes = crate::serde::to_bytes(&w).unwrap().unwrap();
        assert_eq!(bytes, [b'k', 0, 0, 0, 0, 0, 0, 3, 232]);
        let back = Windowed::<String>::deserialize(Some(&bytes)).unwrap();
        assert_eq!(back, Windowed::new("k".to_string(), 1000, i64::MAX));
        assert_eq!(back.with_window_size(Duration::from_secs(1)), w);
    }

    #[test]
    fn session_windowed_keys_match_kafka_streams_wire_format() {
        // SessionKeySchema.toBinary: key, end, start.
        let w = SessionWindowed(Windowed::new("k".to_string(), 1000, 2000));
        let bytes = crate::serde::to_bytes(&w).unwrap().unwrap();
        assert_eq!(
            bytes,
            [b'k', 0, 0, 0, 0, 0, 0, 7, 208, 0, 0, 0, 0, 0, 0, 3, 232]
        );
        assert_eq!(
            SessionWindowed::<String>::deserialize(Some(&bytes)).unwrap(),
            w
        );
        assert!(SessionWindowed::<String>::deserialize(Some(&bytes[..15])).is_err());
    }
}
