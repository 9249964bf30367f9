//! Configuration of sessions and connections, with their limits.

use core::fmt;
use std::time::Duration;

use msrp_sdp::{FormatEntry, Negotiated, Role};
use msrp_uri::{MsrpUri, Path};

use crate::sink::IncomingSink;
pub use msrp_wire::Random;

/// How a message is cut into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunking {
    /// As RFC 4975 §7.1.1 strongly recommends: as few chunks as possible, each with `*` as its
    /// range-end, interrupted only when other traffic waits for the connection.
    Interruptible,
    /// Chunks of this many bytes (the last one shorter), for peers such as relays that cap frame
    /// sizes. Chunks of 2048 bytes or less state their range-end; larger ones use `*` (RFC 4975
    /// §7.1.1: "any chunk with a body of greater than 2048 octets will have a "*" character in
    /// the range-end field").
    Fixed(usize),
}

/// How the From-Path of incoming requests is checked against the peer's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FromPathCheck {
    /// The last URI of From-Path (the original sender) must match the last URI of the peer's
    /// path by the rules of RFC 4975 §6.1.
    Strict,
    /// Only the session-ids of those URIs are compared: for peers behind a middlebox that
    /// rewrites the addresses of the SDP `a=path` but not those of the MSRP requests, which breaks
    /// the comparison of RFC 4975 (RFC 6714 §1). CEMA itself (RFC 6714) leaves the paths alone
    /// and keeps the strict check; see [`SessionConfig::from_negotiated`].
    SessionId,
    /// No check.
    Off,
}

/// Limits on what a peer can make a session hold or do. Exceeding one gets the RFC's answer
/// (413 for sizes and counts) and bounded memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message accepted, in bytes; larger ones get 413 (RFC 4975 §10.5). Set it to
    /// what the SDP `a=max-size` advertised. Default 1 GiB.
    pub max_message_size: u64,
    /// Messages being received at once; a chunk of one more gets 413. Default 64.
    pub max_incoming_messages: usize,
    /// Bytes held for messages delivered whole (including out-of-order chunks of them), over all
    /// of the session's incoming messages; beyond it, messages are delivered in pieces instead.
    /// Default 4 MiB.
    pub max_buffered_bytes: usize,
    /// Messages up to this size are delivered whole as one [`Event::Message`](crate::Event);
    /// larger ones in pieces with their offsets. Default 64 KiB.
    pub deliver_whole_up_to: usize,
    /// Time an incomplete incoming message may go without new data before it is dropped (and
    /// its sender told with a failure REPORT). Default 2 minutes.
    pub incomplete_message_timeout: Duration,
    /// Disjoint byte ranges held for one incoming message (chunks out of order); beyond it the
    /// message gets 413. Default 256.
    pub max_ranges: usize,
    /// Bytes the session may have received beyond the first gap of its incoming messages
    /// (data that arrived ahead of bytes still missing, such as chunks 2..N of a message whose
    /// chunk 1 never came), summed over its messages delivered in pieces. An application that
    /// puts the pieces of [`Event::MessageData`](crate::Event::MessageData) in order holds at
    /// most this much for the session. A chunk that would go past it gets 413 and its message
    /// is dropped ([`IncomingFailure::TooLarge`](crate::IncomingFailure::TooLarge)); a message
    /// gives its bytes back when its gap fills or it ends in any way. Messages delivered whole
    /// are bounded by [`max_buffered_bytes`](Self::max_buffered_bytes) instead, and messages
    /// taken by an [`IncomingSink`](crate::IncomingSink) are not counted: they cost the session
    /// no memory. The connections of an [`Endpoint`](crate::Endpoint) also share a bound,
    /// [`EndpointConfig::max_gap_bytes`](crate::EndpointConfig::max_gap_bytes). Default 16 MiB.
    pub max_gap_bytes: u64,
    /// Message-IDs of completed incoming messages that are remembered, so that a duplicate (a
    /// chunk sent again after its response was lost, or a message resent on a new connection)
    /// is acknowledged but not delivered twice (RFC 4975 §5.4: "If the receiving endpoint
    /// receives more than one message with the same Message-ID, it SHOULD assume that the
    /// messages are duplicates"). The oldest is forgotten first, and all of them after 30 s
    /// without traffic. The memory grows with use, up to about 48 bytes per id (a 64-bit keyed
    /// digest each, and their table); 0 remembers none. Default 256.
    pub remembered_message_ids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 30,
            max_incoming_messages: 64,
            max_buffered_bytes: 4 << 20,
            deliver_whole_up_to: 64 << 10,
            incomplete_message_timeout: Duration::from_secs(120),
            max_ranges: 256,
            max_gap_bytes: 16 << 20,
            remembered_message_ids: 256,
        }
    }
}

