//! The transactions a session awaits responses to, kept in the order they were sent.
//!
//! A sender has thousands of chunks in flight on a fast connection, and every response must
//! find its transaction. Looked up by a hash of their random ids, the transactions are spread
//! over a table that the bodies streaming through the cache evict between two lookups, so each
//! lookup costs a trip to memory. Here each id the session draws ends in the sequence number of
//! its transaction, so that the response's id names the slot of a ring that holds the
//! transactions in sending order, and responses, which mostly come back in that order, touch
//! its front. The rest of the id stays random, as RFC 4975 §7.1 asks ("it MUST contain at least
//! 64 bits of randomness"), and a response whose id does not match its slot (a peer's own, or
//! one of a transaction that has ended) finds nothing.
//!
//! A transaction that stays unanswered while many after it are answered would keep the ring
//! from shrinking: once the ring is mostly holes, the oldest of its transactions move to a map.

use std::collections::VecDeque;

use msrp_wire::TransactionId;

use crate::hash::FastMap;

/// Characters at the end of a stamped id that hold its sequence number, in base 62; the
/// [`TransactionId::RANDOM_LEN`]` - SEQ_CHARS` characters before them stay random. Each of
/// those 12 is a random byte modulo 62, so no character is likelier than 5 in 256: at least
/// 5.67 bits each, 68 bits in all, however the bytes fall.
const SEQ_CHARS: usize = 4;
/// Where the sequence number starts in an id.
const SEQ_AT: usize = TransactionId::RANDOM_LEN - SEQ_CHARS;
/// Sequence numbers run modulo 62⁴, some 14.8 million: far more than the ring ever spans, since
/// it is bounded by the transactions in flight. A number that comes round again while a
/// straggler still holds it is told apart by the random part, as the keys are whole ids.
const SEQ_SPACE: u32 = 62 * 62 * 62 * 62;
/// The digits of base 62: the characters `TransactionId::from_random` makes of bytes.
const DIGITS: &[u8; 62] = TransactionId::ALPHABET;
/// Slots the ring may have before it is checked for holes.
const RING_SLACK: usize = 1024;

/// The key of a transaction: the 16 characters of its id, as a number.
pub(crate) type TxKey = u128;

/// The key of an id, if it has the length of the ids a session draws; an id of another length
/// is none of the session's.
pub(crate) fn tx_key(tid: &[u8]) -> Option<TxKey> {
    <[u8; TransactionId::RANDOM_LEN]>::try_from(tid)
        .ok()
        .map(TxKey::from_le_bytes)
}

/// The value of each character as a digit of base 62, or [`NOT_A_DIGIT`].
const DIGIT_VALUES: [u8; 256] = {
    let mut values = [NOT_A_DIGIT; 256];
    let mut i = 0;
    while i < DIGITS.len() {
        values[DIGITS[i] as usize] = i as u8;
        i += 1;
    }
    values
};
const NOT_A_DIGIT: u8 = 0xff;

/// The sequence number a key's last characters spell, if they are base-62 digits.
#[inline]
fn sequence_of(key: TxKey) -> Option<u32> {
    let bytes = key.to_le_bytes();
    let mut n = 0u32;
    let mut invalid = 0u8;
    for &c in &bytes[SEQ_AT..] {
        let digit = DIGIT_VALUES[c as usize];
        invalid |= digit & 0x80;
        n = n * 62 + u32::from(digit & 0x3f);
    }
    (invalid == 0).then_some(n)
}

/// Transactions awaiting their responses, by key.
pub(crate) struct Transactions<T> {
    /// Transactions in sending order; a hole where one has ended. The front is never a hole.
    ring: VecDeque<Option<(TxKey, T)>>,
    /// The sequence number of the ring's front.
    base: u32,
    /// The sequence number of the next transaction: `base` plus the ring's length, modulo
    /// [`SEQ_SPACE`].
    next: u32,
    /// Transactions in the ring (not holes).
    in_ring: usize,
    /// Transactions moved out of the ring, and any whose id was not stamped for its place.
    stragglers: FastMap<TxKey, T>,
}

