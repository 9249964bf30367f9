//! Messages to send: their content, report modes and bodies.

use std::borrow::Cow;
use std::fmt;
use std::io;

use bytes::Bytes;
use msrp_wire::FailureReport;

use crate::MessageId;

/// A body pulled on demand, so that a message of any size never sits in memory whole: a file,
/// or data produced as it is sent.
///
/// The session reads only when the connection can take more bytes, at most `max` at a time, and
/// holds at most a couple of reads.
pub trait BodySource: Send {
    /// Total length in bytes, if known in advance; it is announced in Byte-Range.
    fn total_len(&self) -> Option<u64>;

    /// The next bytes of the body, at most `max` of them; an empty result means the end.
    fn read(&mut self, max: usize) -> io::Result<Bytes>;
}

impl BodySource for Box<dyn BodySource> {
    fn total_len(&self) -> Option<u64> {
        (**self).total_len()
    }

    fn read(&mut self, max: usize) -> io::Result<Bytes> {
        (**self).read(max)
    }
}

/// The body of a message.
pub enum Body {
    /// No body at all: a bodiless SEND (RFC 4975 §7.1: "distinct from requests with empty
    /// bodies").
    None,
    /// A body in memory, sent from its `Bytes` without copying.
    Bytes(Bytes),
    /// A body pulled from a source as it is sent.
    Source(Box<dyn BodySource>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Source(s) => write!(f, "Source(len {:?})", s.total_len()),
        }
    }
}

/// A message to send on a session.
///
/// ```
/// use msrp_session::OutgoingMessage;
/// use msrp_wire::FailureReport;
///
/// let message = OutgoingMessage::new("text/plain", "Hello")
///     .success_report(true)
///     .failure_report(FailureReport::Yes)
///     .header("Content-Disposition", "inline");
/// assert_eq!(message.len(), Some(5));
/// ```
#[derive(Debug)]
pub struct OutgoingMessage {
    pub(crate) content_type: Cow<'static, str>,
    pub(crate) body: Body,
    pub(crate) success_report: bool,
    pub(crate) failure_report: FailureReport,
    pub(crate) headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub(crate) message_id: Option<MessageId>,
}

impl OutgoingMessage {
    /// A message with a body in memory.
    pub fn new(content_type: impl Into<Cow<'static, str>>, body: impl Into<Bytes>) -> Self {
        Self::with_body(content_type, Body::Bytes(body.into()))
    }

    /// A message whose body is read from `source` as it is sent.
    pub fn from_source(
        content_type: impl Into<Cow<'static, str>>,
        source: impl BodySource + 'static,
    ) -> Self {
        Self::with_body(content_type, Body::Source(Box::new(source)))
    }

    /// A bodiless SEND (no Content-Type is sent with it).
    pub fn bodiless() -> Self {
        Self::with_body("", Body::None)
    }

    fn with_body(content_type: impl Into<Cow<'static, str>>, body: Body) -> Self {
        Self {
            content_type: content_type.into(),
            body,
            success_report: false,
            failure_report: FailureReport::Yes,
            headers: Vec::new(),
            message_id: None,
        }
    }

    /// Asks for success REPORTs (`Success-Report: yes`); the outcome then waits for them.
    pub fn success_report(mut self, yes: bool) -> Self {
        self.success_report = yes;
        self
    }

    /// Sets the Failure-Report mode (default `yes`: every chunk is acknowledged, and a missing
    /// response after the transaction timeout fails the message).
    pub fn failure_report(mut self, mode: FailureReport) -> Self {
        self.failure_report = mode;
        self
    }

    /// Adds a header, such as Content-Disposition or Content-Description, to every chunk; it is
    /// placed before Content-Type.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Uses this Message-ID instead of a new random one: for resending a message on a new
    /// session (RFC 4975 §5.4: "the Message-ID values for the resent messages MUST match those
    /// used in the initial attempts").
    pub fn message_id(mut self, id: MessageId) -> Self {
        self.message_id = Some(id);
        self
    }

    /// The body length, if known.
    pub fn len(&self) -> Option<u64> {
        match &self.body {
            Body::None => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Source(s) => s.total_len(),
        }
    }

    /// Whether the body is known to be empty (or absent).
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The media type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }
}
