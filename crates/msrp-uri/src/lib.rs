//! MSRP URIs (RFC 4975 §6, §9): parsing, formatting, §6.1 comparison and path lists.
//!
//! This crate does not resolve host names, open connections, or know about sessions: it turns
//! the text of an `msrp://` or `msrps://` URI, or of a To-Path, From-Path or Use-Path value,
//! into typed values and back, and compares URIs the way RFC 4975 §6.1 prescribes. It does not
//! decode MSRP frames either (that is `msrp-wire`): [`FramePaths`] parses the path headers of a
//! decoded frame, and [`Path::parse`] takes a header value from anywhere. It
//! holds no random number generator: [`generate_session_id`] takes the random bytes from the
//! caller.
//!
//! ```
//! use msrp_uri::{MsrpUri, Path, Scheme, Transport};
//!
//! // A To-Path value through one relay (RFC 4976), as found in a frame's header.
//! let to_path: Path =
//!     "msrps://relay.example.net:2855/kwvin5f;tcp msrps://bob.example.com:49154/foo;tcp".parse()?;
//! let hop = to_path.first();
//! assert_eq!(hop.scheme(), Scheme::Msrps);
//! assert!(hop.scheme().is_secure());
//! assert_eq!((hop.host_str(), hop.port()), ("relay.example.net", Some(2855)));
//! assert_eq!(to_path.to_string(),
//!     "msrps://relay.example.net:2855/kwvin5f;tcp msrps://bob.example.com:49154/foo;tcp");
//!
//! // Comparison follows RFC 4975 §6.1, not string equality.
//! let ours: MsrpUri = "msrps://bob.example.com:49154/foo;tcp".parse()?;
//! let theirs: MsrpUri = "MSRPS://Bob.Example.COM:49154/foo;TCP".parse()?;
//! assert!(to_path.last().matches(&ours));
//! assert!(ours.matches(&theirs));
//! assert_eq!(theirs.to_string(), "MSRPS://Bob.Example.COM:49154/foo;TCP");
//! assert_eq!(theirs.transport(), Transport::Tcp);
//! # Ok::<(), msrp_uri::Error>(())
//! ```
//!
//! # Choices beyond the grammar
//!
//! The ABNF of RFC 4975 §9 leans on RFC 3986 for the authority. Where the two leave room, this
//! crate decides as follows, and reports an [`ErrorKind`] with a byte offset otherwise:
//!
//! - A userinfo with a `:` is refused ([`ErrorKind::PasswordInUserinfo`]), as RFC 4975 §6 says
//!   "A userinfo part MUST NOT contain password information."
//! - An IPv4 or IPv6 host without a port is refused ([`ErrorKind::MissingPort`]), as RFC 4975
//!   §6 says "If the authority field contains a numeric IP address, it MUST also contain a
//!   port." A host name may go without a port (relay URIs in RFC 4976 do).
//! - The authority ends at the first `/` or `;`, although RFC 3986 would allow `;` inside a
//!   host name or userinfo: otherwise the transport could not be found.
//! - IPv6 literals are checked with [`std::net::Ipv6Addr`]; IPvFuture literals and zone
//!   identifiers are refused. Host names that resolvers would read as numeric addresses
//!   (`1.2.3`, `0x7f.1`, `01.02.03.04`) are refused, see RFC 3986 §7.4.
//! - An empty port (`host:`) is refused.
//! - A path list needs exactly one space between URIs and none around them.

#![forbid(unsafe_code)]

mod error;
mod frame;
mod path;
mod session_id;
mod syntax;
mod uri;

pub use error::{Error, ErrorKind};
pub use frame::{FramePaths, PathHeaderError, session_id_of};
pub use path::{Iter, Path};
pub use session_id::{
    SESSION_ID_LEN, SESSION_ID_RANDOM_BITS, SESSION_ID_RANDOM_BYTES, generate_session_id,
};
pub use uri::{Host, MsrpUri, MsrpUriBuilder, Params, RECOMMENDED_PORT, Scheme, Transport};

/// Runs the example of `README.md` as a doctest, so that it stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
