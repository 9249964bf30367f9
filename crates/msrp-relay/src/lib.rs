//! A sans-IO MSRP relay (RFC 4976): the decisions of a relay without its sockets.
//!
//! A [`Relay`] grants URIs to clients that authenticate with AUTH (digest challenges when it
//! has [`Users`], RFC 4976 §6.3), forwards SEND, REPORT and other requests hop by hop along
//! their To-Path (checking that the path goes through a URI it granted, toward or from the
//! client that obtained it, so that it never acts as an open relay, §9), relays responses back,
//! and reports failures of the SENDs it forwards (§6.4). Bodies are streamed through, never
//! reassembled, with bounded buffers: a slow next hop slows the previous hop down.
//!
//! It touches no socket and no clock: an I/O layer such as `msrp-mio-transport` feeds it
//! connections, bytes and time, and does what it asks ([`Action`]).
//!
//! ```
//! use std::time::Instant;
//! use msrp_relay::{Action, Relay, RelayConfig, RelayEvent};
//!
//! let now = Instant::now();
//! let mut n = 0u8;
//! let random = move |buf: &mut [u8]| buf.iter_mut().for_each(|b| { n = n.wrapping_add(1); *b = n });
//! let mut relay = Relay::new(RelayConfig::new("127.0.0.1", 2855), random, now);
//!
//! // A client connects and authenticates.
//! let peer = "127.0.0.1:40000".parse()?;
//! let client = relay.handle_accept(now, peer)?;
//! relay.handle_established(now, client, peer, None);
//! relay.handle_input(now, client, b"MSRP a1b2 AUTH\r\nTo-Path: msrp://127.0.0.1:2855;tcp\r\n\
//!     From-Path: msrp://127.0.0.1:40000/c1ient;tcp\r\n-------a1b2$\r\n");
//!
//! // It is granted a URI, which its peers put first in the To-Path of what they send it.
//! let Some(RelayEvent::Authenticated { uri, .. }) = relay.poll_event() else { panic!() };
//! assert!(uri.starts_with("msrp://127.0.0.1:2855/"));
//! assert_eq!(relay.poll_action(), Some(Action::Transmit(client)));
//! let mut out = Vec::new();
//! relay.poll_transmit(now, client, usize::MAX, &mut out);
//! let response = String::from_utf8(out.concat())?;
//! assert!(response.starts_with("MSRP a1b2 200 OK\r\n"));
//! assert!(response.contains(&format!("Use-Path: {uri}\r\n")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod auth;
mod config;
mod relay;
mod types;

pub use config::{RelayConfig, RelayIdentity, Users, UsersError};
pub use msrp_wire::Random;
pub use relay::Relay;
pub use types::{AcceptError, Action, CloseReason, ConnectionId, RelayEvent, Stats, Target};