impl<T> Default for Transactions<T> {
    fn default() -> Self {
        Self {
            ring: VecDeque::new(),
            base: 0,
            next: 0,
            in_ring: 0,
            stragglers: FastMap::default(),
        }
    }
}

impl<T> Transactions<T> {
    /// Random bytes for `TransactionId::from_random` with their last ones replaced so that
    /// the id's last characters spell the next transaction's sequence number: that function
    /// takes each byte modulo 62 as a digit of base 62.
    pub(crate) fn stamp(&self, mut random: [u8; 16]) -> [u8; 16] {
        let mut n = self.next;
        for r in random[SEQ_AT..].iter_mut().rev() {
            *r = (n % 62) as u8;
            n /= 62;
        }
        random
    }

    /// The ring slot of `key`, if it is there.
    #[inline]
    fn slot(&self, key: TxKey) -> Option<usize> {
        let seq = sequence_of(key)?;
        let index = if seq >= self.base {
            seq - self.base
        } else {
            seq + (SEQ_SPACE - self.base)
        } as usize;
        match self.ring.get(index) {
            Some(Some((k, _))) if *k == key => Some(index),
            _ => None,
        }
    }

    /// Adds a transaction: at the back of the ring when its id was stamped for it.
    pub(crate) fn insert(&mut self, key: TxKey, value: T) {
        if sequence_of(key) == Some(self.next) {
            self.ring.push_back(Some((key, value)));
            self.next = (self.next + 1) % SEQ_SPACE;
            self.in_ring += 1;
            self.spill();
        } else {
            self.stragglers.insert(key, value);
        }
    }

    /// Whether the transaction of `key` is awaited.
    pub(crate) fn contains_key(&self, key: &TxKey) -> bool {
        self.slot(*key).is_some()
            || (!self.stragglers.is_empty() && self.stragglers.contains_key(key))
    }

    /// Ends the transaction of `key`.
    pub(crate) fn remove(&mut self, key: &TxKey) -> Option<T> {
        let Some(index) = self.slot(*key) else {
            if self.stragglers.is_empty() {
                return None;
            }
            return self.stragglers.remove(key);
        };
        let (_, value) = self.ring[index].take()?;
        self.in_ring -= 1;
        self.trim();
        Some(value)
    }

    /// Drops the holes at the front of the ring.
    fn trim(&mut self) {
        while matches!(self.ring.front(), Some(None)) {
            self.ring.pop_front();
            self.base = (self.base + 1) % SEQ_SPACE;
        }
    }

    /// When the ring is mostly holes (an old transaction is still unanswered while those after
    /// it were answered), moves the transactions of its older half to the map.
    fn spill(&mut self) {
        if self.ring.len() <= RING_SLACK || self.ring.len() <= 4 * self.in_ring {
            return;
        }
        for _ in 0..self.ring.len() / 2 {
            if let Some(Some((key, value))) = self.ring.pop_front() {
                self.in_ring -= 1;
                self.stragglers.insert(key, value);
            }
            self.base = (self.base + 1) % SEQ_SPACE;
        }
        self.trim();
    }

    /// Transactions awaited.
    pub(crate) fn len(&self) -> usize {
        self.in_ring + self.stragglers.len()
    }

