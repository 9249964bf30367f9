//! What sessions and connections tell the application.

use core::fmt;

use bytes::Bytes;
use msrp_wire::{Head, StatusCode};

use crate::relay::RelayError;
use crate::{IncomingKey, MessageHandle, MessageId, SessionKey};

/// Something a session has to tell the application.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A complete message, delivered whole (it was no larger than
    /// [`Limits::deliver_whole_up_to`](crate::Limits::deliver_whole_up_to)).
    Message(Message),
    /// The first chunk of a message delivered in pieces, or taken by an
    /// [`IncomingSink`](crate::IncomingSink) (whose data then goes only to the sink).
    MessageStart(MessageStart),
    /// Bytes of a message delivered in pieces, at their offset in the message. Pieces come in
    /// the order they arrive, which need not be the order of their offsets; overlapping pieces
    /// may come, and the later one takes precedence (RFC 4975 §7.3.1).
    MessageData(MessageData),
    /// The end of a message delivered in pieces, or taken by an
    /// [`IncomingSink`](crate::IncomingSink): complete, or given up.
    MessageEnd(MessageEnd),
    /// The outcome of a message this session sent: each sent message gets exactly one.
    Outcome(Outcome),
    /// A request was refused with an error response (400, 403, 413, 415, 481, 501 …), or would
    /// have been had its Failure-Report allowed one.
    Refused(Refusal),
    /// The session has failed; no more messages can be sent on it. Every message in flight has
    /// its failed [`Outcome`] before this.
    SessionFailed(SessionFailure),
}

/// A request this session refused.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The status code of the refusal.
    pub status: StatusCode,
    /// The refused request's head.
    pub head: Head,
}

/// A message received whole.
#[derive(Clone, Debug)]
pub struct Message {
    /// The Message-ID.
    pub message_id: MessageId,
    /// The head of the (last) chunk that carried it: Content-Type and every other header.
    pub head: Head,
    /// The content, a slice of the receive buffer when it came in one chunk.
    pub body: Bytes,
}

/// The start of a message delivered in pieces.
#[derive(Clone, Debug)]
pub struct MessageStart {
    /// Names the message in the events that follow.
    pub key: IncomingKey,
    /// The Message-ID.
    pub message_id: MessageId,
    /// The head of the first chunk received: Content-Type and every other header.
    pub head: Head,
    /// Total size, when the chunk announced it.
    pub total: Option<u64>,
}

/// Bytes of a message delivered in pieces.
#[derive(Clone, Debug)]
pub struct MessageData {
    /// The message.
    pub key: IncomingKey,
    /// Offset of `data` in the message, counted from zero.
    pub offset: u64,
    /// The bytes, a slice of the receive buffer.
    pub data: Bytes,
}

/// How a message delivered in pieces ended.
#[derive(Clone, Debug)]
pub struct MessageEnd {
    /// The message.
    pub key: IncomingKey,
    /// Its size when every byte arrived, or why it was given up.
    pub result: Result<u64, IncomingFailure>,
}

/// Why an incoming message was given up; its data events so far must be discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncomingFailure {
    /// The sender aborted it (a chunk ended with `#`).
    Aborted,
    /// It went without new data for longer than the incomplete-message timeout.
    TimedOut,
    /// It exceeded a limit and was refused with 413.
    TooLarge,
    /// The session or connection ended before it was complete.
    SessionEnded,
    /// Its [`BodySink`](crate::BodySink) failed to take its data (a write failed), or to finish
    /// it; the sink has the error.
    Sink,
}

/// The outcome of a sent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The message.
    pub handle: MessageHandle,
    /// Its Message-ID.
    pub message_id: MessageId,
    /// Delivered, or failed and why.
    pub result: Result<Delivered, Failure>,
}

/// A message whose delivery is confirmed as far as its report modes allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Bytes sent.
    pub bytes: u64,
    /// Whether every chunk was acknowledged by a 200 response (Failure-Report `yes`).
    pub acknowledged: bool,
    /// Whether success REPORTs covered every byte (Success-Report `yes`).
    pub reported: bool,
}

