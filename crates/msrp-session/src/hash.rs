//! A cheap hash for the keys the engine makes itself.
//!
//! Message handles are sequential, transaction ids are drawn from the configured random source,
//! session-ids and the Message-IDs of sent messages are the application's or random: a peer
//! chooses none of them, so their tables need no defence against chosen collisions, and the
//! standard library's SipHash costs more than everything else done with such a key. Keys a peer
//! chooses (the Message-IDs of received messages) stay with the standard keyed hash.

use core::hash::{BuildHasherDefault, Hasher};
use std::collections::{HashMap, HashSet};

/// An odd constant with its bits spread evenly, so that a multiplication carries every input
/// bit into the high half of the product.
const SPREAD: u64 = 0x9e6c_63d0_676a_9a99;

/// A multiplicative hash: each word is folded into the state, which is then multiplied by
/// [`SPREAD`]; the result is rotated so that the well-mixed high bits index the table.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SPREAD);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// A map keyed by values the engine made.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A set of values the engine made, or of digests already keyed.
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::BuildHasher;

    #[test]
    fn sequential_keys_spread_over_the_buckets() {
        // The low bits index the table: 4096 sequential handles fill 4096 buckets evenly.
        let build = BuildHasherDefault::<FastHasher>::default();
        let mut buckets = [0u32; 4096];
        for key in 0u64..4096 {
            buckets[(build.hash_one(key) & 4095) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| n <= 6),
            "{:?}",
            buckets.iter().max()
        );
    }

    #[test]
    fn byte_strings_of_any_length_differ() {
        let build = BuildHasherDefault::<FastHasher>::default();
        let a = build.hash_one("iau39soe2843z");
        let b = build.hash_one("iau39soe2843y");
        let c = build.hash_one("iau39soe2843");
        assert!(a != b && a != c && b != c);
    }
}
