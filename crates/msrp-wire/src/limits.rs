//! Sizes the peer controls, and their limits.

/// Limits on what a peer may make the decoder hold. Every field has a safe default; exceeding a
/// limit is a [`ParseError`](crate::ParseError) whose kind says which limit it was.
///
/// ```
/// let mut limits = msrp_wire::Limits::default();
/// limits.max_body = 64 * 1024;
/// let decoder = msrp_wire::Decoder::with_limits(limits);
/// # drop(decoder);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest start line, without its CRLF. Default 1 KiB.
    pub max_start_line: usize,
    /// Longest header line, without its CRLF. Default 8 KiB: room for a To-Path through several
    /// relays.
    pub max_header_line: usize,
    /// Most header lines in one head. Default 64.
    pub max_headers: usize,
    /// Largest head: start line, header lines and blank line together. Default 32 KiB; values
    /// above 65535 act as 65535.
    pub max_head: usize,
    /// Largest body that [`Decoder`](crate::Decoder) buffers to hand out a whole
    /// [`Frame`](crate::Frame), and above which a [`StreamDecoder`](crate::StreamDecoder)
    /// streams a body that is already complete in its buffer. Default 1 MiB. A
    /// [`StreamDecoder`](crate::StreamDecoder) never fails on body size: it streams.
    pub max_body: usize,
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        max_start_line: 1024,
        max_header_line: 8 * 1024,
        max_headers: 64,
        max_head: 32 * 1024,
        max_body: 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
