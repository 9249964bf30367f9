//! Identifiers: Message-IDs, and handles for messages and sessions.

use core::fmt;

use msrp_wire::TransactionId;

/// A Message-ID value: an `ident` of 4 to 32 characters (RFC 4975 §9).
///
/// Generated ids take 16 random bytes, so they are unique and unguessable (RFC 4975 §7.1.1: the
/// value "MUST be highly unlikely to be repeated by another endpoint instance, or by the same
/// instance in the future").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(TransactionId);

impl MessageId {
    /// Validates a Message-ID.
    pub fn new(id: &str) -> Option<Self> {
        TransactionId::new(id).ok().map(Self)
    }

    /// An id of 16 alphanumeric characters from 16 random bytes.
    pub fn from_random(random: [u8; 16]) -> Self {
        Self(TransactionId::from_random(random))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id's bytes, for writing it.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.as_str())
    }
}

/// Names one message sent on a session, from [`Connection::send`](crate::Connection::send) to
/// its [`Outcome`](crate::Outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageHandle(pub(crate) u64);

impl MessageHandle {
    /// The handle's number, unique within its session.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Names one message being received on a session, from its
/// [`MessageStart`](crate::MessageStart) to its [`MessageEnd`](crate::MessageEnd).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncomingKey(pub(crate) u64);

impl IncomingKey {
    /// The key's number, unique within its session.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// Names a session attached to a [`Connection`](crate::Connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}
