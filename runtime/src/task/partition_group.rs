//! Which of a task's buffered input records it processes next: Kafka
//! Streams' `PartitionGroup`. Each input partition has a FIFO queue; the
//! next record is the head of the queue whose head has the smallest
//! timestamp, ties broken exactly as `java.util.PriorityQueue` breaks them
//! (so records come out in Kafka Streams' order, which the conformance
//! suite checks through the test driver). [`PartitionGroup::ready`] is
//! `readyToProcess`: with `max.task.idle.ms` a task does not process while
//! one of its partitions is empty but may still have earlier records.

use std::collections::VecDeque;

/// A buffered record's timestamp, by which the group orders queues.
pub trait Timestamped {
    /// The record's timestamp.
    fn timestamp(&self) -> i64;
}

/// One input partition's buffered records.
#[derive(Debug)]
struct Queue<R> {
    records: VecDeque<R>,
    /// When enforced processing may start while this queue is empty
    /// (`max.task.idle.ms` after its lag was first seen to be zero).
    idle_deadline: Option<i64>,
}

/// A task's buffered input, by partition (queue index).
#[derive(Debug)]
pub struct PartitionGroup<R> {
    queues: Vec<Queue<R>>,
    /// Indices of the non-empty queues, as a binary heap by head timestamp
    /// with `java.util.PriorityQueue`'s sift rules.
    heap: Vec<usize>,
    buffered: usize,
}

impl<R> Default for PartitionGroup<R> {
    fn default() -> Self {
        PartitionGroup {
            queues: Vec::new(),
            heap: Vec::new(),
            buffered: 0,
        }
    }
}

impl<R: Timestamped> PartitionGroup<R> {
    /// A group of `partitions` empty queues.
    pub fn new(partitions: usize) -> Self {
        let mut group = Self::default();
        for _ in 0..partitions {
            group.add_queue();
        }
        group
    }

    /// Adds an empty queue; returns its index.
    pub fn add_queue(&mut self) -> usize {
        self.queues.push(Queue {
            records: VecDeque::new(),
            idle_deadline: None,
        });
        self.queues.len() - 1
    }

    /// How many queues.
    pub fn queues(&self) -> usize {
        self.queues.len()
    }

    /// Records buffered in queue `queue`.
    pub fn len_of(&self, queue: usize) -> usize {
        self.queues.get(queue).map_or(0, |q| q.records.len())
    }

