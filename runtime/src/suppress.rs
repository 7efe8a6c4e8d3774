//! `suppress(..)`'s configuration (Kafka Streams' `Suppressed`): until a
//! window closes, or until a time limit, with a bounded or unbounded
//! buffer. The buffer itself is [`crate::ops::suppress`].

use std::time::Duration;

/// What to do when a bounded buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Emit the oldest entries early (Kafka Streams' `emitEarlyWhenFull`).
    EmitEarly,
    /// Stop with an error (Kafka Streams' `shutDownWhenFull`).
    ShutDown,
}

/// Buffer bounds: Kafka Streams' `Suppressed.BufferConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    pub(crate) max_records: Option<usize>,
    when_full: WhenFull,
}

/// No bound on the buffer (Kafka Streams' `BufferConfig.unbounded()`).
pub fn unbounded() -> BufferConfig {
    BufferConfig {
        max_records: None,
        when_full: WhenFull::ShutDown,
    }
}

/// At most `n` buffered keys; when full the oldest are emitted early
/// (Kafka Streams' `BufferConfig.maxRecords(n)`).
pub fn max_records(n: usize) -> BufferConfig {
    BufferConfig {
        max_records: Some(n),
        when_full: WhenFull::EmitEarly,
    }
}

impl BufferConfig {
    /// What happens when the buffer is full.
    pub fn when_full(&self) -> WhenFull {
        self.when_full
    }

    /// When full, emit the oldest entries early.
    pub fn emit_early_when_full(self) -> Self {
        BufferConfig {
            when_full: WhenFull::EmitEarly,
            ..self
        }
    }
    /// When full, stop processing with an error.
    pub fn shut_down_when_full(self) -> Self {
        BufferConfig {
            when_full: WhenFull::ShutDown,
            ..self
        }
    }
}

/// How long to hold updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// Until the window closes (window end + the windows' grace).
    UntilWindowCloses,
    /// Until this many ms after the first buffered update's record time.
    UntilTimeLimit(i64),
}

/// A suppression: Kafka Streams' `Suppressed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressed {
    /// How long to hold updates.
    pub suppression: Suppression,
    /// Buffer bounds.
    pub buffer: BufferConfig,
}

/// Only the final result of each window, once it closes
/// (Kafka Streams' `Suppressed.untilWindowCloses`).
pub fn until_window_closes(buffer: BufferConfig) -> Suppressed {
    Suppressed {
        suppression: Suppression::UntilWindowCloses,
        buffer,
    }
}

/// The latest update of each key, at most once per `limit` of stream time
/// (Kafka Streams' `Suppressed.untilTimeLimit`).
pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Suppressed {
    Suppressed {
        suppression: Suppression::UntilTimeLimit(
            i64::try_from(limit.as_millis()).unwrap_or(i64::MAX),
        ),
        buffer,
    }
}

impl Suppressed {
    /// [`until_window_closes`], as Kafka Streams spells it.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        until_window_closes(buffer)
    }
    /// [`until_time_limit`], as Kafka Streams spells it.
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        until_time_limit(limit, buffer)
    }
}

impl BufferConfig {
    /// [`unbounded`], as Kafka Streams spells it.
    pub fn unbounded() -> Self {
        unbounded()
    }
    /// [`max_records`], as Kafka Streams spells it.
    pub fn max_records(n: usize) -> Self {
        max_records(n)
    }
}
