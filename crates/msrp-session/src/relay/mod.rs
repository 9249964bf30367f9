//! Relays as their client sees them (RFC 4976 §5): the AUTH exchanges that give a session its
//! path through one or more relays.

mod auth;

use core::fmt;

use msrp_uri::MsrpUri;
use msrp_wire::StatusCode;

pub(crate) use auth::{AuthStep, RelayAuth};
pub use msrp_wire::digest::Credentials;

/// The chunk size toward a relay when none is given: Kamailio's relay passes no frame of about
/// 11,240 bytes or more, and 8 KiB leaves room for the head of a long path.
pub const DEFAULT_RELAY_CHUNK: usize = 8192;

/// A relay that acts on a session's behalf (RFC 4976 §5.1), as the application configures it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Relay {
    /// The relay's URI, the To-Path of the AUTH sent to it (`msrps://relay.example.com;tcp`).
    pub uri: MsrpUri,
    /// What its digest challenges are answered with; without them a challenge fails the
    /// session.
    pub credentials: Option<Credentials>,
    /// Seconds the granted URI is asked to stay valid for (the AUTH's `Expires`); `None` asks
    /// nothing and takes what the relay grants. A 423 answer moves it within the relay's bounds.
    pub expires: Option<u32>,
    /// The largest chunk body sent through this relay. Default [`DEFAULT_RELAY_CHUNK`].
    pub max_chunk: usize,
}

impl Relay {
    /// A relay with no credentials, no Expires asked, and the default chunk size.
    pub fn new(uri: MsrpUri) -> Self {
        Self {
            uri,
            credentials: None,
            expires: None,
            max_chunk: DEFAULT_RELAY_CHUNK,
        }
    }

    /// Answers the relay's digest challenges with these credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Asks for the granted URI to stay valid this many seconds.
    pub fn expires(mut self, seconds: u32) -> Self {
        self.expires = Some(seconds);
        self
    }

    /// Sends chunks of at most this many body bytes through the relay.
    pub fn max_chunk(mut self, bytes: usize) -> Self {
        self.max_chunk = bytes;
        self
    }
}

/// Why a relay did not give a session its path, or stopped giving it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayError {
    /// The URI of the relay (as configured) that the AUTH was meant for.
    pub relay: String,
    /// What went wrong.
    pub kind: RelayErrorKind,
}

/// What went wrong with a relay; see [`RelayError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayErrorKind {
    /// The relay answered the AUTH with this final status (403, 5xx, …).
    Refused(StatusCode),
    /// The relay asked for credentials, and none were configured.
    NoCredentials,
    /// The relay refused the credentials: it challenged them again.
    Unauthorized,
    /// The relay's challenge cannot be answered as RFC 4976 §9.1 allows; says why.
    Challenge(&'static str),
    /// The credentials cannot be written in a header (control characters).
    Credentials,
    /// The relay refused the Expires asked for (423) without bounds that another try could meet.
    Interval,
    /// The relay's 200 carried no usable Use-Path.
    NoUsePath,
    /// The relay's `rspauth` does not match the credentials: it is not the relay that knows
    /// them.
    ServerAuth,
    /// No response to the AUTH in time.
    Timeout,
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relay {}: ", self.relay)?;
        match &self.kind {
            RelayErrorKind::Refused(code) => write!(f, "AUTH refused with {code}"),
            RelayErrorKind::NoCredentials => f.write_str("credentials asked for, none given"),
            RelayErrorKind::Unauthorized => f.write_str("credentials refused"),
            RelayErrorKind::Challenge(why) => write!(f, "unusable digest challenge: {why}"),
            RelayErrorKind::Credentials => f.write_str("credentials unfit for a header"),
            RelayErrorKind::Interval => f.write_str("no Expires the relay accepts"),
            RelayErrorKind::NoUsePath => f.write_str("no usable Use-Path in its 200"),
            RelayErrorKind::ServerAuth => f.write_str("its rspauth does not match"),
            RelayErrorKind::Timeout => f.write_str("no response to AUTH"),
        }
    }
}

impl std::error::Error for RelayError {}
