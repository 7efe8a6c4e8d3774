//! Sliding windows (Kafka Streams' `SlidingWindows`): windows of a fixed
//! time difference `d` that exist only where records are, `[start, start +
//! d]` with both bounds inclusive. A record at `t` has a *left* window `[t -
//! d, t]` ending at it and, when a later record of the key falls within `d`
//! of it, a *right* window `[t + 1, t + 1 + d]` starting just after it; it
//! is added to every existing window that contains it.
//!
//! [`SlidingWindows::steps`] is Kafka Streams' `KStreamSlidingWindowAggregate`
//! (its reverse-iterator path, which both of its stores take, and the path
//! for records earlier than `d`) as a pure function: given the key's windows
//! found around `t`, it returns the store writes to make, in Kafka Streams'
//! order. Generated code applies the aggregator and writes and forwards each.

use crate::time::Window;
use std::time::Duration;

/// Sliding windows: a time difference and a grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    difference_ms: i64,
    grace_ms: i64,
    retention_ms: Option<i64>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SlidingWindows {
    /// Windows of `difference` with a grace period for out-of-order records.
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        assert!(
            !difference.is_zero(),
            "a sliding window's time difference must be larger than zero"
        );
        SlidingWindows {
            difference_ms: millis(difference),
            grace_ms: millis(grace),
            retention_ms: None,
        }
    }

    /// Keeps windows in the store for `retention` instead of the default
    /// (twice the time difference + grace): Kafka Streams' `Materialized.withRetention`. Longer
    /// retention lets `emit_strategy(EmitStrategy::on_window_close())` find
    /// windows after they close (with the default, a store expires them as
    /// they close). Panics if shorter than the default (Kafka Streams throws
    /// `IllegalArgumentException`).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        let ms = millis(retention);
        assert!(
            ms >= self.default_retention_ms(),
            "the retention must be at least twice the time difference + grace"
        );
        self.retention_ms = Some(ms);
        self
    }

    /// Windows of `difference` without grace: a record older than stream
    /// time minus the difference is dropped.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }

    /// The time difference in milliseconds (a window's length, inclusive).
    pub fn difference_ms(&self) -> i64 {
        self.difference_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// How long the window store keeps windows: grace + twice the
    /// difference (Kafka Streams' default for sliding windows).
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
            .unwrap_or_else(|| self.default_retention_ms())
    }

    fn default_retention_ms(&self) -> i64 {
        self.grace_ms
            .saturating_add(self.difference_ms.saturating_mul(2))
    }

    /// The window starting at `start`: `end` = start + difference (inclusive).
    pub fn window_at(&self, start: i64) -> Window {
        Window {
            start,
            end: start.saturating_add(self.difference_ms),
        }
    }

    /// The window starts to read from the store (inclusive) before
    /// processing a record at `timestamp`.
    pub fn fetch_range(&self, timestamp: i64) -> (i64, i64) {
        let from = if timestamp < self.difference_ms {
            0
        } else {
            (timestamp - 2 * self.difference_ms).max(0)
        };
        (from, timestamp + 1)
    }

    /// Whether a record at `timestamp` is too late for every window it
    /// would fall into, at `close_time` (stream time minus grace).
    pub fn too_late(&self, timestamp: i64, close_time: i64) -> bool {
        timestamp.saturating_add(self.difference_ms) < close_time
    }

    /// The writes a record at `ts` makes, given the key's `existing`
    /// windows in [`fetch_range`](Self::fetch_range) as (start, aggregate
    /// bytes, aggregate timestamp) by ascending start, and `close_time`.
    /// Windows that closed are skipped and counted in `expired`.
    pub fn steps<'a>(
        &self,
        existing: &'a [(i64, Vec<u8>, i64)],
        ts: i64,
        close_time: i64,
        expired: &mut u64,
    ) -> Vec<SlidingStep<'a>> {
        let mut steps = Steps {
            windows: self,
            close_time,
            ts,
            out: Vec::new(),
            expired: 0,
        };
        if ts < self.difference_ms {
            steps.early(existing);
        } else {
            steps.reverse(existing);
        }
        *expired += steps.expired;
        steps.out
    }
}

