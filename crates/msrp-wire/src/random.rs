//! Where the sans-IO layers get their randomness.

/// A source of random bytes, for transaction ids, Message-IDs, session-ids and nonces.
///
/// The sans-IO layers never reach for global randomness: tests give them a seeded generator and
/// are reproducible; applications give them a cryptographically secure one, as RFC 4975 §7.1
/// asks transaction ids to "contain at least 64 bits of randomness" and RFC 4976 §6.3 asks a
/// relay's URIs to "contain at least 64 bits of cryptographically random material".
pub trait Random: Send {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8]) + Send> Random for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}
