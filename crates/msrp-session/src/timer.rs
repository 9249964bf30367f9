//! Deadlines kept in order, removed lazily.

use std::collections::VecDeque;
use std::time::Instant;

/// Deadlines with keys, in the order they fall due (deadlines that fall due together, in the
/// order they were pushed). Each kind of deadline is a fixed time after the moment it is set,
/// and time only moves forward, so a push is almost always an append; an earlier one is put
/// in its place. Entries whose key is no longer live are dropped when they come due, and in
/// bulk by [`compact`](Self::compact), so that the queue stays proportional to what is live.
#[derive(Debug)]
pub(crate) struct Timers<K> {
    queue: VecDeque<(Instant, K)>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }
}

impl<K: Copy> Timers<K> {
    pub(crate) fn push(&mut self, at: Instant, key: K) {
        if self.queue.back().is_none_or(|&(last, _)| last <= at) {
            self.queue.push_back((at, key));
        } else {
            let i = self.queue.partition_point(|&(t, _)| t <= at);
            self.queue.insert(i, (at, key));
        }
    }

    /// The earliest deadline, live or not.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.front().map(|&(at, _)| at)
    }

    /// Removes and returns an entry due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, K)> {
        match self.queue.front() {
            Some(&(at, _)) if at <= now => self.queue.pop_front(),
            _ => None,
        }
    }

    /// Drops entries whose key is dead once they outnumber the live ones by far, so a stream of
    /// settled keys cannot grow the queue without bound.
    pub(crate) fn compact(&mut self, live: usize, is_live: impl Fn(&K) -> bool) {
        if self.queue.len() > 2 * live + 64 {
            self.queue.retain(|(_, k)| is_live(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_come_due_in_order() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut timers = Timers::default();
        for (s, k) in [(5, 'a'), (5, 'b'), (9, 'c'), (2, 'd'), (5, 'e'), (1, 'f')] {
            timers.push(at(s), k);
        }
        assert_eq!(timers.next(), Some(at(1)));
        assert_eq!(timers.pop_due(at(0)), None);
        let due: Vec<char> = std::iter::from_fn(|| timers.pop_due(at(5)).map(|(_, k)| k)).collect();
        assert_eq!(due, ['f', 'd', 'a', 'b', 'e']);
        assert_eq!(timers.next(), Some(at(9)));
        timers.compact(0, |_| false);
        assert_eq!(timers.next(), Some(at(9)), "compacts only when large");
        for i in 0..100 {
            timers.push(at(10), if i % 2 == 0 { 'x' } else { 'y' });
        }
        timers.compact(10, |&k| k == 'x');
        assert_eq!(timers.queue.len(), 50);
    }
}
