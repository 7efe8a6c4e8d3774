//! Session windows (Kafka Streams' `SessionWindows`): per key, records less
//! than an inactivity gap apart belong to one session `[first, last]` (both
//! bounds inclusive); a record that bridges two sessions merges them. The
//! aggregation's runtime half is [`crate::ops::session`].

use std::time::Duration;

/// Session windows: an inactivity gap and a grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap_ms: i64,
    grace_ms: i64,
    retention_ms: Option<i64>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SessionWindows {
    /// Sessions closed by `gap` of inactivity, accepting records up to
    /// `grace` late.
    pub fn of_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Self {
        assert!(
            !gap.is_zero(),
            "a session window's inactivity gap must be larger than zero"
        );
        SessionWindows {
            gap_ms: millis(gap),
            grace_ms: millis(grace),
            retention_ms: None,
        }
    }

    /// Keeps sessions in the store for `retention` instead of the default
    /// (inactivity gap + grace): Kafka Streams' `Materialized.withRetention`. Longer
    /// retention lets `emit_strategy(EmitStrategy::on_window_close())` find
    /// sessions after they close (with the default, a store expires them as
    /// they close). Panics if shorter than the default (Kafka Streams throws
    /// `IllegalArgumentException`).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        let ms = millis(retention);
        assert!(
            ms >= self.default_retention_ms(),
            "the retention must be at least inactivity gap + grace"
        );
        self.retention_ms = Some(ms);
        self
    }

    /// Sessions closed by `gap` of inactivity, without grace.
    pub fn of_inactivity_gap_with_no_grace(gap: Duration) -> Self {
        Self::of_inactivity_gap_and_grace(gap, Duration::ZERO)
    }

    /// The inactivity gap in milliseconds.
    pub fn gap_ms(&self) -> i64 {
        self.gap_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// How long the session store keeps sessions: gap + grace (Kafka
    /// Streams' default).
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
            .unwrap_or_else(|| self.default_retention_ms())
    }

    fn default_retention_ms(&self) -> i64 {
        self.gap_ms.saturating_add(self.grace_ms)
    }

    /// Sessions ending before this are closed, at `stream_time`.
    pub fn close_time(&self, stream_time: i64) -> i64 {
        stream_time
            .saturating_sub(self.grace_ms)
            .saturating_sub(self.gap_ms)
    }
}
