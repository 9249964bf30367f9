//! The WebSocket frame decoder: incremental, unmasking in place.

use super::{MAX_HEADER, Opcode, Role, WsError, WsLimits, apply_mask};

/// A control frame (RFC 6455 §5.5), whole: its payload is at most 125 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// A ping, to be answered by a pong with the same payload (§5.5.2).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer closes: its status code, if it gave one, and its reason (§5.5.1).
    Close {
        /// The status code.
        code: Option<u16>,
        /// The reason, UTF-8.
        reason: String,
    },
}

/// What the decoder found next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Payload bytes of a data message, unmasked, at this range of the input slice given.
    Data(core::ops::Range<usize>),
    /// The data message in progress has ended (its last fragment has been read).
    MessageEnd,
    /// A control frame.
    Control(Control),
}

/// One step of the decoder: how many input bytes it used, and what they made, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input taken: the caller passes the rest next time.
    pub consumed: usize,
    /// `None` when all the input was taken and more is needed.
    pub item: Option<Item>,
}

/// The frame whose payload is being read.
#[derive(Clone, Copy, Debug)]
struct Frame {
    opcode: Opcode,
    fin: bool,
    remaining: u64,
    mask: Option<[u8; 4]>,
    /// Payload bytes of this frame read so far, for the masking key's position.
    read: u64,
}

/// The data message in progress.
#[derive(Clone, Copy, Debug)]
struct Message {
    text: bool,
    len: u64,
    /// The start of a UTF-8 sequence split between frames or reads.
    utf8: [u8; 4],
    utf8_len: u8,
}

/// An incremental decoder of received WebSocket frames (RFC 6455 §5).
///
/// ```
/// use msrp_wire::ws::{Decoder, Item, Role};
///
/// // RFC 6455 §5.7: a single-frame masked text message, "Hello", from a client.
/// let mut wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let mut decoder = Decoder::new(Role::Server);
/// let step = decoder.decode(&mut wire)?;
/// let Some(Item::Data(range)) = step.item else { panic!() };
/// assert_eq!(&wire[range], b"Hello");
/// let rest = &mut wire[step.consumed..];
/// assert_eq!(decoder.decode(rest)?.item, Some(Item::MessageEnd));
/// # Ok::<(), msrp_wire::ws::WsError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: WsLimits,
    header: [u8; MAX_HEADER],
    header_len: usize,
    frame: Option<Frame>,
    message: Option<Message>,
    control: Vec<u8>,
    closed: bool,
}

impl Decoder {
    /// A decoder for the frames that `role`'s peer sends, with the default limits.
    pub fn new(role: Role) -> Self {
        Self::with_limits(role, WsLimits::default())
    }

    /// A decoder with the given limits.
    pub fn with_limits(role: Role, limits: WsLimits) -> Self {
        Self {
            role,
            limits,
            header: [0; MAX_HEADER],
            header_len: 0,
            frame: None,
            message: None,
            control: Vec::new(),
            closed: false,
        }
    }

