//! The sans-IO MSRP endpoint (RFC 4975): sessions (chunking, reassembly, reports, transactions,
//! timers), the connections that carry them, and the endpoint that owns both.
//!
//! This crate decides what an MSRP endpoint sends and what a received frame means. It never
//! opens a socket, reads a clock or spawns a thread: bytes and time (`now`) are passed in,
//! bytes and events come out, and randomness comes from the configuration, so every behaviour
//! can be replayed in a test. Sockets, TLS and the clock belong to `msrp-mio-transport`; the
//! frame grammar to `msrp-wire`; URIs to `msrp-uri`; SDP and offer/answer to `msrp-sdp`.
//!
//! - An [`Endpoint`] owns the sessions and connections of one endpoint, named by
//!   [`SessionId`] and [`ConnectionId`], and makes every decision about them that needs no
//!   socket: which session an incoming connection belongs to (RFC 4975 §5.4: 481, 506, the
//!   SDP fingerprint of §14.4), reuse of connections, what waits for a connection, what fails
//!   when one is lost, connections not set up in time or unused. It tells an I/O layer what to
//!   do ([`Action`]: connect, transmit, close); `msrp-mio-transport` is one.
//! - A [`Connection`] carries one or more [`Session`]s over one byte stream, routes requests by
//!   the session-id of their To-Path, and answers 481 for sessions it does not carry.
//! - Sending: a message's body is in memory ([`Bytes`](bytes::Bytes)) or pulled from a
//!   [`BodySource`] as the connection can take it. Messages are sent in as few chunks as
//!   possible and interrupted only when other traffic waits (RFC 4975 §7.1.1), or in fixed-size
//!   chunks ([`Chunking`]). A chunk's body never contains its own end-line. Every sent message
//!   ends in exactly one [`Outcome`]: delivered, or failed with the status and who said it.
//! - Receiving: chunks are reassembled by Byte-Range in any order, with duplicates and
//!   overlaps; small messages come whole ([`Event::Message`]), larger ones as data at offsets
//!   as it arrives ([`Event::MessageData`]), or into the application's [`IncomingSink`] at
//!   their offsets (a file written in place), which can refuse a message before its 200.
//!   Responses and success and failure REPORTs follow RFC 4975 §7.1.2 to §7.2; [`Limits`]
//!   bound everything a peer controls, and a [`GapBudget`] what all the sessions of an
//!   endpoint let through beyond the gaps of their messages.
//! - From SDP: [`SessionConfig::from_negotiated`] turns the result of an `msrp-sdp` offer/answer
//!   into a session's configuration. [`Role`] and [`FormatEntry`] are `msrp-sdp`'s types,
//!   re-exported here because the configuration holds them.
//!
//! # From an SDP offer/answer to two sessions
//!
//! Alice offers, Bob answers, and each side configures its session from what was agreed:
//!
//! ```
//! use std::time::Instant;
//! use msrp_sdp::{Capabilities, Origin, Path};
//! use msrp_session::{
//!     Connection, ConnectionConfig, OutgoingMessage, Role, SendError, Session, SessionConfig,
//! };
//!
//! let origin = |address: &str| Origin {
//!     username: "-".into(),
//!     session_id: "2890844526".into(),
//!     session_version: 1,
//!     net_type: "IN".into(),
//!     addr_type: "IP4".into(),
//!     address: address.into(),
//! };
//! let alice_path = Path::parse("msrp://alice.example.com:7654/iau39soe2843z;tcp")?;
//! let bob_path = Path::parse("msrp://bob.example.com:8888/9di4eae923wzd;tcp")?;
//! let alice = Capabilities::new(alice_path)?;
//! let mut bob = Capabilities::new(bob_path)?;
//! bob.max_size = Some(1 << 20);
//!
//! let offer = alice.create_offer(origin("alice.example.com"));
//! let (answer, bobs) = bob.create_answer(&offer, origin("bob.example.com"))?;
//! let alices = alice.handle_answer(&answer)?;
//!
//! // Use a cryptographically secure generator in an application.
//! let random = |seed: u8| {
//!     move |buf: &mut [u8]| buf.iter_mut().enumerate().for_each(|(i, b)| *b = seed ^ i as u8)
//! };
//! let alice_config = SessionConfig::from_negotiated(&alices, random(1));
//! let bob_config = SessionConfig::from_negotiated(&bobs, random(2));
//!
//! // The offerer connects and sends the first SEND (RFC 4975 §8.5); Bob waits for her.
//! assert_eq!(alice_config.role, Role::Active);
//! assert_eq!(bob_config.role, Role::Passive);
//! let bob_uri = "msrp://bob.example.com:8888/9di4eae923wzd;tcp";
//! assert_eq!(alice_config.peer_path.to_string(), bob_uri);
//! assert_eq!(bob_config.local_uri.as_str(), bob_uri);
//! assert_eq!(alice_config.peer_max_size, Some(1 << 20));
//! assert_eq!(bob_config.limits.max_message_size, 1 << 20);
//!
//! let mut alice = Connection::new(ConnectionConfig::default());
//! let key = alice.insert_session(Session::new(alice_config)?)?;
//! // Bob's accept-types are the default `message/cpim text/plain`.
//! let html = OutgoingMessage::new("text/html", "<p>Hi</p>");
//! assert_eq!(alice.send(key, html).err(), Some(SendError::NotAccepted));
//! alice.send(key, OutgoingMessage::new("text/plain", "Hi Bob"))?;
//!
//! let mut wire = Vec::new();
//! alice.poll_transmit(Instant::now(), &mut wire);
//! assert!(wire.starts_with(b"MSRP "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A run loop
//!
//! A transport drives a connection like this (the socket calls are stand-ins):
//!
//! ```no_run
//! # use std::time::Instant;
//! # use msrp_session::{Connection, ConnectionEvent};
//! # fn socket_readable() -> Option<Vec<u8>> { None }
//! # fn socket_write(_: &[bytes::Bytes]) {}
//! # fn deliver(_: ConnectionEvent) {}
//! # fn sleep_until(_: Option<Instant>) {}
//! # let mut conn: Connection = unimplemented!();
//! let mut out = Vec::new();
//! loop {
//!     let now = Instant::now();
//!     if conn.wants_read() {
//!         if let Some(bytes) = socket_readable() {
//!             conn.handle_input(now, &bytes);
//!         }
//!     }
//!     conn.handle_timeout(now);
//!     conn.poll_transmit_vectored(now, 256 * 1024, &mut out);
//!     socket_write(&out);
//!     out.clear();
//!     while let Some(event) = conn.poll_event() {
//!         deliver(event);
//!     }
//!     sleep_until(conn.poll_timeout());
//! }
//! ```
//!
//! The example of [`Connection`] runs two connections against each other in memory.

