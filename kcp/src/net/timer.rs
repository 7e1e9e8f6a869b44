//! One timer structure for all sessions of a driver: a min-heap of (deadline, session) with lazy
//! deletion. A session's current deadline lives in the session; heap entries that no longer match it
//! are stale and skipped, so rescheduling is O(log n) and never searches the heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Min-heap of `(deadline_ms, key)`.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl TimerHeap {
    pub(crate) fn push(&mut self, deadline: u64, key: usize) {
        self.heap.push(Reverse((deadline, key)));
    }

    /// The earliest deadline, stale or not.
    pub(crate) fn peek(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Pops the earliest entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, usize)> {
        match self.heap.peek() {
            Some(Reverse((d, _))) if *d <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops stale entries when they dominate the heap, so memory tracks the live session count.
    pub(crate) fn compact(&mut self, live: usize, is_current: impl Fn(u64, usize) -> bool) {
        if self.heap.len() > 64 && self.heap.len() > 4 * live {
            self.heap.retain(|Reverse((d, k))| is_current(*d, *k));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let mut t = TimerHeap::default();
        t.push(30, 1);
        t.push(10, 2);
        t.push(20, 3);
        assert_eq!(t.peek(), Some(10));
        assert_eq!(t.pop_due(5), None);
        assert_eq!(t.pop_due(25), Some((10, 2)));
        assert_eq!(t.pop_due(25), Some((20, 3)));
        assert_eq!(t.pop_due(25), None);
        assert_eq!(t.pop_due(30), Some((30, 1)));
    }

    #[test]
    fn compact_drops_stale_entries() {
        let mut t = TimerHeap::default();
        for d in 0..1000 {
            t.push(d, 7);
        }
        t.compact(1, |d, _| d == 999);
        assert_eq!(t.len(), 1);
        assert_eq!(t.pop_due(u64::MAX), Some((999, 7)));
    }
}