    /// Whether the peer's Close has been read.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a data message is in progress (some of it read, its end not yet).
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// Decodes from `input`, unmasking payload bytes in place. Call again with
    /// `&mut input[consumed..]` until the item is `None`.
    pub fn decode(&mut self, input: &mut [u8]) -> Result<Decoded, WsError> {
        let mut pos = 0;
        loop {
            let Some(mut frame) = self.frame else {
                if pos == input.len() {
                    return Ok(Decoded {
                        consumed: pos,
                        item: None,
                    });
                }
                pos += self.read_header(&input[pos..])?;
                continue;
            };
            if frame.remaining == 0 {
                self.frame = None;
                if frame.opcode.is_control() {
                    let control = self.take_control(frame.opcode)?;
                    return Ok(Decoded {
                        consumed: pos,
                        item: Some(Item::Control(control)),
                    });
                }
                if frame.fin {
                    let message = self.message.take();
                    if message.is_some_and(|m| m.utf8_len > 0) {
                        return Err(WsError::InvalidUtf8);
                    }
                    return Ok(Decoded {
                        consumed: pos,
                        item: Some(Item::MessageEnd),
                    });
                }
                continue;
            }
            let available = input.len() - pos;
            if available == 0 {
                return Ok(Decoded {
                    consumed: pos,
                    item: None,
                });
            }
            let take = usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
            let data = &mut input[pos..pos + take];
            if let Some(key) = frame.mask {
                apply_mask(data, key, (frame.read % 4) as usize);
            }
            frame.remaining -= take as u64;
            frame.read += take as u64;
            self.frame = Some(frame);
            if frame.opcode.is_control() {
                self.control.extend_from_slice(data);
                pos += take;
                continue;
            }
            if let Some(message) = self.message.as_mut().filter(|m| m.text) {
                check_utf8(message, data)?;
            }
            return Ok(Decoded {
                consumed: pos + take,
                item: Some(Item::Data(pos..pos + take)),
            });
        }
    }

    /// Takes header bytes from `input` (which is not empty); starts the frame once the header
    /// is whole. Returns the bytes taken.
    fn read_header(&mut self, input: &[u8]) -> Result<usize, WsError> {
        let mut taken = 0;
        loop {
            let need = header_len(&self.header[..self.header_len]);
            if self.header_len == need {
                break;
            }
            if taken == input.len() {
                return Ok(taken);
            }
            // Whole runs are copied at once when the input has them.
            let run = (need - self.header_len).min(input.len() - taken);
            self.header[self.header_len..self.header_len + run]
                .copy_from_slice(&input[taken..taken + run]);
            self.header_len += run;
            taken += run;
        }
        let header = &self.header[..self.header_len];
        self.header_len = 0;
        self.start_frame(header_fields(header))?;
        Ok(taken)
    }

    fn start_frame(&mut self, fields: HeaderFields) -> Result<(), WsError> {
        if self.closed {
            return Err(WsError::AfterClose);
        }
        // RFC 6455 §5.2: "RSV1, RSV2, RSV3 ... MUST be 0 unless an extension is negotiated".
        if fields.rsv != 0 {
            return Err(WsError::Protocol("a reserved bit is set"));
        }
        // "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
        // Connection_."
        let opcode = Opcode::from_bits(fields.opcode).ok_or(WsError::Protocol("unknown opcode"))?;
        match (self.role, fields.mask.is_some()) {
            // §5.1: "The server MUST close the connection upon receiving a frame that is not
            // masked."
            (Role::Server, false) => return Err(WsError::Protocol("a client frame not masked")),
            // "A client MUST close a connection if it detects a masked frame."
            (Role::Client, true) => return Err(WsError::Protocol("a server frame masked")),
            _ => {}
        }
        let len = match fields.len {
            // §5.2: "the minimal number of bytes MUST be used to encode the length".
            LenField::Short(len) => u64::from(len),
            LenField::Medium(len) if len >= 126 => u64::from(len),
            LenField::Long(len) if len > u64::from(u16::MAX) && len >> 63 == 0 => len,
            _ => return Err(WsError::Protocol("a payload length not minimally encoded")),
        };
        if opcode.is_control() {
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less and
            // MUST NOT be fragmented."
            if len > 125 || !fields.fin {
                return Err(WsError::Protocol("a control frame fragmented or too long"));
            }
            self.control.clear();
        } else {
            match (opcode, self.message.as_mut()) {
                // §5.4: fragments of one message come in order, without another message's
                // data frames between them.
                (Opcode::Continuation, None) => {
                    return Err(WsError::Protocol("a continuation with no message begun"));
                }
                (Opcode::Continuation, Some(message)) => {
                    message.len += len;
                }
                (_, Some(_)) => {
                    return Err(WsError::Protocol("a message begun inside another"));
                }
                (_, None) => {
                    self.message = Some(Message {
                        text: opcode == Opcode::Text,
                        len,
                        utf8: [0; 4],
                        utf8_len: 0,
                    });
                }
            }
            let size = self.message.map_or(0, |m| m.len);
            if size > self.limits.max_message {
                return Err(WsError::MessageTooBig {
                    limit: self.limits.max_message,
                });
            }
        }
        self.frame = Some(Frame {
            opcode,
            fin: fields.fin,
            remaining: len,
            mask: fields.mask,
            read: 0,
        });
        Ok(())
    }