/// Everything a [`Session`](crate::Session) needs to know: who it is, whom it talks to, and how.
#[non_exhaustive]
pub struct SessionConfig {
    /// This endpoint's URI for the session (its SDP `a=path`); its session-id names the session.
    pub local_uri: MsrpUri,
    /// The To-Path of requests this session sends: the peer's SDP `a=path`, relays first.
    pub peer_path: Path,
    /// Randomness for ids.
    pub random: Box<dyn Random>,
    /// How messages are cut into chunks.
    pub chunking: Chunking,
    /// Bytes a message may send before it yields the connection to other waiting traffic (at
    /// least 2048, as RFC 4975 §7.1.1 wants chunks interrupted only after "at least 2048
    /// octets"). Default 64 KiB.
    pub quantum: usize,
    /// Time to wait for the response to a chunk sent with Failure-Report `yes` before the
    /// message fails with 408 (RFC 4975 §7.1.1: "within 30 seconds"). Default 30 s.
    pub transaction_timeout: Duration,
    /// Time to wait, after the last chunk, for the success REPORTs of a message sent with
    /// Success-Report `yes`. Default 2 minutes (RFC 4975 §7.1.1: "For many IM applications, it
    /// may be 2 minutes").
    pub success_report_timeout: Duration,
    /// Media types this endpoint accepts (its `a=accept-types`); others get 415. Default `*`.
    pub accept_types: Vec<FormatEntry>,
    /// Media types the peer accepts (its `a=accept-types`); sending another is refused before
    /// anything is sent (RFC 4975 §8.6). `None` accepts everything.
    pub peer_accept_types: Option<Vec<FormatEntry>>,
    /// The peer's `a=max-size`; larger messages are refused before anything is sent.
    pub peer_max_size: Option<u64>,
    /// How the From-Path of incoming requests is checked.
    pub from_path_check: FromPathCheck,
    /// Whether this endpoint opens the connection. The active one (RFC 4975 §5.4) "MUST
    /// immediately issue a SEND request" when its connection is up: a bodiless SEND is sent when
    /// the session is attached to a connection with nothing else queued. Default
    /// [`Role::Passive`].
    pub role: Role,
    /// Limits on what the peer can make this session do.
    pub limits: Limits,
    /// Where the bodies of incoming messages go instead of events: a file written at each
    /// piece's offset, say. `None` (the default) delivers them as events.
    pub sink: Option<Box<dyn IncomingSink>>,
}

impl SessionConfig {
    /// A configuration with the defaults: interruptible chunking, 30 s transaction timeout,
    /// everything accepted, strict From-Path checks, passive.
    pub fn new(local_uri: MsrpUri, peer_path: Path, random: impl Random + 'static) -> Self {
        Self {
            local_uri,
            peer_path,
            random: Box::new(random),
            chunking: Chunking::Interruptible,
            quantum: 64 << 10,
            transaction_timeout: Duration::from_secs(30),
            success_report_timeout: Duration::from_secs(120),
            accept_types: vec![FormatEntry::Any],
            peer_accept_types: None,
            peer_max_size: None,
            from_path_check: FromPathCheck::Strict,
            role: Role::Passive,
            limits: Limits::default(),
            sink: None,
        }
    }

