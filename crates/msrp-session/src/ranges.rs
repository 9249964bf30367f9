//! Sets of byte ranges, for what a receiver holds and what a sender had reported.

/// A set of half-open byte ranges `[start, end)`, kept sorted and merged, with the number of
/// bytes they cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<(u64, u64)>,
    covered: u64,
}

impl RangeSet {
    /// Adds `[start, end)`; empty ranges are ignored.
    pub(crate) fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // First range that ends at or after `start` (it may touch or overlap the new one).
        let i = self.ranges.partition_point(|&(_, e)| e < start);
        // Ranges from `i` that start at or before `end` merge with the new one.
        let j = i + self.ranges[i..].partition_point(|&(s, _)| s <= end);
        if i == j {
            self.ranges.insert(i, (start, end));
            self.covered += end - start;
        } else {
            let merged = (start.min(self.ranges[i].0), end.max(self.ranges[j - 1].1));
            let before: u64 = self.ranges[i..j].iter().map(|(s, e)| e - s).sum();
            self.covered = self.covered - before + (merged.1 - merged.0);
            self.ranges.splice(i..j, [merged]);
        }
    }

    /// Drops everything at or beyond `len`.
    pub(crate) fn truncate(&mut self, len: u64) {
        self.ranges.retain(|&(s, _)| s < len);
        if let Some(last) = self.ranges.last_mut() {
            last.1 = last.1.min(len);
        }
        self.covered = self.ranges.iter().map(|(s, e)| e - s).sum();
    }

    /// Whether `[0, len)` is covered entirely.
    pub(crate) fn covers(&self, len: u64) -> bool {
        len == 0 || matches!(self.ranges.first(), Some(&(0, end)) if end >= len)
    }

    /// Number of bytes covered.
    #[cfg(test)]
    pub(crate) fn covered(&self) -> u64 {
        self.covered
    }

    /// Number of bytes covered beyond the first gap: all but the range that starts at zero.
    pub(crate) fn beyond_gap(&self) -> u64 {
        match self.ranges.first() {
            Some(&(0, end)) => self.covered - end,
            _ => self.covered,
        }
    }

    /// Number of disjoint ranges.
    pub(crate) fn pieces(&self) -> usize {
        self.ranges.len()
    }

    /// The ranges, sorted.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().copied()
    }

    /// The end of the highest range, zero when empty.
    pub(crate) fn end(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        let mut s = RangeSet::default();
        s.insert(10, 20);
        s.insert(30, 40);
        assert_eq!(s.pieces(), 2);
        s.insert(20, 30);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(10, 40)]);
        s.insert(0, 5);
        s.insert(3, 12);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 40)]);
        assert!(s.covers(40));
        assert!(!s.covers(41));
        s.insert(50, 50);
        assert_eq!(s.pieces(), 1);
        s.insert(45, 60);
        s.insert(41, 44);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 40), (41, 44), (45, 60)]);
        assert_eq!(s.covered(), 40 + 3 + 15);
        s.insert(0, 100);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 100)]);
        assert_eq!(s.end(), 100);
        s.insert(200, 300);
        s.truncate(250);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 100), (200, 250)]);
        s.truncate(50);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 50)]);
    }

    #[test]
    fn agrees_with_a_bitmap() {
        // A small exhaustive-ish check against a naive model.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            let mut set = RangeSet::default();
            let mut bits = [false; 64];
            for _ in 0..12 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let a = seed % 64;
                let b = (seed >> 8) % 65;
                let (s, e) = (a.min(b), a.max(b));
                set.insert(s, e);
                for bit in &mut bits[s as usize..e as usize] {
                    *bit = true;
                }
            }
            let mut model = Vec::new();
            let mut i = 0;
            while i < 64 {
                if bits[i] {
                    let s = i;
                    while i < 64 && bits[i] {
                        i += 1;
                    }
                    model.push((s as u64, i as u64));
                } else {
                    i += 1;
                }
            }
            assert_eq!(set.iter().collect::<Vec<_>>(), model);
            let covered = bits.iter().filter(|&&b| b).count() as u64;
            assert_eq!(set.covered(), covered);
            let prefix = bits.iter().take_while(|&&b| b).count() as u64;
            assert_eq!(set.beyond_gap(), covered - prefix);
            set.truncate(40);
            let covered = bits[..40].iter().filter(|&&b| b).count() as u64;
            assert_eq!(set.covered(), covered);
        }
    }
}