    /// Whether none is awaited.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The awaited transactions, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.ring
            .iter()
            .flatten()
            .map(|(_, v)| v)
            .chain(self.stragglers.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id of the next transaction, from random bytes `[seed; 16]`.
    fn stamped<T>(t: &Transactions<T>, seed: u8) -> TransactionId {
        TransactionId::from_random(t.stamp([seed; 16]))
    }

    fn key(tid: &TransactionId) -> TxKey {
        tx_key(tid.as_bytes()).unwrap()
    }

    #[test]
    fn stamped_ids_keep_their_random_part_and_count_up() {
        let mut t = Transactions::default();
        let unstamped = TransactionId::from_random([7; 16]);
        let first = stamped(&t, 7);
        assert_eq!(&first.as_bytes()[..SEQ_AT], &unstamped.as_bytes()[..SEQ_AT]);
        assert_eq!(&first.as_bytes()[SEQ_AT..], b"0000");
        t.insert(key(&first), 1);
        let second = stamped(&t, 7);
        assert_eq!(&second.as_bytes()[SEQ_AT..], b"0001");
        assert_ne!(first, second);
        assert_eq!(sequence_of(key(&second)), Some(1));
        for _ in 0..61 {
            let tid = stamped(&t, 7);
            t.insert(key(&tid), 1);
        }
        assert_eq!(&stamped(&t, 7).as_bytes()[SEQ_AT..], b"0010");
        assert_eq!(sequence_of(key(&stamped(&t, 7))), Some(62));
    }

    #[test]
    fn responses_in_any_order_find_their_transaction_once() {
        let mut t = Transactions::default();
        let keys: Vec<TxKey> = (0..100u8)
            .map(|i| {
                let tid = stamped(&t, i);
                t.insert(key(&tid), u32::from(i));
                key(&tid)
            })
            .collect();
        assert_eq!(t.len(), 100);
        // Every third first, then the rest backwards.
        for (i, k) in keys.iter().enumerate().step_by(3) {
            assert_eq!(t.remove(k), Some(i as u32));
            assert_eq!(t.remove(k), None);
        }
        for (i, k) in keys.iter().enumerate().rev() {
            assert_eq!(t.contains_key(k), i % 3 != 0);
            if i % 3 != 0 {
                assert_eq!(t.remove(k), Some(i as u32));
            }
        }
        assert!(t.is_empty());
        assert!(t.ring.is_empty());
    }

    #[test]
    fn an_id_that_names_a_slot_but_not_its_transaction_finds_nothing() {
        let mut t = Transactions::default();
        let tid = stamped(&t, 1);
        t.insert(key(&tid), 1);
        // Same sequence number, other random part: a forged or stale id.
        let other = stamped(&Transactions::<u32>::default(), 2);
        assert_eq!(&other.as_bytes()[SEQ_AT..], &tid.as_bytes()[SEQ_AT..]);
        assert!(!t.contains_key(&key(&other)));
        assert_eq!(t.remove(&key(&other)), None);
        // Not base-62 digits at the end.
        assert_eq!(sequence_of(tx_key(b"abcdefghijk-----").unwrap()), None);
        assert_eq!(sequence_of(tx_key(b"abcdefghijk0000\xff").unwrap()), None);
        assert_eq!(t.remove(&tx_key(b"abcdefghijk-----").unwrap()), None);
        // An id not stamped for its place is kept all the same.
        let unstamped = key(&TransactionId::from_random([9; 16]));
        t.insert(unstamped, 2);
        assert!(t.contains_key(&unstamped));
        assert_eq!(t.remove(&unstamped), Some(2));
        assert_eq!(t.remove(&key(&tid)), Some(1));
        assert!(t.is_empty());
    }

    #[test]
    fn an_unanswered_transaction_does_not_keep_the_ring_growing() {
        let mut t = Transactions::default();
        let old = stamped(&t, 0);
        t.insert(key(&old), 0u64);
        for i in 1..100_000u64 {
            let tid = stamped(&t, i as u8);
            t.insert(key(&tid), i);
            assert_eq!(t.remove(&key(&tid)), Some(i));
        }
        assert!(t.ring.len() <= RING_SLACK + 1, "{} slots", t.ring.len());
        assert_eq!(t.len(), 1);
        assert_eq!(t.values().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(t.remove(&key(&old)), Some(0));
        assert!(t.is_empty());
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let mut t = Transactions::<u8> {
            base: SEQ_SPACE - 2,
            next: SEQ_SPACE - 2,
            ..Transactions::default()
        };
        let tids: Vec<TransactionId> = (0..4u8)
            .map(|i| {
                let tid = stamped(&t, i);
                t.insert(key(&tid), i);
                tid
            })
            .collect();
        assert_eq!(&tids[1].as_bytes()[SEQ_AT..], b"zzzz");
        assert_eq!(&tids[2].as_bytes()[SEQ_AT..], b"0000");
        assert_eq!(t.stragglers.len(), 0);
        for (i, tid) in tids.iter().enumerate().rev() {
            assert_eq!(t.remove(&key(tid)), Some(i as u8));
        }
        assert!(t.is_empty());
    }
}
