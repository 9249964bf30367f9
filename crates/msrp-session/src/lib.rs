//! The sans-IO MSRP session engine (RFC 4975): chunking, reassembly, reports, transactions,
//! timers, and the SDP side of MSRP.
//!
//! This crate decides what an MSRP endpoint sends and what a received frame means. It never
//! opens a socket, reads a clock or spawns a thread: bytes and time (`now`) are passed in,
//! bytes and events come out, and randomness comes from the configuration, so every behaviour
//! can be replayed in a test. Sockets, TLS and the clock belong to `msrp-mio-transport`; the
//! frame grammar to `msrp-wire`; URIs to `msrp-uri`.
//!
//! - A [`Connection`] carries one or more [`Session`]s over one byte stream, routes requests by
//!   the session-id of their To-Path, and answers 481 for sessions it does not carry.
//! - Sending: a message's body is in memory ([`Bytes`](bytes::Bytes)) or pulled from a
//!   [`BodySource`] as the connection can take it. Messages are sent in as few chunks as
//!   possible and interrupted only when other traffic waits (RFC 4975 §7.1.1), or in fixed-size
//!   chunks ([`Chunking`]). A chunk's body never contains its own end-line. Every sent message
//!   ends in exactly one [`Outcome`]: delivered, or failed with the status and who said it.
//! - Receiving: chunks are reassembled by Byte-Range in any order, with duplicates and
//!   overlaps; small messages come whole ([`Event::Message`]), larger ones as data at offsets
//!   as it arrives ([`Event::MessageData`]). Responses and success and failure REPORTs follow
//!   RFC 4975 §7.1.2 to §7.2; [`Limits`] bound everything a peer controls.
//! - [`sdp`]: the MSRP media description and offer/answer (RFC 4975 §8, RFC 6135, RFC 4572,
//!   RFC 5547, RFC 6714, RFC 7701).
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

mod config;
mod connection;
mod event;
mod frames;
mod hash;
mod ids;
mod message;
mod ranges;
pub mod sdp;
mod session;
mod timer;
mod transactions;

pub use config::{Chunking, ConnectionConfig, FromPathCheck, Limits, Random, SessionConfig};
pub use connection::{Connection, InsertError};
pub use event::{
    ConnectionEvent, Delivered, Event, FailedBy, Failure, IncomingFailure, Message, MessageData,
    MessageEnd, MessageStart, Outcome, Refusal, SessionFailure,
};
pub use ids::{IncomingKey, MessageHandle, SessionKey};
pub use message::{Body, BodySource, OutgoingMessage};
pub use msrp_wire::MessageId;
pub use session::{ConfigError, SendError, Session};

/// Runs the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
