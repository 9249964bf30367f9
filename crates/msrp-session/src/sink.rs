//! Sinks: where the bodies of incoming messages go when an application takes them at their
//! offsets (a file written in place) rather than as events.

use std::io;

use msrp_wire::StatusCode;

use crate::event::{IncomingFailure, MessageStart};

/// Where the bodies of a session's incoming messages go, instead of
/// [`Event::MessageData`](crate::Event::MessageData) and [`Event::Message`](crate::Event::Message)
/// events: set it as [`SessionConfig::sink`](crate::SessionConfig::sink). The receiving
/// counterpart of [`BodySource`](crate::BodySource).
///
/// The session calls it synchronously, while it handles the first chunk of each message and
/// before that chunk is answered, so that a message the application cannot take is refused
/// with a status of its choice rather than acknowledged and lost (RFC 4975 §7.1.4: "it SHOULD
/// simply include the appropriate error code in the transaction response"). A message it takes
/// is still announced by [`Event::MessageStart`](crate::Event::MessageStart) and ended by
/// [`Event::MessageEnd`](crate::Event::MessageEnd), but its data goes only to its
/// [`BodySink`], each piece at its offset, in the order the pieces arrive: a message whose
/// chunks come out of order, or with a gap, costs the session no memory, and is not counted
/// against [`Limits::max_gap_bytes`](crate::Limits::max_gap_bytes). Every message with a body
/// goes through the sink, small ones too, so that an application stores them all one way and
/// can refuse any of them before its 200.
///
/// A sink runs inside the session's receive path: it should not block for long (a local file
/// write is fine), since the connection reads nothing meanwhile.
pub trait IncomingSink: Send {
    /// A message starts: its first chunk has arrived, and nothing has been answered yet.
    ///
    /// `Ok(Some(body))` takes the message: its data goes to `body`. `Ok(None)` leaves it to
    /// events, as without a sink. `Err(status)` refuses it: the chunk is answered with `status`
    /// (an error code such as 413, which tells the sender to stop sending the message, RFC 4975
    /// §10.5), as are its later chunks with 413, and the application hears of it as
    /// [`Event::Refused`](crate::Event::Refused).
    fn start(&mut self, message: &MessageStart) -> Result<Option<Box<dyn BodySink>>, StatusCode>;
}

impl<S: IncomingSink + ?Sized> IncomingSink for Box<S> {
    fn start(&mut self, message: &MessageStart) -> Result<Option<Box<dyn BodySink>>, StatusCode> {
        (**self).start(message)
    }
}

/// The body of one incoming message, as an [`IncomingSink`] takes it.
///
/// A write that fails fails this message alone: the session stops writing to the sink, ends
/// it with [`IncomingFailure::Sink`], answers the chunk with 413 and refuses the message's later
/// chunks; the error stays with the sink, which returned it.
pub trait BodySink: Send {
    /// Writes `data` at `offset` (from zero) in the message. Pieces come in the order they
    /// arrive, which need not be the order of their offsets; an overlapping piece takes
    /// precedence over what it overlaps (RFC 4975 §7.3.1: "the last chunk received SHOULD take
    /// precedence").
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// The message has ended: `Ok(size)` when every byte was written, otherwise why it was
    /// given up (its data must be discarded). Called exactly once.
    ///
    /// An error when the message is complete fails it after all: the session sends the failure
    /// REPORT its Failure-Report asks for (the last chunk has been acknowledged already, RFC
    /// 4975 §7.1.4: "it MAY send a 200 OK response to the request, and then send a failure
    /// REPORT request when the error is detected"), and no success REPORT.
    fn finish(self: Box<Self>, result: Result<u64, IncomingFailure>) -> io::Result<()>;
}