/// Why a sent message failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The status code: the peer's response or REPORT code, or 408 for a timeout (RFC 4975
    /// §10.4); `None` for local reasons (aborted, connection lost, source error, closed).
    pub status: Option<StatusCode>,
    /// Who or what decided.
    pub by: FailedBy,
    /// The comment of the peer's response or REPORT, if any.
    pub comment: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.by {
            FailedBy::PeerResponse => "peer responded",
            FailedBy::PeerReport => "peer reported",
            FailedBy::Timeout => "no response in time",
            FailedBy::ReportTimeout => "no success report in time",
            FailedBy::ConnectionLost => "connection lost",
            FailedBy::SessionClosed => "session closed",
            FailedBy::SessionFailed => "session failed",
            FailedBy::Aborted => "aborted",
            FailedBy::Source => "body source failed",
        };
        f.write_str(who)?;
        if let Some(status) = self.status {
            write!(f, ": {status}")?;
        }
        if let Some(comment) = &self.comment {
            write!(f, " {comment}")?;
        }
        Ok(())
    }
}

/// Who or what failed a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailedBy {
    /// A transaction response from the peer (or a relay).
    PeerResponse,
    /// A failure REPORT from the peer (or a relay).
    PeerReport,
    /// No response to a chunk within the transaction timeout (408).
    Timeout,
    /// No success REPORT within the success-report timeout.
    ReportTimeout,
    /// The connection was lost before delivery was confirmed.
    ConnectionLost,
    /// The application closed the session before delivery was confirmed.
    SessionClosed,
    /// The session failed (the peer answered 481 or 506 to another transaction).
    SessionFailed,
    /// The application aborted the message.
    Aborted,
    /// Reading the body from its source failed.
    Source,
}

/// Why a session failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionFailure {
    /// The peer does not know the session (481) or it is bound to another connection (506).
    Rejected(StatusCode),
    /// The first SEND of the active endpoint was not answered in time.
    BindTimeout,
    /// The connection was lost.
    ConnectionLost,
    /// The peer broke the framing of the byte stream.
    Framing(msrp_wire::ParseError),
    /// Incomplete frame without progress for longer than the frame timeout.
    FrameTimeout,
    /// A frame's head took longer than the head timeout to arrive.
    HeadTimeout,
    /// A relay the session goes through did not grant or renew its path (RFC 4976 §5.1).
    Relay(RelayError),
}

impl fmt::Display for SessionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(code) => write!(f, "peer rejected the session with {code}"),
            Self::BindTimeout => f.write_str("no response to the first SEND"),
            Self::ConnectionLost => f.write_str("connection lost"),
            Self::Framing(e) => write!(f, "framing error: {e}"),
            Self::FrameTimeout => f.write_str("incomplete frame timed out"),
            Self::HeadTimeout => f.write_str("a frame's head took too long to arrive"),
            Self::Relay(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SessionFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Framing(e) => Some(e),
            Self::Relay(e) => Some(e),
            _ => None,
        }
    }
}

/// Something a connection has to tell the application.
// Session events carry the frame head inline: boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// An event of one of the connection's sessions.
    Session(SessionKey, Event),
    /// A request names a session this connection does not carry. Input is paused until the
    /// application attaches the session with
    /// [`Connection::insert_session`](crate::Connection::insert_session) or refuses it with
    /// [`Connection::refuse_unknown_session`](crate::Connection::refuse_unknown_session) (481,
    /// or 506 when the session is bound to another connection).
    UnknownSession {
        /// The session-id of the first To-Path URI.
        session_id: String,
        /// The request's To-Path, whose URI must name the session for it to be attached (RFC
        /// 4975 §7.3: it "MUST map to an existing session").
        to_path: String,
    },
    /// The connection cannot carry on (framing error, frame timeout); it should be closed.
    /// Every session on it has failed.
    Failed(SessionFailure),
    /// The response to a request written with
    /// [`Connection::send_request`](crate::Connection::send_request).
    Response(Head),
}
