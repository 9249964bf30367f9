//! Identifiers: handles for messages and sessions. Message-IDs are `msrp_wire::MessageId`.

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
