//! Deadlines kept in a heap, removed lazily.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Deadlines with keys. Entries whose key is no longer live are dropped when they come due, and
/// in bulk by [`compact`](Self::compact), so that the heap stays proportional to what is live.
#[derive(Debug)]
pub(crate) struct Timers<K: Ord> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
}

impl<K: Ord + Copy> Timers<K> {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
        }
    }

    pub(crate) fn push(&mut self, at: Instant, key: K) {
        self.heap.push(Reverse((at, key)));
    }

    /// The earliest deadline, live or not.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns an entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Drops entries whose key is dead once they outnumber the live ones by far, so a stream of
    /// settled keys cannot grow the heap without bound.
    pub(crate) fn compact(&mut self, live: usize, is_live: impl Fn(&K) -> bool) {
        if self.heap.len() > 2 * live + 64 {
            self.heap.retain(|Reverse((_, k))| is_live(k));
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.heap.shrink_to_fit();
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
