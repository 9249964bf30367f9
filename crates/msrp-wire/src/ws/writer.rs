//! MSRP output into WebSocket messages, one frame per message.

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameEnds, FrameEndsError, MAX_HEADER, Opcode, Role, apply_mask, write_header};
use crate::Random;

/// Puts MSRP output into WebSocket messages: each MSRP frame in one binary message of its own
/// (RFC 7977 §5.1). A frame is held until its end-line has been seen, then written as one
/// WebSocket frame; a frame longer than the fragment size goes out as fragments of one message
/// as it comes (RFC 6455 §5.4), so that what is held stays bounded.
///
/// A server's frames are its header followed by the MSRP pieces themselves, not copied. A
/// client masks what it sends with a fresh key per frame (RFC 6455 §5.3: "The masking key needs
/// to be unpredictable"), which copies the payload once.
pub struct MessageWriter {
    role: Role,
    random: Option<Box<dyn Random>>,
    ends: FrameEnds,
    pending: Vec<Bytes>,
    pending_len: usize,
    fragment_at: usize,
    fragmented: bool,
}

impl core::fmt::Debug for MessageWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageWriter")
            .field("role", &self.role)
            .field("pending_len", &self.pending_len)
            .field("fragmented", &self.fragmented)
            .finish_non_exhaustive()
    }
}

impl MessageWriter {
    /// A server's writer: frames are not masked. Frames longer than `fragment_at` bytes are
    /// fragmented.
    pub fn server(fragment_at: usize) -> Self {
        Self::new(Role::Server, None, fragment_at)
    }

    /// A client's writer, masking with keys from `random`.
    pub fn client(random: impl Random + 'static, fragment_at: usize) -> Self {
        Self::new(Role::Client, Some(Box::new(random)), fragment_at)
    }

    fn new(role: Role, random: Option<Box<dyn Random>>, fragment_at: usize) -> Self {
        Self {
            role,
            random,
            ends: FrameEnds::new(),
            pending: Vec::new(),
            pending_len: 0,
            fragment_at: fragment_at.max(1),
            fragmented: false,
        }
    }

    /// MSRP bytes taken and not yet written out as WebSocket frames.
    pub fn pending(&self) -> usize {
        self.pending_len
    }

    /// Whether the output taken so far ends between MSRP frames, with nothing held: a control
    /// frame may go out now without splitting a message of this writer's.
    pub fn at_boundary(&self) -> bool {
        self.pending_len == 0 && !self.fragmented && self.ends.at_boundary()
    }

    /// Takes the next piece of MSRP output; appends to `out` the WebSocket frames it completes.
    /// Returns the number of bytes appended.
    pub fn push(
        &mut self,
        mut piece: Bytes,
        out: &mut Vec<Bytes>,
    ) -> Result<usize, FrameEndsError> {
        let mut written = 0;
        while !piece.is_empty() {
            match self.ends.scan(&piece)? {
                Some(end) => {
                    let frame = piece.split_to(end);
                    self.hold(frame);
                    written += self.emit(true, out);
                }
                None => {
                    self.hold(core::mem::take(&mut piece));
                    if self.pending_len >= self.fragment_at {
                        written += self.emit(false, out);
                    }
                }
            }
        }
        Ok(written)
    }

    /// A control frame (a pong, a close) as this side sends it, masked for a client.
    pub fn control(&mut self, opcode: Opcode, payload: &[u8]) -> Bytes {
        let mut frame = BytesMut::with_capacity(MAX_HEADER + payload.len());
        let at = self.header(&mut frame, true, opcode, payload.len());
        frame.put_slice(payload);
        self.mask(&mut frame, at);
        frame.freeze()
    }

    fn hold(&mut self, piece: Bytes) {
        self.pending_len += piece.len();
        self.pending.push(piece);
    }

    /// Writes what is held as one WebSocket frame; `fin` when it ends the MSRP frame.
    fn emit(&mut self, fin: bool, out: &mut Vec<Bytes>) -> usize {
        let opcode = if self.fragmented {
            Opcode::Continuation
        } else {
            Opcode::Binary
        };
        self.fragmented = !fin;
        let len = core::mem::take(&mut self.pending_len);
        if self.role == Role::Server {
            let mut header = BytesMut::with_capacity(MAX_HEADER);
            self.header(&mut header, fin, opcode, len);
            let n = header.len() + len;
            out.push(header.freeze());
            out.append(&mut self.pending);
            return n;
        }
        let mut frame = BytesMut::with_capacity(MAX_HEADER + len);
        let at = self.header(&mut frame, fin, opcode, len);
        for piece in self.pending.drain(..) {
            frame.put_slice(&piece);
        }
        self.mask(&mut frame, at);
        let n = frame.len();
        out.push(frame.freeze());
        n
    }

    /// Writes a header into `frame`; returns where the payload starts.
    fn header(&mut self, frame: &mut BytesMut, fin: bool, opcode: Opcode, len: usize) -> usize {
        let key = self.random.as_mut().map(|random| {
            let mut key = [0u8; 4];
            random.fill(&mut key);
            key
        });
        let mut header = [0u8; MAX_HEADER];
        let n = write_header(&mut header, fin, opcode, len as u64, key);
        frame.put_slice(&header[..n]);
        n
    }

    /// Masks the payload of a client's frame, which starts at `at`; its key ends the header.
    fn mask(&self, frame: &mut BytesMut, at: usize) {
        if self.role == Role::Client {
            let mut key = [0u8; 4];
            key.copy_from_slice(&frame[at - 4..at]);
            apply_mask(&mut frame[at..], key, 0);
        }
    }
}
