//! The SDP of MSRP: parsing and writing the media description of RFC 4975 §8, and offer/answer
//! that ends in the [`Negotiated`] result a session is configured from.
//!
//! It does not carry SIP, open connections, resolve names or verify certificates. RFC 6714 §4.4
//! address comparison is made on the text, and a name compared with an IP address counts as a
//! match. Media other than MSRP is kept as text and, in answers, rejected with port 0. What a
//! session does with the result (chunking, reports, the From-Path check) belongs to
//! `msrp-session`, which builds its configuration from a [`Negotiated`]; sockets and TLS belong
//! to a transport.
//!
//! The crate reads and writes SDP session descriptions that carry MSRP media lines
//! (`m=message <port> TCP/MSRP *`, `TCP/TLS/MSRP`, and the `TCP/WS/MSRP` and `TCP/WSS/MSRP`
//! values some WebSocket clients use), with typed attributes for `a=path`, `a=accept-types`,
//! `a=accept-wrapped-types`, `a=max-size` (RFC 4975), `a=setup` and `a=connection` (RFC 4145,
//! RFC 6135), `a=fingerprint` (RFC 4572), `a=msrp-cema` (RFC 6714), the file transfer attributes of
//! RFC 5547, `a=chatroom` (RFC 7701) and the direction attributes. Unknown lines and attributes
//! are kept in order. [`Capabilities`] turns local settings into an offer or an answer and a remote
//! description into a [`Negotiated`] session: its [`Role`] (who connects and where), the To-Path,
//! what the peer accepts, its `max-size`, TLS and the fingerprint to check.
//!
//! ```
//! use msrp_sdp::{Capabilities, Origin, Path, Role};
//!
//! let offer = msrp_sdp::parse(
//!     b"v=0\r\n\
//!       o=alice 2890844526 2890844527 IN IP4 alice.example.com\r\n\
//!       s= -\r\n\
//!       c=IN IP4 alice.example.com\r\n\
//!       t=0 0\r\n\
//!       m=message 7394 TCP/MSRP *\r\n\
//!       a=accept-types:message/cpim text/plain text/html\r\n\
//!       a=path:msrp://alice.example.com:7394/2s93i93idj;tcp\r\n",
//! )?;
//!
//! let path = Path::parse("msrp://bob.example.com:8493/si438dsaodes;tcp")?;
//! let bob = Capabilities::new(path)?;
//! let origin = Origin {
//!     username: "userb".into(),
//!     session_id: "2890844530".into(),
//!     session_version: 2890844532,
//!     net_type: "IN".into(),
//!     addr_type: "IP4".into(),
//!     address: "bob.example.com".into(),
//! };
//! let (answer, negotiated) = bob.create_answer(&offer, origin)?;
//!
//! // RFC 4975 §8.5: the offerer connects; Bob waits.
//! assert_eq!(negotiated.role, Role::Passive);
//! assert_eq!(negotiated.to_path().last().as_str(), "msrp://alice.example.com:7394/2s93i93idj;tcp");
//! assert!(negotiated.peer_accepts("text/html"));
//! assert!(answer.to_string().contains("a=path:msrp://bob.example.com:8493/si438dsaodes;tcp\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod attribute;
mod error;
mod file;
mod media;
mod negotiate;
mod path;
mod session;
mod syntax;

pub use attribute::{
    Attribute, Chatroom, Direction, Fingerprint, FormatEntry, Setup, TcpConnection,
};
pub use error::{NegotiationError, ParseError, ParseErrorKind};
pub use file::{FileDate, FileDescription, FileHash, FileRange, FileSelector, FileType};
pub use media::{Media, MsrpMedia, OtherMedia, Protocol};
pub use negotiate::{
    Capabilities, CapabilitiesError, ConnectTarget, FileTransfer, Negotiated, Role, SetupPreference,
};
pub use path::Path;
pub use session::{ConnectionData, Origin, ParserConfig, SdpLine, SessionDescription, Timing};

/// Runs the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Parses a session description, or a fragment of one, with the default [`ParserConfig`].
///
/// This is the single entry point for fuzzing: it accepts any bytes and never panics. Input that
/// is not UTF-8, longer than 64 KiB or longer than 1024 lines is refused.
pub fn parse(input: &[u8]) -> Result<SessionDescription, ParseError> {
    ParserConfig::default().parse(input)
}
