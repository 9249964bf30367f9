//! What the targets that drive a sans-IO state machine share: a cursor over the input and a
//! deterministic random source.

/// A cursor over the fuzz input; past its end it reads zeros.
pub(crate) struct Input<'a>(pub(crate) &'a [u8]);

impl Input<'_> {
    pub(crate) fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    pub(crate) fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// A random source from a seed (a linear congruential generator): the same input runs the
/// same way.
pub(crate) fn random(seed: u64) -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut state = seed | 1;
    move |buf: &mut [u8]| {
        for b in buf {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (state >> 33) as u8;
        }
    }
}