/// One write of a record to a sliding window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlidingStep<'a> {
    /// Aggregate the record into `window`, starting from `base` (aggregate
    /// bytes and the timestamp to take the maximum with) or, when `None`,
    /// from the initializer; write and forward the result.
    Aggregate {
        /// The window.
        window: Window,
        /// The aggregate so far and its timestamp, or `None`.
        base: Option<(&'a [u8], i64)>,
    },
    /// Write `value` (with timestamp `timestamp`) unchanged into `window`
    /// and forward it: the record's right window, holding the later records.
    Copy {
        /// The window.
        window: Window,
        /// The aggregate bytes.
        value: &'a [u8],
        /// Its timestamp.
        timestamp: i64,
    },
}

struct Steps<'w, 'a> {
    windows: &'w SlidingWindows,
    close_time: i64,
    ts: i64,
    out: Vec<SlidingStep<'a>>,
    expired: u64,
}

type Existing = (i64, Vec<u8>, i64);

impl<'a> Steps<'_, 'a> {
    fn d(&self) -> i64 {
        self.windows.difference_ms
    }

    /// `updateWindowAndForward`: only windows not yet closed.
    fn aggregate(&mut self, start: i64, base: Option<(&'a [u8], i64)>) {
        let window = self.windows.window_at(start);
        if window.end >= self.close_time {
            self.out.push(SlidingStep::Aggregate { window, base });
        } else {
            self.expired += 1;
        }
    }

    /// `createCurrentRecordRightWindow`.
    fn copy(&mut self, start: i64, existing: &'a Existing) {
        self.out.push(SlidingStep::Copy {
            window: self.windows.window_at(start),
            value: &existing.1,
            timestamp: existing.2,
        });
    }

    /// `processReverse` then `createWindows`.
    fn reverse(&mut self, existing: &'a [Existing]) {
        let ts = self.ts;
        let mut left: Option<&'a Existing> = None;
        let mut right: Option<&'a Existing> = None;
        let (mut left_created, mut right_created) = (false, false);
        let mut previous: Option<i64> = None;
        let mut starts = Vec::new();
        for window in existing.iter().rev() {
            let (start, ref value, max_ts) = *window;
            starts.push(start);
            let end = start + self.d();
            if start == ts + 1 {
                right_created = true;
            } else if end > ts {
                right.get_or_insert(window);
                self.aggregate(start, Some((value, max_ts)));
            } else if end == ts {
                left_created = true;
                self.aggregate(start, Some((value, max_ts)));
                if max_ts < ts {
                    previous = Some(max_ts);
                } else {
                    return;
                }
            } else {
                left = Some(window);
                previous = Some(max_ts);
                break;
            }
        }
        // The previous record's right window, if the record falls into it.
        if let Some(previous) = previous {
            let start = previous + 1;
            if !starts.contains(&start) && start + self.d() >= ts {
                self.aggregate(start, None);
            }
        }
        // The record's left window.
        if !left_created {
            let base = match (previous, left) {
                (Some(p), Some(l)) if ts - self.d() <= p => Some((l.1.as_slice(), ts)),
                _ => None,
            };
            self.aggregate(ts - self.d(), base);
        }
        // The record's right window, if later records fall into it.
        if let Some(r) = right.filter(|r| !right_created && r.2 > ts) {
            self.copy(ts + 1, r);
        }
    }

    /// `processEarly`: a record before `d` goes into the window `[0, d]`.
    fn early(&mut self, existing: &'a [Existing]) {
        let ts = self.ts;
        let mut combined: Option<&'a Existing> = None;
        let mut right: Option<&'a Existing> = None;
        let mut right_created = false;
        let mut previous: Option<i64> = None;
        let mut starts = Vec::new();
        for window in existing {
            let (start, ref value, max_ts) = *window;
            starts.push(start);
            if start == 0 {
                combined = Some(window);
                if max_ts < ts {
                    previous = Some(max_ts);
                }
            } else if start <= ts {
                right = Some(window);
                self.aggregate(start, Some((value, max_ts)));
            } else if start == ts + 1 {
                right_created = true;
            }
        }
        if right.is_none() {
            right = combined.filter(|c| c.2 > ts);
        }
        if let Some(r) = right.filter(|r| !right_created && r.2 > ts) {
            self.copy(ts + 1, r);
        }
        if let Some(previous) = previous {
            if !starts.contains(&(previous + 1)) {
                self.aggregate(previous + 1, None);
            }
        }
        match combined {
            None => self.aggregate(0, None),
            Some(c) => self.aggregate(0, Some((&c.1, c.2))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(d: i64) -> SlidingWindows {
        SlidingWindows::of_time_difference_and_grace(
            Duration::from_millis(d as u64),
            Duration::from_millis(1000),
        )
    }

    /// A count kept per window, driven by `steps` as generated code drives
    /// it (bases and copies decoded as one byte).
    fn run(windows: &SlidingWindows, records: &[i64]) -> Vec<(i64, i64, u8)> {
        let mut store: Vec<(i64, Vec<u8>, i64)> = Vec::new();
        let mut stream_time = i64::MIN;
        for &ts in records {
            stream_time = stream_time.max(ts);
            let close = stream_time - windows.grace_ms();
            let (from, to) = windows.fetch_range(ts);
            let existing: Vec<_> = store
                .iter()
                .filter(|(s, _, _)| (from..=to).contains(s))
                .cloned()
                .collect();
            let mut expired = 0;
            let writes: Vec<(i64, Vec<u8>, i64)> = windows
                .steps(&existing, ts, close, &mut expired)
                .into_iter()
                .map(|step| match step {
                    SlidingStep::Aggregate { window, base } => {
                        let (n, t) = base.map_or((0, ts), |(b, t)| (b[0], t.max(ts)));
                        (window.start, vec![n + 1], t)
                    }
                    SlidingStep::Copy {
                        window,
                        value,
                        timestamp,
                    } => (window.start, value.to_vec(), timestamp),
                })
                .collect();
            for (start, value, t) in writes {
                store.retain(|(s, _, _)| *s != start);
                store.push((start, value, t));
            }
            store.sort_by_key(|(s, _, _)| *s);
        }
        store.into_iter().map(|(s, v, t)| (s, t, v[0])).collect()
    }

    #[test]
    fn each_record_gets_a_left_window_and_a_right_window_when_needed() {
        // d = 10: records at 20 and 25. Windows: [10,20] {20}, [15,25]
        // {20,25}, [21,31] {25}.
        assert_eq!(
            run(&w(10), &[20, 25]),
            vec![(10, 20, 1), (15, 25, 2), (21, 25, 1)]
        );
    }

    #[test]
    fn an_out_of_order_record_updates_the_windows_containing_it() {
        // 20, 30, then 25: [10,20]{20}, [15,25]{20,25}, [20,30]{20,25,30}
        // (25 added), [21,31]{25,30}, [26,36]{30}.
        assert_eq!(
            run(&w(10), &[20, 30, 25]),
            vec![
                (10, 20, 1),
                (15, 25, 2),
                (20, 30, 3),
                (21, 30, 2),
                (26, 30, 1)
            ]
        );
    }

    #[test]
    fn records_earlier_than_the_difference_share_the_window_from_zero() {
        // d = 10, records at 3 then 5: [0,10] {3,5}, [4,14] {5}.
        assert_eq!(run(&w(10), &[3, 5]), vec![(0, 5, 2), (4, 5, 1)]);
    }

    #[test]
    fn closed_windows_are_skipped() {
        let windows = SlidingWindows::of_time_difference_with_no_grace(Duration::from_millis(10));
        let mut expired = 0;
        // Stream time 100, close time 100: a record at 85 would need [75,85].
        assert!(windows.too_late(85, 100));
        assert!(!windows.too_late(90, 100));
        let steps = windows.steps(&[], 95, 100, &mut expired);
        assert_eq!(steps, vec![]);
        assert_eq!(expired, 1);
    }
}
