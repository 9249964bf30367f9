//! MSRP over TCP, TLS and WebSocket on a [mio](https://docs.rs/mio) event loop: endpoints that
//! never lose a byte and never grow without bound.
//!
//! This crate is the only part of the workspace with sockets, TLS and a clock. An [`Endpoint`]
//! runs one event loop on its own thread around a sans-IO [`msrp_session::Endpoint`], which
//! makes every decision about sessions and connections: which session an incoming connection
//! belongs to (481, 506, the SDP fingerprint), connection reuse (RFC 4975 §5.4), what waits for
//! a connection, what fails when one is lost, timeouts. This crate does what it asks: listeners
//! on IPv4 and IPv6, outgoing connections (host names looked up off the loop's thread), TLS with
//! rustls for `msrps` (self-signed certificates checked against the peer's SDP fingerprint, RFC
//! 4975 §14.4, or CA-verified ones), the read and write pumps with backpressure at every step,
//! and the clock. It does not do SIP or SDP exchange: the application negotiates (see
//! `msrp_sdp`), turns the result into a session configuration with
//! `SessionConfig::from_negotiated`, and hands it to
//! [`Handle::open_session`].
//!
//! Applications talk to the loop through a [`Handle`] (commands over a channel, and a
//! `mio::Waker`) from any thread, and receive [`EndpointEvent`]s from a channel ([`Events`]) or
//! in a [`Handler`] running on the loop's thread.
//!
//! Memory stays bounded: each connection queues at most
//! [`EndpointConfig::write_buffer`] bytes of output and its sessions pull body bytes (from
//! memory or a [`FileSource`]) only as the socket takes them; reading stops while the
//! application lags behind its events, or while a peer does not read the responses it asked
//! for.
//!
//! # Sending one message
//!
//! ```no_run
//! use msrp_mio_transport::{Endpoint, EndpointConfig, EndpointEvent, Role, SessionSpec};
//! use msrp_session::{OutgoingMessage, SessionConfig};
//!
//! let endpoint = Endpoint::start(EndpointConfig::default())?;
//! let config = SessionConfig::new(
//!     "msrp://127.0.0.1:7777/alice1234;tcp".parse()?,   // our URI (from our SDP)
//!     "msrp://127.0.0.1:2855/bob98765;tcp".parse()?,   // the peer's a=path
//!     |buf: &mut [u8]| buf.fill(4),                      // use a real random source
//! );
//! let session = endpoint.handle().open_session(SessionSpec::new(config, Role::Active))?;
//! let message = endpoint.handle().send(session, OutgoingMessage::new("text/plain", "Hello"))?;
//! while let Some(event) = endpoint.events().recv() {
//!     if let EndpointEvent::Outcome { message: m, outcome, .. } = event {
//!         assert_eq!(m, message);
//!         println!("{:?}", outcome.result);
//!         break;
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Receiving
//!
//! ```no_run
//! use msrp_mio_transport::{Endpoint, EndpointConfig, EndpointEvent, Role, SessionSpec};
//! use msrp_session::{Event, SessionConfig};
//!
//! let endpoint = Endpoint::start(EndpointConfig::default())?;
//! let addr = endpoint.handle().listen("127.0.0.1:2855".parse()?, false)?;
//! let config = SessionConfig::new(
//!     format!("msrp://{addr}/bob98765;tcp").parse()?,
//!     "msrp://127.0.0.1:7777/alice1234;tcp".parse()?,
//!     |buf: &mut [u8]| buf.fill(9),
//! );
//! endpoint.handle().open_session(SessionSpec::new(config, Role::Passive))?;
//! while let Some(event) = endpoint.events().recv() {
//!     if let EndpointEvent::Session(_, Event::Message(m)) = event {
//!         println!("{}", String::from_utf8_lossy(&m.body));
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # WebSocket
//!
//! A relay URI with transport `ws` (`msrp://relay.example.com:443;ws`, `msrps:` for wss) is
//! reached over WebSocket (RFC 7977): the loop opens the connection (TLS with the same checks
//! as `msrps`), upgrades it with the `msrp` subprotocol, then carries each MSRP frame in one
//! WebSocket message, answering pings and closes. A WebSocket client cannot be connected to:
//! its session's own URI names a made-up `.invalid` host with transport `ws`, and the relay
//! routes to it over its connection. A [`RelayServer`] listens for WebSocket clients with
//! [`RelayServerConfig::ws_bind`], cuts what it sends them into chunks of at most
//! [`RelayServerConfig::ws_max_chunk`], and can serve a page to browsers there
//! ([`EndpointConfig::web_page`]).
//!
//! # Running a relay
//!
//! A [`RelayServer`] runs a sans-IO [`msrp_relay::Relay`] on the same kind of event loop: the
//! relay decides (AUTH and digest, Use-Path URIs, path checks, forwarding, failure REPORTs,
//! backpressure between the connections it forwards between) and the loop does the I/O,
//! including connections to next hops, opened on demand and reused (RFC 4976 §6.5).
//!
//! ```no_run
//! use msrp_mio_transport::{RelayConfig, RelayEvent, RelayServer, RelayServerConfig};
//!
//! let config = RelayServerConfig::new(RelayConfig::new("127.0.0.1", 0));
//! let relay = RelayServer::start(config, "127.0.0.1:0".parse()?, false)?;
//! println!("clients authenticate to {}", relay.uri());
//! while let Some(event) = relay.events().recv() {
//!     if let RelayEvent::Authenticated { uri, .. } = event {
//!         println!("granted {uri}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod api;
mod driver;
mod endpoint;
mod engine;
mod file;
mod io;
mod relay;
mod resolve;
mod socket;
mod tls;

pub use api::{
    EndpointConfig, EndpointEvent, Events, Handle, HostLookup, Stopped, TransportError, WebPage,
};
pub use driver::{Context, Handler};
pub use endpoint::Endpoint;
pub use file::FileSource;
/// The relay's configuration and what it tells, as [`RelayServer`] runs it.
pub use msrp_relay::{
    CloseReason as RelayCloseReason, RelayConfig, RelayEvent, Stats as RelayStats, Users,
    UsersError,
};
/// The sans-IO endpoint's names, specs and errors, as this crate's API uses them.
pub use msrp_session::{
    ConnectionError, ConnectionId, Credentials, MessageRef, OpenError, PeerCheck, Relay,
    RelayError, Role, SessionId, SessionSpec, fingerprint_of, matches_fingerprint,
};
pub use relay::{RelayHandle, RelayServer, RelayServerConfig};
pub use tls::{Identity, PeerVerification, TlsError, secure_random};

/// Compiles the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
