//! Punctuation schedules, as Kafka Streams' `PunctuationQueue` and
//! `PunctuationSchedule`.

use super::{Punctuation, PunctuationType};

/// One scheduled punctuation (Kafka Streams' `PunctuationSchedule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Schedule {
    id: usize,
    kind: PunctuationType,
    interval: i64,
    next: i64,
}

/// A processor's scheduled punctuations.
#[derive(Debug, Clone, Default)]
pub struct Schedules {
    list: Vec<Schedule>,
    /// Ids are never reused, also after a cancellation.
    next_id: usize,
}

impl Schedules {
    pub(crate) fn add(
        &mut self,
        kind: PunctuationType,
        interval: i64,
        wall_clock_ms: i64,
    ) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let next = match kind {
            // Aligned to 0: fires as soon as there is data.
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => wall_clock_ms.saturating_add(interval),
        };
        self.list.push(Schedule {
            id,
            kind,
            interval: interval.max(1),
            next,
        });
        id
    }

    /// Removes punctuation `id`; false if there is none (any more).
    pub(crate) fn cancel(&mut self, id: usize) -> bool {
        let before = self.list.len();
        self.list.retain(|s| s.id != id);
        self.list.len() != before
    }

    /// Takes the next punctuation of `kind` due at `now` (earliest first,
    /// then in scheduling order) and schedules its next one, skipping
    /// missed intervals (Kafka Streams' `PunctuationSchedule.next`).
    pub fn next_due(&mut self, kind: PunctuationType, now: i64) -> Option<Punctuation> {
        let s = self
            .list
            .iter_mut()
            .filter(|s| s.kind == kind && s.next <= now)
            .min_by_key(|s| s.next)?;
        let mut next = s.next + s.interval;
        if now >= next {
            let missed = (now - s.next) / s.interval;
            next = s.next + (missed + 1) * s.interval;
        }
        s.next = next;
        Some(Punctuation {
            id: s.id,
            kind,
            timestamp: now,
        })
    }

    /// Whether any punctuation is scheduled.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_time_punctuations_align_to_the_interval_and_skip_missed_ones() {
        let mut s = Schedules::default();
        let id = s.add(PunctuationType::StreamTime, 10, 0);
        // As soon as there is data.
        assert_eq!(
            s.next_due(PunctuationType::StreamTime, 3)
                .map(|p| (p.id, p.timestamp)),
            Some((id, 3))
        );
        assert_eq!(s.next_due(PunctuationType::StreamTime, 9), None);
        assert!(s.next_due(PunctuationType::StreamTime, 10).is_some());
        // Stream time jumps to 47: one punctuation, the next at 50.
        assert!(s.next_due(PunctuationType::StreamTime, 47).is_some());
        assert_eq!(s.next_due(PunctuationType::StreamTime, 49), None);
        assert!(s.next_due(PunctuationType::StreamTime, 50).is_some());
        assert_eq!(s.next_due(PunctuationType::WallClockTime, 1_000), None);
    }

    #[test]
    fn wall_clock_punctuations_start_one_interval_after_scheduling() {
        let mut s = Schedules::default();
        s.add(PunctuationType::WallClockTime, 100, 1_000);
        assert_eq!(s.next_due(PunctuationType::WallClockTime, 1_099), None);
        assert!(s.next_due(PunctuationType::WallClockTime, 1_100).is_some());
        assert!(s.next_due(PunctuationType::WallClockTime, 1_150).is_none());
    }
}
