//! The bytes that sessions have received beyond the first gap of their incoming messages: a
//! budget that the sessions of several connections share.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A budget of bytes received beyond the first gap of incoming messages (data that arrived
/// ahead of bytes still missing), shared by every session of the connections it is given to.
///
/// An [`Endpoint`](crate::Endpoint) makes one of
/// [`EndpointConfig::max_gap_bytes`](crate::EndpointConfig::max_gap_bytes) and hands it to
/// every [`Connection`](crate::Connection) it makes; an application that runs connections
/// itself can do the same with [`Connection::with_gap_budget`](crate::Connection::with_gap_budget).
/// Each session also has its own bound, [`Limits::max_gap_bytes`](crate::Limits::max_gap_bytes).
/// A chunk that would take either past its bound is refused with 413, and its message dropped;
/// a message gives its bytes back when its gap fills or it ends in any way.
///
/// Clones share the budget. It is touched only by data that arrives beyond a gap, never by
/// data in order.
#[derive(Clone)]
pub struct GapBudget(Arc<Shared>);

struct Shared {
    limit: u64,
    held: AtomicU64,
}

impl GapBudget {
    /// A budget of `limit` bytes, none of them held.
    pub fn new(limit: u64) -> Self {
        Self(Arc::new(Shared {
            limit,
            held: AtomicU64::new(0),
        }))
    }

    /// The most it lets sessions hold.
    pub fn limit(&self) -> u64 {
        self.0.limit
    }

    /// The bytes held now.
    pub fn held(&self) -> u64 {
        self.0.held.load(Ordering::Relaxed)
    }

    /// Takes `n` more bytes; `false`, taking nothing, when that would go past the limit.
    pub(crate) fn take(&self, n: u64) -> bool {
        self.0
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                held.checked_add(n).filter(|&h| h <= self.0.limit)
            })
            .is_ok()
    }

    /// Gives `n` bytes back.
    pub(crate) fn give_back(&self, n: u64) {
        // Never below zero, whatever a caller does.
        let _ = self
            .0
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(n))
            });
    }
}

impl fmt::Debug for GapBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GapBudget")
            .field("limit", &self.limit())
            .field("held", &self.held())
            .finish()
    }
}

/// The bytes one incoming message holds beyond its first gap, taken from its connection's
/// shared budget (if it has one) and given back to it when dropped, however the message ends.
#[derive(Debug, Default)]
pub(crate) struct GapCharge {
    bytes: u64,
    budget: Option<GapBudget>,
}

impl GapCharge {
    /// The bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Holds `bytes` from now on, taking more from `budget` or giving some back; `false`,
    /// changing nothing, when the budget cannot give that many.
    pub(crate) fn set(&mut self, bytes: u64, budget: Option<&GapBudget>) -> bool {
        if bytes > self.bytes {
            let more = bytes - self.bytes;
            // A message keeps the budget it first took from, should its session move.
            if self.budget.is_none() {
                self.budget = budget.cloned();
            }
            if let Some(b) = &self.budget {
                if !b.take(more) {
                    return false;
                }
            }
        } else if let Some(b) = &self.budget {
            b.give_back(self.bytes - bytes);
        }
        self.bytes = bytes;
        true
    }
}

impl Drop for GapCharge {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_take_and_give_back_what_they_hold() {
        let budget = GapBudget::new(100);
        let mut a = GapCharge::default();
        let mut b = GapCharge::default();
        assert!(a.set(60, Some(&budget)));
        assert!(!b.set(41, Some(&budget)), "past the limit");
        assert_eq!((b.bytes(), budget.held()), (0, 60));
        assert!(b.set(40, Some(&budget)));
        assert_eq!(budget.held(), 100);
        assert!(a.set(10, Some(&budget)));
        assert_eq!(budget.held(), 50);
        drop(a);
        assert_eq!(budget.held(), 40);
        drop(b);
        assert_eq!(budget.held(), 0);
        let mut alone = GapCharge::default();
        assert!(alone.set(u64::MAX, None));
    }
}