#![forbid(unsafe_code)]

mod certificate;
mod config;
mod connection;
mod endpoint;
mod event;
mod frames;
mod gaps;
mod hash;
mod ids;
mod message;
mod ranges;
mod relay;
mod session;
mod sink;
mod timer;
mod transactions;

pub use certificate::{fingerprint_of, matches_fingerprint};
pub use config::{Chunking, ConnectionConfig, FromPathCheck, Limits, Random, SessionConfig};
pub use connection::{Connection, InsertError};
pub use endpoint::{
    AcceptError, Action, ConnectTarget, ConnectionError, ConnectionId, Endpoint, EndpointConfig,
    EndpointEvent, MessageRef, OpenError, PeerCheck, SessionId, SessionSpec, TrustAnchors,
};
pub use event::{
    ConnectionEvent, Delivered, Event, FailedBy, Failure, IncomingFailure, Message, MessageData,
    MessageEnd, MessageStart, Outcome, Refusal, SessionFailure,
};
pub use gaps::GapBudget;
pub use ids::{IncomingKey, MessageHandle, SessionKey};
pub use message::{Body, BodySource, OutgoingMessage};
pub use msrp_sdp::{Fingerprint, FormatEntry, Role};
pub use msrp_wire::MessageId;
pub use relay::{Credentials, DEFAULT_RELAY_CHUNK, Relay, RelayError, RelayErrorKind};
pub use session::{ConfigError, SendError, Session};
pub use sink::{BodySink, IncomingSink};

/// Runs the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
