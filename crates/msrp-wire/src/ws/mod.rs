//! MSRP over WebSocket (RFC 7977): the WebSocket framing of RFC 6455 and its opening
//! handshake, sans-IO.
//!
//! - [`Decoder`] turns received bytes into the payload of data messages (unmasked in place, no
//!   copy), message ends and control frames, enforcing the framing rules of RFC 6455 §5 and a
//!   size limit on messages.
//! - [`FrameEnds`] finds where each MSRP frame ends in a stream of output, so that
//!   [`MessageWriter`] can put each MSRP frame in a WebSocket message of its own (RFC 7977 §5.1:
//!   "Each MSRP chunk MUST be carried within a single WebSocket message, and a WebSocket
//!   message MUST NOT contain more than one MSRP chunk").
//! - [`handshake`] writes and checks the HTTP/1.1 upgrade of both sides, with the `msrp`
//!   subprotocol (RFC 7977 §4.1).
//!
//! The I/O layer runs the handshake, then feeds what it reads to a [`Decoder`] and hands the
//! payloads to an MSRP decoder as one stream; it passes its MSRP output through a
//! [`MessageWriter`] and writes what comes out.

mod decode;
mod ends;
pub mod handshake;
mod writer;

pub use decode::{Control, Decoded, Decoder, Item};
pub use ends::{FrameEnds, FrameEndsError};
pub use writer::MessageWriter;

/// Which side of a WebSocket connection this is. RFC 6455 §5.1: "a client MUST mask all frames
/// that it sends to the server"; "A server MUST NOT mask any frames that it sends to the
/// client."
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that opened the connection and sent the upgrade request.
    Client,
    /// The side that accepted it.
    Server,
}

/// A frame's opcode (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// `%x0`: a continuation of a fragmented message.
    Continuation,
    /// `%x1`: the first frame of a text message.
    Text,
    /// `%x2`: the first frame of a binary message.
    Binary,
    /// `%x8`: a connection close.
    Close,
    /// `%x9`: a ping.
    Ping,
    /// `%xA`: a pong.
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Whether this is a control frame's opcode (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// Limits on what a WebSocket peer may make the decoder hold or accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsLimits {
    /// Largest data message, all its fragments together. Default 1 MiB: one MSRP chunk per
    /// message (RFC 7977 §5.1), and WebSocket peers are sent chunks far smaller than that.
    pub max_message: u64,
    /// Largest upgrade request or response head. Default 8 KiB.
    pub max_handshake: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            max_message: 1024 * 1024,
            max_handshake: 8 * 1024,
        }
    }
}

/// Why a WebSocket connection fails, with the status code RFC 6455 §7.4.1 gives the Close frame
/// that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsError {
    /// A frame broke RFC 6455 §5 (reserved bits, an unknown opcode, masking on the wrong side,
    /// a control frame fragmented or too long, a continuation out of place, a length not
    /// minimally encoded); the text says which rule.
    Protocol(&'static str),
    /// A text message was not UTF-8 (RFC 6455 §8.1).
    InvalidUtf8,
    /// A data message grew past [`WsLimits::max_message`].
    MessageTooBig {
        /// The limit.
        limit: u64,
    },
    /// A frame came after the peer's Close.
    AfterClose,
}

impl WsError {
    /// The status code of the Close frame that reports this error: 1002 (protocol error), 1007
    /// (invalid payload data) or 1009 (message too big).
    pub fn close_code(&self) -> u16 {
        match self {
            Self::Protocol(_) | Self::AfterClose => 1002,
            Self::InvalidUtf8 => 1007,
            Self::MessageTooBig { .. } => 1009,
        }
    }
}

impl core::fmt::Display for WsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Protocol(rule) => write!(f, "WebSocket protocol error: {rule}"),
            Self::InvalidUtf8 => f.write_str("a WebSocket text message is not UTF-8"),
            Self::MessageTooBig { limit } => {
                write!(f, "a WebSocket message is larger than {limit} bytes")
            }
            Self::AfterClose => f.write_str("a WebSocket frame came after the Close"),
        }
    }
}

impl std::error::Error for WsError {}

/// XORs `data` with the masking key, starting `offset` bytes into the payload (RFC 6455 §5.3:
/// "Octet i of the transformed data ... is the XOR of octet i of the original data with octet
/// at index i modulo 4 of the masking key"). Masking and unmasking are the same operation.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let rotated = [
        key[offset % 4],
        key[(offset + 1) % 4],
        key[(offset + 2) % 4],
        key[(offset + 3) % 4],
    ];
    let wide = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ wide).to_ne_bytes());
    }
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i % 4];
    }
}

/// Largest frame header: two bytes, eight of extended length and four of masking key.
pub const MAX_HEADER: usize = 14;

/// Writes a frame header into `out`, returning its length (RFC 6455 §5.2). The payload
/// length is written in the fewest bytes, as §5.2 requires.
pub fn write_header(
    out: &mut [u8; MAX_HEADER],
    fin: bool,
    opcode: Opcode,
    len: u64,
    mask: Option<[u8; 4]>,
) -> usize {
    out[0] = (u8::from(fin) << 7) | opcode.bits();
    let masked = u8::from(mask.is_some()) << 7;
    let mut n = if len < 126 {
        out[1] = masked | len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        out[1] = masked | 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        out[1] = masked | 127;
        out[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        out[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    n
}

/// The payload of a Close frame: the status code, then a reason of at most 123 bytes of UTF-8
/// (RFC 6455 §5.5.1, where control frames carry at most 125 bytes).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}