    /// Records buffered in all queues.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    fn head_timestamp(&self, queue: usize) -> i64 {
        self.queues[queue]
            .records
            .front()
            .map_or(i64::MAX, Timestamped::timestamp)
    }

    /// Buffers `record` at the end of queue `queue` (added if missing).
    pub fn push(&mut self, queue: usize, record: R) {
        while self.queues.len() <= queue {
            self.add_queue();
        }
        let q = &mut self.queues[queue];
        q.records.push_back(record);
        self.buffered += 1;
        if q.records.len() == 1 {
            self.offer(queue);
        }
    }

    /// Takes the next record: the head of the queue whose head has the
    /// smallest timestamp.
    pub fn pop(&mut self) -> Option<(usize, R)> {
        let queue = self.poll()?;
        let q = &mut self.queues[queue];
        let record = q.records.pop_front();
        if !q.records.is_empty() {
            self.offer(queue);
        }
        let record = record?;
        self.buffered -= 1;
        Some((queue, record))
    }

    /// Drops every buffered record (a task closed or rewound).
    pub fn clear(&mut self) {
        for q in &mut self.queues {
            q.records.clear();
            q.idle_deadline = None;
        }
        self.heap.clear();
        self.buffered = 0;
    }

    /// Drops queue `queue`'s records (its partition was revoked).
    pub fn clear_queue(&mut self, queue: usize) {
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        self.buffered -= q.records.len();
        q.records.clear();
        q.idle_deadline = None;
        self.heap.retain(|&i| i != queue);
        // Restore the heap property over what is left.
        let rest = std::mem::take(&mut self.heap);
        for i in rest {
            self.offer(i);
        }
    }

    /// Whether the task may process its next record now, at wall-clock
    /// time `now`: Kafka Streams' `PartitionGroup.readyToProcess`. With
    /// `max_idle_ms` = -1 always. Otherwise every queue must hold a record,
    /// except queues whose partition is known to have nothing more
    /// (`caught_up(queue)`: its lag is zero) and that have been empty for
    /// `max_idle_ms` — then the task processes what it has (enforced
    /// processing), as long as it has something.
    pub fn ready(
        &mut self,
        now: i64,
        max_idle_ms: i64,
        mut caught_up: impl FnMut(usize) -> bool,
    ) -> bool {
        if max_idle_ms < 0 {
            return true;
        }
        let mut enforced = false;
        let mut queued = false;
        for (i, q) in self.queues.iter_mut().enumerate() {
            if !q.records.is_empty() {
                q.idle_deadline = None;
                queued = true;
            } else if !caught_up(i) {
                // Wait for the records the broker may still have.
                q.idle_deadline = None;
                return false;
            } else {
                let deadline = *q
                    .idle_deadline
                    .get_or_insert(now.saturating_add(max_idle_ms));
                if now < deadline {
                    return false;
                }
                enforced = true;
            }
        }
        !enforced || queued
    }

    /// `PriorityQueue.offer`: sift up, stopping below an equal parent.
    fn offer(&mut self, queue: usize) {
        let ts = self.head_timestamp(queue);
        let mut k = self.heap.len();
        self.heap.push(queue);
        while k > 0 {
            let parent = (k - 1) / 2;
            if ts >= self.head_timestamp(self.heap[parent]) {
                break;
            }
            self.heap.swap(k, parent);
            k = parent;
        }
    }

    /// `PriorityQueue.poll`: take the root, sift the last element down,
    /// preferring the left child on ties and stopping at an equal child.
    fn poll(&mut self) -> Option<usize> {
        if self.heap.is_empty() {
            return None;
        }
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        let result = self.heap.pop();
        let n = self.heap.len();
        if n > 0 {
            let x = self.head_timestamp(self.heap[0]);
            let mut k = 0;
            while k < n / 2 {
                let mut child = 2 * k + 1;
                let right = child + 1;
                if right < n
                    && self.head_timestamp(self.heap[child]) > self.head_timestamp(self.heap[right])
                {
                    child = right;
                }
                if x <= self.head_timestamp(self.heap[child]) {
                    break;
                }
                self.heap.swap(k, child);
                k = child;
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Timestamped for (i64, &'static str) {
        fn timestamp(&self) -> i64 {
            self.0
        }
    }

    fn drain(g: &mut PartitionGroup<(i64, &'static str)>) -> Vec<(usize, &'static str)> {
        std::iter::from_fn(|| g.pop().map(|(q, (_, r))| (q, r))).collect()
    }

    #[test]
    fn the_smallest_head_timestamp_goes_first_and_each_queue_stays_in_order() {
        let mut g = PartitionGroup::new(2);
        for r in [(1, "a1"), (5, "a5"), (3, "a3")] {
            g.push(0, r);
        }
        for r in [(2, "b2"), (4, "b4")] {
            g.push(1, r);
        }
        assert_eq!(g.buffered(), 5);
        // a3 comes after a5: a queue is FIFO, only heads are compared.
        assert_eq!(
            drain(&mut g),
            [(0, "a1"), (1, "b2"), (1, "b4"), (0, "a5"), (0, "a3")]
        );
        assert!(g.is_empty());
    }

    #[test]
    fn ties_are_broken_as_java_priority_queue_breaks_them() {
        // Not first come, first served: the heap's last element replaces
        // the root on each poll and stops at an equal child, so after the
        // first, later offers come out in reverse (as in Kafka Streams).
        let mut g = PartitionGroup::new(3);
        g.push(2, (7, "c"));
        g.push(0, (7, "a"));
        g.push(1, (7, "b"));
        assert_eq!(drain(&mut g), [(2, "c"), (1, "b"), (0, "a")]);
    }

    #[test]
    fn clearing_one_queue_keeps_the_others_ordered() {
        let mut g = PartitionGroup::new(3);
        g.push(0, (5, "a"));
        g.push(1, (1, "b"));
        g.push(2, (3, "c"));
        g.clear_queue(1);
        assert_eq!(g.buffered(), 2);
        assert_eq!(drain(&mut g), [(2, "c"), (0, "a")]);
    }

    #[test]
    fn an_empty_partition_blocks_until_caught_up_and_idle() {
        let mut g = PartitionGroup::new(2);
        g.push(0, (1, "a"));
        // Queue 1 may still have records on the broker: wait.
        assert!(!g.ready(0, 0, |_| false));
        // Known to be caught up, max.task.idle.ms = 0: enforced processing.
        assert!(g.ready(0, 0, |q| q == 1));
        // With an idle time, not before it has passed.
        let mut g = PartitionGroup::new(2);
        g.push(0, (1, "a"));
        assert!(!g.ready(1_000, 50, |q| q == 1));
        assert!(!g.ready(1_049, 50, |q| q == 1));
        assert!(g.ready(1_050, 50, |q| q == 1));
        // -1 never waits.
        assert!(PartitionGroup::<(i64, &str)>::new(2).ready(0, -1, |_| false));
        // Every queue holding a record: ready without asking.
        g.push(1, (2, "b"));
        assert!(g.ready(0, 1_000, |_| false));
        // Nothing buffered anywhere, all caught up: nothing to do.
        let mut empty = PartitionGroup::<(i64, &str)>::new(2);
        assert!(!empty.ready(0, 0, |_| true));
    }
}