    /// The configuration of the session that an SDP offer/answer agreed on, with the defaults of
    /// [`new`](Self::new) for everything SDP does not say.
    ///
    /// From `negotiated` it takes:
    /// - `local_uri`: the last URI of the local path, the endpoint's own (RFC 4975 §8.2);
    /// - `peer_path`: the peer's whole path, the To-Path of every request (RFC 4975 §8.2: "The
    ///   target path is the entire path attribute value received from the peer");
    /// - `role`: who opens the connection and sends the first SEND;
    /// - `accept_types` and `peer_accept_types`: the top-level accept-types of each side;
    /// - `peer_max_size`, and the local `a=max-size` as [`Limits::max_message_size`] when one was
    ///   advertised;
    /// - `from_path_check`: [`FromPathCheck::Strict`], with or without CEMA.
    ///
    /// What is left to the caller: where an active endpoint connects
    /// ([`Negotiated::connect_to`]), TLS and the peer's fingerprints, the direction, and the
    /// file transfer, which belong to the transport and the application.
    pub fn from_negotiated(negotiated: &Negotiated, random: impl Random + 'static) -> Self {
        let mut config = Self::new(
            negotiated.local_path.last().clone(),
            negotiated.peer_path.as_uri_path().clone(),
            random,
        );
        config.role = negotiated.role;
        config
            .accept_types
            .clone_from(&negotiated.local_accept_types);
        config.peer_accept_types = Some(negotiated.peer_accept_types.clone());
        config.peer_max_size = negotiated.peer_max_size;
        if let Some(max) = negotiated.local_max_size {
            config.limits.max_message_size = max;
        }
        // CEMA changes where the connection goes, not the paths or the checks of received
        // requests. RFC 6714 §1: "After the creation of the MSRP connection, an MSRP endpoint
        // that supports the CEMA extension acts according to the procedures for creating MSRP
        // messages, performing checks when receiving MSRP messages defined in RFC 4975 and, when
        // it is using a relay for MSRP communications, RFC 4976."
        config.from_path_check = FromPathCheck::Strict;
        config
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("local_uri", &self.local_uri)
            .field("peer_path", &self.peer_path)
            .field("chunking", &self.chunking)
            .field("quantum", &self.quantum)
            .field("transaction_timeout", &self.transaction_timeout)
            .field("success_report_timeout", &self.success_report_timeout)
            .field("accept_types", &self.accept_types)
            .field("peer_accept_types", &self.peer_accept_types)
            .field("peer_max_size", &self.peer_max_size)
            .field("from_path_check", &self.from_path_check)
            .field("role", &self.role)
            .field("limits", &self.limits)
            .field("sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

/// Configuration of a [`Connection`](crate::Connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// Limits of the frame decoder.
    pub wire: msrp_wire::Limits,
    /// Sessions one connection may carry. Default 1024.
    pub max_sessions: usize,
    /// Responses and REPORTs queued for sending before the connection stops reading (the peer
    /// must read what it asked for). Default 256 KiB.
    pub max_queued_control: usize,
    /// Time a frame may stay incomplete without new bytes arriving before the connection fails
    /// (an idle or slowloris peer). Default 30 s.
    pub frame_timeout: Duration,
    /// Time a frame's head (start line and headers) may take from its first byte to its last,
    /// for every frame: a peer that trickles a head a byte at a time keeps the frame timeout
    /// from ever running out, not this one. Default 10 s.
    pub head_timeout: Duration,
    /// Time without traffic after which a connection gives back its input and output buffers
    /// (64 KiB each, made again when traffic resumes), so that an idle connection pins none.
    /// The sessions' tables are given back after 30 s of quiet, when their Message-IDs are
    /// forgotten. `Duration::MAX` keeps them. Default 1 s.
    pub buffer_release: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            wire: msrp_wire::Limits::default(),
            max_sessions: 1024,
            max_queued_control: 256 << 10,
            frame_timeout: Duration::from_secs(30),
            head_timeout: Duration::from_secs(10),
            buffer_release: Duration::from_secs(1),
        }
    }
}