    fn take_control(&mut self, opcode: Opcode) -> Result<Control, WsError> {
        let payload = core::mem::take(&mut self.control);
        Ok(match opcode {
            Opcode::Ping => Control::Ping(payload),
            Opcode::Pong => Control::Pong(payload),
            _ => {
                self.closed = true;
                // §5.5.1: a body, if any, starts with a two-byte status code, then UTF-8.
                match payload.len() {
                    0 => Control::Close {
                        code: None,
                        reason: String::new(),
                    },
                    1 => return Err(WsError::Protocol("a Close body of one byte")),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        let reason = String::from_utf8(payload[2..].to_vec())
                            .map_err(|_| WsError::InvalidUtf8)?;
                        Control::Close {
                            code: Some(code),
                            reason,
                        }
                    }
                }
            }
        })
    }
}

/// Checks the next bytes of a text message, keeping a sequence split at their end for the
/// next bytes to complete.
fn check_utf8(message: &mut Message, mut data: &[u8]) -> Result<(), WsError> {
    if message.utf8_len > 0 {
        let have = usize::from(message.utf8_len);
        let width = match message.utf8[0] {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let more = (width - have).min(data.len());
        message.utf8[have..have + more].copy_from_slice(&data[..more]);
        let sequence = &message.utf8[..have + more];
        data = &data[more..];
        match core::str::from_utf8(sequence) {
            Ok(_) => message.utf8_len = 0,
            Err(e) if e.error_len().is_none() => {
                message.utf8_len = sequence.len() as u8;
                return Ok(());
            }
            Err(_) => return Err(WsError::InvalidUtf8),
        }
    }
    match core::str::from_utf8(data) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() => {
            let tail = &data[e.valid_up_to()..];
            message.utf8[..tail.len()].copy_from_slice(tail);
            message.utf8_len = tail.len() as u8;
            Ok(())
        }
        Err(_) => Err(WsError::InvalidUtf8),
    }
}

/// The length of the header that starts with `start`, as far as its first bytes tell.
fn header_len(start: &[u8]) -> usize {
    let Some(&second) = start.get(1) else {
        return 2;
    };
    let extended = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + extended + if second & 0x80 != 0 { 4 } else { 0 }
}

enum LenField {
    Short(u8),
    Medium(u16),
    Long(u64),
}

struct HeaderFields {
    fin: bool,
    rsv: u8,
    opcode: u8,
    len: LenField,
    mask: Option<[u8; 4]>,
}

fn header_fields(header: &[u8]) -> HeaderFields {
    let (first, second) = (header[0], header[1]);
    let (len, rest) = match second & 0x7F {
        126 => (
            LenField::Medium(u16::from_be_bytes([header[2], header[3]])),
            &header[4..],
        ),
        127 => {
            let mut wide = [0u8; 8];
            wide.copy_from_slice(&header[2..10]);
            (LenField::Long(u64::from_be_bytes(wide)), &header[10..])
        }
        short => (LenField::Short(short), &header[2..]),
    };
    HeaderFields {
        fin: first & 0x80 != 0,
        rsv: (first >> 4) & 0x7,
        opcode: first & 0x0F,
        len,
        mask: (second & 0x80 != 0).then(|| [rest[0], rest[1], rest[2], rest[3]]),
    }
}
